/**
 * Cold start: `append --defer` of one event in a fresh process, the log existing already (as on
 * an appliance after the first detection), against `node -e 0`. The three commands alternate
 * within each round, so a slow spell of the machine hits all of them alike; the first round only
 * warms the page cache and is not counted. No RSS preload here: it would be part of the start-up.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { mitigatorArgs, nodeArgs, root, runProcess } from "../lib/proc.js"
import { progress, ratio, stats } from "../lib/stats.js"
import { tsvLine } from "../lib/tsv.js"

export const TARGET = 2.0

export const coldStart = async (dir: string, runs: number) => {
  progress(`cold start: ${runs} rounds of node -e 0 / append --defer / append --defer with config`)
  const db = path.join(dir, "cold.db")
  const configuredDb = path.join(dir, "cold-configured.db")
  // As deployed: the example's rules. UTC: a named zone costs its own start-up (see README).
  const config = path.join(dir, "example.yaml")
  fs.writeFileSync(config, fs.readFileSync(path.join(root, "examples", "mitigator.yaml"), "utf8").replace(/^timezone: .*$/m, "timezone: UTC"))
  const append = mitigatorArgs("append", "--defer", "--db", db, "--instance", "bench")
  const configured = mitigatorArgs("append", "--defer", "--db", configuredDb, "--config", config, "--instance", "bench")
  const node: number[] = []
  const plain: number[] = []
  const withConfig: number[] = []
  for (let round = 0; round <= runs; round++) {
    const n = await runProcess(nodeArgs("-e", "0"))
    const a = await runProcess(append, { stdin: tsvLine(round) })
    const c = await runProcess(configured, { stdin: tsvLine(round) })
    if (round === 0) continue // creates the logs and warms the cache
    node.push(n.ms)
    plain.push(a.ms)
    withConfig.push(c.ms)
  }
  const nodeMs = stats(node)
  const appendMs = stats(plain)
  const withConfigMs = stats(withConfig)
  return {
    what: "bundled `append --defer` of one event, a fresh process each time, the log existing already, vs `node -e 0`, alternating",
    nodeMs,
    appendMs,
    ratio: ratio(appendMs, nodeMs, TARGET),
    withConfig: {
      what: "the same with the example config (its rules decide; informative, no target)",
      appendMs: withConfigMs,
      ratioToNode: withConfigMs.median / nodeMs.median
    },
    target: `append / node -e 0 <= ${TARGET}x (ratio of medians)`
  }
}

export type ColdStartResult = Awaited<ReturnType<typeof coldStart>>
