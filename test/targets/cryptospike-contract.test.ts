/**
 * The CryptoSpike port's contract, run with the live client against the emulator over loopback:
 * everything paged through (no 50-row blind spot), names URL-encoded, blocked users included in
 * searches, the unblock state configurable, errors by reason.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { startCryptoSpikeEmulator, type CryptoSpikeEmulatorHandle } from "../../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import type { CryptoSpikeUsersService } from "../../src/targets/CryptoSpikeUsers.js"
import { makeLiveCryptoSpike } from "../../src/targets/cryptospike/LiveCryptoSpike.js"

const A = "S-1-5-21-1004336348-1177238915-682003330-1104"
const B = "S-1-5-21-1004336348-1177238915-682003330-1105"
const PLAIN_TLS = { ca: undefined, fingerprint: undefined, insecure: false }

const withEmulator = async <X>(options: Parameters<typeof startCryptoSpikeEmulator>[0], body: (e: CryptoSpikeEmulatorHandle) => Promise<X>) => {
  const emulator = await startCryptoSpikeEmulator(options)
  try {
    return await body(emulator)
  } finally {
    await emulator.close()
  }
}

const withClient = <X>(
  emulator: CryptoSpikeEmulatorHandle,
  use: (client: CryptoSpikeUsersService) => Effect.Effect<X, unknown>,
  overrides: { unblockState?: string; login?: boolean; token?: string } = {}
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        makeLiveCryptoSpike({
          url: emulator.url,
          auth:
            overrides.login === true
              ? { kind: "login", username: emulator.login.username, password: Redacted.make(emulator.login.password) }
              : { kind: "token", token: Redacted.make(overrides.token ?? emulator.token) },
          tls: PLAIN_TLS,
          unblockState: overrides.unblockState ?? "UNBLOCKED",
          timeoutMs: 5000,
          retries: 6,
          rateLimit: 1000
        }),
        use
      )
    ) as Effect.Effect<X, never>
  )

const users = [
  { userId: A, userName: "jdoe", userPrincipalName: "jdoe@corp.example" },
  { userId: B, userName: "j doe & co", userPrincipalName: "jdoe2@corp.example", blocked: true, blockedBy: "cryptospike" as const }
]

describe("CryptoSpike contract", () => {
  it("pages through all file activity of an address in the window: the 51st row's user is seen", () => {
    const at = Date.parse("2026-01-01T10:00:00Z")
    const rows = Array.from({ length: 120 }, (_, i) => ({
      userId: i === 50 ? B : A,
      ip: "192.0.2.31",
      time: new Date(at + i * 1000).toISOString(),
      path: `/share/f${i}`,
      action: "write"
    }))
    const outside = { userId: B, ip: "192.0.2.31", time: "2026-01-01T12:00:00Z", path: "/late", action: "write" }
    const other = { userId: B, ip: "192.0.2.99", time: "2026-01-01T10:00:30Z", path: "/x", action: "read" }
    return withEmulator({ seed: { users, fileActivity: [...rows, outside, other] } }, async (emulator) => {
      const activity = await withClient(emulator, (c) => c.fileActivity("192.0.2.31", "2026-01-01T09:30:00.000Z", "2026-01-01T10:05:00.000Z"))
      expect(activity).toHaveLength(120)
      expect([...new Set(activity.map((r) => r.userId))].sort()).toEqual([A, B])
    })
  })

  it("searches names URL-encoded, blocked users included", () =>
    withEmulator({ seed: { users, fileActivity: [] } }, async (emulator) => {
      const found = await withClient(emulator, (c) => c.searchUsers("j doe & co"))
      expect(found.map((u) => [u.userId, u.blocked])).toEqual([[B, true]])
      const domain = await withClient(emulator, (c) => c.searchUsers("CORP\\jdoe"))
      expect(Array.isArray(domain)).toBe(true)
    }))

  it("lists every blocked user across pages, whoever blocked them", () => {
    const many = Array.from({ length: 250 }, (_, i) => ({
      userId: `S-1-5-21-1-2-3-${2000 + i}`,
      userName: `u${i}`,
      userPrincipalName: `u${i}@corp.example`,
      blocked: true,
      blockedBy: (i % 2 === 0 ? "cryptospike" : "admin") as "cryptospike" | "admin"
    }))
    return withEmulator({ seed: { users: [...users, ...many], fileActivity: [] } }, async (emulator) => {
      const blocked = await withClient(emulator, (c) => c.blockedUsers)
      expect(blocked).toHaveLength(251)
    })
  })

  for (const listShape of ["page", "items", "array"] as const) {
    it(`reads lists answered in the known shape "${listShape}", every page`, () => {
      const many = Array.from({ length: 250 }, (_, i) => ({ userId: `S-1-5-21-1-2-3-${2000 + i}`, userName: `u${i}`, userPrincipalName: `u${i}@corp.example`, blocked: true }))
      const rows = Array.from({ length: 120 }, (_, i) => ({ userId: A, ip: "192.0.2.31", time: new Date(Date.parse("2026-01-01T10:00:00Z") + i * 1000).toISOString() }))
      return withEmulator({ seed: { users: many, fileActivity: rows }, listShape }, async (emulator) => {
        expect(await withClient(emulator, (c) => c.blockedUsers)).toHaveLength(250)
        expect(await withClient(emulator, (c) => c.fileActivity("192.0.2.31", "2026-01-01T09:30:00.000Z", "2026-01-01T10:05:00.000Z"))).toHaveLength(120)
      })
    })
  }

  for (const listShape of ["unknown", "split"] as const) {
    it(`refuses lists answered in the unknown shape "${listShape}", quoting the answer`, () =>
      withEmulator({ seed: { users, fileActivity: [] }, listShape }, async (emulator) => {
        const listed = await withClient(emulator, (c) => Effect.either(c.blockedUsers))
        expect(Either.isLeft(listed) && listed.left.reason).toBe("protocol")
        expect(Either.isLeft(listed) && listed.left.message).toContain(`in a shape mitigator does not know`)
        expect(Either.isLeft(listed) && listed.left.message).toContain(listShape === "unknown" ? 'the answer begins: {"content":[{"userId":' : 'the answer begins: {"items":[],"content":[')
      }))
  }

  it("blocks with the comment and unblocks with the configured state", () =>
    withEmulator({ seed: { users, fileActivity: [] }, unblockState: "ACTIVE" }, async (emulator) => {
      await withClient(emulator, (c) => c.block(A, "mitigator: Flowmon ADS event 4711 SSHDICT"), { unblockState: "ACTIVE" })
      expect(emulator.user(A)).toMatchObject({ blocked: true, comment: "mitigator: Flowmon ADS event 4711 SSHDICT" })
      const wrongState = await withClient(emulator, (c) => Effect.either(c.unblock(A)), { unblockState: "UNBLOCKED" })
      expect(Either.isLeft(wrongState) && wrongState.left.reason).toBe("rejected")
      await withClient(emulator, (c) => c.unblock(A), { unblockState: "ACTIVE" })
      expect(emulator.user(A)).toMatchObject({ blocked: false })
    }))

  it("logs in with a user name and password as the alternative to an app token", () =>
    withEmulator({ seed: { users, fileActivity: [] } }, async (emulator) => {
      const blocked = await withClient(emulator, (c) => c.blockedUsers, { login: true })
      expect(blocked.map((u) => u.userId)).toEqual([B])
    }))

  it("a rejected token is an auth error, reported at once; transient failures are retried", () =>
    withEmulator({ seed: { users, fileActivity: [] } }, async (emulator) => {
      const bad = await withClient(emulator, (c) => Effect.either(c.blockedUsers), { token: "xapp-wrong" })
      expect(Either.isLeft(bad) && bad.left.reason).toBe("auth")
      expect(JSON.stringify(bad)).not.toContain(emulator.token)
      emulator.setFaults({ failRate: 1 })
      setTimeout(() => emulator.setFaults({ failRate: 0 }), 300)
      const blocked = await withClient(emulator, (c) => c.blockedUsers)
      expect(blocked.map((u) => u.userId)).toEqual([B])
    }))
})
