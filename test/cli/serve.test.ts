/**
 * `mitigator serve` as a real process on a free loopback port, with a real SQLite log in a temp
 * directory and the LoadMaster emulator over loopback: what a Flowmon forwarder (curl) meets.
 */
import { randomBytes } from "node:crypto"
import * as https from "node:https"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import type { LoadMasterEmulatorHandle } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { makeCertificate } from "../support/certificates.js"
import { runCli } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"
import { addrs, lmWorkspace, startCli, waitFor, withEmulator, type RunningCli } from "../support/loadmaster.js"
import { closedPort } from "../support/ports.js"

const TOKEN = `serve-${randomBytes(24).toString("hex")}`

/** A workspace with a private token file, and a way to start `serve` on a free port in it. */
const serveWorkspace = (emulator: LoadMasterEmulatorHandle) => {
  const w = lmWorkspace(emulator)
  const tokenFile = path.join(w.dir, "serve.token")
  fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 })
  fs.chmodSync(tokenFile, 0o600)
  const logFile = path.join(w.dir, "serve.log")
  const started: RunningCli[] = []
  const start = async (extra: ReadonlyArray<string> = [], host = "127.0.0.1", scheme = "http") => {
    const port = await closedPort()
    const server = startCli(
      ["serve", "--db", w.db, "--config", w.config, "--listen", `${host}:${port}`, "--token-file", tokenFile, "--log-file", logFile, ...(extra.includes("--interval") ? [] : ["--interval", "1s"]), ...extra],
      { cwd: w.dir }
    )
    started.push(server)
    await waitFor("serve to listen", () => server.stdout().includes("listening on") || server.child.exitCode !== null, 30_000)
    expect(server.stdout() + server.stderr(), "serve did not start").toContain(`listening on ${scheme}://${host}:${port}`)
    const url = `${scheme}://127.0.0.1:${port}`
    /** POSTs `body` with `token` (null: no Authorization header) */
    const post = (body: string | Uint8Array, token: string | null = TOKEN) =>
      fetch(`${url}/v1/events`, { method: "POST", body, headers: token === null ? {} : { authorization: `Bearer ${token}` } })
    return { server, url, post }
  }
  /** The token never reaches stdout, stderr or the log file. */
  const expectTokenKept = () => {
    for (const s of started) expect(s.stdout() + s.stderr(), "the token leaked in serve's output").not.toContain(TOKEN)
    if (fs.existsSync(logFile)) expect(fs.readFileSync(logFile, "utf8"), "the token leaked in the log file").not.toContain(TOKEN)
  }
  const stopAll = async () => {
    for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL")
    await Promise.all(started.map((s) => s.done))
  }
  return { ...w, tokenFile, logFile, start, expectTokenKept, stopAll }
}

const eventIds = async (w: ReturnType<typeof serveWorkspace>) =>
  (await w.events()).filter((e) => e.type === "FlowmonEventReceived").map((e) => String(e.payload.eventId))

describe("mitigator serve", () => {
  it("refuses to start without a private token file, and with plain HTTP off loopback", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      // Given no token at all
      const none = await runCli(["serve", "--db", w.db, "--config", w.config], { cwd: w.dir })
      expect(none.code).toBe(1)
      expect(none.stderr).toContain("no token: give --token-file FILE")
      // Given a token file others can read
      const open = path.join(w.dir, "open.token")
      fs.writeFileSync(open, `${TOKEN}\n`)
      fs.chmodSync(open, 0o644)
      const readable = await runCli(["serve", "--db", w.db, "--config", w.config, "--token-file", open], { cwd: w.dir })
      expect(readable.code).toBe(1)
      expect(readable.stderr).toContain("chmod 600")
      // Given a non-loopback address without TLS
      const port = await closedPort()
      const exposed = await runCli(["serve", "--db", w.db, "--config", w.config, "--token-file", w.tokenFile, "--listen", `0.0.0.0:${port}`], { cwd: w.dir })
      expect(exposed.code).toBe(1)
      expect(exposed.stderr).toContain(`refusing plain HTTP on 0.0.0.0:${port}, which is not a loopback address`)
      for (const run of [none, readable, exposed]) expect(run.stdout + run.stderr).not.toContain(TOKEN)
    })
  }, 60_000)

  it("answers 401 without or with a wrong token, 413 above the body limit, 400 for a body that is not text; records nothing of them", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      try {
        const { post } = await w.start()
        const line = adsLine(7001)
        const without = await post(line, null)
        expect(without.status).toBe(401)
        expect(without.headers.get("www-authenticate")).toContain("Bearer")
        expect((await post(line, `${TOKEN}x`)).status).toBe(401)
        expect((await post(line, "short")).status).toBe(401)
        const tooLarge = await post("x".repeat(1024 * 1024 + 1))
        expect(tooLarge.status).toBe(413)
        expect(((await tooLarge.json()) as { error: string }).error).toContain("larger than 1048576 bytes")
        const binary = await post(new Uint8Array([0x41, 0x00, 0x42, 0x0a]))
        expect(binary.status).toBe(400)
        expect((await post(new Uint8Array([0x41, 0xff, 0xfe, 0x0a]))).status).toBe(400)
        expect(await eventIds(w)).toEqual([])
        w.expectTokenKept()
      } finally {
        await w.stopAll()
      }
    })
  }, 90_000)

  it("answers 429 above the rate limit (serve.rateLimit)", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      // One request in a thousand seconds: the second is over the limit whatever the machine's speed.
      fs.appendFileSync(w.config, "serve:\n  rateLimit: 0.001\n")
      try {
        const { post } = await w.start()
        expect((await post(adsLine(7101))).status).toBe(200)
        const limited = await post(adsLine(7102))
        expect(limited.status).toBe(429)
        expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
        expect(await eventIds(w)).toEqual(["7101"])
      } finally {
        await w.stopAll()
      }
    })
  }, 90_000)

  it("answers only after the commit: killed with SIGKILL right after a 200, the events are in the log", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      try {
        const { server, post } = await w.start()
        const answer = await post([adsLine(7201, "192.0.2.41"), adsLine(7202, "192.0.2.42"), "not a flowmon line"].join("\n") + "\n")
        expect(answer.status).toBe(200)
        expect(await answer.json()).toEqual({ stored: 2, duplicate: 0, rejected: 1, warnings: 0 })
        server.child.kill("SIGKILL")
        await server.done
        expect((await eventIds(w)).sort()).toEqual(["7201", "7202"])
        expect((await w.events()).some((e) => e.type === "InputRejected")).toBe(true)
      } finally {
        await w.stopAll()
      }
    })
  }, 90_000)

  it("loses nothing it acknowledged when killed with SIGKILL in the middle of requests", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      try {
        const { server, post } = await w.start()
        const acknowledged: string[] = []
        let next = 7300
        let killed = false
        // Four clients post one detection each, again and again, until the server is gone.
        const client = async () => {
          while (!killed) {
            const id = String(next++)
            const answer = await post(adsLine(id, "192.0.2.77") + "\n").catch(() => undefined)
            if (answer?.status === 200) acknowledged.push(id)
          }
        }
        const clients = [client(), client(), client(), client()]
        await waitFor("some acknowledged detections", () => acknowledged.length >= 20, 60_000)
        server.child.kill("SIGKILL")
        await server.done
        killed = true
        await Promise.all(clients)
        const stored = new Set(await eventIds(w))
        expect(acknowledged.filter((id) => !stored.has(id))).toEqual([])
      } finally {
        await w.stopAll()
      }
    })
  }, 120_000)

  it("applies a POSTed detection's block on the LoadMaster, says so in /metrics and /healthz, and ends on SIGTERM with 130", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      try {
        const { server, url, post } = await w.start()
        // Given a pass has ended
        await waitFor("the first reconcile pass", () => server.stdout().includes("mitigator reconcile:"), 30_000)
        const health = await fetch(`${url}/healthz`)
        expect(health.status).toBe(200)
        expect(await health.json()).toMatchObject({ status: "ok", reasons: [] })
        // When a detection the policy blocks is POSTed
        const answer = await post(adsLine(7401, "192.0.2.31"))
        expect(answer.status).toBe(200)
        expect(await answer.json()).toEqual({ stored: 1, duplicate: 0, rejected: 0, warnings: 0 })
        // Then its block is on the LoadMaster (the immediate apply, or at the latest the next pass)
        await waitFor("the block on the LoadMaster", () => addrs(emulator).includes("192.0.2.31/32"), 30_000)
        // And sent again, it is a duplicate
        expect(await (await post(adsLine(7401, "192.0.2.31"))).json()).toEqual({ stored: 0, duplicate: 1, rejected: 0, warnings: 0 })
        const metrics = await (await fetch(`${url}/metrics`)).text()
        expect(metrics).toContain('mitigator_serve_events_total{outcome="stored"} 1')
        expect(metrics).toContain('mitigator_serve_events_total{outcome="duplicate"} 1')
        expect(metrics).toContain("mitigator_serve_decisions_total 1")
        expect(metrics).toContain('mitigator_serve_requests_total{code="200"} 2')
        expect(metrics).toMatch(/mitigator_serve_apply_queue_depth \d/)
        expect(metrics).toMatch(/mitigator_last_pass_age_seconds [\d.]+/)
        expect(metrics).toMatch(/mitigator_last_pass_duration_seconds [\d.]+/)
        expect(await fetch(`${url}/nowhere`).then((r) => r.status)).toBe(404)
        // When SIGTERM comes, it ends with 130 (stopped by a signal)
        server.child.kill("SIGTERM")
        const ended = await Promise.race([server.done, new Promise<undefined>((resolve) => setTimeout(resolve, 15_000, undefined))])
        expect(ended, "serve did not end within 15 s of SIGTERM").toBeDefined()
        expect(ended!.code).toBe(130)
        expect(fs.readFileSync(w.logFile, "utf8")).toContain("POST /v1/events from 127.0.0.1: 1 stored")
        w.expectTokenKept()
      } finally {
        await w.stopAll()
      }
    })
  }, 120_000)

  it("answers requests that arrive together each with its own counts, and blocks a burst from many sources at once, each recorded as mitigator's", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      try {
        // Given a reconcile interval of an hour: whatever is blocked after the first pass, the immediate apply blocked
        const { server, url, post } = await w.start(["--interval", "1h"])
        await waitFor("the first reconcile pass", () => server.stdout().includes("mitigator reconcile:"), 30_000)
        // When 30 clients post at once, client i sending i % 3 + 1 detections from new sources and, when i is even, one line that is not a detection
        const bodies = Array.from({ length: 30 }, (_, i) => {
          const lines = Array.from({ length: (i % 3) + 1 }, (_, j) => adsLine(8000 + i * 10 + j, `198.18.${i}.${j + 1}`))
          return i % 2 === 0 ? [...lines, "not a flowmon line"] : lines
        })
        const answers = await Promise.all(bodies.map(async (lines) => (await post(lines.join("\n") + "\n")).json()))
        // Then each is answered with what became of its own lines
        answers.forEach((answer, i) => expect(answer, `client ${i}`).toEqual({ stored: (i % 3) + 1, duplicate: 0, rejected: i % 2 === 0 ? 1 : 0, warnings: 0 }))
        // And every source is on the LoadMaster, each add recorded as mitigator's with the decision that called for it
        const sources = bodies.flatMap((_, i) => Array.from({ length: (i % 3) + 1 }, (_, j) => `198.18.${i}.${j + 1}/32`))
        await waitFor("every block on the LoadMaster", () => sources.every((a) => addrs(emulator).includes(a)), 60_000)
        await waitFor("every add recorded", async () => (await w.events()).filter((e) => e.type === "TargetChanged").length >= sources.length, 30_000)
        const events = await w.events()
        const decided = new Map(events.filter((e) => e.type === "BlockDecided").map((e) => [e.seq, e.payload as { subject: { cidr: string } }]))
        const adds = events.filter((e) => e.type === "TargetChanged").map((e) => e.payload as { cidr: string; op: string; causeSeq: number })
        expect(adds.map((a) => a.cidr).sort()).toEqual([...sources].sort())
        for (const add of adds) {
          expect(add.op).toBe("add")
          expect(decided.get(add.causeSeq)?.subject.cidr).toBe(add.cidr)
        }
        const metrics = await (await fetch(`${url}/metrics`)).text()
        expect(metrics).toContain(`mitigator_serve_applies_total{target="loadmaster",result="applied"} ${sources.length}`)
        expect(metrics).toContain(`mitigator_serve_events_total{outcome="rejected"} 15`)
      } finally {
        await w.stopAll()
      }
    })
  }, 120_000)

  it("keeps apart the detections of appliances that number their events alike (Mitigator-Instance), and refuses a bad name", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      try {
        const { url } = await w.start(["--interval", "1h"])
        const from = (instance: string | undefined, line: string) =>
          fetch(`${url}/v1/events`, { method: "POST", body: `${line}\n`, headers: { authorization: `Bearer ${TOKEN}`, ...(instance === undefined ? {} : { "mitigator-instance": instance }) } })
        // Given two appliances whose event 9001 is a different detection
        expect(await (await from("fm-north", adsLine(9001, "198.18.50.1"))).json()).toEqual({ stored: 1, duplicate: 0, rejected: 0, warnings: 0 })
        expect(await (await from("fm-south", adsLine(9001, "198.18.50.2"))).json()).toEqual({ stored: 1, duplicate: 0, rejected: 0, warnings: 0 })
        // When one sends its event again, it is a duplicate of its own
        expect(await (await from("fm-south", adsLine(9001, "198.18.50.2"))).json()).toEqual({ stored: 0, duplicate: 1, rejected: 0, warnings: 0 })
        const received = (await w.events()).filter((e) => e.type === "FlowmonEventReceived").map((e) => [e.payload.instance, e.payload.source])
        expect(received).toEqual([["fm-north", "198.18.50.1"], ["fm-south", "198.18.50.2"]])
        // And a name that is not one is refused, nothing recorded
        const bad = await from("fm north", adsLine(9002, "198.18.50.3"))
        expect(bad.status).toBe(400)
        expect(JSON.stringify(await bad.json())).toContain("mitigator-instance")
        expect((await w.events()).filter((e) => e.type === "FlowmonEventReceived")).toHaveLength(2)
      } finally {
        await w.stopAll()
      }
    })
  }, 120_000)

  it("on SIGTERM, finishes the adds in flight and records them before it ends (130)", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      try {
        const { server, post } = await w.start(["--interval", "1h"])
        await waitFor("the first reconcile pass", () => server.stdout().includes("mitigator reconcile:"), 30_000)
        // Given a LoadMaster that takes 600 ms to answer
        emulator.setFaults({ latencyMs: 600 })
        emulator.clearRequests()
        // When three blocks are on their way to it and serve is told to stop
        const sources = ["198.18.200.1", "198.18.200.2", "198.18.200.3"]
        expect((await post(sources.map((s, i) => adsLine(8500 + i, s)).join("\n") + "\n")).status).toBe(200)
        await waitFor("the three adds sent", () => emulator.requests().filter((r) => r.body.includes('"add"')).length === 3, 30_000)
        const signalled = Date.now()
        server.child.kill("SIGTERM")
        const ended = await server.done
        const took = Date.now() - signalled
        // Then it ended as stopped by a signal, within the 2 s it is given (here with a margin for a loaded machine)
        expect(ended.code).toBe(130)
        expect(took).toBeLessThan(5_000)
        // And the adds it had made are on the LoadMaster and recorded as mitigator's: the next pass knows they are its own
        expect(sources.every((s) => addrs(emulator).includes(`${s}/32`))).toBe(true)
        const adds = (await w.events()).filter((e) => e.type === "TargetChanged").map((e) => (e.payload as { cidr: string }).cidr)
        expect(adds.sort()).toEqual(sources.map((s) => `${s}/32`))
      } finally {
        await w.stopAll()
      }
    })
  }, 120_000)

  it("says 503 on /healthz, with why, when the event log cannot be written", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      try {
        const { url } = await w.start()
        expect((await fetch(`${url}/healthz`)).status).toBe(200)
        // When the log file is taken away from under it (a mode would not stop the root the tests may run as)
        fs.renameSync(w.db, `${w.db}.moved`)
        const health = await fetch(`${url}/healthz`)
        expect(health.status).toBe(503)
        expect(await health.json()).toMatchObject({ status: "unhealthy", reasons: [expect.stringContaining("cannot be written: ENOENT")] })
      } finally {
        await w.stopAll()
      }
    })
  }, 60_000)

  it("serves HTTPS off loopback with --tls-cert and --tls-key", async () => {
    await withEmulator(async (emulator) => {
      const w = serveWorkspace(emulator)
      const certificate = makeCertificate("/CN=mitigator.test", "IP:127.0.0.1")
      const certFile = path.join(w.dir, "serve.crt")
      const keyFile = path.join(w.dir, "serve.key")
      fs.writeFileSync(certFile, certificate.certPem)
      fs.writeFileSync(keyFile, certificate.keyPem, { mode: 0o600 })
      fs.chmodSync(keyFile, 0o600)
      try {
        const { url } = await w.start(["--tls-cert", certFile, "--tls-key", keyFile], "0.0.0.0", "https")
        const body = adsLine(7501) + "\n"
        const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const request = https.request(`${url}/v1/events`, { method: "POST", ca: certificate.certPem, headers: { authorization: `Bearer ${TOKEN}` } }, (response) => {
            const chunks: Buffer[] = []
            response.on("data", (c: Buffer) => chunks.push(c))
            response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }))
          })
          request.on("error", reject)
          request.end(body)
        })
        expect(answer.status).toBe(200)
        expect(JSON.parse(answer.text)).toEqual({ stored: 1, duplicate: 0, rejected: 0, warnings: 0 })
        expect(await eventIds(w)).toEqual(["7501"])
        w.expectTokenKept()
      } finally {
        await w.stopAll()
      }
    })
  }, 90_000)
})
