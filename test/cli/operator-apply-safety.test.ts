/**
 * What an operator's request applied at once must never do: lift a network while the pieces still
 * wanted inside it are missing, pass the per-target cap, say "applied" for what is not in effect,
 * say "the next reconcile will" for what no reconcile does, report an interrupted pass as not
 * applied, swallow a tampered log, or record text that would act on a terminal.
 * Real processes, the LoadMaster and CryptoSpike emulators on loopback.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { addrs, lmWorkspace, withEmulator } from "../support/loadmaster.js"
import { csWorkspace, seedUser, sid, withCryptoSpike } from "../support/cryptospike.js"
import { adsLine } from "../support/fixtures.js"

const block = (address: string, extra: ReadonlyArray<string> = []) => ["block", address, "--ttl", "6h", "--reason", "incident 42", "--actor", "alice", ...extra]
const allow = (address: string, extra: ReadonlyArray<string> = []) => ["allow", address, "--reason", "partner", "--actor", "bob", ...extra]

/** 10.9.0.0/24 without 10.9.0.5: the pieces the projection splits it into. */
const PIECES = [
  "10.9.0.0/30",
  "10.9.0.128/25",
  "10.9.0.16/28",
  "10.9.0.32/27",
  "10.9.0.4/32",
  "10.9.0.6/31",
  "10.9.0.64/26",
  "10.9.0.8/29"
]

describe("an allow inside a blocked network", () => {
  it("adds the split pieces in the same pass that lifts the network: only the allowed address is open", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(block("10.9.0.0/24"))).code).toBe(0)
      expect(addrs(emulator)).toEqual(["10.9.0.0/24"])

      const run = await w.cmd(allow("10.9.0.5"))
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(PIECES)
      expect(run.stdout).toContain("added 10.9.0.0/30 on loadmaster:global")
      expect(run.stdout).toContain("removed 10.9.0.0/24 on loadmaster:global")
      // Nothing left for the next reconcile.
      const plan = await w.plan()
      expect(plan.code, plan.stdout + plan.stderr).toBe(0)
    })
  })

  it("over maxAddsPerPass: the network stays blocked whole, and it says so (exit 4)", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, { caps: { maxAddsPerPass: 3 } })
      expect((await w.cmd(block("10.9.0.0/24"))).code).toBe(0)
      const run = await w.cmd(allow("10.9.0.5"))
      expect(run.code, run.stdout + run.stderr).toBe(4)
      expect(run.stderr).toContain("not applied: over the caps: 8 additions exceed maxAddsPerPass (3)")
      expect(addrs(emulator)).toEqual(["10.9.0.0/24"])
    })
  })
})

describe("the per-target cap holds for blocks applied at once", () => {
  it("with maxActivePerTarget 1, a second block is recorded but not applied (exit 4), and the first stays alone", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, { caps: { maxActivePerTarget: 1 } })
      expect((await w.cmd(block("203.0.113.7"))).code).toBe(0)
      const second = await w.cmd(block("203.0.113.8"))
      expect(second.code, second.stdout + second.stderr).toBe(4)
      expect(second.stderr).toContain(
        "mitigator block: recorded; not applied: over the caps: 2 blocks wanted on loadmaster:global exceed maxActivePerTarget (1) (reconcile --force applies it)"
      )
      // A refused plan is refused by the next reconcile too: it does not promise otherwise.
      expect(second.stderr).not.toContain("the next reconcile will")
      expect(addrs(emulator)).toEqual(["203.0.113.7/32"])
    })
  })
})

describe("a block an operator's allow covers", () => {
  it("says which allow holds it back (exit 0) and blocks nothing", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const allowed = await w.cmd(allow("203.0.113.0/24"))
      expect(allowed.code, allowed.stderr).toBe(0)
      const seq = Number(/recorded as seq (\d+)/.exec(allowed.stdout)![1])
      const run = await w.cmd(block("203.0.113.7"))
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(run.stdout).toContain(
        `mitigator block: recorded; held back by the operator's allow seq ${seq} (203.0.113.0/24 for good, by bob: partner): not blocked while that allow is in force`
      )
      expect(addrs(emulator)).toEqual([])
    })
  })

  it("an allow inside the blocked network: warned about, the rest is blocked", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const allowed = await w.cmd(allow("10.9.0.5"))
      const seq = Number(/recorded as seq (\d+)/.exec(allowed.stdout)![1])
      const run = await w.cmd(block("10.9.0.0/24"))
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(run.stderr).toContain(`mitigator block: warning: the operator's allow seq ${seq} (10.9.0.5/32 for good, by bob: partner) is inside 10.9.0.0/24`)
      expect(addrs(emulator)).toEqual(PIECES)
    })
  })
})

describe("the deadline bounds the wait for the lease, not the pass", () => {
  it("a LoadMaster slow to answer: the pass runs to its end, the block is applied and recorded", async () => {
    // Each answer takes 6 s: listing and adding take 12 s, past the 10 s deadline.
    await withEmulator(
      async (emulator) => {
        const w = lmWorkspace(emulator)
        const run = await w.cmd(block("203.0.113.7"))
        expect(run.code, run.stdout + run.stderr).toBe(0)
        expect(run.stdout).toContain("mitigator block: recorded; applied: added 203.0.113.7/32 on loadmaster:global")
        expect(addrs(emulator)).toEqual(["203.0.113.7/32"])
        expect((await w.events()).filter((e) => e.type === "TargetChanged").map((e) => e.payload.cidr)).toEqual(["203.0.113.7/32"])
      },
      { faults: { latencyMs: 6_000 } }
    )
  }, 60_000)
})

describe("errors that stop reconcile stop an operator's apply too (exit 1)", () => {
  it("a tampered log: exit 1 with the error, not 'the next reconcile will'", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      // Enough rows after the altered one that a write's check of the newest rows does not see it:
      // the pass's fold of the log does.
      const blocked = ["203.0.113.1/32", "203.0.113.2/32", "203.0.113.3/32", "203.0.113.4/32", "203.0.113.5/32", "203.0.113.6/32"]
      for (const cidr of blocked) expect((await w.cmd(block(cidr))).code).toBe(0)
      const raw = new Database(w.db)
      raw.exec("DROP TRIGGER events_refuse_update;")
      raw.prepare("UPDATE events SET payload = replace(payload, 'incident 42', 'incident 43') WHERE type = 'BlockRequested' AND seq = (SELECT min(seq) FROM events WHERE type = 'BlockRequested')").run()
      raw.close()
      const run = await w.cmd(["unblock", "203.0.113.1", "--reason", "false positive"])
      expect(run.code, run.stdout + run.stderr).toBe(1)
      expect(run.stdout).toMatch(/^mitigator unblock: recorded as seq \d+/)
      expect(run.stderr).toMatch(/tamper|altered|chain/i)
      expect(run.stderr).not.toContain("the next reconcile will")
      expect(addrs(emulator)).toEqual(blocked)
    })
  })

  it("an API key file that is not there: exit 1 with the error", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      fs.rmSync(path.join(w.dir, "lm.key"))
      const run = await w.cmd(block("203.0.113.7"))
      expect(run.code, run.stdout + run.stderr).toBe(1)
      expect(run.stdout).toMatch(/^mitigator block: recorded as seq \d+/)
      expect(run.stderr).toContain("lm.key")
      expect(run.stderr).not.toContain("the next reconcile will")
    })
  })
})

describe("--reason and --actor refuse what would act on a terminal", () => {
  for (const [option, text] of [
    ["--reason", "wipe \u001b[2J the screen"],
    ["--reason", "tab\there"],
    ["--reason", "c1 \u009b31m"],
    ["--reason", "reversed \u202etxt.exe"],
    ["--actor", "mallory\u001b]0;title\u0007"],
    ["--actor", "bidi\u2066x"]
  ] as const) {
    it(`${option} ${JSON.stringify(text)}: a usage error naming ${option}, exit 1, nothing recorded`, async () => {
      await withEmulator(async (emulator) => {
        const w = lmWorkspace(emulator)
        const args = option === "--reason" ? ["block", "203.0.113.7", "--ttl", "6h", "--reason", text] : ["block", "203.0.113.7", "--ttl", "6h", "--reason", "ok", "--actor", text]
        const run = await w.cmd(args)
        expect(run.code, run.stdout + run.stderr).toBe(1)
        expect(run.stdout + run.stderr).toContain(`${option} must be plain text`)
        expect(run.stdout + run.stderr).not.toContain("\u001b")
        expect(emulator.counts()).toEqual({})
        expect(fs.existsSync(w.db) ? (await w.events()).filter((e) => e.type === "BlockRequested") : []).toEqual([])
      })
    })
  }

  it("plain text with accents passes", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const run = await w.cmd(["block", "203.0.113.7", "--ttl", "6h", "--reason", "incident Zürich — 42", "--actor", "Zoë"])
      expect(run.code, run.stdout + run.stderr).toBe(0)
    })
  })
})

describe("CryptoSpike: what is not in effect is not called applied", () => {
  it("unblock of a blocked user's address: exit 4, names the user the next reconcile unblocks; reconcile does", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLine(4711, "192.0.2.31")])).code).toBe(0)
        expect((await w.reconcile()).code).toBe(0)
        expect(emulator.user(sid(1))!.blocked).toBe(true)

        const run = await w.cmd(["unblock", "192.0.2.31", "--reason", "false positive"])
        expect(run.code, run.stdout + run.stderr).toBe(4)
        expect(run.stdout).toContain(`mitigator unblock: recorded; CryptoSpike: the next reconcile unblocks user ${sid(1)} (no longer wanted)`)
        expect(run.stdout + run.stderr).not.toContain("applied: nothing to change")
        expect(emulator.user(sid(1))!.blocked).toBe(true)

        expect((await w.reconcile()).code).toBe(0)
        expect(emulator.user(sid(1))!.blocked).toBe(false)
      },
      {
        seed: {
          users: [seedUser(1)],
          fileActivity: [{ userId: sid(1), ip: "192.0.2.31", time: "2025-11-03T15:10:00.000Z", path: "\\\\fs01\\share\\a.docx", action: "WRITE" }]
        }
      }
    )
  })

  it("a block of an address no user can be found behind: final ('nobody is blocked'), not 'the next reconcile will'", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        const run = await w.cmd(["block", "192.0.2.77", "--target", "cryptospike", "--ttl", "1h", "--reason", "suspicious"])
        expect(run.code, run.stdout + run.stderr).toBe(4)
        expect(run.stderr).toContain("mitigator block: recorded; not applied: not resolved: the user behind 192.0.2.77")
        expect(run.stderr).toContain("; nobody is blocked")
        expect(run.stderr).not.toContain("the next reconcile will")
      },
      { seed: { users: [seedUser(1)] } }
    )
  })
})
