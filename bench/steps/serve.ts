/**
 * `serve` (issue 16): time to block through the detection server, against a per-event `append`,
 * side by side; then a sustained load over HTTP with the time to block of every detection.
 *
 * - time to block through serve: from the moment the POST of one new detection is sent until its
 *   add reaches the LoadMaster emulator (TLS, pinned); per-event append: from process start until
 *   `append` exits with its block on the emulator (as the growth step measures it). Rounds
 *   alternate the two; the first round is not counted.
 * - sustained: `lowerRate`, then `rate`, detections a second for `seconds`, one POST every 10 ms carrying the
 *   detections due by then, each a new source; the time to block of every detection (POST sent →
 *   its add seen on the emulator, read every few ms from the emulator's request log: that is the
 *   resolution), and the server's RSS (from /proc) at the start, half-way and at the end of the load. A
 *   detection not blocked within 30 s of the end of the load fails the target (`blocked` says how
 *   many were).
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { spawn, type ChildProcess } from "node:child_process"
import { startBenchLoadMaster, type BenchLoadMaster } from "../lib/loadmaster.js"
import { mitigatorArgs, runProcess } from "../lib/proc.js"
import { progress, ratio, stats, type Ratio, type Stats } from "../lib/stats.js"
import { tsvLine } from "../lib/tsv.js"

export const SERVE_TARGET = 0.2
export const SUSTAINED_P99_TARGET_MS = 100

export interface ServeResult {
  readonly appendMs: Stats
  readonly serveMs: Stats
  readonly ratio: Ratio
  /** at the target's rate */
  readonly sustained: Sustained
  /** at a lower rate, run first: where the time to block holds */
  readonly sustainedLower: Sustained
}

export interface Sustained {
  readonly rate: number
  readonly seconds: number
  readonly detections: number
  readonly blocked: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly rssStartMiB: number
  /** at half the load's time: the second half's growth (end − mid) tells a heap sized to the load from a leak */
  readonly rssMidMiB: number
  readonly rssEndMiB: number
  readonly pass: boolean
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The addresses the emulator has been asked to add (global list) since the last call: its request log, emptied. */
const addsSince = (lm: BenchLoadMaster): string[] => {
  const requests = lm.emulator.requests()
  lm.emulator.clearRequests()
  const added: string[] = []
  for (const r of requests) {
    let fields: Record<string, unknown>
    try {
      // APIv2: a JSON body; APIv1: the query string.
      fields = r.body.trim().startsWith("{") ? (JSON.parse(r.body) as Record<string, unknown>) : Object.fromEntries(new URL(r.url, "http://x").searchParams)
    } catch {
      continue
    }
    if (fields["add"] === "block" && typeof fields["addr"] === "string") added.push(fields["addr"].replace(/\/(32|128)$/, ""))
  }
  return added
}

const rssMiB = (pid: number): number => {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))
    return line === undefined ? 0 : Number(line.replace(/\D+/g, "")) / 1024
  } catch {
    return 0
  }
}

interface Server {
  readonly url: string
  readonly token: string
  readonly child: ChildProcess
}

const startServer = async (dir: string, lm: BenchLoadMaster, db: string): Promise<Server> => {
  // The bench measures serve, not its brake: the rate limit (429) out of the way.
  fs.appendFileSync(lm.config, "serve: { rateLimit: 100000 }\n")
  const port = await freePort()
  const token = `bench-${process.pid}-${Date.now()}-token`
  const tokenFile = path.join(dir, "serve.token")
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 })
  const [node, ...args] = mitigatorArgs("serve", "--listen", `127.0.0.1:${port}`, "--token-file", tokenFile, "--db", db, "--config", lm.config)
  const child = spawn(node!, args, { stdio: ["ignore", "ignore", "inherit"] })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode} before it listened`)
    try {
      await fetch(`${url}/healthz`)
      return { url, token, child }
    } catch {
      await sleep(50)
    }
  }
  child.kill("SIGKILL")
  throw new Error("serve did not listen within 30 s")
}

const post = async (server: Server, lines: ReadonlyArray<string>): Promise<void> => {
  const response = await fetch(`${server.url}/v1/events`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "text/plain" },
    body: lines.join("\n") + "\n"
  })
  const answer = await response.text()
  if (response.status !== 200) throw new Error(`serve answered ${response.status}: ${answer.slice(0, 200)}`)
}

const address = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`

/** Waits until every address in `wanted` has been added; returns when each was first seen. */
const watchAdds = async (lm: BenchLoadMaster, wanted: ReadonlyMap<string, number>, deadlineMs: number): Promise<Map<string, number>> => {
  const seen = new Map<string, number>()
  const deadline = performance.now() + deadlineMs
  while (seen.size < wanted.size && performance.now() < deadline) {
    const now = performance.now()
    for (const a of addsSince(lm)) if (wanted.has(a) && !seen.has(a)) seen.set(a, now)
    await sleep(2)
  }
  return seen
}

let next = 3_000_000 // above the other steps' detections: a new source every time

export const serve = async (
  dir: string,
  rounds: number,
  sustained: { readonly rate: number; readonly lowerRate: number; readonly seconds: number }
): Promise<ServeResult> => {
  const lmServe = await startBenchLoadMaster(dir, "serve", { tls: true })
  const lmAppend = await startBenchLoadMaster(dir, "serve-append", { tls: true })
  const serveDb = path.join(dir, "serve.db")
  const appendDb = path.join(dir, "serve-append.db")
  const server = await startServer(dir, lmServe, serveDb)
  try {
    const serveSamples: number[] = []
    const appendSamples: number[] = []
    for (let round = 0; round <= rounds; round++) {
      const order = round % 2 === 0 ? (["serve", "append"] as const) : (["append", "serve"] as const)
      for (const which of order) {
        const i = next++
        if (which === "serve") {
          addsSince(lmServe)
          const started = performance.now()
          await post(server, [tsvLine(i)])
          const seen = await watchAdds(lmServe, new Map([[address(i), started]]), 10_000)
          const at = seen.get(address(i))
          if (at === undefined) throw new Error(`serve: the block of ${address(i)} did not reach the emulator within 10 s`)
          if (round > 0) serveSamples.push(at - started)
        } else {
          const before = lmAppend.emulator.entries("global").length
          const run = await runProcess(mitigatorArgs("append", "--db", appendDb, "--config", lmAppend.config, "--instance", "bench"), { stdin: tsvLine(i) })
          if (lmAppend.emulator.entries("global").length !== before + 1) throw new Error("serve step: append exited but its block is not on the emulator")
          if (round > 0) appendSamples.push(run.ms)
        }
      }
    }
    const serveMs = stats(serveSamples)
    const appendMs = stats(appendSamples)
    progress(`serve: time to block ${serveMs.median.toFixed(1)} ms through serve, ${appendMs.median.toFixed(0)} ms per-event append`)

    // Sustained load: first at a rate a busy Flowmon reaches (where the figure holds), then at the target's.
    const sustainedAt = async (rate: number, seconds: number): Promise<Sustained> => {
      const total = rate * seconds
      const sentAt = new Map<string, number>()
      const rssStartMiB = rssMiB(server.child.pid!)
      addsSince(lmServe)
      const seen = new Map<string, number>()
      const posts: Array<Promise<void>> = []
      const failures: string[] = []
      const started = performance.now()
      let sent = 0
      let rssMidMiB: number | undefined
      while (sent < total) {
        if (rssMidMiB === undefined && performance.now() - started >= (seconds * 1000) / 2) rssMidMiB = rssMiB(server.child.pid!)
        const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate))
        if (due > sent) {
          const lines: string[] = []
          const now = performance.now()
          for (; sent < due; sent++) {
            const i = next++
            lines.push(tsvLine(i))
            sentAt.set(address(i), now)
          }
          // Caught at once (reported after the load): a rejection must not wait unhandled.
          posts.push(post(server, lines).catch((e: Error) => void failures.push(e.message)))
        }
        const now = performance.now()
        for (const a of addsSince(lmServe)) if (sentAt.has(a) && !seen.has(a)) seen.set(a, now)
        await sleep(10)
      }
      await Promise.all(posts)
      if (failures.length > 0) throw new Error(`serve sustained: ${failures.length} POSTs failed, the first: ${failures[0]}`)
      const rest = await watchAdds(lmServe, new Map([...sentAt].filter(([a]) => !seen.has(a))), 30_000)
      for (const [a, at] of rest) seen.set(a, at)
      const rssEndMiB = rssMiB(server.child.pid!)
      const latencies = [...seen].map(([a, at]) => at - sentAt.get(a)!).sort((x, y) => x - y)
      const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN
      const result = {
        rate,
        seconds,
        detections: total,
        blocked: seen.size,
        p50Ms: pct(0.5),
        p99Ms: pct(0.99),
        maxMs: latencies.at(-1) ?? Number.NaN,
        rssStartMiB,
        rssMidMiB: rssMidMiB ?? rssStartMiB,
        rssEndMiB,
        pass: seen.size === total && pct(0.99) <= SUSTAINED_P99_TARGET_MS
      }
      // Those not blocked within 30 s of the end of the load count against the target, not as a crash.
      if (seen.size !== total) progress(`serve sustained: ${total - seen.size} of ${total} detections did not reach the emulator within 30 s of the end of the load`)
      progress(`serve: sustained ${rate}/s for ${seconds} s: p50 ${result.p50Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms; RSS ${rssStartMiB.toFixed(0)} → ${result.rssMidMiB.toFixed(0)} (half-way) → ${rssEndMiB.toFixed(0)} MiB`)
      return result
    }
    const lower = await sustainedAt(sustained.lowerRate, sustained.seconds)
    const target = await sustainedAt(sustained.rate, sustained.seconds)
    return { appendMs, serveMs, ratio: ratio(serveMs, appendMs, SERVE_TARGET), sustained: target, sustainedLower: lower }
  } finally {
    server.child.kill("SIGTERM")
    await lmServe.emulator.close()
    await lmAppend.emulator.close()
  }
}
