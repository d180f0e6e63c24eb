/**
 * Bounded memory: one `append` with a policy that decides on every line, fed N detections from N
 * distinct sources through one stdin (the trial measured 818 MB at 1.27M events: memory grew with
 * the number of sources). One run: its peak RSS against a fixed ceiling, and its rate.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { removeLog } from "../lib/logs.js"
import { mitigatorArgs, runProcess } from "../lib/proc.js"
import { progress } from "../lib/stats.js"
import { tsvInput } from "../lib/tsv.js"

export const MAX_RSS_MIB = 200

// Every line matches (a third are scans, the rest SSH brute force) and every source differs.
const POLICY = [
  "policy:",
  "  rules:",
  "    - name: everything",
  "      match: { product: ads, methods: [SSHDICT, SCANS] }",
  "      actions:",
  "        - { loadmaster: global, ttl: 6h }",
  ""
].join("\n")

export const appendMemory = async (dir: string, events: number) => {
  progress(`append memory: ${events.toLocaleString("en-US")} detections from as many sources through one stdin, every one decided`)
  const config = path.join(dir, "append-memory.yaml")
  fs.writeFileSync(config, POLICY)
  const db = path.join(dir, "append-memory.db")
  const sample = await runProcess(mitigatorArgs("append", "--defer", "--db", db, "--config", config, "--instance", "bench"), { stdin: tsvInput(events), rss: true })
  removeLog(db)
  progress(`append memory: ${Math.round(sample.ms)} ms, peak RSS ${sample.rssMiB.toFixed(1)} MiB`)
  return {
    what: `${events} TSV detections from ${events} distinct sources through one stdin, \`append --defer\` with a policy that decides on every line (one run)`,
    events,
    ms: sample.ms,
    eventsPerSecond: events / (sample.ms / 1000),
    peakRssMiB: sample.rssMiB,
    max: MAX_RSS_MIB,
    pass: sample.rssMiB <= MAX_RSS_MIB,
    target: `peak RSS <= ${MAX_RSS_MIB} MiB`
  }
}

export type AppendMemoryResult = Awaited<ReturnType<typeof appendMemory>>
