/**
 * `reconcile` against CryptoSpike end to end: real CLI processes talking HTTP to the CryptoSpike
 * emulator, which runs in the test process on loopback. Resolving the user behind a blocked
 * address (file activity around the detection, the name fallback, ambiguity, paging), blocking
 * with an audit comment, expiry, foreign blocks, human unblocks (repairDrift off and on), faults
 * and authentication.
 */
import { describe, expect, it } from "@effect/vitest"
import type { CryptoSpikeEmulatorHandle } from "../../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import {
  adsLineWithUser,
  ADS_DETECTED_AT,
  csWorkspace,
  IDS_DETECTED_AT,
  seedUser,
  sid,
  withCryptoSpike
} from "../support/cryptospike.js"
import { adsLine, idsLine } from "../support/fixtures.js"

type Events = Awaited<ReturnType<ReturnType<typeof csWorkspace>["events"]>>

const ofType = (events: Events, type: string) => events.filter((e) => e.type === type)

const A = sid(1)
const B = sid(2)

/** `n` activity rows of `userId` from `ip`, `stepMs` apart from `from`. */
const rows = (userId: string, ip: string, from: string, n = 1, stepMs = 10_000) =>
  Array.from({ length: n }, (_, i) => ({
    userId,
    ip,
    time: new Date(Date.parse(from) + i * stepMs).toISOString(),
    path: `\\\\fs01\\share\\doc${i}.docx`,
    action: "WRITE"
  }))

const blockedIds = (emulator: CryptoSpikeEmulatorHandle) =>
  emulator
    .users()
    .filter((u) => u.blocked)
    .map((u) => u.userId)
    .sort()

/** Time passes, for the workspace's later runs, until just after the newest block's end (no waiting). */
const passBeyondUntil = (w: { readonly clock: { readonly passUntilAfter: (iso: string) => void } }, events: Events) => {
  w.clock.passUntilAfter(ofType(events, "BlockDecided").at(-1)!.payload.until as string)
}

describe("reconcile against the CryptoSpike emulator", () => {
  it("resolves the one user behind the source from file activity, blocks it with an audit comment, then is a no-op", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        const append = await w.append([adsLine(4711, "192.0.2.31")])
        expect(append.code, append.stderr).toBe(0)
        // Deferred: nothing asked of CryptoSpike yet.
        expect(emulator.counts()["access"] ?? 0).toBe(0)

        const pending = await w.cmd(["plan"])
        expect(pending.code, pending.stdout + pending.stderr).toBe(2)
        expect(emulator.user(A)!.blocked).toBe(false)

        const first = await w.reconcile()
        expect(first.code, first.stdout + first.stderr).toBe(0)
        expect(first.stdout).toContain("1 users resolved")
        expect(first.stdout).toContain("converged")

        const events = await w.events()
        const resolved = ofType(events, "UserResolved")
        expect(resolved).toHaveLength(1)
        expect(resolved[0]!.payload).toMatchObject({ ip: "192.0.2.31", userId: A, via: "file-activity" })
        expect(Date.parse(resolved[0]!.payload.at)).toBe(Date.parse(ADS_DETECTED_AT))
        const changed = ofType(events, "UserBlockChanged")
        expect(changed).toHaveLength(1)
        expect(changed[0]!.payload).toMatchObject({ userId: A, op: "block" })
        const decided = ofType(events, "BlockDecided")
        expect(decided).toHaveLength(1)
        expect(changed[0]!.payload.causeSeq).toBe(decided[0]!.seq)

        const user = emulator.user(A)!
        expect(user.blocked).toBe(true)
        expect(user.blockedBy).toBe("api")
        const comment = user.comment ?? ""
        expect(comment).toBe(changed[0]!.payload.comment)
        for (const part of ["4711", "SSHDICT", "192.0.2.31", "198.51.100.40", "LAN", "Security issues", "Blocked until"]) {
          expect(comment, part).toContain(part)
        }
        expect(comment).toMatch(/^mitigator/)
        expect(comment).toContain(`Blocked until: ${decided[0]!.payload.until}`)
        // Nobody else.
        expect(blockedIds(emulator)).toEqual([A])

        const status = await w.status()
        expect(status.userBlocks.map((b: any) => b.userId)).toEqual([A])
        expect(status.userBlocks[0].seenAt).toEqual([{ ip: "192.0.2.31", at: resolved[0]!.payload.at }])
        expect(status.pendingUserBlocks).toEqual([])
        expect(status.ownedUsers).toEqual([A])

        // Again: nothing to resolve, nothing to block, nothing recorded.
        emulator.resetCounts()
        const second = await w.reconcile()
        expect(second.code, second.stdout + second.stderr).toBe(0)
        expect(second.stdout).toContain("0 to block, 0 to unblock, 0 applied, 0 failed")
        const counts = emulator.counts()
        expect(counts["access"] ?? 0).toBe(0)
        expect(counts["activity"] ?? 0).toBe(0)
        expect(await w.events()).toEqual(events)

        const synced = await w.cmd(["plan"])
        expect(synced.code, synced.stdout + synced.stderr).toBe(0)
      },
      {
        seed: {
          users: [seedUser(1), seedUser(2)],
          fileActivity: [...rows(A, "192.0.2.31", "2025-11-03T15:10:00Z", 3), ...rows(B, "192.0.2.99", "2025-11-03T15:10:00Z")]
        }
      }
    )
  })

  it("anchors the activity window on the detection, not on now", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLine(1, "192.0.2.31")])).code).toBe(0)
        // The detection was in 2025: "now" is long after, yet the activity around it is found.
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const resolved = ofType(await w.events(), "UserResolved")
        expect(resolved.map((e) => [e.payload.userId, e.payload.via])).toEqual([[A, "file-activity"]])
        expect(blockedIds(emulator)).toEqual([A])
      },
      {
        seed: {
          users: [seedUser(1), seedUser(2)],
          fileActivity: [
            // B two hours before the detection: outside the 30m lookback.
            ...rows(B, "192.0.2.31", "2025-11-03T13:13:05Z", 2),
            // A inside the window.
            ...rows(A, "192.0.2.31", "2025-11-03T15:00:00Z", 2)
          ]
        }
      }
    )
  })

  it("falls back on the ADS user identity when there is no activity", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLineWithUser(1, "192.0.2.31", "CORP\\j doe")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const events = await w.events()
        expect(ofType(events, "UserResolutionFailed")).toEqual([])
        const resolved = ofType(events, "UserResolved")
        expect(resolved).toHaveLength(1)
        expect(resolved[0]!.payload).toMatchObject({ ip: "192.0.2.31", userId: B, userName: "j doe", via: "name" })
        expect(blockedIds(emulator)).toEqual([B])
      },
      { seed: { users: [seedUser(1), seedUser(2, { userName: "j doe" })] } }
    )
  })

  it("falls back on a bare ADS user identity (no domain) when there is no activity", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLineWithUser(1, "192.0.2.31", "j doe")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const resolved = ofType(await w.events(), "UserResolved")
        expect(resolved.map((e) => e.payload)).toMatchObject([{ ip: "192.0.2.31", userId: B, userName: "j doe", via: "name" }])
        expect(blockedIds(emulator)).toEqual([B])
      },
      { seed: { users: [seedUser(1), seedUser(2, { userName: "j doe" })] } }
    )
  })

  it("records an unknown user when there is no activity and no identity; nothing is blocked", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLine(1, "192.0.2.31")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        expect(r.stdout).toContain("1 not resolvable")
        const events = await w.events()
        const failed = ofType(events, "UserResolutionFailed")
        expect(failed).toHaveLength(1)
        expect(failed[0]!.payload).toMatchObject({ ip: "192.0.2.31", reason: "unknown", candidates: [] })
        expect(ofType(events, "UserResolved")).toEqual([])
        expect(ofType(events, "UserBlockChanged")).toEqual([])
        expect(emulator.counts()["access"] ?? 0).toBe(0)
        expect(blockedIds(emulator)).toEqual([])

        const status = await w.status()
        expect(status.userBlocks).toEqual([])
        expect(status.pendingUserBlocks).toHaveLength(1)
        expect(status.pendingUserBlocks[0]).toMatchObject({ ip: "192.0.2.31", failure: { reason: "unknown", candidates: [] } })

        // Not looked up again.
        emulator.resetCounts()
        const again = await w.reconcile()
        expect(again.code, again.stdout + again.stderr).toBe(0)
        expect(emulator.counts()["activity"] ?? 0).toBe(0)
        expect(ofType(await w.events(), "UserResolutionFailed")).toHaveLength(1)
      },
      { seed: { users: [seedUser(1), seedUser(2, { userName: "j doe" })] } }
    )
  })

  it("records an ambiguous user when two users were active from the source; nobody is blocked", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLine(1, "192.0.2.31")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const events = await w.events()
        const failed = ofType(events, "UserResolutionFailed")
        expect(failed.map((e) => e.payload)).toMatchObject([{ ip: "192.0.2.31", reason: "ambiguous", candidates: [A, B] }])
        expect(ofType(events, "UserBlockChanged")).toEqual([])
        expect(emulator.counts()["access"] ?? 0).toBe(0)
        expect(blockedIds(emulator)).toEqual([])
        const status = await w.status()
        expect(status.pendingUserBlocks[0]).toMatchObject({ failure: { reason: "ambiguous", candidates: [A, B] } })
      },
      {
        seed: {
          users: [seedUser(1), seedUser(2)],
          fileActivity: [...rows(A, "192.0.2.31", "2025-11-03T15:05:00Z", 2), ...rows(B, "192.0.2.31", "2025-11-03T15:10:00Z")]
        }
      }
    )
  })

  it("reads every page of file activity: a second user past the first page makes it ambiguous", async () => {
    // 150 rows of A, then B: past both the emulator's default page (50) and the client's (100).
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLine(1, "192.0.2.31")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        expect(emulator.counts()["activity"] ?? 0).toBeGreaterThanOrEqual(2)
        const failed = ofType(await w.events(), "UserResolutionFailed")
        expect(failed.map((e) => e.payload)).toMatchObject([{ reason: "ambiguous", candidates: [A, B] }])
        expect(blockedIds(emulator)).toEqual([])
      },
      {
        seed: {
          users: [seedUser(1), seedUser(2)],
          fileActivity: [...rows(A, "192.0.2.31", "2025-11-03T14:45:00Z", 150, 5_000), ...rows(B, "192.0.2.31", "2025-11-03T15:10:00Z")]
        }
      }
    )
  })

  it("has no name fallback for IDS events", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator, { ids: true })
        const append = await w.append([idsLine(9, "192.0.2.50")])
        expect(append.code, append.stderr).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const events = await w.events()
        const failed = ofType(events, "UserResolutionFailed")
        expect(failed).toHaveLength(1)
        expect(failed[0]!.payload).toMatchObject({ ip: "192.0.2.50", reason: "unknown", candidates: [] })
        expect(Date.parse(failed[0]!.payload.at)).toBe(Date.parse(IDS_DETECTED_AT))
        // One user listing (the blocked users), no name search.
        expect(emulator.counts()["users"] ?? 0).toBe(1)
        expect(blockedIds(emulator)).toEqual([])
      },
      { seed: { users: [seedUser(1), seedUser(2)] } }
    )
  })

  it("unblocks a user when its block expires", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator, { ttl: "40s" })
        expect((await w.append([adsLine(1, "192.0.2.31")])).code).toBe(0)
        const blocked = await w.reconcile()
        expect(blocked.code, blocked.stdout + blocked.stderr).toBe(0)
        expect(emulator.user(A)!.blocked).toBe(true)

        passBeyondUntil(w, await w.events())
        const expired = await w.reconcile()
        expect(expired.code, expired.stdout + expired.stderr).toBe(0)
        expect(expired.stdout).toContain("0 to block, 1 to unblock, 1 applied")
        const changed = ofType(await w.events(), "UserBlockChanged")
        expect(changed.map((e) => [e.payload.userId, e.payload.op])).toEqual([
          [A, "block"],
          [A, "unblock"]
        ])
        expect(emulator.user(A)!.blocked).toBe(false)
        expect((await w.status()).ownedUsers).toEqual([])
      },
      { seed: { users: [seedUser(1)], fileActivity: rows(A, "192.0.2.31", "2025-11-03T15:10:00Z") } }
    )
  })

  it("leaves foreign blocks alone: never unblocks them, never re-blocks a user an admin blocked", async () => {
    const F = sid(5)
    const G = sid(6)
    const C = sid(3)
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator, { ttl: "40s" })
        expect((await w.append([adsLine(1, "192.0.2.31"), adsLine(2, "192.0.2.33")])).code).toBe(0)
        const first = await w.reconcile()
        expect(first.code, first.stdout + first.stderr).toBe(0)
        expect(first.stdout).toContain("2 users resolved")
        // Only C is blocked by mitigator: A was already blocked by an admin.
        expect(emulator.counts()["access"]).toBe(1)
        const changed = ofType(await w.events(), "UserBlockChanged")
        expect(changed.map((e) => [e.payload.userId, e.payload.op])).toEqual([[C, "block"]])
        expect(emulator.user(A)).toMatchObject({ blocked: true, blockedBy: "admin", comment: "admin: under investigation" })
        expect(emulator.user(C)).toMatchObject({ blocked: true, blockedBy: "api" })

        passBeyondUntil(w, await w.events())
        emulator.resetCounts()
        const expired = await w.reconcile()
        expect(expired.code, expired.stdout + expired.stderr).toBe(0)
        // C (owned) is unblocked; A's block, desired and expired, is the admin's and stays.
        expect(emulator.counts()["access"]).toBe(1)
        expect(ofType(await w.events(), "UserBlockChanged").map((e) => [e.payload.userId, e.payload.op])).toEqual([
          [C, "block"],
          [C, "unblock"]
        ])
        expect(emulator.user(C)!.blocked).toBe(false)

        emulator.resetCounts()
        const third = await w.reconcile()
        expect(third.code, third.stdout + third.stderr).toBe(0)
        expect(emulator.counts()["access"] ?? 0).toBe(0)

        expect(emulator.user(A)).toMatchObject({ blocked: true, blockedBy: "admin", comment: "admin: under investigation" })
        expect(emulator.user(F)).toMatchObject({ blocked: true, blockedBy: "cryptospike", comment: "ransomware detected" })
        expect(emulator.user(G)).toMatchObject({ blocked: true, blockedBy: "admin" })
        expect(blockedIds(emulator)).toEqual([A, F, G].sort())
      },
      {
        seed: {
          users: [
            seedUser(1, { blockedBy: "admin", comment: "admin: under investigation" }),
            seedUser(3),
            seedUser(5, { blockedBy: "cryptospike", comment: "ransomware detected" }),
            seedUser(6, { blockedBy: "admin" })
          ],
          fileActivity: [...rows(A, "192.0.2.31", "2025-11-03T15:10:00Z"), ...rows(C, "192.0.2.33", "2025-11-03T15:10:00Z")]
        }
      }
    )
  })

  it("respects a human unblock (repairDrift false) until a new detection", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLine(1, "192.0.2.31")])).code).toBe(0)
        expect((await w.reconcile()).code).toBe(0)
        expect(emulator.user(A)!.blocked).toBe(true)

        emulator.unblockByAdmin(A)
        emulator.resetCounts()
        const lifted = await w.reconcile()
        expect(lifted.code, lifted.stdout + lifted.stderr).toBe(0)
        expect(lifted.stdout).toContain("1 lifted by hand")
        let events = await w.events()
        expect(ofType(events, "UserBlockLifted").map((e) => e.payload)).toEqual([{ userId: A, repair: false }])
        expect(ofType(events, "UserBlockChanged")).toHaveLength(1)
        expect(emulator.counts()["access"] ?? 0).toBe(0)
        expect(emulator.user(A)!.blocked).toBe(false)

        // Still not re-blocked, and the lift is not recorded again.
        const again = await w.reconcile()
        expect(again.code, again.stdout + again.stderr).toBe(0)
        expect(emulator.counts()["access"] ?? 0).toBe(0)
        expect(await w.events()).toEqual(events)
        expect(emulator.user(A)!.blocked).toBe(false)
        expect((await w.status()).userBlocks).toEqual([])

        // A new detection from the same source (the activity is still there) blocks A again.
        expect((await w.append([adsLine(2, "192.0.2.31")])).code).toBe(0)
        const renewed = await w.reconcile()
        expect(renewed.code, renewed.stdout + renewed.stderr).toBe(0)
        events = await w.events()
        const changed = ofType(events, "UserBlockChanged")
        expect(changed.map((e) => [e.payload.userId, e.payload.op])).toEqual([
          [A, "block"],
          [A, "block"]
        ])
        const decided = ofType(events, "BlockDecided")
        expect(changed[1]!.payload.causeSeq).toBe(decided[1]!.seq)
        expect(emulator.user(A)).toMatchObject({ blocked: true, blockedBy: "api" })
        expect(emulator.user(A)!.comment).toContain("event 2")
      },
      { seed: { users: [seedUser(1)], fileActivity: rows(A, "192.0.2.31", "2025-11-03T15:10:00Z") } }
    )
  })

  it("re-blocks a user an admin unblocked in the same pass when repairDrift is on", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator, { repairDrift: true })
        expect((await w.append([adsLine(1, "192.0.2.31")])).code).toBe(0)
        expect((await w.reconcile()).code).toBe(0)
        emulator.unblockByAdmin(A)
        expect(emulator.user(A)!.blocked).toBe(false)
        emulator.resetCounts()
        const repaired = await w.reconcile()
        expect(repaired.code, repaired.stdout + repaired.stderr).toBe(0)
        const events = await w.events()
        expect(ofType(events, "UserBlockLifted").map((e) => e.payload)).toEqual([{ userId: A, repair: true }])
        const changed = ofType(events, "UserBlockChanged")
        expect(changed.map((e) => [e.payload.userId, e.payload.op])).toEqual([
          [A, "block"],
          [A, "block"]
        ])
        // The same pass: the lift and the repair are recorded together, after it.
        expect(changed[1]!.seq).toBeGreaterThan(ofType(events, "UserBlockLifted")[0]!.seq)
        expect(emulator.counts()["access"]).toBe(1)
        expect(emulator.user(A)).toMatchObject({ blocked: true, blockedBy: "api" })
        expect((await w.status()).ownedUsers).toEqual([A])
      },
      { seed: { users: [seedUser(1)], fileActivity: rows(A, "192.0.2.31", "2025-11-03T15:10:00Z") } }
    )
  })

  it("converges under injected failures: every user blocked exactly once", async () => {
    const ids = [1, 2, 3, 4, 5].map(sid)
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        const append = await w.append([1, 2, 3, 4, 5].map((n) => adsLine(n, `192.0.2.${40 + n}`)))
        expect(append.code, append.stderr).toBe(0)
        emulator.setFaults({ failRate: 0.3 })
        let runs = 0
        let last = { code: null as number | null, out: "" }
        while (runs < 6) {
          runs++
          const r = await w.reconcile()
          last = { code: r.code, out: r.stdout + r.stderr }
          if (r.code === 0) break
          expect(r.code, last.out).toBe(1)
        }
        expect(last.code, `after ${runs} runs: ${last.out}`).toBe(0)
        emulator.setFaults({})
        expect(emulator.counts()["access"]).toBe(5)
        const events = await w.events()
        const changed = ofType(events, "UserBlockChanged")
        expect(changed.map((e) => e.payload.op)).toEqual(["block", "block", "block", "block", "block"])
        expect(changed.map((e) => e.payload.userId).sort()).toEqual([...ids].sort())
        expect(ofType(events, "UserResolved")).toHaveLength(5)
        expect(ofType(events, "UserResolutionFailed")).toEqual([])
        expect(blockedIds(emulator)).toEqual([...ids].sort())
        expect(emulator.user(sid(9))!.blocked).toBe(false)
      },
      {
        seed: {
          users: [1, 2, 3, 4, 5, 9].map((n) => seedUser(n)),
          fileActivity: [1, 2, 3, 4, 5].flatMap((n) => rows(sid(n), `192.0.2.${40 + n}`, "2025-11-03T15:10:00Z", 2))
        }
      }
    )
  })

  it("fails with exit 1 naming the authentication problem on a wrong token, without printing it", async () => {
    const wrong = "xapp-WRONG-token-3f9d1c7a5b"
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator, {}, wrong)
        expect((await w.append([adsLine(1, "192.0.2.31")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(1)
        expect(r.stdout + r.stderr).toMatch(/auth|token|401/i)
        expect(r.stdout + r.stderr).toContain("not converged")
        expect(emulator.counts()["rejected"] ?? 0).toBeGreaterThan(0)
        expect(emulator.counts()["access"] ?? 0).toBe(0)
        expect(blockedIds(emulator)).toEqual([])
        const events = await w.events()
        // Not a failed resolution: tried again once the token is right.
        expect(ofType(events, "UserResolutionFailed")).toEqual([])
        const failures = ofType(events, "TargetChangeFailed")
        expect(failures.length).toBeGreaterThan(0)
        expect(failures[0]!.payload).toMatchObject({ target: "cryptospike", errorClass: "auth" })
        for (const e of events) expect(JSON.stringify(e)).not.toContain(wrong)

        // The same wrong token from the environment or the flag: also refused, also never printed.
        const viaEnv = await w.reconcile([], { env: { CRYPTOSPIKE_API_TOKEN: wrong }, config: w.writeConfig({ tokenFile: null }, "env.yaml") })
        expect(viaEnv.code).toBe(1)
        const viaFlag = await w.reconcile(["--cs-token", wrong])
        expect(viaFlag.code).toBe(1)

        // With the right token it converges.
        const { writeFileSync } = await import("node:fs")
        writeFileSync(w.tokenFile, `${emulator.token}\n`, { mode: 0o600 })
        const right = await w.reconcile()
        expect(right.code, right.stdout + right.stderr).toBe(0)
        expect(emulator.user(A)!.blocked).toBe(true)
      },
      { seed: { users: [seedUser(1)], fileActivity: rows(A, "192.0.2.31", "2025-11-03T15:10:00Z") } }
    )
  })
})
