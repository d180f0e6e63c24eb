/**
 * The markdown the bench prints and puts in docs/performance.md between the bench markers (a summary goes to README.md). Targets are
 * informative: a ratio shows PASS or FAIL beside it, and the bench exits 0 either way.
 */
import type { ColdStartResult } from "../steps/coldStart.js"
import type { ConvergeResult } from "../steps/converge.js"
import type { CryptoSpikeResult } from "../steps/cryptospike.js"
import type { FoldResult } from "../steps/fold.js"
import type { GrowthResult } from "../steps/growth.js"
import type { AppendMemoryResult } from "../steps/appendMemory.js"
import type { IngestResult } from "../steps/ingest.js"
import type { PostgresResult } from "../steps/postgres.js"
import type { ServeResult } from "../steps/serve.js"
import type { Ratio, Stats } from "./stats.js"

export interface Results {
  readonly measuredAt: string
  readonly mode: "quick" | "full"
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly memoryGiB: number; readonly node: string }
  readonly coldStart: ColdStartResult
  readonly ingest: IngestResult
  readonly appendMemory: AppendMemoryResult
  readonly fold: FoldResult
  readonly growth: GrowthResult & { readonly generation: ReadonlyArray<{ readonly events: number; readonly days: number; readonly ms: number }> }
  readonly loadmaster: ConvergeResult
  readonly cryptospike: CryptoSpikeResult
  readonly serve: ServeResult
  readonly postgres: PostgresResult
}

const f = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
const verdict = (pass: boolean) => (pass ? "PASS" : "FAIL")
const times = (r: Ratio) => `**${f(r.value, 2)}×** ${verdict(r.pass)}`
const cells = (s: Stats, unit = "ms", digits = 0) => `${f(s.median, digits)} ${unit} | ${f(s.min, digits)} ${unit} | ${f(s.max, digits)} ${unit}`
const mib = (s: Stats) => cells(s, "MiB", 1)
/** One cell: the median, with min–max after it. */
const spread = (s: Stats, unit = "ms", digits = 0) => `${f(s.median, digits)} ${unit} (${f(s.min, digits)}–${f(s.max, digits)})`

const mainTable = (r: Results) => {
  const { coldStart: c, ingest: i, appendMemory: am, fold: d, loadmaster: lm, cryptospike: cs } = r
  const calls = (counts: Record<string, number>) => Object.entries(counts).map(([k, v]) => `${f(v)} ${k}`).join(", ") || "none"
  return [
    "| benchmark | median | min | max | ratio (medians) | target |",
    "|---|---|---|---|---|---|",
    `| cold start: \`node -e 0\` (baseline) | ${cells(c.nodeMs)} | | |`,
    `| cold start: \`append --defer\`, one event | ${cells(c.appendMs)} | ${times(c.ratio)} | ≤ ${c.ratio.max}× node |`,
    `| cold start with the example config (informative) | ${cells(c.withConfig.appendMs)} | ${f(c.withConfig.ratioToNode, 2)}× | |`,
    `| ingest ${f(i.events)} lines: floor (Node + better-sqlite3, hash chain) | ${cells(i.floorMs)} | | |`,
    `| ingest ${f(i.events)} lines: \`append --defer\`, one stdin | ${cells(i.mitigatorMs)} | ${times(i.ratio)} | ≤ ${i.ratio.max}× floor |`,
    `| ingest throughput, \`append\` | ${cells(i.eventsPerSecond, "events/s")} | | |`,
    `| ingest peak RSS, \`append\` | ${mib(i.peakRssMiB.mitigator)} | | |`,
    `| ingest peak RSS, floor | ${mib(i.peakRssMiB.floor)} | | |`,
    `| peak RSS, \`append\` of ${f(am.events)} detections from as many sources, each decided (one run, ${f(am.eventsPerSecond)} events/s) | ${f(am.peakRssMiB, 1)} MiB | | | **${verdict(am.pass)}** | ≤ ${am.max} MiB |`,
    `| fold ${f(d.events)} events: floor (every row read and hash-checked, ${f(d.projectionRows)} of them JSON.parse'd) | ${cells(d.floorMs)} | | |`,
    `| fold: first \`status --json\`, no checkpoint | ${cells(d.firstFoldMs)} | ${times(d.ratio)} | ≤ ${d.ratio.max}× floor |`,
    `| fold: \`status --json\` from the checkpoint${d.checkpointSavedByFirstFold ? "" : " (none was saved!)"} | ${cells(d.fromCheckpointMs)} | | |`,
    `| fold peak RSS: first fold | ${mib(d.peakRssMiB.firstFold)} | | |`,
    `| fold peak RSS: from the checkpoint | ${mib(d.peakRssMiB.fromCheckpoint)} | | |`,
    `| fold peak RSS: floor | ${mib(d.peakRssMiB.floor)} | | |`,
    `| LoadMaster: reconcile ${f(lm.blocks)} blocks from empty (one run) | ${f(lm.converge.wallMs)} ms, **${f(lm.converge.mutations)} mutations** | | | | = ${f(lm.blocks)} mutations |`,
    `| LoadMaster: again, no-op pass (one run) | ${f(lm.noopPass.wallMs)} ms, ${calls(lm.noopPass.calls)} | | | | 0 mutations |`,
    `| CryptoSpike: resolve and block ${f(cs.users)} users, ${f(cs.activityRows)} activity rows (one run) | ${f(cs.converge.wallMs)} ms, ${calls(cs.converge.calls)} | | | | |`,
    `| CryptoSpike: again, no-op pass (one run) | ${f(cs.noopPass.wallMs)} ms, ${calls(cs.noopPass.calls)} | | | | 0 access calls |`,
    `| time to block: per-event \`append\` (baseline; process start → block on the LoadMaster, TLS) | ${cells(r.serve.appendMs)} | | |`,
    `| time to block through \`serve\` (POST sent → add on the LoadMaster, TLS) | ${cells(r.serve.serveMs, "ms", 1)} | ${times(r.serve.ratio)} | ≤ ${r.serve.ratio.max}× append |`,
    `| \`serve\` sustained: ${f(r.serve.sustained.rate)} detections/s over HTTP for ${r.serve.sustained.seconds} s (${f(r.serve.sustained.blocked)} blocked): time to block p50 / p99 / max | ${f(r.serve.sustained.p50Ms)} / ${f(r.serve.sustained.p99Ms)} / ${f(r.serve.sustained.maxMs)} ms | | | **${verdict(r.serve.sustained.pass)}** | p99 ≤ 100 ms |`,
    `| \`serve\` RSS before / half-way / after the sustained load | ${f(r.serve.sustained.rssStartMiB, 1)} / ${f(r.serve.sustained.rssMidMiB, 1)} / ${f(r.serve.sustained.rssEndMiB, 1)} MiB | | | | no growth |`,
    ...(r.serve.sustainedLower === undefined
      ? []
      : [
          `| \`serve\` sustained at a lower rate, run first: ${f(r.serve.sustainedLower.rate)} detections/s for ${r.serve.sustainedLower.seconds} s (${f(r.serve.sustainedLower.blocked)} blocked): time to block p50 / p99 / max; RSS before / half-way / after | ${f(r.serve.sustainedLower.p50Ms)} / ${f(r.serve.sustainedLower.p99Ms)} / ${f(r.serve.sustainedLower.maxMs)} ms; ${f(r.serve.sustainedLower.rssStartMiB, 1)} / ${f(r.serve.sustainedLower.rssMidMiB, 1)} / ${f(r.serve.sustainedLower.rssEndMiB, 1)} MiB | | | ${r.serve.sustainedLower.blocked < r.serve.sustainedLower.detections ? "not all blocked" : r.serve.sustainedLower.pass ? "p99 ≤ 100 ms" : "p99 > 100 ms"} | (where it holds) |`
        ])
  ].join("\n")
}

const growthTable = (g: GrowthResult) => {
  const head = g.sizes.map((s) => `${f(s.events)} events`)
  const row = (label: string, pick: (s: GrowthResult["sizes"][number]) => string, ratioCell: string, target: string) =>
    `| ${label} | ${g.sizes.map(pick).join(" | ")} | ${ratioCell} | ${target} |`
  const rss = (s: GrowthResult["sizes"][number]) =>
    `${f(s.peakRssMiB.timeToBlock.max, 1)} / ${f(s.peakRssMiB.noopReconcile.max, 1)} / ${f(s.peakRssMiB.status.max, 1)} MiB`
  const p = g.peakRssAtLargest
  return [
    `| growth (steady state, median (min–max)) | ${head.join(" | ")} | largest / empty | target |`,
    `|---|${head.map(() => "---|").join("")}---|---|`,
    row("time to block: `append` until the entry is on the LoadMaster (TLS)", (s) => spread(s.timeToBlockMs), times(g.ratio.timeToBlock), `≤ ${g.ratio.timeToBlock.max}×`),
    row(`no-op \`reconcile\` of 1,000 converged blocks (0 changes)`, (s) => spread(s.noopReconcileMs), times(g.ratio.noopReconcile), `≤ ${g.ratio.noopReconcile.max}×`),
    row("`status --json`", (s) => spread(s.statusMs), times(g.ratio.status), `≤ ${g.ratio.status.max}×`),
    row("`node -e 0`, run before each time to block", (s) => spread(s.nodeMs), "", ""),
    row(
      "time to block / `node -e 0`",
      (s) => `${f(s.timeToBlockMs.median / s.nodeMs.median, 2)}×`,
      `empty log: ${times(g.timeToBlockVsNode)}`,
      `≤ ${g.timeToBlockVsNode.max}× on the empty log`
    ),
    ...(g.timeToBlockVsPython === undefined
      ? []
      : [
          row(
            "time to block by the Python script mitigator replaces (python3 + requests, one HTTPS POST, not verifying; bench/floors/block-python.py)",
            (s) => (s === g.sizes[0] ? spread(g.timeToBlockVsPython!.pythonMs) : ""),
            `mitigator / script: ${f(g.timeToBlockVsPython.mitigatorVsPython, 2)}×; script / \`node -e 0\`: ${f(g.timeToBlockVsPython.pythonVsNode, 2)}×`,
            "(informative)"
          )
        ]),
    row("peak RSS: time to block / no-op reconcile / status (largest run)", rss, `largest log: **${f(p.mib, 1)} MiB** ${verdict(p.pass)}`, `≤ ${p.max} MiB at the largest`)
  ].join("\n")
}

/** The log on PostgreSQL beside SQLite, measured in the same run (informative: no target). */
const postgresTable = (p: PostgresResult) => {
  const vs = (x: number) => `${f(x, 2)}×`
  const c = p.concurrentAppends
  return [
    `| the log on PostgreSQL ${p.server.version.split(" ")[0]} (local, fsync on) vs SQLite (synchronous=FULL) | SQLite: median (min–max) | PostgreSQL: median (min–max) | PostgreSQL / SQLite |`,
    "|---|---|---|---|",
    `| ingest ${f(p.ingest.events)} lines, \`append --defer\`, one stdin | ${spread(p.ingest.sqliteMs)}, ${f(p.ingest.eventsPerSecond.sqlite)} events/s | ${spread(p.ingest.postgresMs)}, ${f(p.ingest.eventsPerSecond.postgres)} events/s | ${vs(p.ingest.postgresVsSqlite)} |`,
    `| time to block: \`append\` of one detection, process start → entry on the LoadMaster (TLS) | ${spread(p.timeToBlock.sqliteMs)} | ${spread(p.timeToBlock.postgresMs)} | ${vs(p.timeToBlock.postgresVsSqlite)} |`,
    `| ${c.writers} concurrent appenders, ${f(c.appendsEach)} single-event transactions each: all together | ${spread(c.sqliteEventsPerSecond, "events/s")} | ${spread(c.postgresEventsPerSecond, "events/s")} | ${vs(c.postgresVsSqlite)} |`
  ].join("\n")
}

export const renderMarkdown = (r: Results) => {
  const runs = `cold start over ${r.coldStart.nodeMs.runs} rounds, ingest ${r.ingest.mitigatorMs.runs}, fold ${r.fold.firstFoldMs.runs}, growth ${r.growth.sizes[0]!.timeToBlockMs.runs}`
  const note =
    `${r.mode} run, ${r.measuredAt.slice(0, 10)}, ${r.machine.cpus} cores, Node ${r.machine.node}; ${runs}; ` +
    `each round runs the compared commands one after the other (order alternating), the first round uncounted. ` +
    `Growth figures are steady state: the median of the counted rounds after a warm-up round that may save the projection's checkpoint; ` +
    `the first-fold row above is the cold case. Targets are informative (the bench asserts only that the work was done).`
  return `${mainTable(r)}\n\n${growthTable(r.growth)}\n\n${postgresTable(r.postgres)}\n\n${note}`
}

/** The handful of figures the README shows (the whole table is in docs/performance.md). */
export const renderSummary = (r: Results) => {
  const g = r.growth
  const vs = (ratio: Ratio, what: string) => `**${f(ratio.value, 2)}×**${what === "" ? "" : ` ${what}`}: ${verdict(ratio.pass)}`
  const largest = g.sizes[g.sizes.length - 1]!
  const empty = g.sizes[0]!
  return [
    "| measured by `npm run bench` | figure | target |",
    "|---|---|---|",
    `| time to block (process start → entry on the LoadMaster over TLS), empty log | ${f(empty.timeToBlockMs.median)} ms; ${vs(g.timeToBlockVsNode, "`node -e 0`")} | ≤ ${g.timeToBlockVsNode.max}× |`,
    ...(g.timeToBlockVsPython === undefined
      ? []
      : [`| time to block, empty log: mitigator vs the Python script it replaces (same emulator) | ${f(empty.timeToBlockMs.median)} vs ${f(g.timeToBlockVsPython.pythonMs.median)} ms: ${f(g.timeToBlockVsPython.mitigatorVsPython, 2)}× | (informative) |`]),
    `| time to block with ${f(largest.events)} events in the log | ${f(largest.timeToBlockMs.median)} ms; ${vs(g.ratio.timeToBlock, "the empty log")} | ≤ ${g.ratio.timeToBlock.max}× |`,
    `| no-op reconcile of 1,000 blocks / \`status\`, ${f(largest.events)} events vs empty | ${vs(g.ratio.noopReconcile,"")} / ${vs(g.ratio.status,"")} | ≤ ${g.ratio.status.max}× |`,
    `| cold start, one-event \`append --defer\` | ${f(r.coldStart.appendMs.median)} ms; ${vs(r.coldStart.ratio, "`node -e 0`")} | ≤ ${r.coldStart.ratio.max}× |`,
    `| ingest ${f(r.ingest.events)} lines through one stdin | ${f(r.ingest.eventsPerSecond.median)} events/s; ${vs(r.ingest.ratio, "its floor")} | ≤ ${r.ingest.ratio.max}× |`,
    `| peak RSS at ${f(largest.events)} events | ${f(g.peakRssAtLargest.mib, 1)} MiB | ≤ ${g.peakRssAtLargest.max} MiB |`,
    `| time to block through \`serve\` | ${f(r.serve.serveMs.median, 1)} ms; ${vs(r.serve.ratio, "per-event `append`")} | ≤ ${r.serve.ratio.max}× |`,
    `| the log on PostgreSQL (local, fsync on) vs SQLite: time to block / ingest / 3 concurrent appenders | ${f(r.postgres.timeToBlock.postgresMs.median)} vs ${f(r.postgres.timeToBlock.sqliteMs.median)} ms / ${f(r.postgres.ingest.eventsPerSecond.postgres)} vs ${f(r.postgres.ingest.eventsPerSecond.sqlite)} events/s / ${f(r.postgres.concurrentAppends.postgresEventsPerSecond.median)} vs ${f(r.postgres.concurrentAppends.sqliteEventsPerSecond.median)} events/s | |`,
    `| \`serve\` at ${f(r.serve.sustained.rate)} detections/s for ${r.serve.sustained.seconds} s: p99 time to block | ${f(r.serve.sustained.p99Ms)} ms: ${verdict(r.serve.sustained.pass)}; RSS ${f(r.serve.sustained.rssStartMiB, 1)} → ${f(r.serve.sustained.rssMidMiB, 1)} (half-way) → ${f(r.serve.sustained.rssEndMiB, 1)} MiB${r.serve.sustainedLower === undefined ? "" : `; at ${f(r.serve.sustainedLower.rate)}/s: p99 ${f(r.serve.sustainedLower.p99Ms)} ms`} | ≤ 100 ms |`,
    "",
    `${r.mode} run of ${r.measuredAt.slice(0, 10)}, ${r.machine.cpus} cores, Node ${r.machine.node}; ratios are to a baseline measured in the same run. All figures: [docs/performance.md](docs/performance.md).`
  ].join("\n")
}
