/**
 * The LoadMaster port's contract, run with the live client against the emulator over loopback,
 * in every list-response shape the spec allows and in APIv1 (XML) listing mode.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as path from "node:path"
import { startLoadMasterEmulator, type LoadMasterEmulatorHandle } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { GLOBAL_SCOPE, type AclScope, type LoadMasterAclService } from "../../src/targets/LoadMasterAcl.js"
import { makeLiveLoadMaster, type LiveLoadMasterOptions } from "../../src/targets/loadmaster/LiveLoadMaster.js"
import { tempDir } from "../support/cli.js"

const VS3: AclScope = { kind: "vs", index: 3 }
const PLAIN_TLS = { ca: undefined, fingerprint: undefined, insecure: false }

/** A client for `emulator` (rate limit lifted unless given), used inside `use`. */
const withClient = <A>(
  emulator: LoadMasterEmulatorHandle,
  use: (client: LoadMasterAclService) => Effect.Effect<A, unknown>,
  overrides: Partial<LiveLoadMasterOptions> = {}
): Promise<A> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        makeLiveLoadMaster({
          url: emulator.url,
          apiKey: Redacted.make(emulator.apiKey),
          api: "v2",
          rateLimit: 1000,
          tls: PLAIN_TLS,
          timeoutMs: 2000,
          retries: 4,
          ...overrides
        }),
        use
      )
    ) as Effect.Effect<A, never>
  )

const emulators: LoadMasterEmulatorHandle[] = []
const start = async (options: Parameters<typeof startLoadMasterEmulator>[0] = {}) => {
  const e = await startLoadMasterEmulator(options)
  emulators.push(e)
  return e
}
const closeAll = async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()))
}

for (const profile of [
  { name: "v2, nested list shape", listShape: "nested", api: "v2" },
  { name: "v2, top-level IP array (kreemer)", listShape: "kreemer", api: "v2" },
  { name: "v2, Acl string array (pier)", listShape: "pier", api: "v2" },
  { name: "v2, nested list wrapped in Data", listShape: "data", api: "v2" },
  { name: "v2, nested list wrapped in Success.Data", listShape: "success", api: "v2" },
  { name: "v2, old firmware's bare addresses", listShape: "old", api: "v2" },
  { name: "v1 (XML)", listShape: "nested", api: "v1" },
  { name: "v1 (XML), old firmware's bare <addr> children", listShape: "old", api: "v1" }
] as const) {
  describe(`LoadMaster contract: ${profile.name}`, () => {
    it("adds, lists and removes entries on the global list and a virtual service's list", async () => {
      const emulator = await start({ listShape: profile.listShape })
      try {
        const result = await withClient(
          emulator,
          (client) =>
            Effect.gen(function* () {
              const empty = yield* client.list(GLOBAL_SCOPE)
              yield* client.add(GLOBAL_SCOPE, "192.0.2.31/32", "mitigator fm1 1 ads SCANS")
              yield* client.add(GLOBAL_SCOPE, "198.51.100.0/24", "mitigator fm1 2 ads SCANS")
              yield* client.add(GLOBAL_SCOPE, "2001:db8::a1/128", "mitigator fm1 3 ads SCANS")
              yield* client.add(VS3, "192.0.2.31/32", "mitigator fm1 4 ads SCANS")
              const global = yield* client.list(GLOBAL_SCOPE)
              const vs = yield* client.list(VS3)
              yield* client.remove(GLOBAL_SCOPE, global.find((e) => e.cidr === "198.51.100.0/24")!)
              const after = yield* client.list(GLOBAL_SCOPE)
              return { empty, global, vs, after }
            }),
          { api: profile.api }
        )
        expect(result.empty).toEqual([])
        expect(result.global.map((e) => e.cidr)).toEqual(["192.0.2.31/32", "198.51.100.0/24", "2001:db8::a1/128"])
        // The pier and old shapes carry no comments; the others do.
        expect(result.global[0]!.comment).toBe(profile.listShape === "pier" || profile.listShape === "old" ? null : "mitigator fm1 1 ads SCANS")
        expect(result.vs.map((e) => e.cidr)).toEqual(["192.0.2.31/32"])
        expect(result.after.map((e) => e.cidr)).toEqual(["192.0.2.31/32", "2001:db8::a1/128"])
        // Hosts go on the wire with a prefix (older firmware refuses bare hosts).
        expect(emulator.entries({ kind: "global" }).map((e) => e.addr)).toContain("192.0.2.31/32")
      } finally {
        await closeAll()
      }
    })
  })
}

describe("LoadMaster client: errors by reason", () => {
  it("a wrong API key is an auth error, reported at once and never retried", async () => {
    const emulator = await start()
    try {
      const result = await withClient(emulator, (client) => Effect.either(client.list(GLOBAL_SCOPE)), {
        apiKey: Redacted.make("wrong-key")
      })
      expect(Either.isLeft(result) && result.left.reason).toBe("auth")
      expect(emulator.counts()["list"] ?? 0).toBeLessThanOrEqual(1)
      expect(JSON.stringify(result)).not.toContain(emulator.apiKey)
    } finally {
      await closeAll()
    }
  })

  it("a disabled API (404) is reported as such", async () => {
    const emulator = await start({ apiEnabled: false })
    try {
      const result = await withClient(emulator, (client) => Effect.either(client.list(GLOBAL_SCOPE)))
      expect(Either.isLeft(result) && result.left.reason).toBe("api-disabled")
      expect(Either.isLeft(result) && result.left.message).toMatch(/API/)
    } finally {
      await closeAll()
    }
  })

  it("an unknown virtual service is rejected (422), not retried", async () => {
    const emulator = await start()
    try {
      const result = await withClient(emulator, (client) => Effect.either(client.add({ kind: "vs", index: 99 }, "192.0.2.1/32", "x")))
      expect(Either.isLeft(result) && result.left.reason).toBe("rejected")
      expect(emulator.counts()["addvs"] ?? 0).toBe(1)
    } finally {
      await closeAll()
    }
  })

  it("transient failures (503, dropped connections) are retried until they pass", async () => {
    const emulator = await start()
    try {
      emulator.setFaults({ failRate: 1 })
      setTimeout(() => emulator.setFaults({ failRate: 0 }), 300)
      const entries = await withClient(emulator, (client) =>
        Effect.zipRight(client.add(GLOBAL_SCOPE, "192.0.2.9/32", "mitigator"), client.list(GLOBAL_SCOPE))
      , { retries: 8 })
      expect(entries.map((e) => e.cidr)).toEqual(["192.0.2.9/32"])
    } finally {
      await closeAll()
    }
  })

  it("lists the virtual services and reads the packet filter state", async () => {
    const emulator = await start({ packetFilter: { enabled: false, mutationsWhenOff: "succeed" } })
    try {
      const result = await withClient(emulator, (client) => Effect.all([client.listVirtualServices, client.packetFilterEnabled]))
      expect(result[0].map((vs) => vs.index)).toEqual([1, 3])
      expect(result[1]).toBe(false)
    } finally {
      await closeAll()
    }
  })
})

describe("LoadMaster client: TLS", () => {
  it("trusts a self-signed appliance through a CA file, or a pinned fingerprint, and refuses a wrong pin", async () => {
    const emulator = await start({ tls: true })
    try {
      const dir = tempDir()
      const caFile = path.join(dir, "lm-ca.pem")
      fs.writeFileSync(caFile, emulator.certificatePem!)
      const viaCa = await withClient(emulator, (client) => client.list(GLOBAL_SCOPE), {
        tls: { ca: caFile, fingerprint: undefined, insecure: false }
      })
      expect(viaCa).toEqual([])
      const viaPin = await withClient(emulator, (client) => client.list(GLOBAL_SCOPE), {
        tls: { ca: undefined, fingerprint: emulator.fingerprint!, insecure: false }
      })
      expect(viaPin).toEqual([])
      // A wrong pin refuses the appliance in the handshake of the first call, before any request
      // (and its key) is written; not retried, as a certificate will not change within the call.
      const wrongPin = await withClient(emulator, (client) => Effect.either(client.list(GLOBAL_SCOPE)), {
        tls: { ca: undefined, fingerprint: "0".repeat(64), insecure: false }
      })
      expect(Either.isLeft(wrongPin) && wrongPin.left.message).toMatch(/fingerprint [0-9a-f]{64}, not the pinned 0{64}: refusing to connect/)
      expect(Either.isLeft(wrongPin) && wrongPin.left.reason).toBe("auth")
      // The wrong pin stops before any request: the emulator saw none.
      expect(emulator.counts()["list"] ?? 0).toBe(2)
      const unverified = await withClient(emulator, (client) => Effect.either(client.list(GLOBAL_SCOPE)))
      // Without a CA or a pin a self-signed appliance is not trusted, and that is not retried.
      expect(Either.isLeft(unverified) && unverified.left.reason).toBe("auth")
      expect(Either.isLeft(unverified) && unverified.left.message).toMatch(/not trusted.*tls\.ca/)
    } finally {
      await closeAll()
    }
  })
})
