/**
 * The command line facing appliances that answer oddly (issue 14 item 5, issue 18 item 3), as
 * real processes against the emulators:
 *
 * - a 20 MiB answer (streamed) is an error of that call, recorded; no crash, no lock left;
 * - a pinned-TLS LoadMaster that is down is recorded as an outage on every pass, and
 *   `reconcile --watch` keeps going (backing off) until it is back, then converges;
 * - a success answer without the `status` field is an error, not a success;
 * - a list answer in an unknown shape fails the pass for that target: `reconcile` and `plan` exit
 *   1, nothing is added or removed there, the event says why and quotes the answer.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { generateSelfSignedCertificate, startLoadMasterEmulator, type ListShape } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { BUNDLE, runProcess, tempDir } from "../support/cli.js"
import { adsLineWithUser, csWorkspace, seedUser, sid, withCryptoSpike } from "../support/cryptospike.js"
import { adsLine } from "../support/fixtures.js"
import { addrs, lmWorkspace, loadMasterYaml, sleep, startCli, waitFor, withEmulator } from "../support/loadmaster.js"
import { closedPort } from "../support/ports.js"

const MiB = 1024 * 1024

describe("an answer far too large", () => {
  it("LoadMaster sends 20 MiB: the list fails too-large and is recorded, reconcile exits 1, no lock is left", () =>
    withEmulator(async (lm) => {
      // Given a block to apply and a LoadMaster that answers every call with 20 MiB, streamed
      const ws = lmWorkspace(lm)
      expect((await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: `${adsLine(1)}\n` })).code).toBe(0)
      lm.setFaults({ hugeBody: { bytes: 20 * MiB } })
      // When reconcile and plan run
      const run = await ws.reconcile()
      const plan = await ws.plan()
      // Then each exits 1 saying why, without a crash
      expect(run.code, run.stdout + run.stderr).toBe(1)
      expect(run.stdout + run.stderr).toContain("sent an answer larger than 16 MiB (stopped reading there)")
      expect(run.stderr).not.toContain("unexpected error")
      expect(plan.code).toBe(1)
      expect(plan.stderr).toContain("larger than 16 MiB")
      // and the failure is recorded, and the lock is gone
      const failed = (await ws.events()).filter((e) => e.type === "TargetChangeFailed")
      expect(failed.map((e) => [e.payload.op, e.payload.reason])).toEqual([["list", "too-large"]])
      expect(fs.existsSync(`${ws.db}.reconcile.lock`)).toBe(false)
      // When the appliance answers normally again, then the next pass converges
      lm.setFaults({})
      expect((await ws.reconcile()).code).toBe(0)
      expect(addrs(lm)).toEqual(["192.0.2.31/32"])
    }), 120_000)

  it("CryptoSpike sends 20 MiB: the same", () =>
    withCryptoSpike(
      async (cs) => {
        const ws = csWorkspace(cs)
        expect((await ws.append([adsLineWithUser(1, "192.0.2.31", "CORP\\user1")])).code).toBe(0)
        cs.setFaults({ hugeBody: { bytes: 20 * MiB } })
        const run = await ws.reconcile()
        expect(run.code, run.stdout + run.stderr).toBe(1)
        expect(run.stdout + run.stderr).toContain("sent an answer larger than 16 MiB")
        const failed = (await ws.events()).filter((e) => e.type === "TargetChangeFailed")
        expect(failed.map((e) => e.payload.reason)).toEqual(["too-large"])
        expect(fs.existsSync(`${ws.db}.reconcile.lock`)).toBe(false)
        expect(cs.user(sid(1))!.blocked).toBe(false)
      },
      { seed: { users: [seedUser(1)] } }
    ), 120_000)
})

describe("a pinned-TLS LoadMaster that is down", () => {
  it("each pass records the outage, reconcile exits 1; --watch keeps going with backoff and converges once it is back", async () => {
    // Given a LoadMaster pinned by fingerprint whose port is closed
    const cert = await generateSelfSignedCertificate(["127.0.0.1"])
    const apiKey = "5d1e0c2b9a8f47e6b3c1d0a9f8e7d6c5"
    const port = await closedPort()
    const lm = await startLoadMasterEmulator({ tls: true, tlsCert: cert.certPem, tlsKey: cert.keyPem, apiKey })
    await lm.close()
    const ws = lmWorkspace(lm)
    const url = `https://127.0.0.1:${port}`
    const config = path.join(ws.dir, "pinned.yaml")
    fs.writeFileSync(config, loadMasterYaml(url, "lm.key").replace(`  url: ${url}\n`, `  url: ${url}\n  tls: { fingerprint: "sha256:${lm.fingerprint}" }\n`))
    expect((await ws.cmd(["append", "--defer", "--instance", "fm1"], { config, stdin: `${adsLine(1)}\n` })).code).toBe(0)

    // When one reconcile runs, then it exits 1 and records the outage like any other
    const once = await ws.reconcile([], { config })
    expect(once.code, once.stdout + once.stderr).toBe(1)
    expect(once.stdout + once.stderr).toContain(`127.0.0.1:${port}`)
    const outages = async () => (await ws.events()).filter((e) => e.type === "TargetChangeFailed" && e.payload.op === "list" && e.payload.reason === "transport").length
    expect(await outages()).toBe(1)

    // When --watch runs against it
    const watcher = startCli(["reconcile", "--watch", "--interval", "1s", "--db", ws.db, "--config", config], { cwd: ws.dir })
    let back: Awaited<ReturnType<typeof startLoadMasterEmulator>> | undefined
    try {
      // Then at least two more failed passes are recorded while it keeps running, backing off
      await waitFor("two failed passes of the watcher", () => watcher.stdout().split("not converged").length - 1 >= 2, 60_000)
      expect(await outages()).toBeGreaterThanOrEqual(3)
      expect(watcher.child.exitCode).toBeNull()
      await waitFor("the watcher to back off", () => /could not be reached or read \(2 passes in a row\): next pass in 2s/.test(watcher.stdout()), 30_000)
      // When the appliance is back, then the watcher converges
      back = await startLoadMasterEmulator({ tls: true, tlsCert: cert.certPem, tlsKey: cert.keyPem, port, apiKey })
      const appliance = back
      await waitFor("the block on the appliance", () => addrs(appliance).includes("192.0.2.31/32"), 60_000)
    } finally {
      watcher.child.kill("SIGTERM")
      const stopped = await Promise.race([watcher.done, sleep(20_000).then(() => undefined)])
      await back?.close()
      expect(stopped, "the watcher did not stop within 20 s of SIGTERM").toBeDefined()
      expect(stopped!.code).toBe(130)
    }
    expect(watcher.stderr()).not.toContain("unexpected error")
  }, 180_000)
})

describe("a success answer without the status field", () => {
  it("is an error: reconcile exits 1, nothing is taken as done, the event says why", () =>
    withEmulator(async (lm) => {
      const ws = lmWorkspace(lm)
      expect((await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: `${adsLine(1)}\n` })).code).toBe(0)
      lm.setOptions({ omitStatus: true })
      const run = await ws.reconcile()
      expect(run.code, run.stdout + run.stderr).toBe(1)
      const events = await ws.events()
      expect(events.filter((e) => e.type === "TargetChanged")).toEqual([])
      const failed = events.filter((e) => e.type === "TargetChangeFailed")
      expect(failed).toHaveLength(1)
      expect(failed[0]!.payload.reason).toBe("protocol")
      expect(failed[0]!.payload.message).toContain('without the "status" field every answer carries: not taken as a success; the answer begins: {"code":200,"Blocklist":{"IP":[]}}')
      expect(addrs(lm)).toEqual([])
    }), 60_000)
})

describe("a list answer in an unknown shape", () => {
  it("LoadMaster: reconcile and plan exit 1, nothing is added or removed, the event quotes the answer", () =>
    withEmulator(async (lm) => {
      // Given an entry mitigator added and an operator then lifted (so a pass would remove it),
      // a new detection (so it would add one), and an entry someone else made
      const ws = lmWorkspace(lm)
      expect((await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: `${adsLine(1, "192.0.2.31")}\n` })).code).toBe(0)
      expect((await ws.reconcile()).code).toBe(0)
      expect((await ws.cmd(["unblock", "--defer", "192.0.2.31", "--reason", "false positive"])).code).toBe(0)
      expect((await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: `${adsLine(2, "192.0.2.32")}\n` })).code).toBe(0)
      lm.seed("global", "203.0.113.9/32", "firewall team")
      const before = lm.entries("global")

      for (const [shape, begins] of [
        ["unknown", '{"code":200,"Entries":[{"Address":"192.0.2.31/32","Note":"mitigator fm1 '],
        ["split", '{"code":200,"Blocklist":{"IP":[]},"Entries":[{"Address":"192.0.2.31/32"']
      ] as ReadonlyArray<readonly [ListShape, string]>) {
        // When the LoadMaster answers lists in that shape
        lm.setOptions({ listShape: shape })
        const plan = await ws.plan()
        const run = await ws.reconcile()
        // Then plan and reconcile exit 1 saying why
        expect(plan.code, `${shape}: ${plan.stdout}${plan.stderr}`).toBe(1)
        expect(plan.stderr).toContain("in a shape mitigator does not know")
        expect(run.code, `${shape}: ${run.stdout}${run.stderr}`).toBe(1)
        // and nothing was added or removed
        expect(lm.entries("global"), shape).toEqual(before)
        // and the event says why, quoting the answer's first 200 bytes
        const failed = (await ws.events()).filter((e) => e.type === "TargetChangeFailed").at(-1)!
        expect(failed.payload).toMatchObject({ target: "loadmaster:global", op: "list", reason: "protocol" })
        expect(failed.payload.message).toContain(`the answer begins: ${begins}`)
        expect(failed.payload.message.split("the answer begins: ")[1]!.length).toBeLessThanOrEqual(203)
      }
      // When the answers are in a known shape again, then the pass adds and removes what it should
      lm.setOptions({ listShape: "kreemer" })
      expect((await ws.reconcile()).code).toBe(0)
      expect(addrs(lm)).toEqual(["192.0.2.32/32", "203.0.113.9/32"])
    }), 120_000)

  it("CryptoSpike: reconcile and plan exit 1, nobody is blocked, the event quotes the answer", () =>
    withCryptoSpike(
      async (cs) => {
        const ws = csWorkspace(cs)
        expect((await ws.append([adsLineWithUser(1, "192.0.2.31", "CORP\\user1")])).code).toBe(0)
        for (const [shape, begins] of [
          ["unknown", '{"content":['],
          ["split", '{"items":[],"content":[']
        ] as const) {
          cs.setListShape(shape)
          const plan = await ws.cmd(["plan"])
          const run = await ws.reconcile()
          expect(plan.code, `${shape}: ${plan.stdout}${plan.stderr}`).toBe(1)
          expect(run.code, `${shape}: ${run.stdout}${run.stderr}`).toBe(1)
          expect(cs.user(sid(1))!.blocked, shape).toBe(false)
          expect(cs.user(sid(2))!.blocked, shape).toBe(true)
          const failed = (await ws.events()).filter((e) => e.type === "TargetChangeFailed").at(-1)!
          expect(failed.payload).toMatchObject({ target: "cryptospike", op: "list", reason: "protocol" })
          expect(failed.payload.message).toContain(`in a shape mitigator does not know`)
          expect(failed.payload.message).toContain(`the answer begins: ${begins}`)
        }
        cs.setListShape("array")
        expect((await ws.reconcile()).code).toBe(0)
        expect(cs.user(sid(1))!.blocked).toBe(true)
      },
      {
        seed: {
          users: [seedUser(1), seedUser(2, { blockedBy: "admin" })],
          fileActivity: [{ userId: sid(1), ip: "192.0.2.31", time: "2025-11-03T15:12:00.000Z" }]
        }
      }
    ), 120_000)
})

describe("log files", () => {
  it("are created 0600 whatever the umask; an existing one open to others is narrowed to 0640", async () => {
    const dir = tempDir("mitigator-logmode-")
    const db = path.join(dir, "events.db")
    const log = path.join(dir, "mitigator.log")
    /** `args` of the CLI, started by a shell with umask 022 (files 0644 by default). */
    const withUmask022 = (args: string) => runProcess("/bin/sh", ["-c", `umask 022; exec "${process.execPath}" "${BUNDLE}" ${args}`], { cwd: dir })
    // Given umask 022, when append logs to a new file, then it is 0600
    const first = await withUmask022(`append --db "${db}" --instance fm1 --log-file "${log}" < /dev/null`)
    expect(first.code, first.stderr).toBe(0)
    expect(fs.statSync(log).mode & 0o777).toBe(0o600)
    // Given the file rotated away, when a command logs again, then the new file is 0600 too
    fs.rmSync(log)
    const second = await withUmask022(`append --db "${db}" --instance fm1 --log-format json --log-file "${log}" < /dev/null`)
    expect(second.code, second.stderr).toBe(0)
    expect(fs.statSync(log).mode & 0o777).toBe(0o600)
    // Given an existing log everyone may read and write, when a command logs to it, then others lose access
    fs.chmodSync(log, 0o666)
    expect((await withUmask022(`append --db "${db}" --instance fm1 --log-file "${log}" < /dev/null`)).code).toBe(0)
    expect(fs.statSync(log).mode & 0o777).toBe(0o640)
  }, 60_000)
})
