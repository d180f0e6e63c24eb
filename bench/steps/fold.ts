/**
 * Fold: `status --json` over a big log, in three forms that alternate within each round:
 * - first fold: the checkpoints emptied just before, so it folds the whole log (as the first
 *   command after an upgrade that changed the fold, or on a log imported from elsewhere);
 * - from a checkpoint: right after a first fold, which saved one;
 * - the floor (bench/floors/fold-floor.mjs): the same rows read with plain better-sqlite3, every
 *   row's hash recomputed along the chain (as the fold checks it) and JSON.parse of each payload
 *   of the projection's types, and no fold.
 * The first round is a warm-up (it brings the file into the page cache for all three).
 */
import * as path from "node:path"
import { PROJECTION_EVENT_TYPES } from "../../src/eventlog/EventLog.js"
import { clearCheckpoints, copyLog, countRows } from "../lib/logs.js"
import { mitigatorArgs, nodeArgs, root, runProcess, type Sample } from "../lib/proc.js"
import { progress, ratio, stats } from "../lib/stats.js"

export const TARGET = 1.5

export const fold = async (dir: string, source: string, runs: number) => {
  const db = path.join(dir, "fold.db")
  copyLog(source, db)
  const events = countRows(db, "events")
  progress(`fold: ${runs} rounds of status --json over ${events.toLocaleString("en-US")} events: first fold / from a checkpoint / floor`)
  const floorArgs = nodeArgs(path.join(root, "bench", "floors", "fold-floor.mjs"), db, JSON.stringify(PROJECTION_EVENT_TYPES))
  const status = mitigatorArgs("status", "--json", "--db", db)
  const first: Sample[] = []
  const fromCheckpoint: Sample[] = []
  const floor: Sample[] = []
  let floorRows = 0
  let checkpointSaved = true
  for (let round = 0; round <= runs; round++) {
    const runFloor = async () => {
      const s = await runProcess(floorArgs, { rss: true, stdout: true })
      floorRows = (JSON.parse(s.stdout) as { projectionRows: number }).projectionRows
      return s
    }
    const runFirst = async () => {
      clearCheckpoints(db)
      const s = await runProcess(status, { rss: true })
      checkpointSaved &&= countRows(db, "checkpoints") > 0
      return { first: s, fromCheckpoint: await runProcess(status, { rss: true }) }
    }
    let f: Sample
    let m: { first: Sample; fromCheckpoint: Sample }
    if (round % 2 === 0) {
      f = await runFloor()
      m = await runFirst()
    } else {
      m = await runFirst()
      f = await runFloor()
    }
    if (round === 0) continue
    floor.push(f)
    first.push(m.first)
    fromCheckpoint.push(m.fromCheckpoint)
    progress(`fold: round ${round}/${runs}: first ${Math.round(m.first.ms)} ms, from checkpoint ${Math.round(m.fromCheckpoint.ms)} ms, floor ${Math.round(f.ms)} ms`)
  }
  const firstMs = stats(first.map((s) => s.ms))
  const floorMs = stats(floor.map((s) => s.ms))
  return {
    what: `\`status --json\` over ${events} events, a fresh process each time: the first fold (checkpoints emptied before it: every row read and its hash checked), the fold from the checkpoint it saved, and a plain better-sqlite3 floor reading and hash-checking the same rows, alternating`,
    events,
    projectionRows: floorRows,
    checkpointSavedByFirstFold: checkpointSaved,
    firstFoldMs: firstMs,
    fromCheckpointMs: stats(fromCheckpoint.map((s) => s.ms)),
    floorMs,
    firstFoldEventsPerSecond: stats(first.map((s) => events / (s.ms / 1000))),
    peakRssMiB: {
      firstFold: stats(first.map((s) => s.rssMiB)),
      fromCheckpoint: stats(fromCheckpoint.map((s) => s.rssMiB)),
      floor: stats(floor.map((s) => s.rssMiB))
    },
    floor: {
      what: "bench/floors/fold-floor.mjs: the fold reader's SELECT of every row (src/eventlog/FoldReader.ts) stepped with iterate(), each row's sha256 recomputed along the chain (HashChain.ts's formula), JSON.parse of each payload of the projection's types, no fold"
    },
    ratio: ratio(firstMs, floorMs, TARGET),
    target: `first fold / floor <= ${TARGET}x (ratio of medians)`
  }
}

export type FoldResult = Awaited<ReturnType<typeof fold>>
