/**
 * `npm run bench [-- --quick]`: the bundled CLI measured as Flowmon, cron and an operator run it,
 * every figure a whole process, and every target a ratio to a baseline measured in the same run,
 * alternating with it (the reference machine is shared and drifts: absolute figures from
 * different minutes do not compare).
 *
 * Steps (bench/steps/): cold start vs `node -e 0`; ingest vs a plain better-sqlite3 floor; the
 * peak RSS of one stdin of many detections from distinct sources; growth
 * (time to block, no-op reconcile, status at logs of several sizes; on the empty log, beside the
 * Python script mitigator replaces, where python3 has requests); the fold of the largest log,
 * first and from a checkpoint, vs a floor; LoadMaster and CryptoSpike at scale; the log on a
 * durable local PostgreSQL beside SQLite (ingest, time to block, three concurrent appenders).
 *
 * Full runs write bench/results.json, the whole table between the bench markers in docs/performance.md and a summary between the bench-summary markers in README.md;
 * --quick (CI's smoke run, smaller sizes, ~2 minutes) writes bench/tmp/results-quick.json only.
 * Targets are informative: the bench fails only when the work itself was not done (a block not on
 * the emulator, a no-op pass that changed something).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { generateHistory } from "./lib/logs.js"
import { root, setScratch } from "./lib/proc.js"
import { renderMarkdown, renderSummary, type Results } from "./lib/report.js"
import { progress } from "./lib/stats.js"
import { coldStart } from "./steps/coldStart.js"
import { converge } from "./steps/converge.js"
import { cryptospike } from "./steps/cryptospike.js"
import { fold } from "./steps/fold.js"
import { growth, type History } from "./steps/growth.js"
import { appendMemory } from "./steps/appendMemory.js"
import { ingest } from "./steps/ingest.js"
import { FULL as POSTGRES_FULL, QUICK as POSTGRES_QUICK, postgres } from "./steps/postgres.js"
import { serve } from "./steps/serve.js"

const quick = process.argv.includes("--quick")

// Quick keeps the shape of every step at sizes CI can afford; the history spans fewer days there
// because the generator's cost is mostly one transaction per simulated 10 minutes.
const settings = quick
  ? { coldRuns: 5, ingestEvents: 20_000, memoryEvents: 50_000, ingestRuns: 2, growthSizes: [0, 10_000, 50_000], historyDays: 3, growthRuns: 3, foldRuns: 2, convergeBlocks: 1_000, userBlocks: 100, activityRows: 20_000, serveRounds: 5, sustained: { rate: 200, lowerRate: 50, seconds: 5 } }
  : { coldRuns: 25, ingestEvents: 100_000, memoryEvents: 1_000_000, ingestRuns: 5, growthSizes: [0, 100_000, 1_000_000], historyDays: 30, growthRuns: 5, foldRuns: 5, convergeBlocks: 10_000, userBlocks: 1_000, activityRows: 200_000, serveRounds: 15, sustained: { rate: 1_000, lowerRate: 100, seconds: 60 } }

/** One log of history per size, generated once (the slow part of a full run) and copied per scenario. */
const histories = async (dir: string) => {
  const made: Array<History & { readonly generationMs: number }> = []
  for (const size of settings.growthSizes) {
    progress(`generating a log of ${size.toLocaleString("en-US")} events through the real write path (${settings.historyDays} days)`)
    const file = path.join(dir, `history-${size}.db`)
    const { rows, ms } = await generateHistory(file, size, settings.historyDays)
    progress(`generated ${rows.toLocaleString("en-US")} events in ${(ms / 1000).toFixed(1)} s`)
    made.push({ events: rows, file, generationMs: ms })
  }
  return made
}

/** Replaces what lies between `<!-- <marker>:start -->` and `<!-- <marker>:end -->` in a markdown file of the repository. */
const writeBetweenMarkers = (file: string, marker: string, markdown: string) => {
  const target = path.join(root, file)
  const text = fs.readFileSync(target, "utf8")
  const start = `<!-- ${marker}:start -->`
  const end = `<!-- ${marker}:end -->`
  if (!text.includes(start) || !text.includes(end)) return progress(`${file} has no ${marker} markers: not written`)
  fs.writeFileSync(target, text.slice(0, text.indexOf(start) + start.length) + `\n${markdown}\n` + text.slice(text.indexOf(end)))
  progress(`${file} updated`)
}

const main = async () => {
  progress(`${quick ? "quick" : "full"} run: building`)
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-bench-"))
  setScratch(dir)
  try {
    const coldStartResult = await coldStart(dir, settings.coldRuns)
    const ingestResult = await ingest(dir, settings.ingestEvents, settings.ingestRuns)
    const appendMemoryResult = await appendMemory(dir, settings.memoryEvents)
    const logs = await histories(dir)
    const growthResult = await growth(dir, logs, settings.growthRuns)
    // The largest history with the growth step's 1,000 blocks in force: a year of detections
    // and a realistic state to print.
    const largest = logs[logs.length - 1]!
    const foldResult = await fold(dir, path.join(dir, `growth-${largest.events}-noop.db`), settings.foldRuns)
    const loadmasterResult = await converge(dir, settings.convergeBlocks)
    const cryptospikeResult = await cryptospike(dir, settings.userBlocks, settings.activityRows)
    const serveResult = await serve(dir, settings.serveRounds, settings.sustained)
    const postgresResult = await postgres(dir, quick ? POSTGRES_QUICK : POSTGRES_FULL)

    const results: Results = {
      measuredAt: new Date().toISOString(),
      mode: quick ? "quick" : "full",
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "", memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      coldStart: coldStartResult,
      ingest: ingestResult,
      appendMemory: appendMemoryResult,
      fold: foldResult,
      growth: { ...growthResult, generation: logs.map((l) => ({ events: l.events, days: settings.historyDays, ms: l.generationMs })) },
      loadmaster: loadmasterResult,
      cryptospike: cryptospikeResult,
      serve: serveResult,
      postgres: postgresResult
    }
    const markdown = renderMarkdown(results)
    console.log(`\n${markdown}`)
    if (quick) {
      fs.mkdirSync(path.join(root, "bench", "tmp"), { recursive: true })
      fs.writeFileSync(path.join(root, "bench", "tmp", "results-quick.json"), JSON.stringify(results, null, 2) + "\n")
      return progress("wrote bench/tmp/results-quick.json")
    }
    fs.writeFileSync(path.join(root, "bench", "results.json"), JSON.stringify(results, null, 2) + "\n")
    progress("wrote bench/results.json")
    writeBetweenMarkers("docs/performance.md", "bench", markdown)
    writeBetweenMarkers("README.md", "bench-summary", renderSummary(results))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
