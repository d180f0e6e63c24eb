/**
 * Honest outputs: `plan` never says "in sync" of an appliance it could not observe (it names the
 * target and why, exit 1), a refused connection is reported at once (not retried within the
 * call), `append` says why each immediate apply failed, and `--json` carries the same facts.
 * Real processes, the emulators on loopback, and ports nothing listens on.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { adsLine } from "../support/fixtures.js"
import { cryptoSpikeYaml, csWorkspace, withCryptoSpike } from "../support/cryptospike.js"
import { addrs, lmWorkspace, loadMasterYaml, withEmulator } from "../support/loadmaster.js"

/** A port nothing listens on (bound, then released). */
const closedPort = async (): Promise<number> => {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A workspace whose config points the LoadMaster at a closed port. */
const lmDown = async () => {
  const port = await closedPort()
  const ws = await withEmulator(async (emulator) => lmWorkspace(emulator))
  const config = path.join(ws.dir, "down.yaml")
  fs.writeFileSync(config, loadMasterYaml(`http://127.0.0.1:${port}`, "lm.key"))
  return { ws, port, config }
}

describe("plan against a LoadMaster nobody answers on", () => {
  it("with nothing wanted there: exit 1, names loadmaster:global and 'connection refused', never 'in sync'", async () => {
    // Given a log with a detection no rule blocks, and a LoadMaster whose port is closed
    const { ws, port, config } = await lmDown()
    expect((await ws.cmd(["append", "--defer"], { config, stdin: `${adsLine(1, "192.0.2.31", "SCANS")}\n` })).code).toBe(0)

    // When plan runs
    const plan = await ws.plan([], { config })

    // Then it fails naming the target, the address and the reason, and claims nothing
    expect(plan.code, plan.stdout + plan.stderr).toBe(1)
    expect(plan.stdout + plan.stderr).not.toContain("in sync")
    expect(plan.stderr).toContain(`mitigator plan: loadmaster:global could not be observed: cannot reach the LoadMaster at 127.0.0.1:${port}: connection refused`)
    expect(plan.stdout).toContain("incomplete: loadmaster:global not observed")
  })

  it("with a block pending: exit 1, the same reason once per target; --json says it too", async () => {
    const { ws, port, config } = await lmDown()
    expect((await ws.cmd(["append", "--defer"], { config, stdin: `${adsLine(1, "192.0.2.31")}\n` })).code).toBe(0)

    const plan = await ws.plan([], { config })
    expect(plan.code).toBe(1)
    expect(plan.stdout + plan.stderr).not.toContain("in sync")
    // One line for the target: the refusal came from one attempt, not a retried one.
    const said = plan.stderr.split("\n").filter((l) => l.includes("could not be observed"))
    expect(said).toEqual([`mitigator plan: loadmaster:global could not be observed: cannot reach the LoadMaster at 127.0.0.1:${port}: connection refused (ECONNREFUSED)`])

    const asJson = await ws.plan(["--json"], { config })
    expect(asJson.code).toBe(1)
    const out = JSON.parse(asJson.stdout)
    expect(out.inSync).toBe(false)
    expect(out.unobserved).toEqual([{ target: "loadmaster:global", reason: `cannot reach the LoadMaster at 127.0.0.1:${port}: connection refused (ECONNREFUSED)` }])
    expect(out.unreachable).toEqual(["loadmaster:global"])
  })

  it("against a LoadMaster that answers, in sync is still said (exit 0) and pending blocks show the time left", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, { ttl: "6h" })
      expect((await w.cmd(["append", "--defer"], { stdin: `${adsLine(1, "192.0.2.31")}\n` })).code).toBe(0)
      const pending = await w.plan()
      expect(pending.code).toBe(2)
      expect(pending.stdout).toMatch(/^\+ loadmaster:global 192\.0\.2\.31\/32 until \S+ \((6h|5h [0-9]{1,2}m) left\)$/m)
      expect((await w.reconcile()).code).toBe(0)
      const synced = await w.plan()
      expect(synced.code, synced.stderr).toBe(0)
      expect(synced.stdout.trim()).toBe("in sync: nothing to change")
      expect(JSON.parse((await w.plan(["--json"])).stdout)).toMatchObject({ inSync: true, unobserved: [], problems: [] })
    })
  })
})

describe("plan against a CryptoSpike nobody answers on", () => {
  it("exit 1, names cryptospike and 'connection refused', never 'in sync'", async () => {
    const port = await closedPort()
    const ws = await withCryptoSpike(async (emulator) => csWorkspace(emulator))
    const config = path.join(ws.dir, "down.yaml")
    fs.writeFileSync(config, cryptoSpikeYaml(`http://127.0.0.1:${port}`))
    expect((await ws.cmd(["append", "--defer"], { config, stdin: `${adsLine(1, "192.0.2.31", "SCANS")}\n` })).code).toBe(0)

    const plan = await ws.cmd(["plan"], { config })
    expect(plan.code, plan.stdout + plan.stderr).toBe(1)
    expect(plan.stdout + plan.stderr).not.toContain("in sync")
    expect(plan.stderr).toContain(`mitigator plan: cryptospike could not be observed: cannot reach CryptoSpike at 127.0.0.1:${port}: connection refused`)
    const asJson = JSON.parse((await ws.cmd(["plan", "--json"], { config })).stdout)
    expect(asJson).toMatchObject({ inSync: false, unobserved: [{ target: "cryptospike" }] })
  })
})

describe("append says why an immediate apply failed", () => {
  it("a LoadMaster that refuses the key: one line naming the target, the address and the reason (no secret), and that reconcile retries", async () => {
    await withEmulator(async (emulator) => {
      // Given a LoadMaster that answers 401 to every call
      const w = lmWorkspace(emulator)
      emulator.setFaults({ authFailures: true })

      // When a detection is appended
      const run = await w.cmd(["append", "--instance", "fm1"], { stdin: `${adsLine(1, "192.0.2.31")}\n` })

      // Then it is recorded (exit 0) and the failure is said, with why
      expect(run.code, run.stderr).toBe(0)
      const failed = run.stderr.split("\n").filter((l) => l.startsWith("mitigator append: not applied: "))
      expect(failed).toHaveLength(1)
      expect(failed[0]).toMatch(/^mitigator append: not applied: loadmaster:global 192\.0\.2\.31\/32: .+; the next reconcile retries$/)
      expect(failed[0]).toMatch(/401|auth|key/i)
      expect(addrs(emulator)).toEqual([])
      // The workspace checks that the key itself was never printed.
    })
  })

  it("a LoadMaster nobody answers on: the refusal, at once", async () => {
    const { ws, port, config } = await lmDown()
    const run = await ws.cmd(["append", "--instance", "fm1"], { config, stdin: `${adsLine(1, "192.0.2.31")}\n` })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(
      `mitigator append: not applied: loadmaster:global 192.0.2.31/32: cannot reach the LoadMaster at 127.0.0.1:${port}: connection refused (ECONNREFUSED); the next reconcile retries`
    )
    // One attempt: one failure recorded for the add.
    const failures = (await ws.events()).filter((e) => e.type === "TargetChangeFailed")
    expect(failures.map((e) => [e.payload.op, e.payload.reason])).toEqual([["add", "transport"]])
  })
})

describe("--json on every command that prints a result", () => {
  it("append, reconcile (one pass), verify and import lm-timeout: one object each, with the facts the text gives", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      emulator.setFaults({ authFailures: true })

      // append: the counts, and what the immediate apply did (here: why it failed)
      const append = await w.cmd(["append", "--instance", "fm1", "--json"], { stdin: `${adsLine(1, "192.0.2.31")}\nbroken line\n` })
      expect(append.code).toBe(3)
      const appended = JSON.parse(append.stdout)
      expect(appended).toMatchObject({ stored: 1, rejected: 1, decided: 1, deferred: false })
      expect(appended.firstRejection).toMatch(/^line 2: /)
      expect(appended.appliedAtOnce.loadmaster.done).toMatchObject({ applied: 0, failed: 1 })
      expect(appended.appliedAtOnce.loadmaster.done.failures).toEqual([
        { target: "loadmaster:global", cidr: "192.0.2.31/32", message: expect.stringMatching(/.+/) }
      ])

      // reconcile: the pass's outcome on stdout, the log lines on stderr
      emulator.setFaults({})
      const pass = await w.reconcile(["--json"])
      expect(pass.code, pass.stderr).toBe(0)
      const passed = JSON.parse(pass.stdout)
      expect(passed).toMatchObject({ dryRun: false, converged: true, loadmaster: { applied: 1, failed: 0, unobserved: [], converged: true } })
      expect(passed.loadmaster.adds.map((a: { cidr: string }) => a.cidr)).toEqual(["192.0.2.31/32"])
      expect(pass.stderr).toContain("1 to add, 0 to remove, 1 applied, 0 failed")
      expect((await w.reconcile(["--json", "--watch"])).code).toBe(1)

      // verify: intact, with the count and the head
      const verify = await w.cmd(["verify", "--json"])
      expect(verify.code).toBe(0)
      const verified = JSON.parse(verify.stdout)
      expect(verified).toMatchObject({ intact: true, headFile: true })
      expect(verified.count).toBe((await w.events()).length)
      expect(verified.head.seq).toBe(verified.count)

      // import lm-timeout: the blocks with their expiry and time left, the rejected rows
      const file = path.join(w.dir, "lm-block.db")
      const legacy = new Database(file)
      legacy.exec("CREATE TABLE data (ip TEXT PRIMARY KEY, event TEXT NOT NULL, vsid integer, ttl integer NOT NULL)")
      legacy.prepare("INSERT INTO data(ip, event, vsid, ttl) VALUES (?, ?, ?, ?)").run("198.51.100.7", "1001", null, 5)
      legacy.prepare("INSERT INTO data(ip, event, vsid, ttl) VALUES (?, ?, ?, ?)").run("not-an-ip", "1002", null, 5)
      legacy.close()
      const imported = await w.cmd(["import", "lm-timeout", file, "--dry-run", "--json"])
      expect(imported.code).toBe(3)
      const out = JSON.parse(imported.stdout)
      expect(out).toMatchObject({ rows: 2, dryRun: true, alreadyImported: 0, ended: 0 })
      expect(out.imported).toEqual([
        { target: "loadmaster:global", cidr: "198.51.100.7/32", until: expect.any(String), left: expect.stringMatching(/^(5h|4h 59m) left$/), event: "1001" }
      ])
      expect(out.rejected).toHaveLength(1)
    })
  })
})
