/**
 * Honest outputs: `plan` never says "in sync" of an appliance it could not observe (it names the
 * target and why, exit 1), nor when reconcile would not converge (a plan over the caps: exit 2;
 * removals held while this clock disagrees with the LoadMaster's: exit 1); `append` says why
 * each immediate apply failed, and `--json` carries the same facts.
 * Real processes, the emulators on loopback, and ports nothing listens on.
 *
 * That plan and append report a refused connection after one attempt, without the retries
 * reconcile makes, cannot be seen from here: a refused connection reaches no server that could
 * count it, and the output is the same either way. test/targets/retry-refused.test.ts shows it
 * for the clients; here only what a user reads is checked.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { adsLine } from "../support/fixtures.js"
import { cryptoSpikeYaml, csWorkspace, withCryptoSpike } from "../support/cryptospike.js"
import { addrs, lmWorkspace, loadMasterYaml, withEmulator } from "../support/loadmaster.js"
import { clockAhead } from "../support/clock.js"
import { HOUR } from "../support/configs.js"
import { closedPort } from "../support/ports.js"

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
    // One line for the target, with the reason.
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

describe("plan when reconcile would not converge is never 'in sync'", () => {
  it("every block applied, but more wanted than maxActivePerTarget: not in sync, exit 2, and reconcile refuses it (exit 1)", async () => {
    await withEmulator(async (emulator) => {
      // Given two blocks on a LoadMaster, applied with --force past a cap of one active block
      const w = lmWorkspace(emulator, { ttl: "6h", caps: { maxActivePerTarget: 1 } })
      expect((await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: `${adsLine(1, "192.0.2.31")}\n${adsLine(2, "192.0.2.32")}\n` })).code).toBe(0)
      const forced = await w.reconcile(["--force"])
      expect(forced.code, forced.stdout + forced.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(["192.0.2.31/32", "192.0.2.32/32"])

      // When plan runs: nothing to add or remove, but the plan is over the caps
      const plan = await w.plan()

      // Then it says so and that reconcile refuses it without --force, never "in sync"
      expect(plan.code, plan.stdout + plan.stderr).toBe(2)
      expect(plan.stdout).not.toContain("in sync: nothing to change")
      expect(plan.stdout).toContain("over the caps: 2 blocks wanted on loadmaster:global exceed maxActivePerTarget (1) (reconcile will refuse it without --force)")
      expect(plan.stdout).toMatch(/^not in sync, and reconcile would not converge: .*over the caps.*reconcile refuses it without --force$/m)
      const asJson = await w.plan(["--json"])
      expect(asJson.code).toBe(2)
      expect(JSON.parse(asJson.stdout)).toMatchObject({
        inSync: false,
        adds: [],
        removes: [],
        refusedByCaps: "2 blocks wanted on loadmaster:global exceed maxActivePerTarget (1)",
        cannotConverge: [expect.stringContaining("over the caps")]
      })

      // And reconcile indeed refuses it
      const pass = await w.reconcile()
      expect(pass.code, pass.stdout + pass.stderr).toBe(1)
      expect(pass.stdout + pass.stderr).toContain("plan refused: 2 blocks wanted on loadmaster:global exceed maxActivePerTarget (1)")
    })
  })

  it("a block expired at a clock a day ahead of the LoadMaster's: the removal is listed as held, not in sync, exit 1, nothing removed", async () => {
    await withEmulator(async (emulator) => {
      // Given a block with hours to go, applied and owned
      const w = lmWorkspace(emulator, { ttl: "6h" })
      expect((await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: `${adsLine(1, "203.0.113.10")}\n` })).code).toBe(0)
      expect((await w.reconcile()).code).toBe(0)
      expect(addrs(emulator)).toEqual(["203.0.113.10/32"])

      // When plan runs with its clock a day ahead (at that clock the block expired 18 h ago)
      const ahead = clockAhead(24 * HOUR)
      const plan = await w.plan([], { env: ahead })

      // Then the removal is shown, held, with why; the plan is not in sync and cannot be carried out
      expect(plan.code, plan.stdout + plan.stderr).toBe(1)
      expect(plan.stdout).not.toContain("in sync: nothing to change")
      expect(plan.stdout).toMatch(
        /^- loadmaster:global 203\.0\.113\.10\/32 \(listed as 203\.0\.113\.10\/32\) held: this clock disagrees with the LoadMaster's by (?:1d 0h|23h 59m) \(this clock is ahead\)$/m
      )
      expect(plan.stdout).toMatch(/^not in sync, and reconcile would not converge: 1 removal\(s\) held until this clock and the LoadMaster's agree \(check NTP on both\)$/m)
      expect(plan.stderr).toMatch(/^mitigator plan: this clock \(\S+Z\) is (?:1d 0h|23h 59m) ahead of the LoadMaster's \(\S+Z\): 1 removal\(s\) held until they agree/m)
      const asJson = await w.plan(["--json"], { env: ahead })
      expect(asJson.code).toBe(1)
      const out = JSON.parse(asJson.stdout)
      expect(out).toMatchObject({ inSync: false, removes: [], heldRemovals: [{ target: "loadmaster:global", cidr: "203.0.113.10/32" }] })
      expect(out.cannotConverge).toEqual(["1 removal(s) held until this clock and the LoadMaster's agree (check NTP on both)"])

      // plan changed nothing; with the right clock it is in sync again
      expect(addrs(emulator)).toEqual(["203.0.113.10/32"])
      const right = await w.plan()
      expect(right.code, right.stdout + right.stderr).toBe(0)
      expect(right.stdout.trim()).toBe("in sync: nothing to change")
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
    // One failure recorded for the add (not one per attempt, whatever the attempts were).
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
