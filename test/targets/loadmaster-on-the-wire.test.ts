/**
 * What the LoadMaster client puts on the wire, read from the emulator's request log: the exact
 * add and delete requests (method, path, body, headers) for APIv2 and APIv1, on the global list
 * and a virtual service's, in both address forms, against a strict emulator (unknown parameters,
 * a host in the other form, a comment over 64 characters or outside [A-Za-z0-9 ._-] refused).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import pkg from "../../package.json" with { type: "json" }
import {
  startLoadMasterEmulator,
  type LoadMasterEmulatorHandle,
  type LoadMasterEmulatorOptions,
  type RecordedRequest
} from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { GLOBAL_SCOPE, type AclScope, type LoadMasterAclService } from "../../src/targets/LoadMasterAcl.js"
import { makeLiveLoadMaster, type LiveLoadMasterOptions } from "../../src/targets/loadmaster/LiveLoadMaster.js"
import { entryComment, type AddressForm } from "../../src/targets/loadmaster/wire.js"

const VS3: AclScope = { kind: "vs", index: 3 }
const PLAIN_TLS = { ca: undefined, fingerprint: undefined, insecure: false }
const COMMENT = entryComment({ instance: "fm1", seq: 4711, product: "ads", method: "SSHDICT" })

/** A firmware as strict as any the sources describe, wanting hosts in `form`. */
const strictFirmware = (form: AddressForm): LoadMasterEmulatorOptions => ({
  hostForm: form,
  strictParameters: true,
  commentMaxLength: 64,
  commentCharset: "plain"
})

const withClient = <A>(
  emulator: LoadMasterEmulatorHandle,
  options: Partial<LiveLoadMasterOptions>,
  use: (client: LoadMasterAclService) => Effect.Effect<A, unknown>
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
          timeoutMs: 5000,
          retries: 0,
          ...options
        }),
        use
      )
    ) as Effect.Effect<A, never>
  )

/** Given a strict firmware wanting `form`, when the client adds a host globally and on VS 3 and removes both as listed. */
const addAndRemove = async (api: "v2" | "v1", form: AddressForm) => {
  const emulator = await startLoadMasterEmulator(strictFirmware(form))
  try {
    const sent = await withClient(emulator, { api, addressForm: form }, (client) =>
      Effect.gen(function* () {
        const global = yield* client.add(GLOBAL_SCOPE, "203.0.113.9/32", COMMENT)
        const vs = yield* client.add(VS3, "2001:db8::9/128", COMMENT)
        const network = yield* client.add(GLOBAL_SCOPE, "198.51.100.0/24", COMMENT)
        const listedGlobal = yield* client.list(GLOBAL_SCOPE)
        const listedVs = yield* client.list(VS3)
        yield* client.remove(GLOBAL_SCOPE, listedGlobal.find((e) => e.cidr === "203.0.113.9/32")!)
        yield* client.remove(VS3, listedVs[0]!)
        return { global, vs, network, listedGlobal, listedVs }
      })
    )
    const mutations = emulator.requests().filter((r) => !/list/.test(r.url + r.body))
    return { emulator, sent, mutations, left: { global: emulator.entries("global"), vs: emulator.entries(3) } }
  } finally {
    await emulator.close()
  }
}

const expectManners = (requests: ReadonlyArray<RecordedRequest>) => {
  for (const r of requests) {
    expect(r.headers["user-agent"]).toBe(`mitigator/${pkg.version}`)
    expect(r.headers["traceparent"]).toBeUndefined()
    expect(r.headers["b3"]).toBeUndefined()
    expect(r.headers["authorization"]).toBeUndefined()
  }
}

describe("LoadMaster on the wire: APIv2", () => {
  it("cidr form: hosts go out as /32 and /128, deletes send what was listed, nothing else is in the bodies", async () => {
    const { emulator, sent, mutations, left } = await addAndRemove("v2", "cidr")
    const key = emulator.apiKey
    expect(mutations.map((r) => [r.method, r.url, r.body])).toEqual([
      ["POST", "/accessv2", `{"cmd":"aclcontrol","add":"block","addr":"203.0.113.9/32","comment":"mitigator fm1 4711 ads SSHDICT","apikey":"${key}"}`],
      ["POST", "/accessv2", `{"cmd":"aclcontrol","addvs":"block","vs":"3","addr":"2001:db8::9/128","comment":"mitigator fm1 4711 ads SSHDICT","apikey":"${key}"}`],
      ["POST", "/accessv2", `{"cmd":"aclcontrol","add":"block","addr":"198.51.100.0/24","comment":"mitigator fm1 4711 ads SSHDICT","apikey":"${key}"}`],
      ["POST", "/accessv2", `{"cmd":"aclcontrol","del":"block","addr":"203.0.113.9/32","apikey":"${key}"}`],
      ["POST", "/accessv2", `{"cmd":"aclcontrol","delvs":"block","vs":"3","addr":"2001:db8::9/128","apikey":"${key}"}`]
    ])
    for (const r of mutations) expect(r.headers["content-type"]).toBe("application/json")
    expectManners(emulator.requests())
    // The client says what it sent (recorded as the entry's listed form).
    expect([sent.global, sent.vs, sent.network]).toEqual(["203.0.113.9/32", "2001:db8::9/128", "198.51.100.0/24"])
    expect(left).toEqual({ global: [{ addr: "198.51.100.0/24", comment: COMMENT }], vs: [] })
  })

  it("bare form: hosts go out bare, networks keep their prefix, deletes send the bare form the appliance lists", async () => {
    const { emulator, sent, mutations, left } = await addAndRemove("v2", "bare")
    const key = emulator.apiKey
    expect(mutations.map((r) => r.body)).toEqual([
      `{"cmd":"aclcontrol","add":"block","addr":"203.0.113.9","comment":"mitigator fm1 4711 ads SSHDICT","apikey":"${key}"}`,
      `{"cmd":"aclcontrol","addvs":"block","vs":"3","addr":"2001:db8::9","comment":"mitigator fm1 4711 ads SSHDICT","apikey":"${key}"}`,
      `{"cmd":"aclcontrol","add":"block","addr":"198.51.100.0/24","comment":"mitigator fm1 4711 ads SSHDICT","apikey":"${key}"}`,
      `{"cmd":"aclcontrol","del":"block","addr":"203.0.113.9","apikey":"${key}"}`,
      `{"cmd":"aclcontrol","delvs":"block","vs":"3","addr":"2001:db8::9","apikey":"${key}"}`
    ])
    expectManners(emulator.requests())
    expect([sent.global, sent.vs, sent.network]).toEqual(["203.0.113.9", "2001:db8::9", "198.51.100.0/24"])
    // Listed bare, read as the same blocks.
    expect(sent.listedGlobal.map((e) => [e.listed, e.cidr])).toEqual([
      ["203.0.113.9", "203.0.113.9/32"],
      ["198.51.100.0/24", "198.51.100.0/24"]
    ])
    expect(left).toEqual({ global: [{ addr: "198.51.100.0/24", comment: COMMENT }], vs: [] })
  })
})

describe("LoadMaster on the wire: APIv1", () => {
  it("cidr form: every call is a GET on /access/aclcontrol, the key as the apikey parameter, no body, spaces as %20", async () => {
    const { emulator, sent, mutations, left } = await addAndRemove("v1", "cidr")
    const key = emulator.apiKey
    expect(mutations.map((r) => [r.method, r.url, r.body])).toEqual([
      ["GET", `/access/aclcontrol?add=block&addr=203.0.113.9/32&comment=mitigator%20fm1%204711%20ads%20SSHDICT&apikey=${key}`, ""],
      ["GET", `/access/aclcontrol?addvs=block&vs=3&addr=2001:db8::9/128&comment=mitigator%20fm1%204711%20ads%20SSHDICT&apikey=${key}`, ""],
      ["GET", `/access/aclcontrol?add=block&addr=198.51.100.0/24&comment=mitigator%20fm1%204711%20ads%20SSHDICT&apikey=${key}`, ""],
      ["GET", `/access/aclcontrol?del=block&addr=203.0.113.9/32&apikey=${key}`, ""],
      ["GET", `/access/aclcontrol?delvs=block&vs=3&addr=2001:db8::9/128&apikey=${key}`, ""]
    ])
    // Listing too goes through APIv1 (XML): no /accessv2 call at all.
    expect(emulator.requests().filter((r) => r.url.startsWith("/accessv2"))).toEqual([])
    expectManners(emulator.requests())
    expect([sent.global, sent.vs]).toEqual(["203.0.113.9/32", "2001:db8::9/128"])
    expect(sent.listedGlobal.map((e) => [e.listed, e.comment])).toEqual([
      ["203.0.113.9/32", COMMENT],
      ["198.51.100.0/24", COMMENT]
    ])
    expect(left).toEqual({ global: [{ addr: "198.51.100.0/24", comment: COMMENT }], vs: [] })
  })

  it("bare form: hosts go out bare and are deleted as listed", async () => {
    const { emulator, mutations, left } = await addAndRemove("v1", "bare")
    const key = emulator.apiKey
    expect(mutations.map((r) => r.url)).toEqual([
      `/access/aclcontrol?add=block&addr=203.0.113.9&comment=mitigator%20fm1%204711%20ads%20SSHDICT&apikey=${key}`,
      `/access/aclcontrol?addvs=block&vs=3&addr=2001:db8::9&comment=mitigator%20fm1%204711%20ads%20SSHDICT&apikey=${key}`,
      `/access/aclcontrol?add=block&addr=198.51.100.0/24&comment=mitigator%20fm1%204711%20ads%20SSHDICT&apikey=${key}`,
      `/access/aclcontrol?del=block&addr=203.0.113.9&apikey=${key}`,
      `/access/aclcontrol?delvs=block&vs=3&addr=2001:db8::9&apikey=${key}`
    ])
    expectManners(emulator.requests())
    expect(left).toEqual({ global: [{ addr: "198.51.100.0/24", comment: COMMENT }], vs: [] })
  })

  it("reads the virtual services and the packet filter state through APIv1 too", async () => {
    const emulator = await startLoadMasterEmulator({ strictParameters: true, packetFilter: { enabled: false, mutationsWhenOff: "succeed" } })
    try {
      const [services, enabled] = await withClient(emulator, { api: "v1" }, (client) => Effect.all([client.listVirtualServices, client.packetFilterEnabled]))
      expect(services.map((s) => [s.index, s.address, s.port])).toEqual([
        [1, "10.0.0.10", "443"],
        [3, "10.0.0.11", "80"]
      ])
      expect(enabled).toBe(false)
      expect(emulator.requests().map((r) => r.url.replace(/apikey=[0-9a-f]+/, "apikey=KEY"))).toEqual([
        "/access/listvs?apikey=KEY",
        "/access/aclcontrol/isenabled?apikey=KEY"
      ])
    } finally {
      await emulator.close()
    }
  })
})

describe("LoadMaster on the wire: the key in an APIv1 query", () => {
  it("an appliance that echoes the request (its query holds the key) gets the key back out of the error", async () => {
    const emulator = await startLoadMasterEmulator({ faults: { echoRequests: true } })
    try {
      const result = await withClient(emulator, { api: "v1" }, (client) => Effect.either(client.add(GLOBAL_SCOPE, "203.0.113.9/32", COMMENT)))
      expect(Either.isLeft(result) && result.left.reason).toBe("rejected")
      // The echo did carry it: the request log shows the key in the query.
      expect(emulator.requests()[0]!.url).toContain(`apikey=${emulator.apiKey}`)
      expect(JSON.stringify(result)).not.toContain(emulator.apiKey)
    } finally {
      await emulator.close()
    }
  })
})

describe("LoadMaster on the wire: a form the firmware refuses", () => {
  for (const [configured, firmware, message] of [
    ["bare", "cidr", "Invalid network specification prefix is invalid for specified network"],
    ["cidr", "bare", "Invalid address"]
  ] as const) {
    it(`the ${configured} form against firmware that wants ${firmware}: the add is refused with the appliance's message, not retried`, async () => {
      const emulator = await startLoadMasterEmulator(strictFirmware(firmware))
      try {
        const result = await withClient(emulator, { addressForm: configured, retries: 3 }, (client) => Effect.either(client.add(GLOBAL_SCOPE, "203.0.113.9/32", COMMENT)))
        expect(Either.isLeft(result) && result.left.reason).toBe("rejected")
        expect(Either.isLeft(result) && result.left.message).toBe(message)
        expect(emulator.counts()["add"]).toBe(1)
        expect(emulator.entries("global")).toEqual([])
      } finally {
        await emulator.close()
      }
    })
  }
})
