/**
 * Files and signals, as a user meets them: a config, key, token or CA file that is not a regular
 * file of at most 1 MiB (a FIFO, /dev/zero, a directory, a huge file) is refused at once, naming
 * the file and why, instead of hanging; and SIGTERM or SIGINT ends a command that waits on
 * something that never comes (an appliance that never answers, input that never ends) with exit
 * 130, the lease released and the log intact. Real processes; every wait is bounded generously
 * (a process that hangs fails the test, it does not stall it); how long the stop took is printed,
 * not asserted.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { BUNDLE, jsonLines, runCli, tempDir, type RunResult } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"
import { startCli, waitFor, type RunningCli } from "../support/loadmaster.js"

/** The bound on anything a process should do "at once": generous, for a loaded machine. */
const BOUND_MS = 20_000

/** The run's result, or a failure naming `what` (and the process killed) if it has not ended within BOUND_MS. */
const endsWithin = async (running: RunningCli, what: string): Promise<RunResult> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), BOUND_MS)))
  const result = await Promise.race([running.done, timeout])
  clearTimeout(timer)
  if (result === undefined) {
    running.child.kill("SIGKILL")
    throw new Error(`${what}: still running ${BOUND_MS / 1000} s later (killed); it said: ${running.stdout()}${running.stderr()}`)
  }
  return result
}

const mkfifo = (file: string): string => {
  execFileSync("mkfifo", [file])
  return file
}

const KEY = "k3y-for-a-silent-appliance-0123"

/** A directory with a log made by `append`, a key file (mode 600) and a config whose LoadMaster is at `url`. */
const workspace = async (url: string, loadmaster: ReadonlyArray<string> = []) => {
  const dir = tempDir("mitigator-files-")
  const db = path.join(dir, "events.db")
  fs.writeFileSync(path.join(dir, "lm.key"), `${KEY}\n`, { mode: 0o600 })
  const config = path.join(dir, "mitigator.yaml")
  fs.writeFileSync(config, ["loadmaster:", `  url: ${url}`, "  apiKeyFile: lm.key", ...loadmaster.map((l) => `  ${l}`), ""].join("\n"))
  const made = await runCli(["block", "--defer", "192.0.2.31", "--ttl", "1h", "--reason", "r", "--db", db, "--config", config], { cwd: dir })
  expect(made.code, made.stderr).toBe(0)
  return { dir, db, config }
}

describe("files the user names must be regular files of at most 1 MiB", () => {
  it("a config that is a FIFO, a device, a directory or over 1 MiB is refused at once (exit 1), naming it and why", async () => {
    const dir = tempDir("mitigator-files-")
    const db = path.join(dir, "events.db")
    const fifo = mkfifo(path.join(dir, "config.fifo"))
    const huge = path.join(dir, "huge.yaml")
    fs.writeFileSync(huge, `# ${"x".repeat(2 * 1024 * 1024)}\n`)
    const cases: Array<{ readonly args: ReadonlyArray<string>; readonly env?: Record<string, string>; readonly cwd?: string; readonly says: string }> = [
      { args: ["--config", fifo], says: `config ${fifo}: cannot read: it is a named pipe (FIFO), not a regular file` },
      { args: [], env: { MITIGATOR_CONFIG: "/dev/zero" }, says: "config /dev/zero: cannot read: it is a character device, not a regular file" },
      { args: ["--config", dir], says: `config ${dir}: cannot read: it is a directory` },
      { args: ["--config", huge], says: `config ${huge}: too large: ${fs.statSync(huge).size} bytes, more than the 1 MiB limit` }
    ]
    for (const c of cases) {
      const run = await endsWithin(startCli(["status", "--db", db, ...c.args], { cwd: dir, ...(c.env === undefined ? {} : { env: c.env }) }), `status ${c.args.join(" ")}`)
      expect(run.stderr.trim(), c.args.join(" ")).toBe(`mitigator: ${c.says}`)
      expect(run.code).toBe(1)
    }
    // ./mitigator.yaml, read when no config is named, is held to the same rule (not taken for "no config").
    const cwd = tempDir("mitigator-files-")
    mkfifo(path.join(cwd, "mitigator.yaml"))
    const implicit = await endsWithin(startCli(["status", "--db", db], { cwd }), "status with ./mitigator.yaml a FIFO")
    expect(implicit.stderr).toContain(`config ${path.join(cwd, "mitigator.yaml")}: cannot read: it is a named pipe (FIFO), not a regular file`)
    expect(implicit.code).toBe(1)
  })

  it("a key file, token file or CA file that is a FIFO or a device is refused at once (exit 1), naming it and why", async () => {
    const dir = tempDir("mitigator-files-")
    const db = path.join(dir, "events.db")
    const fifo = mkfifo(path.join(dir, "secret.fifo"))
    const made = await runCli(["append", "--defer", "--db", db], { cwd: dir, stdin: "" })
    expect(made.code, made.stderr).toBe(0)
    const cases = [
      {
        yaml: `loadmaster: { url: "http://127.0.0.1:9", apiKeyFile: ${fifo} }`,
        says: `cannot read the LoadMaster API key from ${fifo}: it is a named pipe (FIFO), not a regular file`
      },
      {
        yaml: `cryptospike: { url: "http://127.0.0.1:9", tokenFile: /dev/zero }`,
        says: "cannot read the CryptoSpike API token from /dev/zero: it is a character device, not a regular file"
      },
      {
        yaml: `loadmaster: { url: "https://127.0.0.1:9", apiKeyFile: ${path.join(dir, "lm.key")}, tls: { ca: ${fifo} } }`,
        says: `cannot read the CA file ${fifo}: it is a named pipe (FIFO), not a regular file`
      }
    ]
    fs.writeFileSync(path.join(dir, "lm.key"), "key\n", { mode: 0o600 })
    for (const [i, c] of cases.entries()) {
      const config = path.join(dir, `config-${i}.yaml`)
      fs.writeFileSync(config, `${c.yaml}\n`)
      const run = await endsWithin(startCli(["reconcile", "--db", db, "--config", config], { cwd: dir }), c.yaml)
      expect(run.stdout + run.stderr, c.yaml).toContain(c.says)
      expect(run.code, c.yaml).toBe(1)
    }
  })
})

describe("the emulators' files", () => {
  it("a --state or --seed that is a named pipe is refused at once (exit 1), naming it", async () => {
    const dir = tempDir("mitigator-files-")
    const fifo = mkfifo(path.join(dir, "state.fifo"))
    for (const [args, says] of [
      [["emulate", "loadmaster", "--port", "0", "--state", fifo], `emulate loadmaster: --state ${fifo}: cannot read: it is a named pipe (FIFO), not a regular file`],
      [["emulate", "cryptospike", "--port", "0", "--seed", fifo], `emulate cryptospike: --seed ${fifo}: cannot read: it is a named pipe (FIFO), not a regular file`]
    ] as const) {
      const run = await endsWithin(startCli(args, { cwd: dir }), args.join(" "))
      expect(run.stderr).toContain(says)
      expect(run.code).toBe(1)
    }
  })
})

describe("a log file the user names", () => {
  it("a named pipe no process reads is refused at once (exit 1) instead of waiting for a reader", async () => {
    const dir = tempDir("mitigator-files-")
    const fifo = mkfifo(path.join(dir, "log.fifo"))
    const run = await endsWithin(startCli(["append", "--defer", "--db", path.join(dir, "events.db"), "--log-file", fifo], { cwd: dir }), "append --log-file FIFO")
    expect(run.stdout + run.stderr).toContain(`--log-file ${fifo}: a named pipe (FIFO) that no process reads`)
    expect(run.code).toBe(1)
    expect(fs.existsSync(path.join(dir, "events.db"))).toBe(false)
  })

  it("a named pipe in place of the log's head file or its pass record does not hang status: the head file is refused as unreadable, the pass record is no record", async () => {
    const dir = tempDir("mitigator-files-")
    const db = path.join(dir, "events.db")
    const made = await runCli(["append", "--defer", "--db", db], { cwd: dir, stdin: `${adsLine(1)}\n` })
    expect(made.code, made.stderr).toBe(0)

    mkfifo(`${db}.reconcile.json`)
    const withRecordFifo = await endsWithin(startCli(["status", "--db", db], { cwd: dir }), "status with a FIFO pass record")
    expect(withRecordFifo.code, withRecordFifo.stderr).toBe(0)
    expect(withRecordFifo.stdout).toContain("Last reconcile: none recorded beside this log")

    fs.rmSync(`${db}.head`)
    mkfifo(`${db}.head`)
    const withHeadFifo = await endsWithin(startCli(["status", "--db", db], { cwd: dir }), "status with a FIFO head file")
    expect(withHeadFifo.code).toBe(1)
    expect(withHeadFifo.stderr).toContain(`${db}.head`)
  })
})

/** A TCP server that takes connections and never answers: an appliance that hangs. */
const silentServer = async () => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("error", () => {})
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  let connections = 0
  server.on("connection", () => connections++)
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}

describe("a signal ends a command that waits", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} while reconcile waits on an appliance that never answers: exit 130, the lease released, the log intact`, async () => {
      const appliance = await silentServer()
      try {
        const w = await workspace(appliance.url)
        const lease = `${w.db}.reconcile.lock`
        const running = startCli(["reconcile", "--db", w.db, "--config", w.config], { cwd: w.dir })
        await waitFor("the pass to take the lease and call the appliance", () => fs.existsSync(lease) && appliance.connections() > 0, BOUND_MS).catch((e: Error) => {
          running.child.kill("SIGKILL")
          throw e
        })
        const sent = Date.now()
        running.child.kill(signal)
        const run = await endsWithin(running, `reconcile after ${signal}`)
        console.info(`reconcile stopped ${Date.now() - sent} ms after ${signal} (hung on an appliance call)`)
        expect(run.code, run.stdout + run.stderr).toBe(130)
        expect(fs.existsSync(lease)).toBe(false)
        const verify = await runCli(["verify", "--db", w.db])
        expect(verify.stdout).toContain("chain intact")
        expect(verify.code).toBe(0)
      } finally {
        await appliance.close()
      }
    })
  }

  it("SIGTERM while append waits for more input: exit 130, the batch already stored is kept, the log intact", async () => {
    const dir = tempDir("mitigator-files-")
    const db = path.join(dir, "events.db")
    const child = spawn(process.execPath, [BUNDLE, "append", "--defer", "--instance", "fm1", "--db", db], {
      cwd: dir,
      env: { PATH: process.env["PATH"] ?? "" },
      stdio: ["pipe", "pipe", "pipe"]
    })
    const out: Buffer[] = []
    child.stderr.on("data", (b: Buffer) => out.push(b))
    child.stdout.on("data", (b: Buffer) => out.push(b))
    const done = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    try {
      // Three lines, and the input kept open: Flowmon has not finished writing.
      child.stdin.write([adsLine(1), adsLine(2), adsLine(3)].join("\n") + "\n")
      const stored = () => {
        try {
          const raw = new Database(db, { readonly: true, fileMustExist: true })
          try {
            return (raw.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n
          } finally {
            raw.close()
          }
        } catch {
          return 0
        }
      }
      await waitFor("the three lines to be stored", () => stored() === 3, BOUND_MS)
      const sent = Date.now()
      child.kill("SIGTERM")
      let timer: NodeJS.Timeout | undefined
      const code = await Promise.race([done, new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), BOUND_MS)))])
      clearTimeout(timer)
      console.info(`append stopped ${Date.now() - sent} ms after SIGTERM (waiting on stdin)`)
      expect(code, Buffer.concat(out).toString("utf8")).toBe(130)
    } finally {
      child.kill("SIGKILL")
    }
    const events = jsonLines((await runCli(["replay", "--events", "--json", "--db", db])).stdout)
    expect(events.map((e) => e.payload.eventId)).toEqual(["1", "2", "3"])
    const verify = await runCli(["verify", "--db", db])
    expect(verify.code).toBe(0)
  })
})
