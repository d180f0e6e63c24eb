/**
 * `npm run bench [-- --quick]`: measures the bundled CLI as Flowmon runs it.
 *
 * - cold start: `append --defer` of one event (a fresh process each time, a real SQLite commit)
 *   against `node -e 0` measured in the same run, alternating so both see the same machine state;
 * - ingest: N TSV events through one stdin, wall time of the whole process and its peak RSS;
 * - fold: `status --json` over a log of 1M events (realistic mix, 50,000 sources, 30 days),
 *   reading them from SQLite: wall time of the whole process and its peak RSS.
 *
 * Each figure is the median over repeated runs, with min and max. Full runs write
 * bench/results.json and refresh the table in README.md; --quick (CI smoke test) writes
 * bench/tmp/results-quick.json only and asserts nothing.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import { startCryptoSpikeEmulator } from "../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import { startLoadMasterEmulator } from "../src/emulators/loadmaster/LoadMasterEmulator.js"
import { generateLog, requestBlocks, requestUserBlocks, sourceAddress } from "./generateLog.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const bundle = path.join(root, "dist", "mitigator.mjs")
const quick = process.argv.includes("--quick")

const settings = quick
  ? { coldRuns: 5, ingestEvents: 20_000, ingestRuns: 1, foldEvents: 30_000, foldDays: 3, foldRuns: 1, blockRuns: 5, convergeBlocks: 1_000, userBlocks: 100, activityRows: 20_000, growthRuns: 1 }
  : { coldRuns: 25, ingestEvents: 100_000, ingestRuns: 5, foldEvents: 1_000_000, foldDays: 30, foldRuns: 3, blockRuns: 25, convergeBlocks: 10_000, userBlocks: 1_000, activityRows: 200_000, growthRuns: 5 }

interface Sample {
  readonly ms: number
  readonly maxRssKiB: number
}

// Reports the child's own peak RSS: Node cannot read a child's rusage.
const rssHook = (file: string) =>
  `data:text/javascript,${encodeURIComponent(
    `import fs from "node:fs"; process.on("exit", () => fs.writeFileSync(${JSON.stringify(file)}, String(process.resourceUsage().maxRSS)))`
  )}`

const run = (args: ReadonlyArray<string>, stdin: string | Buffer, rssFile?: string): Promise<Sample> =>
  new Promise((resolve, reject) => {
    const nodeArgs = rssFile === undefined ? args : ["--import", rssHook(rssFile), ...args]
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, nodeArgs, { stdio: ["pipe", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()))
    child.on("error", reject)
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (code !== 0) return reject(new Error(`${args.join(" ")} exited ${code}: ${stderr}`))
      const maxRssKiB = rssFile === undefined ? 0 : Number(fs.readFileSync(rssFile, "utf8"))
      resolve({ ms, maxRssKiB })
    })
    child.stdin.end(stdin)
  })

const stats = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length }
}

const BASE = Date.UTC(2025, 10, 3, 8, 0, 0)
const flowmonTime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace("T", " ")

// Every event differs (id, times, source), so no cache or repetition flatters the figures.
const tsvLine = (i: number) =>
  [
    i, flowmonTime(BASE + i * 1000), flowmonTime(BASE + i * 1000 - 25_000), i % 3 === 0 ? "SCANS" : "SSHDICT", "SSH attack", "Security issues",
    "High", "Attack from a single attacker has been detected. This attack was unsuccessful.", "22", "6",
    `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, " ", "198.51.100.40, 198.51.100.41", "LAN", " "
  ].join("\t")

const main = async () => {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-bench-"))
  try {
    // Cold start. The log exists already (created by a first run), as on an appliance.
    const coldDb = path.join(dir, "cold.db")
    await run([bundle, "append", "--defer", "--db", coldDb, "--instance", "bench"], tsvLine(0))
    const nodeMs: number[] = []
    const appendMs: number[] = []
    for (let i = 1; i <= settings.coldRuns; i++) {
      nodeMs.push((await run(["-e", "0"], "")).ms)
      appendMs.push((await run([bundle, "append", "--defer", "--db", coldDb, "--instance", "bench"], tsvLine(i))).ms)
    }
    const node = stats(nodeMs)
    const append = stats(appendMs)

    // As deployed: a config file with the example's rules (UTC: a named zone adds ~20 ms, see README).
    const configFile = path.join(dir, "mitigator.yaml")
    fs.writeFileSync(
      configFile,
      fs.readFileSync(path.join(root, "examples", "mitigator.yaml"), "utf8").replace(/^timezone: .*$/m, "timezone: UTC")
    )
    const configuredDb = path.join(dir, "configured.db")
    const configured = ["append", "--defer", "--db", configuredDb, "--config", configFile, "--instance", "bench"]
    await run([bundle, ...configured], tsvLine(0))
    const configuredMs: number[] = []
    for (let i = 1; i <= settings.coldRuns; i++) configuredMs.push((await run([bundle, ...configured], tsvLine(i))).ms)
    const withConfig = stats(configuredMs)

    // Ingest: one stdin stream into a fresh log each run.
    const input = Buffer.from(Array.from({ length: settings.ingestEvents }, (_, i) => tsvLine(i)).join("\n") + "\n")
    const ingestSamples: Sample[] = []
    for (let r = 0; r < settings.ingestRuns; r++) {
      const db = path.join(dir, `ingest-${r}.db`)
      ingestSamples.push(await run([bundle, "append", "--defer", "--db", db, "--instance", "bench"], input, path.join(dir, `rss-${r}`)))
    }
    const ingestMs = stats(ingestSamples.map((s) => s.ms))
    const eventsPerSecond = stats(ingestSamples.map((s) => settings.ingestEvents / (s.ms / 1000)))
    const rssMiB = stats(ingestSamples.map((s) => s.maxRssKiB / 1024))

    // Fold: a realistic log through the real write path, then `status --json` in fresh processes.
    const foldDb = path.join(dir, "fold.db")
    const generated = await Effect.runPromise(generateLog(foldDb, { events: settings.foldEvents, sources: 50_000, days: settings.foldDays }))
    const foldSamples: Sample[] = []
    for (let r = 0; r < settings.foldRuns; r++) {
      foldSamples.push(await run([bundle, "status", "--json", "--db", foldDb], "", path.join(dir, `fold-rss-${r}`)))
    }
    const foldMs = stats(foldSamples.map((s) => s.ms))
    const foldPerSecond = stats(foldSamples.map((s) => generated / (s.ms / 1000)))
    const foldRssMiB = stats(foldSamples.map((s) => s.maxRssKiB / 1024))

    // LoadMaster: time to block, and converging many blocks, against the emulator on loopback.
    const emulator = await startLoadMasterEmulator({})
    const keyFile = path.join(dir, "lm.key")
    fs.writeFileSync(keyFile, emulator.apiKey, { mode: 0o600 })
    const lmConfig = path.join(dir, "lm.yaml")
    fs.writeFileSync(
      lmConfig,
      [
        `loadmaster: { url: ${emulator.url}, apiKeyFile: ${keyFile} }`,
        "policy:",
        "  rules:",
        "    - { name: brute-force, match: { methods: [SSHDICT, SCANS] }, actions: [ { loadmaster: global, ttl: 6h } ] }",
        "  caps: { maxAddsPerPass: 100000, maxRemovesPerPass: 100000, maxActivePerTarget: 100000 }"
      ].join("\n") + "\n"
    )
    const blockDb = path.join(dir, "block.db")
    const blockArgs = ["append", "--db", blockDb, "--config", lmConfig, "--instance", "bench"]
    await run([bundle, ...blockArgs, "--defer"], tsvLine(900_000)) // the log exists, as on an appliance
    const blockMs: number[] = []
    for (let i = 1; i <= settings.blockRuns; i++) blockMs.push((await run([bundle, ...blockArgs], tsvLine(900_000 + i))).ms)
    const blocked = emulator.entries({ kind: "global" }).length
    if (blocked < settings.blockRuns) throw new Error(`only ${blocked} of ${settings.blockRuns} blocks reached the emulator`)
    const timeToBlock = stats(blockMs)

    const convergeDb = path.join(dir, "converge.db")
    const fastConfig = path.join(dir, "lm-fast.yaml")
    fs.writeFileSync(fastConfig, fs.readFileSync(lmConfig, "utf8").replace("apiKeyFile:", "rateLimit: 100000, apiKeyFile:"))
    await Effect.runPromise(requestBlocks(convergeDb, settings.convergeBlocks))
    emulator.resetCounts()
    const converge = await run([bundle, "reconcile", "--db", convergeDb, "--config", fastConfig, "--concurrency", "16"], "")
    const convergeCounts = emulator.counts()
    emulator.resetCounts()
    const noop = await run([bundle, "reconcile", "--db", convergeDb, "--config", fastConfig], "")
    const noopCounts = emulator.counts()
    await emulator.close()
    const mutations = (c: Record<string, number>) => (c["add"] ?? 0) + (c["addvs"] ?? 0) + (c["del"] ?? 0) + (c["delvs"] ?? 0)

    // Growth: the same work at 10× and 100× smaller sizes (the smaller ones repeated, median
    // kept). Each figure is a whole process (start-up, opening, listing…): the marginal cost from
    // one size to the next, per 1,000 units, takes that fixed part out, and stays flat when the
    // cost grows linearly.
    type GrowthRow = { work: string; size: number; wallMs: number; minMs: number; maxMs: number; runs: number; perThousandMs: number | null }
    const growth: GrowthRow[] = []
    const measured = async (runs: number, once: (r: number) => Promise<number>) => {
      const samples: number[] = []
      for (let r = 0; r < runs; r++) samples.push(await once(r))
      return stats(samples)
    }
    const row = (work: string, size: number, s: ReturnType<typeof stats>): GrowthRow => ({ work, size, wallMs: s.median, minMs: s.min, maxMs: s.max, runs: s.runs, perThousandMs: null })
    growth.push(row("ingest (events)", settings.ingestEvents, ingestMs))
    for (const size of [settings.ingestEvents / 10, settings.ingestEvents / 100]) {
      const input = Buffer.from(Array.from({ length: size }, (_, i) => tsvLine(i)).join("\n") + "\n")
      growth.push(row("ingest (events)", size, await measured(settings.growthRuns, async (r) => (await run([bundle, "append", "--defer", "--db", path.join(dir, `growth-ingest-${size}-${r}.db`), "--instance", "bench"], input)).ms)))
    }
    growth.push(row("fold (events)", generated, foldMs))
    for (const size of [settings.foldEvents / 10, settings.foldEvents / 100]) {
      const db = path.join(dir, `growth-fold-${size}.db`)
      const events = await Effect.runPromise(generateLog(db, { events: size, sources: Math.max(100, Math.round(50_000 * (size / settings.foldEvents))), days: settings.foldDays }))
      growth.push(row("fold (events)", events, await measured(settings.growthRuns, async () => (await run([bundle, "status", "--json", "--db", db], "")).ms)))
    }
    growth.push(row("reconcile from empty (blocks)", settings.convergeBlocks, stats([converge.ms])))
    for (const size of [settings.convergeBlocks / 10, settings.convergeBlocks / 100]) {
      const ms = await measured(settings.growthRuns, async (r) => {
        // A fresh appliance and log each time: the same blocks, from empty.
        const fresh = await startLoadMasterEmulator({})
        const db = path.join(dir, `growth-converge-${size}-${r}.db`)
        const config = path.join(dir, `growth-${size}-${r}.yaml`)
        fs.writeFileSync(keyFile, fresh.apiKey, { mode: 0o600 })
        fs.writeFileSync(config, fs.readFileSync(fastConfig, "utf8").replace(emulator.url, fresh.url))
        await Effect.runPromise(requestBlocks(db, size))
        const wall = (await run([bundle, "reconcile", "--db", db, "--config", config, "--concurrency", "16"], "")).ms
        const applied = fresh.entries({ kind: "global" }).length
        await fresh.close()
        if (applied !== size) throw new Error(`growth: ${applied} of ${size} blocks applied`)
        return wall
      })
      growth.push(row("reconcile from empty (blocks)", size, ms))
    }

    // CryptoSpike: resolve and block many users against an emulator holding a lot of file activity.
    const seenAt = "2026-01-01T10:00:00.000Z"
    const userOf = (i: number) => `S-1-5-21-1000-2000-3000-${10_000 + i}`
    const rowsPerAddress = Math.floor(settings.activityRows / settings.userBlocks)
    const cryptospike = await startCryptoSpikeEmulator({
      seed: {
        users: Array.from({ length: settings.userBlocks }, (_, i) => ({ userId: userOf(i), userName: `user${i}`, userPrincipalName: `user${i}@corp.example` })),
        fileActivity: Array.from({ length: settings.userBlocks * rowsPerAddress }, (_, k) => {
          const i = k % settings.userBlocks
          return { userId: userOf(i), ip: sourceAddress(i), time: new Date(Date.parse(seenAt) - (k % 1500) * 1000).toISOString(), path: `/share/${k}`, action: "write" }
        })
      }
    })
    const csToken = path.join(dir, "cs.token")
    fs.writeFileSync(csToken, cryptospike.token, { mode: 0o600 })
    const csConfig = path.join(dir, "cs.yaml")
    fs.writeFileSync(csConfig, `cryptospike: { url: ${cryptospike.url}, tokenFile: ${csToken} }\npolicy:\n  caps: { maxAddsPerPass: 100000, maxRemovesPerPass: 100000, maxActivePerTarget: 100000 }\n`)
    const usersDb = path.join(dir, "users.db")
    await Effect.runPromise(requestUserBlocks(usersDb, settings.userBlocks, seenAt))
    cryptospike.resetCounts()
    const usersConverge = await run([bundle, "reconcile", "--db", usersDb, "--config", csConfig], "")
    const usersConvergeCalls = cryptospike.counts()
    cryptospike.resetCounts()
    const usersNoop = await run([bundle, "reconcile", "--db", usersDb, "--config", csConfig], "")
    const usersNoopCalls = cryptospike.counts()
    const blockedUsers = cryptospike.users().filter((u) => u.blocked).length
    await cryptospike.close()
    if (blockedUsers !== settings.userBlocks) throw new Error(`${blockedUsers} of ${settings.userBlocks} users blocked`)

    const results = {
      measuredAt: new Date().toISOString(),
      mode: quick ? "quick" : "full",
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "", memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      coldStart: {
        what: "bundled `append --defer` of one event, fresh process, vs `node -e 0`",
        nodeBaselineMs: node,
        appendMs: append,
        ratioOfMedians: append.median / node.median,
        withConfigMs: withConfig,
        withConfigRatioOfMedians: withConfig.median / node.median,
        target: "<= 2.5x"
      },
      ingest: {
        what: `${settings.ingestEvents} TSV events through one stdin, whole process`,
        events: settings.ingestEvents,
        wallMs: ingestMs,
        eventsPerSecond,
        peakRssMiB: rssMiB,
        target: ">= 50,000 events/s, peak RSS <= 200 MiB"
      },
      loadmaster: {
        timeToBlockMs: timeToBlock,
        timeToBlockTarget: "p50 <= 300 ms (append without --defer, one event, until the entry is on the emulator)",
        converge: { blocks: settings.convergeBlocks, wallMs: converge.ms, mutations: mutations(convergeCounts), calls: convergeCounts },
        noopPass: { wallMs: noop.ms, mutations: mutations(noopCounts), calls: noopCounts },
        target: "mutations exactly = blocks; no-op pass <= 2 s wall, list calls only"
      },
      cryptospike: {
        users: settings.userBlocks,
        activityRows: settings.userBlocks * rowsPerAddress,
        converge: { wallMs: usersConverge.ms, calls: usersConvergeCalls },
        noopPass: { wallMs: usersNoop.ms, calls: usersNoopCalls }
      },
      growth: {
        what: "the same work at 1×, 1/10 and 1/100 of the size; perThousandMs = marginal cost per 1,000 units from the next smaller size: (wall − its wall) / (size − its size) × 1000",
        rows: growth
      },
      fold: {
        what: `\`status --json\` over ${generated} events (${settings.foldDays} days, 50,000 sources), whole process`,
        events: generated,
        wallMs: foldMs,
        eventsPerSecond: foldPerSecond,
        peakRssMiB: foldRssMiB,
        target: ">= 200,000 events/s, peak RSS <= 512 MiB"
      }
    }

    const f = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    const table = [
      "| benchmark | median | min | max | target |",
      "|---|---|---|---|---|",
      `| cold start: \`node -e 0\` (baseline) | ${f(node.median)} ms | ${f(node.min)} ms | ${f(node.max)} ms | |`,
      `| cold start: \`append --defer\`, one event | ${f(append.median)} ms | ${f(append.min)} ms | ${f(append.max)} ms | |`,
      `| cold start ratio (medians) | **${f(results.coldStart.ratioOfMedians, 2)}×** | | | ≤ 2.5× |`,
      `| cold start with the example config (rules decide) | ${f(withConfig.median)} ms | ${f(withConfig.min)} ms | ${f(withConfig.max)} ms | |`,
      `| cold start ratio with config (medians) | **${f(results.coldStart.withConfigRatioOfMedians, 2)}×** | | | ≤ 2.5× |`,
      `| ingest ${f(settings.ingestEvents)} TSV events, one stdin | **${f(eventsPerSecond.median)} events/s** | ${f(eventsPerSecond.min)} | ${f(eventsPerSecond.max)} | ≥ 50,000 events/s |`,
      `| ingest peak RSS | **${f(rssMiB.median, 1)} MiB** | ${f(rssMiB.min, 1)} MiB | ${f(rssMiB.max, 1)} MiB | ≤ 200 MiB |`,
      `| time to block: \`append\` (one event) until on the LoadMaster emulator | **${f(timeToBlock.median)} ms** (p50) | ${f(timeToBlock.min)} ms | ${f(timeToBlock.max)} ms | p50 ≤ 300 ms |`,
      `| reconcile ${f(settings.convergeBlocks)} blocks from empty | ${f(converge.ms)} ms, **${f(mutations(convergeCounts))} mutations** | | | mutations = ${f(settings.convergeBlocks)} |`,
      `| reconcile again (no-op pass) | **${f(noop.ms)} ms**, ${f(mutations(noopCounts))} mutations, ${f(noopCounts["list"] ?? 0)} list call(s) | | | ≤ 2 s, lists only |`,
      `| CryptoSpike: resolve and block ${f(settings.userBlocks)} users (${f(settings.userBlocks * rowsPerAddress)} activity rows) | ${f(usersConverge.ms)} ms, ${f(usersConvergeCalls["access"] ?? 0)} block calls, ${f(usersConvergeCalls["activity"] ?? 0)} activity calls | | | |`,
      `| CryptoSpike: again (no-op pass) | **${f(usersNoop.ms)} ms**, ${f(usersNoopCalls["access"] ?? 0)} block calls, ${f(usersNoopCalls["users"] ?? 0)} user-list calls | | | |`,
      `| fold ${f(generated)} events from SQLite (\`status\`) | **${f(foldPerSecond.median)} events/s** | ${f(foldPerSecond.min)} | ${f(foldPerSecond.max)} | ≥ 200,000 events/s |`,
      `| fold peak RSS | **${f(foldRssMiB.median, 1)} MiB** | ${f(foldRssMiB.min, 1)} MiB | ${f(foldRssMiB.max, 1)} MiB | ≤ 512 MiB |`
    ].join("\n")
    // Marginal cost from the next smaller size of the same work.
    for (const [i, g] of growth.entries()) {
      const smaller = growth[i + 1]
      if (smaller !== undefined && smaller.work === g.work) g.perThousandMs = ((g.wallMs - smaller.wallMs) / (g.size - smaller.size)) * 1000
    }
    const growthTable = [
      "| growth: work | size | wall (one process, median) | min | max | runs | marginal cost per 1,000 from the next smaller size |",
      "|---|---|---|---|---|---|---|",
      ...growth.map((g) => `| ${g.work} | ${f(g.size)} | ${f(g.wallMs)} ms | ${f(g.minMs)} ms | ${f(g.maxMs)} ms | ${g.runs} | ${g.perThousandMs === null ? "" : `${f(g.perThousandMs, 1)} ms`} |`)
    ].join("\n")
    const note = `${results.mode} run, ${results.measuredAt.slice(0, 10)}, ${results.machine.cpus} cores, Node ${process.version}; cold start over ${append.runs} runs, ingest over ${ingestMs.runs} runs, fold over ${foldMs.runs} runs.`
    console.log(`\n${table}\n\n${growthTable}\n\n${note}`)

    if (quick) {
      fs.mkdirSync(path.join(root, "bench", "tmp"), { recursive: true })
      fs.writeFileSync(path.join(root, "bench", "tmp", "results-quick.json"), JSON.stringify(results, null, 2) + "\n")
      return
    }
    fs.writeFileSync(path.join(root, "bench", "results.json"), JSON.stringify(results, null, 2) + "\n")
    const readmePath = path.join(root, "README.md")
    const readme = fs.readFileSync(readmePath, "utf8")
    const start = "<!-- bench:start -->"
    const end = "<!-- bench:end -->"
    if (readme.includes(start) && readme.includes(end)) {
      const updated = readme.slice(0, readme.indexOf(start) + start.length) + `\n${table}\n\n${growthTable}\n\n${note}\n` + readme.slice(readme.indexOf(end))
      fs.writeFileSync(readmePath, updated)
      console.log("README.md performance table updated")
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
