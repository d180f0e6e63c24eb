/**
 * What mitigator tells CryptoSpike, and what it keeps of CryptoSpike's users (issue 18, item 5),
 * checked through the emulator's request log: the block comments for ADS and IDS carry at least
 * what Progress' proven script writes; resolved users keep their names in events, `status` and
 * `replay` (the why); a name search honours the domain. Real CLI processes, the emulator on
 * loopback.
 */
import { describe, expect, it } from "@effect/vitest"
import { DEFAULT_MAX_COMMENT_LENGTH, type CryptoSpikeEmulatorHandle } from "../../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import { adsLineWithUser, csWorkspace, seedUser, sid, withCryptoSpike } from "../support/cryptospike.js"
import { adsLine, idsLine } from "../support/fixtures.js"

type Events = Awaited<ReturnType<ReturnType<typeof csWorkspace>["events"]>>
const ofType = (events: Events, type: string) => events.filter((e) => e.type === type)

const A = sid(1)
const B = sid(2)

const rows = (userId: string, ip: string, from: string, n = 2) =>
  Array.from({ length: n }, (_, i) => ({ userId, ip, time: new Date(Date.parse(from) + i * 10_000).toISOString(), path: `\\\\fs01\\share\\doc${i}.docx`, action: "WRITE" }))

/** The comments of the BLOCKED requests the emulator received, as sent. */
const blockComments = (emulator: CryptoSpikeEmulatorHandle) =>
  emulator
    .accessLog()
    .filter((r) => r.userAccessState === "BLOCKED")
    .map((r) => r.comment ?? "")

describe("CryptoSpike block comments, as the emulator received them", () => {
  it("ADS: event id, method, source, user identity, targets, data feed, the ownership marker and the user blocked", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLineWithUser(4711, "192.0.2.31", "CORP\\user1")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const decided = ofType(await w.events(), "BlockDecided")[0]!
        const [comment, ...others] = blockComments(emulator)
        expect(others).toEqual([])
        expect(comment!.split("\n")).toEqual([
          `mitigator seq=${decided.seq}: Flowmon ADS event 4711`,
          "Method: SSHDICT - SSH attack",
          "Source: 192.0.2.31",
          "User identity: CORP\\user1",
          "Targets: 198.51.100.40, 198.51.100.41",
          "Data feed: LAN",
          "Perspective: Security issues",
          `Blocked user: user1@corp.example.test (${A})`,
          `Blocked until: ${decided.payload.until}`
        ])
        // What was sent is what was recorded, and what CryptoSpike now holds.
        expect(ofType(await w.events(), "UserBlockChanged")[0]!.payload.comment).toBe(comment)
        expect(emulator.holders(A)).toEqual([{ blocked: true, by: "api", comment }])
      },
      { seed: { users: [seedUser(1), seedUser(2)], fileActivity: rows(A, "192.0.2.31", "2025-11-03T15:10:00Z") } }
    )
  })

  it("IDS: event id, signature id and message, source and destination with ports, protocol, category, severity", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator, { ids: true })
        expect((await w.append([idsLine(9001, "192.0.2.50")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const decided = ofType(await w.events(), "BlockDecided")[0]!
        expect(blockComments(emulator).map((c) => c.split("\n"))).toEqual([
          [
            `mitigator seq=${decided.seq}: Flowmon IDS event 9001`,
            "Signature: [2024217] ET POLICY example signature",
            "Source: 192.0.2.50:51514 -> Destination: 198.51.100.7:443",
            "Protocol: TCP, Category: Potential Corporate Privacy Violation, Severity: 2",
            "Log source: 203.0.113.10 (eth2)",
            `Blocked user: user2@corp.example.test (${B})`,
            `Blocked until: ${decided.payload.until}`
          ]
        ])
      },
      { seed: { users: [seedUser(1), seedUser(2)], fileActivity: rows(B, "192.0.2.50", "2025-11-03T15:15:00Z") } }
    )
  })

  it("a long IDS signature stays within the emulator's comment limit, the marker and expiry kept", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator, { ids: true })
        const long = idsLine(9002, "192.0.2.50").replace("ET POLICY example signature", `ET POLICY ${"very long signature ".repeat(120)}`)
        expect((await w.append([long])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const [comment] = blockComments(emulator)
        expect(Array.from(comment!).length).toBeLessThanOrEqual(DEFAULT_MAX_COMMENT_LENGTH)
        expect(comment).toMatch(/^mitigator seq=\d+: Flowmon IDS event 9002\n/)
        expect(comment).toMatch(/\nBlocked until: \S+$/)
        expect(emulator.accessLog().map((a) => a.status)).toEqual([200])
      },
      { seed: { users: [seedUser(2)], fileActivity: rows(B, "192.0.2.50", "2025-11-03T15:15:00Z") } }
    )
  })
})

describe("CryptoSpike users keep their names", () => {
  it("in UserResolved, status and replay, looked up by the SID when the activity rows carry only ids", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLine(1, "192.0.2.31")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const resolved = ofType(await w.events(), "UserResolved")
        expect(resolved.map((e) => e.payload)).toMatchObject([
          { ip: "192.0.2.31", userId: A, userName: "CORP\\user1", userPrincipalName: "user1@corp.example.test", via: "file-activity" }
        ])
        const status = await w.status()
        expect(status.userBlocks).toMatchObject([{ userId: A, userName: "CORP\\user1", userPrincipalName: "user1@corp.example.test" }])
        const text = await w.cmd(["status"])
        expect(text.stdout).toContain(`  user1@corp.example.test (${A})  until`)
        const why = await w.run(["replay", "--db", w.db])
        expect(why.stdout).toContain(`user1@corp.example.test (${A})`)
        const log = await w.run(["replay", "--events", "--db", w.db])
        expect(log.stdout).toContain(`UserResolved\tthe user behind 192.0.2.31 (seen 2025-11-03T15:13:05.000Z) is user1@corp.example.test (${A}), found by file-activity`)
      },
      { activityRows: "id", seed: { users: [seedUser(1), seedUser(2)], fileActivity: rows(A, "192.0.2.31", "2025-11-03T15:10:00Z") } }
    )
  })
})

describe("a name search honours the domain", () => {
  it("OTHER\\user1 never blocks CORP\\user1: ambiguous, recorded with the candidate, its names and the name searched", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLineWithUser(1, "192.0.2.31", "OTHER\\user1")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const failed = ofType(await w.events(), "UserResolutionFailed")
        expect(failed.map((e) => e.payload)).toEqual([
          {
            ip: "192.0.2.31",
            at: "2025-11-03T15:13:05.000Z",
            reason: "ambiguous",
            candidates: [A],
            matches: [{ userId: A, userName: "CORP\\user1", userPrincipalName: "user1@corp.example.test" }],
            searched: "OTHER\\user1"
          }
        ])
        expect(emulator.accessLog()).toEqual([])
        expect(emulator.users().filter((u) => u.blocked)).toEqual([])
        const text = await w.cmd(["status"])
        expect(text.stdout).toContain(`not resolved: ambiguous named OTHER\\user1 (user1@corp.example.test (${A}))`)
      },
      { seed: { users: [seedUser(1), seedUser(2)] } }
    )
  })

  it("CORP\\user1 and user1@corp.example.test block CORP's user1, not OTHER's", async () => {
    const other = { userId: sid(7), userName: "OTHER\\user1", userPrincipalName: "user1@other.example.test" }
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator)
        expect((await w.append([adsLineWithUser(1, "192.0.2.31", "CORP\\user1"), adsLineWithUser(2, "192.0.2.32", "user1@corp.example.test")])).code).toBe(0)
        const r = await w.reconcile()
        expect(r.code, r.stdout + r.stderr).toBe(0)
        const resolved = ofType(await w.events(), "UserResolved")
        expect(resolved.map((e) => [e.payload.ip, e.payload.userId, e.payload.via])).toEqual([
          ["192.0.2.31", A, "name"],
          ["192.0.2.32", A, "name"]
        ])
        expect(emulator.users().filter((u) => u.blocked).map((u) => u.userId)).toEqual([A])
      },
      { seed: { users: [seedUser(1), other, seedUser(2)] } }
    )
  })
})
