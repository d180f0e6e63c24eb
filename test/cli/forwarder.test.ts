/**
 * The appliance side of `mitigator serve`: deploy/flowmon/mitigator-forward.sh, run by `dash` (a
 * strict POSIX shell, as ADS would run it with /bin/sh) with the real curl, against a real HTTP
 * server in this process that records every request and can answer 200, 500 or 413, or be held.
 * "Down" is a port nothing listens on.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as crypto from "node:crypto"
import * as http from "node:http"
import * as https from "node:https"
import type * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { adsLine } from "../support/fixtures.js"
import { makeCertificate, type TestCertificate } from "../support/certificates.js"
import { runProcess, tempDir } from "../support/cli.js"
import { waitFor } from "../support/loadmaster.js"
import { closedPort } from "../support/ports.js"

const SCRIPT = fileURLToPath(new URL("../../deploy/flowmon/mitigator-forward.sh", import.meta.url))
const TOKEN = "fwd-token-3f9a1c77e2b04d5e"

interface Recorded {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

type Answer = 200 | 500 | 413

/** A server that records requests; `answer` sets the status; `hold` keeps the next request waiting until released. */
const recordingServer = async (tls?: TestCertificate) => {
  const requests: Array<Recorded> = []
  let status: Answer = 200
  let held: { release: () => void; arrived: boolean } | undefined
  const handler: http.RequestListener = (req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", async () => {
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
      const hold = held
      if (hold !== undefined && !hold.arrived) {
        hold.arrived = true
        await new Promise<void>((resolve) => (hold.release = resolve))
      }
      const lines = Buffer.concat(chunks).toString("utf8").split("\n").filter((l) => l !== "").length
      res.writeHead(status, { "content-type": "application/json" })
      res.end(status === 200 ? JSON.stringify({ stored: lines, duplicate: 0, rejected: 0, warnings: [] }) : JSON.stringify({ error: `status ${status}` }))
    })
  }
  const server = tls === undefined ? http.createServer(handler) : https.createServer({ cert: tls.certPem, key: tls.keyPem }, handler)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  const url = tls === undefined ? `http://127.0.0.1:${port}` : `https://localhost:${port}`
  return {
    url,
    requests,
    answer: (s: Answer) => void (status = s),
    /** The next request waits (after being recorded) until `release` is called. */
    hold: () => {
      const h = { release: () => {}, arrived: false }
      held = h
      return { arrived: () => h.arrived, release: () => h.release() }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

const withServer = async (body: (server: Awaited<ReturnType<typeof recordingServer>>) => Promise<void>, tls?: TestCertificate) => {
  const server = await recordingServer(tls)
  try {
    await body(server)
  } finally {
    await server.close()
  }
}

/** A token file (mode 600), a spool folder and a log file in a fresh directory. */
const appliance = () => {
  const dir = tempDir("mitigator-forward-")
  const tokenFile = path.join(dir, "token")
  fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 })
  const spool = path.join(dir, "spool")
  const logFile = path.join(dir, "forward.log")
  const forward = (url: string, stdin: string, extraEnv: Record<string, string> = {}) =>
    runProcess("dash", [SCRIPT], {
      stdin,
      env: { MITIGATOR_URL: url, MITIGATOR_TOKEN_FILE: tokenFile, MITIGATOR_SPOOL: spool, MITIGATOR_LOG_FILE: logFile, ...extraEnv }
    })
  /** Everything in the spool folder, hidden files included. */
  const spoolEntries = () => (fs.existsSync(spool) ? fs.readdirSync(spool).sort() : [])
  const spooled = () => spoolEntries().filter((n) => n.endsWith(".events"))
  const spooledText = () => spooled().map((n) => fs.readFileSync(path.join(spool, n), "utf8"))
  return { dir, tokenFile, spool, logFile, forward, spoolEntries, spooled, spooledText }
}

const lines = (...ids: Array<number>) => ids.map((id) => `${adsLine(id, `192.0.2.${id}`)}\n`).join("")

describe("mitigator-forward.sh (ADS custom script: sh + curl to mitigator serve)", () => {
  it("is POSIX sh: dash parses it", () => {
    execFileSync("dash", ["-n", SCRIPT])
  })

  it("delivers the lines as one POST to /v1/events with the bearer token and text/plain, and keeps nothing", async () => {
    await withServer(async (server) => {
      const a = appliance()
      const events = lines(1, 2)
      const run = await a.forward(server.url, events)
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toBe("")
      expect(server.requests).toHaveLength(1)
      const [request] = server.requests
      expect(request!.method).toBe("POST")
      expect(request!.path).toBe("/v1/events")
      expect(request!.headers["authorization"]).toBe(`Bearer ${TOKEN}`)
      expect(request!.headers["content-type"]).toBe("text/plain")
      expect(request!.body).toBe(events)
      expect(a.spoolEntries()).toEqual([])
      expect(fs.readFileSync(a.logFile, "utf8")).toMatch(/level=info msg="delivered 2 new line\(s\): \{\\"stored\\":2/)
    })
  })

  it("names its appliance to serve (Mitigator-Instance): MITIGATOR_INSTANCE, else the host name; a name that is not one keeps the lines", async () => {
    await withServer(async (server) => {
      const a = appliance()
      expect((await a.forward(server.url, lines(1), { MITIGATOR_INSTANCE: "fm-north" })).code).toBe(0)
      expect((await a.forward(server.url, lines(2))).code).toBe(0)
      expect(server.requests.map((r) => r.headers["mitigator-instance"])).toEqual(["fm-north", os.hostname()])
      // Given a name with a space, nothing is sent and the lines wait in the spool
      const bad = await a.forward(server.url, lines(3), { MITIGATOR_INSTANCE: "fm north" })
      expect(bad.code).toBe(0)
      expect(bad.stderr).toContain("MITIGATOR_INSTANCE (parameter instance) 'fm north' is not a name")
      expect(server.requests).toHaveLength(2)
      expect(a.spooledText()).toEqual([lines(3)])
    })
  })

  it("takes its settings as ADS parameters (name/value pairs) too, and refuses a token given as a parameter", async () => {
    await withServer(async (server) => {
      const a = appliance()
      const run = await runProcess("dash", [SCRIPT, "--url", server.url, "token-file", a.tokenFile, "spool", a.spool, "token", "SECRET-IN-ARGV"], {
        stdin: lines(1)
      })
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toMatch(/parameter 'token' refused: secrets do not belong in script parameters/)
      expect(run.stderr).not.toContain("SECRET-IN-ARGV")
      expect(server.requests.map((r) => [r.headers["authorization"], r.body])).toEqual([[`Bearer ${TOKEN}`, lines(1)]])
    })
  })

  it("with no input it sends nothing", async () => {
    await withServer(async (server) => {
      const a = appliance()
      const run = await a.forward(server.url, "")
      expect(run.code, run.stderr).toBe(0)
      expect(server.requests).toEqual([])
      expect(a.spoolEntries()).toEqual([])
    })
  })

  it("server down: exits 0 and keeps exactly the lines in one spool file; once it is back, sends the spool oldest first, then the new lines, each once", async () => {
    const a = appliance()
    const down = `http://127.0.0.1:${await closedPort()}`
    const first = await a.forward(down, lines(1, 2))
    const second = await a.forward(down, lines(3))
    expect(first.code, first.stderr).toBe(0)
    expect(second.code, second.stderr).toBe(0)
    expect(first.stderr).toMatch(/no answer from .*\/v1\/events .*; 2 line\(s\) kept in .*\.events, sent with the next run/)
    expect(a.spooledText()).toEqual([lines(1, 2), lines(3)])
    expect(a.spoolEntries()).toEqual(a.spooled()) // no temporary or lock files left behind

    await withServer(async (server) => {
      const back = await a.forward(server.url, lines(4))
      expect(back.code, back.stderr).toBe(0)
      expect(server.requests.map((r) => r.body)).toEqual([lines(1, 2), lines(3), lines(4)])
      expect(server.requests.every((r) => r.headers["authorization"] === `Bearer ${TOKEN}`)).toBe(true)
      expect(a.spoolEntries()).toEqual([])

      // A run without input only sends the spool (as from cron): nothing left, nothing sent again.
      const again = await a.forward(server.url, "")
      expect(again.code).toBe(0)
      expect(server.requests).toHaveLength(3)
    })
  })

  it("an answer of 500 keeps the spool file and spools the new lines after it", async () => {
    const a = appliance()
    const down = `http://127.0.0.1:${await closedPort()}`
    await a.forward(down, lines(1))
    await withServer(async (server) => {
      server.answer(500)
      const run = await a.forward(server.url, lines(2))
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toMatch(/answered 500/)
      // The spool file was tried and kept; the new lines were not sent ahead of it.
      expect(server.requests.map((r) => r.body)).toEqual([lines(1)])
      expect(a.spooledText()).toEqual([lines(1), lines(2)])

      server.answer(200)
      const later = await a.forward(server.url, "")
      expect(later.code).toBe(0)
      expect(server.requests.map((r) => r.body)).toEqual([lines(1), lines(1), lines(2)])
      expect(a.spoolEntries()).toEqual([])
    })
  })

  it("a file the server refuses for good (413) is set aside, and the rest of the spool still goes", async () => {
    const a = appliance()
    const down = `http://127.0.0.1:${await closedPort()}`
    await a.forward(down, lines(1))
    await withServer(async (server) => {
      server.answer(413)
      const refused = await a.forward(server.url, "")
      expect(refused.code).toBe(0)
      expect(refused.stderr).toMatch(/answered 413 .*the server will not take these lines; kept in .*refused\/.*\.events/)
      expect(a.spooled()).toEqual([])
      const aside = fs.readdirSync(path.join(a.spool, "refused"))
      expect(aside.map((n) => fs.readFileSync(path.join(a.spool, "refused", n), "utf8"))).toEqual([lines(1)])

      server.answer(200)
      const next = await a.forward(server.url, lines(2))
      expect(next.code).toBe(0)
      expect(server.requests.map((r) => r.body)).toEqual([lines(1), lines(2)])
    })
  })

  it("the token is never in an argument list or the environment of curl: it reaches the server all the same", async () => {
    await withServer(async (server) => {
      const a = appliance()
      // A curl first on PATH that writes down its arguments and environment, then runs the real one.
      const realCurl = execFileSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).trim()
      const bin = path.join(a.dir, "bin")
      fs.mkdirSync(bin)
      const seen = path.join(a.dir, "curl-seen")
      fs.writeFileSync(
        path.join(bin, "curl"),
        `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >>'${seen}'\nenv >>'${seen}'\ncat /proc/$$/cmdline >>'${seen}' 2>/dev/null\nexec '${realCurl}' "$@"\n`,
        { mode: 0o755 }
      )
      const run = await a.forward(server.url, lines(1), { PATH: `${bin}:${process.env["PATH"]}` })
      expect(run.code, run.stderr).toBe(0)
      const recorded = fs.readFileSync(seen, "utf8")
      expect(recorded).toContain("/v1/events") // the fake curl did run
      expect(recorded).not.toContain(TOKEN)
      expect(server.requests.map((r) => r.headers["authorization"])).toEqual([`Bearer ${TOKEN}`])
      expect(fs.readFileSync(a.logFile, "utf8")).not.toContain(TOKEN)
    })
  })

  it("over HTTPS: trusts the server only through MITIGATOR_CA, and MITIGATOR_PIN must match its public key", async () => {
    const certificate = makeCertificate("/CN=mitigator.test", "DNS:localhost")
    const pin = `sha256//${crypto.createHash("sha256").update(crypto.createPublicKey(certificate.keyPem).export({ type: "spki", format: "der" })).digest("base64")}`
    const otherPin = `sha256//${crypto.createHash("sha256").update("another key").digest("base64")}`
    await withServer(async (server) => {
      const a = appliance()
      const unknown = await a.forward(server.url, lines(1))
      expect(unknown.code).toBe(0)
      expect(unknown.stderr).toMatch(/no answer from https:\/\/localhost:\d+\/v1\/events \(curl: \(60\)/)
      expect(server.requests).toEqual([]) // the token never went to a server it could not check

      const wrongPin = await a.forward(server.url, lines(2), { MITIGATOR_CA: certificate.caFile, MITIGATOR_PIN: otherPin })
      expect(wrongPin.code).toBe(0)
      expect(wrongPin.stderr).toMatch(/no answer from .*\(curl: \(90\)/)
      expect(server.requests).toEqual([])
      expect(a.spooledText()).toEqual([lines(1), lines(2)])

      const trusted = await a.forward(server.url, lines(3), { MITIGATOR_CA: certificate.caFile, MITIGATOR_PIN: pin })
      expect(trusted.code, trusted.stderr).toBe(0)
      expect(server.requests.map((r) => r.body)).toEqual([lines(1), lines(2), lines(3)])
      expect(server.requests.every((r) => r.headers["authorization"] === `Bearer ${TOKEN}`)).toBe(true)
      expect(a.spoolEntries()).toEqual([])
    }, certificate)
  })

  it("refuses to send the token in clear to another host, and to use a token file others can read: the lines are kept", async () => {
    const a = appliance()
    const clear = await a.forward("http://192.0.2.80:8787", lines(1))
    expect(clear.code).toBe(0)
    expect(clear.stderr).toMatch(/plain http to another host: the token would travel in clear; use https/)
    expect(a.spooledText()).toEqual([lines(1)])

    await withServer(async (server) => {
      fs.chmodSync(a.tokenFile, 0o644)
      const loose = await a.forward(server.url, lines(2))
      expect(loose.code).toBe(0)
      expect(loose.stderr).toMatch(/can be read by group or others .*chmod 600/)
      expect(server.requests).toEqual([])
      expect(a.spooledText()).toEqual([lines(1), lines(2)])
      expect(loose.stderr + clear.stderr).not.toContain(TOKEN)
    })
  })

  it("two runs at once never send a spool file twice; everything arrives in order, once", async () => {
    const a = appliance()
    const down = `http://127.0.0.1:${await closedPort()}`
    for (const id of [1, 2, 3, 4]) expect((await a.forward(down, lines(id))).code).toBe(0)
    expect(a.spooled()).toHaveLength(4)

    await withServer(async (server) => {
      const held = server.hold()
      const env = { MITIGATOR_LOCK_WAIT: "300" } // waits for the other run however slow the machine is
      const first = a.forward(server.url, lines(5), env)
      await waitFor("the first run's first POST", held.arrived, 60_000)
      // The second run starts while the first holds the spool lock (its hidden input file shows
      // that it is under way); then the first run's POST is answered.
      const second = a.forward(server.url, lines(6), env)
      await waitFor("the second run to read its input", () => a.spoolEntries().filter((n) => n.startsWith(".in.")).length === 2, 60_000)
      held.release()
      const [one, two] = await Promise.all([first, second])
      expect(one.code, one.stderr).toBe(0)
      expect(two.code, two.stderr).toBe(0)
      expect(server.requests.map((r) => r.body)).toEqual([lines(1), lines(2), lines(3), lines(4), lines(5), lines(6)])
      expect(a.spoolEntries()).toEqual([])
    })
  })

  it("a lock left by a run that died is broken, and the spool is sent", async () => {
    const a = appliance()
    const down = `http://127.0.0.1:${await closedPort()}`
    await a.forward(down, lines(1))
    const dead = execFileSync("sh", ["-c", "sh -c 'echo $$'"], { encoding: "utf8" }).trim() // a pid that has exited
    fs.mkdirSync(path.join(a.spool, ".lock"))
    fs.writeFileSync(path.join(a.spool, ".lock", "pid"), `${dead}\n`)
    await withServer(async (server) => {
      const run = await a.forward(server.url, lines(2))
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toMatch(/spool lock of process \d+ \(no longer running\) is broken/)
      expect(server.requests.map((r) => r.body)).toEqual([lines(1), lines(2)])
      expect(a.spoolEntries()).toEqual([])
    })
  })

  it("the input of a run that was killed (SIGKILL) is delivered by the next run; its work files are cleared away", async () => {
    const a = appliance()
    const dead = Number(execFileSync("sh", ["-c", "sh -c 'echo $$'"], { encoding: "utf8" }).trim())
    const name = `20250101T000000Z-${String(dead).padStart(10, "0")}-0001`
    fs.mkdirSync(a.spool)
    fs.writeFileSync(path.join(a.spool, `.in.${name}`), lines(1))
    fs.writeFileSync(path.join(a.spool, `.work.${name}.answer`), "{}")
    await withServer(async (server) => {
      const run = await a.forward(server.url, lines(2))
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toMatch(/lines left by an interrupted run \(\d+\) kept in .*\.events/)
      expect(server.requests.map((r) => r.body)).toEqual([lines(1), lines(2)])
      expect(a.spoolEntries()).toEqual([])
    })
  })

  it("when the spool cannot be written the lines are still sent (and the broken spool is reported)", async () => {
    await withServer(async (server) => {
      const a = appliance()
      fs.writeFileSync(a.spool, "a file where the spool folder should be")
      const run = await a.forward(server.url, lines(1), { TMPDIR: a.dir })
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toMatch(/cannot write to the spool/)
      expect(server.requests.map((r) => r.body)).toEqual([lines(1)])
      expect(fs.readdirSync(a.dir).filter((n) => n.startsWith("mitigator-forward"))).toEqual([]) // no temp files left
    })
  })

  it("when the spool cannot be written and the server is down, the lines are not lost silently: exit 1 and every line on standard error", async () => {
    const a = appliance()
    fs.writeFileSync(a.spool, "a file where the spool folder should be")
    const events = lines(1, 2)
    const run = await a.forward(`http://127.0.0.1:${await closedPort()}`, events, { TMPDIR: a.dir })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/cannot write to the spool/)
    expect(run.stderr).toMatch(/LOST: no answer from .*the detection lines follow/)
    for (const line of events.trimEnd().split("\n")) expect(run.stderr).toContain(`mitigator-forward: lost: ${line}`)
    expect(fs.readdirSync(a.dir).filter((n) => n.startsWith("mitigator-forward"))).toEqual([]) // no temp files left
  })
})
