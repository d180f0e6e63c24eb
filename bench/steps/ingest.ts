/**
 * Ingest: N detections through one stdin into a fresh log, `append --defer`, against the floor
 * (bench/floors/ingest-floor.mjs: plain Node + better-sqlite3 writing the same lines into a
 * hash-chained table, as durably, in transactions of as many lines as `append` batches). The two
 * alternate, which one goes first swapping each round; the first round is a warm-up.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { removeLog } from "../lib/logs.js"
import { mitigatorArgs, nodeArgs, root, runProcess, type Sample } from "../lib/proc.js"
import { progress, ratio, stats } from "../lib/stats.js"
import { tsvInput } from "../lib/tsv.js"

export const TARGET = 1.3
const DEFAULT_BATCH = 2000

/**
 * `append`'s lines per transaction, read from its source so the floor follows a change to it;
 * if the constant is renamed, the last known value, and a warning.
 */
const appendBatchLines = (): { lines: number; source: string } => {
  const file = path.join(root, "src", "commands", "append.ts")
  const found = /const BATCH_LINES = ([\d_]+)/.exec(fs.readFileSync(file, "utf8"))
  if (found !== null) return { lines: Number(found[1]!.replace(/_/g, "")), source: "BATCH_LINES in src/commands/append.ts" }
  progress(`ingest: BATCH_LINES not found in ${file}: the floor commits ${DEFAULT_BATCH} lines per transaction (check append's batching)`)
  return { lines: DEFAULT_BATCH, source: "not found in src/commands/append.ts; the last known value" }
}

export const ingest = async (dir: string, events: number, runs: number) => {
  const batch = appendBatchLines()
  progress(`ingest: ${runs} rounds of ${events.toLocaleString("en-US")} lines, append --defer vs the floor (${batch.lines} lines per transaction)`)
  const input = tsvInput(events)
  const floorScript = path.join(root, "bench", "floors", "ingest-floor.mjs")
  const mitigator: Sample[] = []
  const floor: Sample[] = []
  for (let round = 0; round <= runs; round++) {
    const db = (who: string) => path.join(dir, `ingest-${who}-${round}.db`)
    const runMitigator = () => runProcess(mitigatorArgs("append", "--defer", "--db", db("mitigator"), "--instance", "bench"), { stdin: input, rss: true })
    const runFloor = () => runProcess(nodeArgs(floorScript, db("floor"), String(batch.lines)), { stdin: input, rss: true })
    let m: Sample
    let f: Sample
    if (round % 2 === 0) {
      m = await runMitigator()
      f = await runFloor()
    } else {
      f = await runFloor()
      m = await runMitigator()
    }
    removeLog(db("mitigator"))
    removeLog(db("floor"))
    if (round === 0) continue
    mitigator.push(m)
    floor.push(f)
    progress(`ingest: round ${round}/${runs}: mitigator ${Math.round(m.ms)} ms, floor ${Math.round(f.ms)} ms`)
  }
  const mitigatorMs = stats(mitigator.map((s) => s.ms))
  const floorMs = stats(floor.map((s) => s.ms))
  return {
    what: `${events} TSV detections through one stdin into a fresh log: \`append --defer\` vs a plain Node + better-sqlite3 floor, alternating`,
    events,
    floor: {
      what: "bench/floors/ingest-floor.mjs: each line stored with hash = sha256(previous hash + line); WAL, synchronous=FULL, BEGIN IMMEDIATE",
      linesPerTransaction: batch.lines,
      linesPerTransactionFrom: batch.source
    },
    mitigatorMs,
    floorMs,
    eventsPerSecond: stats(mitigator.map((s) => events / (s.ms / 1000))),
    peakRssMiB: { mitigator: stats(mitigator.map((s) => s.rssMiB)), floor: stats(floor.map((s) => s.rssMiB)) },
    ratio: ratio(mitigatorMs, floorMs, TARGET),
    target: `mitigator / floor <= ${TARGET}x (ratio of medians)`
  }
}

export type IngestResult = Awaited<ReturnType<typeof ingest>>
