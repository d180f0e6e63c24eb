/**
 * How both appliance clients talk, seen from the appliance's side (a plain server on loopback
 * that records every request): a `User-Agent: mitigator/<version>`, no tracing headers, and one
 * kept-alive connection for all the calls of a process.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import pkg from "../../package.json" with { type: "json" }
import { GLOBAL_SCOPE } from "../../src/targets/LoadMasterAcl.js"
import { makeLiveCryptoSpike } from "../../src/targets/cryptospike/LiveCryptoSpike.js"
import { makeLiveLoadMaster } from "../../src/targets/loadmaster/LiveLoadMaster.js"

const PLAIN_TLS = { ca: undefined, fingerprint: undefined, insecure: false }

/** A server answering `body` to everything, recording each request's headers and connection. */
const recordingServer = async (body: unknown) => {
  const seen: Array<{ headers: http.IncomingHttpHeaders; socket: unknown }> = []
  const server = http.createServer((req, res) => {
    seen.push({ headers: req.headers, socket: req.socket })
    req.resume()
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify(body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

const expectManners = (seen: ReadonlyArray<{ headers: http.IncomingHttpHeaders; socket: unknown }>, calls: number) => {
  expect(seen).toHaveLength(calls)
  for (const { headers } of seen) {
    expect(headers["user-agent"]).toBe(`mitigator/${pkg.version}`)
    expect(headers["traceparent"]).toBeUndefined()
    expect(headers["b3"]).toBeUndefined()
  }
  expect(new Set(seen.map((s) => s.socket)).size, "connections used").toBe(1)
}

describe("the appliance clients' manners on the wire", () => {
  it("LoadMaster: a User-Agent, no tracing headers, one kept-alive connection for every call", async () => {
    const server = await recordingServer({ code: 200, Blocklist: { IP: [] }, status: "ok" })
    try {
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const lm = yield* makeLiveLoadMaster({ url: server.url, apiKey: Redacted.make("0f3c9a1e5b7d42c8a6e1f09b3d5c7e2a"), api: "v2", rateLimit: 1000, tls: PLAIN_TLS, timeoutMs: 5000, retries: 0 })
            yield* lm.list(GLOBAL_SCOPE)
            yield* lm.add(GLOBAL_SCOPE, "192.0.2.31/32", "mitigator fm1 1 ads SCANS")
            yield* lm.list(GLOBAL_SCOPE)
          })
        ) as Effect.Effect<void>
      )
      expectManners(server.seen, 3)
    } finally {
      await server.close()
    }
  })

  it("CryptoSpike: the same", async () => {
    const server = await recordingServer({ items: [], totalItems: 0 })
    try {
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const cs = yield* makeLiveCryptoSpike({
              url: server.url,
              auth: { kind: "token", token: Redacted.make("xapp-eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl") },
              tls: PLAIN_TLS,
              unblockState: "UNBLOCKED",
              timeoutMs: 5000,
              retries: 0,
              rateLimit: 1000
            })
            yield* cs.blockedUsers
            yield* cs.searchUsers("jdoe")
          })
        ) as Effect.Effect<void>
      )
      expectManners(server.seen, 2)
    } finally {
      await server.close()
    }
  })
})
