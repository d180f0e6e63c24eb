/**
 * Growth (issue 13): the three things an operator waits for, at logs of several sizes, so that a
 * cost that grows with the log shows up as a ratio of the largest to the empty one.
 *
 * - time to block: `append` (no --defer) of one new detection, with a rule that blocks it on a
 *   LoadMaster emulator over TLS (its certificate pinned in the config), from process start
 *   until the process exits; the entry must be on the emulator by then. `node -e 0` runs just
 *   before each, for the issue's "time to block <= 2x node" on the empty log.
 * - no-op reconcile: the log plus 1,000 operator blocks that an earlier reconcile put on the
 *   emulator; each measured pass must make no change.
 * - `status --json` over that same log.
 *
 * Each size's history ended long ago (lib/logs.ts), so the 1,000 blocks (and the few blocked
 * just now) are the only ones in force at every size: only the length of the log differs.
 * Steady state: a first round is not counted (it activates the config's policy and may save the
 * projection's checkpoint); then every round runs each size, in alternating order.
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import type { LoadMasterEmulatorHandle } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { startBenchLoadMaster, mutations, type BenchLoadMaster } from "../lib/loadmaster.js"
import { addBlocks, copyLog } from "../lib/logs.js"
import { mitigatorArgs, nodeArgs, root, runProcess, type Sample } from "../lib/proc.js"
import { progress, ratio, stats, type Stats } from "../lib/stats.js"
import { tsvLine } from "../lib/tsv.js"

export const GROWTH_TARGET = 1.2
export const TIME_TO_BLOCK_TARGET = 2.0
export const RSS_TARGET_MIB = 150
export const CONVERGED_BLOCKS = 1000

export interface History {
  readonly events: number
  readonly file: string
}

interface Scenario {
  readonly history: History
  readonly blockDb: string
  readonly blockLm: BenchLoadMaster
  readonly noopDb: string
  readonly noopLm: { readonly emulator: LoadMasterEmulatorHandle; readonly config: string }
  readonly samples: { node: Sample[]; block: Sample[]; noop: Sample[]; status: Sample[]; python: Sample[] }
  readonly noopCalls: Array<Record<string, number>>
}

/** The two logs and two emulators of one size; the no-op one converged once (not measured). */
const prepare = async (dir: string, history: History): Promise<Scenario> => {
  const name = `growth-${history.events}`
  const blockDb = path.join(dir, `${name}-block.db`)
  copyLog(history.file, blockDb)
  const blockLm = await startBenchLoadMaster(dir, `${name}-block`, { tls: true })
  const noopDb = path.join(dir, `${name}-noop.db`)
  copyLog(history.file, noopDb)
  await addBlocks(noopDb, CONVERGED_BLOCKS)
  const noopLm = await startBenchLoadMaster(dir, `${name}-noop`, { tls: true })
  const converge = await runProcess(mitigatorArgs("reconcile", "--db", noopDb, "--config", noopLm.config, "--concurrency", "16"))
  const listed = noopLm.emulator.entries("global").length
  if (listed !== CONVERGED_BLOCKS) throw new Error(`growth at ${history.events} events: the first reconcile put ${listed} of ${CONVERGED_BLOCKS} blocks on the emulator`)
  progress(`growth: ${history.events.toLocaleString("en-US")} events: converged ${listed} blocks in ${Math.round(converge.ms)} ms`)
  return { history, blockDb, blockLm, noopDb, noopLm, samples: { node: [], block: [], noop: [], status: [], python: [] }, noopCalls: [] }
}

let nextDetection = 1_000_000 // above ingest's and cold start's lines: a new source every time

// Each measurement checks that the work was done: a figure for work that did not happen is no figure.
const measureTimeToBlock = async (s: Scenario) => {
  const node = await runProcess(nodeArgs("-e", "0"), { rss: true })
  const before = s.blockLm.emulator.entries("global").length
  const block = await runProcess(mitigatorArgs("append", "--db", s.blockDb, "--config", s.blockLm.config, "--instance", "bench"), {
    stdin: tsvLine(nextDetection++),
    rss: true
  })
  const after = s.blockLm.emulator.entries("global").length
  if (after !== before + 1) throw new Error(`growth at ${s.history.events} events: append exited but the block is not on the emulator (${before} → ${after} entries)`)
  return { node, block }
}

/**
 * The script mitigator replaces (bench/floors/block-python.py: one Python start, `import
 * requests`, one HTTPS POST to the same emulator), where Python 3 and requests are installed.
 */
const PYTHON_SCRIPT = path.join(root, "bench", "floors", "block-python.py")
/** The interpreter itself (not a version manager's shim, which costs its own start), when it has requests. */
const pythonInterpreter = (): string | undefined => {
  const found = spawnSync("python3", ["-c", "import requests, sys; print(sys.executable)"], { encoding: "utf8" })
  return found.status === 0 && found.stdout.trim() !== "" ? found.stdout.trim() : undefined
}

const measurePython = async (interpreter: string, s: Scenario) => {
  const before = s.blockLm.emulator.entries("global").length
  const address = `198.18.${Math.floor(nextPythonAddress / 250)}.${(nextPythonAddress++ % 250) + 1}`
  const sample = await runProcess([interpreter, PYTHON_SCRIPT, s.blockLm.emulator.url, s.blockLm.keyFile, address], { rss: false })
  const after = s.blockLm.emulator.entries("global").length
  if (after !== before + 1) throw new Error(`growth: the Python script exited but its block is not on the emulator (${before} → ${after} entries)`)
  return sample
}
let nextPythonAddress = 0

const measureNoop = async (s: Scenario) => {
  s.noopLm.emulator.resetCounts()
  const noop = await runProcess(mitigatorArgs("reconcile", "--db", s.noopDb, "--config", s.noopLm.config), { rss: true })
  const calls = s.noopLm.emulator.counts()
  if (mutations(calls) !== 0) throw new Error(`growth at ${s.history.events} events: the no-op reconcile made ${mutations(calls)} changes (${JSON.stringify(calls)})`)
  return { noop, calls }
}

const measureStatus = (s: Scenario) => runProcess(mitigatorArgs("status", "--json", "--db", s.noopDb), { rss: true })

export const growth = async (dir: string, histories: ReadonlyArray<History>, runs: number) => {
  const scenarios: Scenario[] = []
  for (const history of histories) scenarios.push(await prepare(dir, history))
  const python = pythonInterpreter()
  if (python === undefined) progress("growth: no python3 with requests here: the Python script's time to block is not measured")
  try {
    for (let round = 0; round <= runs; round++) {
      // Alternating order, so neither end of the size range always runs on a fresher machine.
      const order = round % 2 === 0 ? scenarios : [...scenarios].reverse()
      const counted = round > 0
      for (const s of order) {
        const { node, block } = await measureTimeToBlock(s)
        // The script beside mitigator on the empty log: the same emulator, one after the other.
        const script = python !== undefined && s === scenarios[0] ? await measurePython(python, s) : undefined
        if (!counted) continue
        s.samples.node.push(node)
        s.samples.block.push(block)
        if (script !== undefined) s.samples.python.push(script)
      }
      for (const s of order) {
        const { noop, calls } = await measureNoop(s)
        if (!counted) continue
        s.samples.noop.push(noop)
        s.noopCalls.push(calls)
      }
      for (const s of order) {
        const status = await measureStatus(s)
        if (counted) s.samples.status.push(status)
      }
      progress(
        `growth: ${round === 0 ? "warm-up round" : `round ${round}/${runs}`}: ` +
          scenarios.map((s) => `${s.history.events.toLocaleString("en-US")} ev: block ${ms(s.samples.block)} noop ${ms(s.samples.noop)} status ${ms(s.samples.status)}`).join("; ")
      )
    }
  } finally {
    for (const s of scenarios) await Promise.all([s.blockLm.emulator.close(), s.noopLm.emulator.close()])
  }
  return summarize(scenarios, runs)
}

/** The latest sample of a series, for progress lines. */
const ms = (samples: ReadonlyArray<Sample>) => (samples.length === 0 ? "-" : `${Math.round(samples[samples.length - 1]!.ms)} ms`)

const summarize = (scenarios: ReadonlyArray<Scenario>, runs: number) => {
  const sizes = scenarios.map((s) => ({
    events: s.history.events,
    timeToBlockMs: stats(s.samples.block.map((x) => x.ms)),
    noopReconcileMs: stats(s.samples.noop.map((x) => x.ms)),
    statusMs: stats(s.samples.status.map((x) => x.ms)),
    nodeMs: stats(s.samples.node.map((x) => x.ms)),
    peakRssMiB: {
      timeToBlock: stats(s.samples.block.map((x) => x.rssMiB)),
      noopReconcile: stats(s.samples.noop.map((x) => x.rssMiB)),
      status: stats(s.samples.status.map((x) => x.rssMiB))
    },
    noopReconcileCalls: s.noopCalls[s.noopCalls.length - 1] ?? {}
  }))
  const smallest = sizes[0]!
  const largest = sizes[sizes.length - 1]!
  const growthOf = (pick: (x: (typeof sizes)[number]) => Stats) => ratio(pick(largest), pick(smallest), GROWTH_TARGET)
  const peak = Math.max(largest.peakRssMiB.timeToBlock.max, largest.peakRssMiB.noopReconcile.max, largest.peakRssMiB.status.max)
  return {
    what:
      `at logs of ${sizes.map((s) => s.events).join(", ")} events (history that ended 32 days ago, the generator's mix): ` +
      `time to block (append of one detection until its block is on the LoadMaster emulator over TLS), ` +
      `a no-op reconcile of ${CONVERGED_BLOCKS} converged blocks (0 changes asserted), and status --json; ` +
      `steady state: median of ${runs} rounds after an uncounted warm-up round (which may save the projection's checkpoint)`,
    sizes,
    ratio: {
      timeToBlock: growthOf((x) => x.timeToBlockMs),
      noopReconcile: growthOf((x) => x.noopReconcileMs),
      status: growthOf((x) => x.statusMs)
    },
    timeToBlockVsNode: { what: "time to block on the empty log / node -e 0 (run just before each)", ...ratio(smallest.timeToBlockMs, smallest.nodeMs, TIME_TO_BLOCK_TARGET) },
    timeToBlockVsPython: pythonVersus(scenarios[0]!, smallest.timeToBlockMs, smallest.nodeMs),
    peakRssAtLargest: { what: `the largest peak RSS of any measured command at ${largest.events} events`, mib: peak, max: RSS_TARGET_MIB, pass: peak <= RSS_TARGET_MIB },
    target: `largest / empty <= ${GROWTH_TARGET}x for each (ratio of medians); time to block on the empty log <= ${TIME_TO_BLOCK_TARGET}x node -e 0; peak RSS at the largest <= ${RSS_TARGET_MIB} MiB`
  }
}

/** The Python script's time to block beside mitigator's, on the empty log (informative: no target); undefined where it was not run. */
const pythonVersus = (s: Scenario, mitigatorMs: Stats, nodeMs: Stats) => {
  if (s.samples.python.length === 0) return undefined
  const pythonMs = stats(s.samples.python.map((x) => x.ms))
  return {
    what: "bench/floors/block-python.py (python3 + requests, one HTTPS POST, certificate not verified, as the scripts do) against the same emulator, right after mitigator's append on the empty log",
    pythonMs,
    mitigatorVsPython: mitigatorMs.median / pythonMs.median,
    pythonVsNode: pythonMs.median / nodeMs.median
  }
}

export type GrowthResult = Awaited<ReturnType<typeof growth>>
