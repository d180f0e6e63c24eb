/**
 * The retry policy of both appliance clients (http.ts `retriesWithinCall`): a refused connection
 * is reported at once, not retried within the call (nothing listens on that port; it stays
 * retryable for the next call and the next pass), while a reset connection is still retried.
 *
 * The refusal is checked under a TestClock that never moves: a retry would wait out its backoff
 * on that clock for ever, so a call that returns made exactly one attempt.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as net from "node:net"
import { retriesWithinCall } from "../../src/targets/http.js"
import { GLOBAL_SCOPE } from "../../src/targets/LoadMasterAcl.js"
import { makeLiveCryptoSpike } from "../../src/targets/cryptospike/LiveCryptoSpike.js"
import { makeLiveLoadMaster } from "../../src/targets/loadmaster/LiveLoadMaster.js"

const PLAIN_TLS = { ca: undefined, fingerprint: undefined, insecure: false }
const KEY = "0f3c9a1e5b7d42c8a6e1f09b3d5c7e2a"

/** A port nothing listens on (bound, then released). */
const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** A server that accepts each connection and destroys it at once (a reset), counting them. */
const resettingServer = async () => {
  let connections = 0
  const server = net.createServer((socket) => {
    connections++
    socket.resetAndDestroy()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

describe("retriesWithinCall", () => {
  it("retries what may pass within seconds, not a refusal, nor what is not retryable at all", () => {
    expect(retriesWithinCall({ retryable: true })).toBe(true)
    expect(retriesWithinCall({ retryable: true, refused: true })).toBe(false)
    expect(retriesWithinCall({ retryable: false })).toBe(false)
  })
})

describe("a refused connection is reported at once", () => {
  it.effect("LoadMaster: one attempt (under a clock that never moves), retryable for later, said as 'connection refused'", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(closedPort)
      const lm = yield* makeLiveLoadMaster({ url: `http://127.0.0.1:${port}`, apiKey: Redacted.make(KEY), api: "v2", rateLimit: 1000, tls: PLAIN_TLS, retries: 4 })
      const error = yield* Effect.flip(lm.list(GLOBAL_SCOPE))
      expect(error.reason).toBe("transport")
      expect(error.retryable).toBe(true)
      expect(error.refused).toBe(true)
      expect(error.message).toBe(`cannot reach the LoadMaster at 127.0.0.1:${port}: connection refused (ECONNREFUSED)`)
    }).pipe(Effect.scoped)
  )

  it.effect("CryptoSpike: the same", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(closedPort)
      const cs = yield* makeLiveCryptoSpike({
        url: `http://127.0.0.1:${port}`,
        auth: { kind: "token", token: Redacted.make("xapp-eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl") },
        tls: PLAIN_TLS,
        unblockState: "UNBLOCKED",
        retries: 4,
        rateLimit: 1000
      })
      const error = yield* Effect.flip(cs.blockedUsers)
      expect(error.refused).toBe(true)
      expect(error.retryable).toBe(true)
      expect(error.message).toBe(`cannot reach CryptoSpike at 127.0.0.1:${port}: connection refused (ECONNREFUSED)`)
    }).pipe(Effect.scoped)
  )
})

describe("a reset connection is still retried within the call", () => {
  it.live("LoadMaster with 2 retries: 3 connections, then the reset is reported", () =>
    Effect.gen(function* () {
      const server = yield* Effect.acquireRelease(Effect.promise(resettingServer), (s) => Effect.promise(s.close))
      const lm = yield* makeLiveLoadMaster({ url: server.url, apiKey: Redacted.make(KEY), api: "v2", rateLimit: 1000, tls: PLAIN_TLS, retries: 2 })
      const error = yield* Effect.flip(lm.list(GLOBAL_SCOPE))
      expect(error.reason).toBe("transport")
      expect(error.refused).toBeUndefined()
      expect(server.connections()).toBe(3)
    }).pipe(Effect.scoped)
  )
})
