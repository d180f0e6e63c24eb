/**
 * `loadmaster.addressForm` end to end: real CLI processes against the LoadMaster emulator. An
 * entry is the same entry in either form (`203.0.113.9` and `203.0.113.9/32`): switching the form
 * re-adds nothing, and what an earlier build added in the other form stays owned and is removed,
 * sent exactly as the appliance lists it.
 */
import { describe, expect, it } from "@effect/vitest"
import type { LoadMasterEmulatorHandle } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { lmWorkspace, withEmulator } from "../support/loadmaster.js"

type Workspace = ReturnType<typeof lmWorkspace>

/** The addresses the emulator was asked to delete from the global list, as sent. */
const deletesSent = (emulator: LoadMasterEmulatorHandle): string[] =>
  emulator
    .requests()
    .map((r) => JSON.parse(r.body === "" ? "{}" : r.body) as Record<string, string>)
    .filter((b) => b["del"] === "block")
    .map((b) => b["addr"]!)

const block = async (w: Workspace, addr: string) => {
  const run = await w.cmd(["block", "--defer", addr, "--ttl", "1h", "--reason", "upgrade test", "--actor", "alice"])
  expect(run.code, run.stderr).toBe(0)
}

const reconciled = async (w: Workspace, summary: string) => {
  const run = await w.reconcile()
  expect(run.code, run.stdout + run.stderr).toBe(0)
  expect(run.stdout).toContain(summary)
}

const listedOf = async (w: Workspace) =>
  (await w.events()).filter((e) => e.type === "TargetChanged").map((e) => [e.payload.op, e.payload.cidr, e.payload.listed])

for (const [before, after, earlier, later] of [
  ["cidr", "bare", "203.0.113.9/32", "203.0.113.10"],
  ["bare", "cidr", "203.0.113.9", "203.0.113.10/32"]
] as const) {
  describe(`an upgrade from addressForm ${before} to ${after}`, () => {
    it(`keeps owning the entry added as ${earlier}, adds new ones as ${later}, and removes the old one as listed`, async () => {
      // An appliance that lists each entry as it was sent.
      await withEmulator(
        async (emulator) => {
          // Given an entry added by a build with addressForm ${before}
          const w = lmWorkspace(emulator, { addressForm: before })
          await block(w, "203.0.113.9")
          await reconciled(w, "1 to add, 0 to remove, 1 applied")
          expect(emulator.entries("global").map((e) => e.addr)).toEqual([earlier])

          // When the config switches to ${after}
          w.writeConfig({ addressForm: after })

          // then the entry is still the one wanted: nothing to add, plan in sync
          const plan = await w.plan()
          expect(plan.code, plan.stdout + plan.stderr).toBe(0)
          expect(plan.stdout).toContain("in sync")

          // and a new block goes out in the new form
          await block(w, "203.0.113.10")
          await reconciled(w, "1 to add, 0 to remove, 1 applied")
          expect(emulator.entries("global").map((e) => e.addr)).toEqual([earlier, later])

          // and unblocking the old one removes it, sent as listed (its comment still proves it ours)
          const unblock = await w.cmd(["unblock", "--defer", "203.0.113.9", "--reason", "done"])
          expect(unblock.code, unblock.stderr).toBe(0)
          await reconciled(w, "0 to add, 1 to remove, 1 applied")
          expect(emulator.entries("global").map((e) => e.addr)).toEqual([later])
          expect(deletesSent(emulator)).toEqual([earlier])

          // The log says what was sent and what was listed.
          expect(await listedOf(w)).toEqual([
            ["add", "203.0.113.9/32", earlier],
            ["add", "203.0.113.10/32", later],
            ["remove", "203.0.113.9/32", earlier]
          ])
          expect((await w.events()).filter((e) => e.type === "OwnershipLost")).toEqual([])
        },
        { listedHostForm: "as-sent" }
      )
    }, 60_000)
  })
}
