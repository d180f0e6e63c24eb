/**
 * `block`, `unblock` and `allow` apply at once (unless --defer) and say what they did: the
 * emulator's list holds the block right after `block` exits; `unblock` removes the entry mitigator
 * made and leaves an administrator's; exit 4 when recorded but not applied; --json says the same.
 * Real processes, the LoadMaster emulator on loopback.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { addrs, lmWorkspace, loadMasterYaml, withEmulator } from "../support/loadmaster.js"
import { closedPort } from "../support/ports.js"

const block = (address: string, extra: ReadonlyArray<string> = []) => ["block", address, "--ttl", "6h", "--reason", "incident 42", "--actor", "alice", ...extra]

describe("block applies at once", () => {
  it("the entry is on the LoadMaster when the command exits, and it says so, with the time left", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const run = await w.cmd(block("203.0.113.7"))
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(["203.0.113.7/32"])
      expect(emulator.entries("global")[0]!.comment).toMatch(/^mitigator /)
      const [recorded, applied] = run.stdout.trim().split("\n")
      expect(recorded).toMatch(/^mitigator block: recorded as seq \d+: 203\.0\.113\.7\/32 on loadmaster:global until \S+ \((6h|5h 59m) left\) \(by alice\)$/)
      expect(applied).toBe("mitigator block: recorded; applied: added 203.0.113.7/32 on loadmaster:global")
      // Recorded as a change of mitigator's: the next reconcile has nothing to do.
      expect((await w.events()).filter((e) => e.type === "TargetChanged").map((e) => e.payload.cidr)).toEqual(["203.0.113.7/32"])
      expect((await w.plan()).code).toBe(0)
    })
  })

  it("with --defer it only records: nothing on the LoadMaster until reconcile", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const run = await w.cmd(block("203.0.113.7", ["--defer"]))
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain("mitigator block: recorded; not applied (--defer): the next reconcile will")
      expect(addrs(emulator)).toEqual([])
      expect(emulator.counts()["add"] ?? 0).toBe(0)
      expect((await w.reconcile()).code).toBe(0)
      expect(addrs(emulator)).toEqual(["203.0.113.7/32"])
    })
  })

  it("a LoadMaster nobody answers on: recorded, exit 4, says why and that the next reconcile will", async () => {
    const port = await closedPort()
    const w = await withEmulator(async (emulator) => lmWorkspace(emulator))
    const config = path.join(w.dir, "down.yaml")
    fs.writeFileSync(config, loadMasterYaml(`http://127.0.0.1:${port}`, "lm.key"))
    const run = await w.cmd(block("203.0.113.7"), { config })
    expect(run.code, run.stdout + run.stderr).toBe(4)
    expect(run.stdout).toMatch(/^mitigator block: recorded as seq \d+: 203\.0\.113\.7\/32/)
    expect(run.stderr).toContain(
      `mitigator block: recorded; not applied: loadmaster:global: cannot list: cannot reach the LoadMaster at 127.0.0.1:${port}: connection refused (ECONNREFUSED); the next reconcile will`
    )
    expect((await w.events()).filter((e) => e.type === "BlockRequested")).toHaveLength(1)
  })

  it("no LoadMaster configured: recorded, and it says no target is configured (exit 0)", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, { noLoadMaster: true })
      const run = await w.cmd(block("203.0.113.7"))
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain("mitigator block: recorded; no target configured")
      expect(emulator.counts()).toEqual({})
    })
  })

  it("--json: one object with what was recorded and what was applied", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const run = await w.cmd(block("203.0.113.7", ["--json"]))
      expect(run.code, run.stderr).toBe(0)
      const out = JSON.parse(run.stdout)
      expect(out).toMatchObject({
        command: "block",
        cidr: "203.0.113.7/32",
        target: "loadmaster:global",
        actor: "alice",
        reason: "incident 42",
        apply: { status: "applied", changes: [{ target: "loadmaster:global", op: "add", what: "203.0.113.7/32" }], problems: [] }
      })
      expect(typeof out.seq).toBe("number")
      expect(out.left).toMatch(/^(6h|5h 59m) left$/)
      expect(Object.keys(out)).toEqual([...Object.keys(out)].sort())
    })
  })
})

describe("unblock and allow apply at once, removing only what mitigator made", () => {
  it("unblock of a network removes mitigator's entry inside it and leaves an administrator's", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(block("203.0.113.7"))).code).toBe(0)
      emulator.seed("global", "203.0.113.9", "blocked by hand")
      expect(addrs(emulator)).toEqual(["203.0.113.7/32", "203.0.113.9"])

      const run = await w.cmd(["unblock", "203.0.113.0/24", "--reason", "false positive", "--actor", "alice"])
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(["203.0.113.9"])
      expect(run.stdout).toContain("mitigator unblock: recorded; applied: removed 203.0.113.7/32 on loadmaster:global")
    })
  })

  it("unblock --defer leaves the entry until reconcile", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(block("203.0.113.7"))).code).toBe(0)
      const run = await w.cmd(["unblock", "203.0.113.7", "--reason", "false positive", "--defer"])
      expect(run.code).toBe(0)
      expect(addrs(emulator)).toEqual(["203.0.113.7/32"])
      expect((await w.reconcile()).code).toBe(0)
      expect(addrs(emulator)).toEqual([])
    })
  })

  it("allow lifts mitigator's block at once and shows when the allow ends; --json too", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(block("203.0.113.7"))).code).toBe(0)
      const run = await w.cmd(["allow", "203.0.113.7", "--ttl", "2h", "--reason", "partner", "--json"])
      expect(run.code, run.stderr).toBe(0)
      expect(addrs(emulator)).toEqual([])
      const out = JSON.parse(run.stdout)
      expect(out).toMatchObject({ command: "allow", cidr: "203.0.113.7/32", apply: { status: "applied", changes: [{ op: "remove", what: "203.0.113.7/32" }] } })
      expect(out.left).toMatch(/^(2h|1h 59m) left$/)
    })
  })

  it("unblock with nothing of mitigator's there changes nothing and says so", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      emulator.seed("global", "203.0.113.9", "blocked by hand")
      const run = await w.cmd(["unblock", "203.0.113.9", "--reason", "not ours"])
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain("mitigator unblock: recorded; applied: nothing to change")
      expect(addrs(emulator)).toEqual(["203.0.113.9"])
    })
  })
})
