/**
 * The retry policy of both appliance clients for a refused connection (http.ts
 * `retriesWithinCall`), which depends on who waits for the call:
 *
 * - `retryRefused: false` (plan, doctor, append's immediate apply, the operator commands: a
 *   person or Flowmon waits): reported at once, one attempt; it stays retryable for the next call
 *   and the next pass.
 * - `retryRefused: true` (reconcile, and the clients' default): retried with the backoff of the
 *   other transient failures, so a LoadMaster restarting its web service or an HA pair failing
 *   over mid-pass does not fail every change at once.
 *
 * Both are checked under a TestClock that only the test moves: a retry waits out its backoff on
 * that clock, so a call that returns without the clock moving made exactly one attempt, and a
 * call that is found waiting on a backoff after a refusal is retrying it. A reset connection is
 * retried in either mode.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as net from "node:net"
import { retriesWithinCall } from "../../src/targets/http.js"
import { GLOBAL_SCOPE } from "../../src/targets/LoadMasterAcl.js"
import { makeLiveCryptoSpike } from "../../src/targets/cryptospike/LiveCryptoSpike.js"
import { makeLiveLoadMaster } from "../../src/targets/loadmaster/LiveLoadMaster.js"
import { startLoadMasterEmulator } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"

const PLAIN_TLS = { ca: undefined, fingerprint: undefined, insecure: false }
const KEY = "0f3c9a1e5b7d42c8a6e1f09b3d5c7e2a"
const CS_TOKEN = "xapp-eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"
/** Per call, far beyond any backoff: a pending sleep shorter than this is a backoff, not the call's timeout. */
const CALL_TIMEOUT_MS = 3_600_000

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

/** Real time passing for the network, while the effect's clock is the TestClock. */
const breathe = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))

/**
 * Waits (in real time, for at most a minute) until the call has ended, or has failed an attempt
 * and waits out a backoff on the TestClock; says which.
 */
const endedOrBackingOff = <A, E>(call: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 12_000; i++) {
      if (Option.isSome(yield* Fiber.poll(call))) return "ended" as const
      const now = yield* Clock.currentTimeMillis
      if (Chunk.some(yield* TestClock.sleeps(), (wakeAt) => wakeAt < now + CALL_TIMEOUT_MS / 2)) return "backing off" as const
      yield* breathe
    }
    return "neither within a minute" as const
  })

/** When the pending backoff ends, on the TestClock. */
const backoffEnd = Effect.gen(function* () {
  const now = yield* Clock.currentTimeMillis
  return Math.min(...Chunk.toReadonlyArray(yield* TestClock.sleeps()).filter((wakeAt) => wakeAt < now + CALL_TIMEOUT_MS / 2))
})

describe("retriesWithinCall", () => {
  it("retries what may pass within seconds; a refusal only when nobody waits; never what is not retryable at all", () => {
    for (const retryRefused of [true, false]) {
      expect(retriesWithinCall({ retryable: true }, retryRefused)).toBe(true)
      expect(retriesWithinCall({ retryable: false }, retryRefused)).toBe(false)
    }
    expect(retriesWithinCall({ retryable: true, refused: true }, true)).toBe(true)
    expect(retriesWithinCall({ retryable: true, refused: true }, false)).toBe(false)
  })
})

describe("retryRefused false (plan, append, operator commands): a refused connection is reported at once", () => {
  it.effect("LoadMaster: one attempt (under a clock that never moves), retryable for later, said as 'connection refused'", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(closedPort)
      const lm = yield* makeLiveLoadMaster({
        url: `http://127.0.0.1:${port}`,
        apiKey: Redacted.make(KEY),
        api: "v2",
        rateLimit: 1000,
        tls: PLAIN_TLS,
        retries: 4,
        retryRefused: false
      })
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
        auth: { kind: "token", token: Redacted.make(CS_TOKEN) },
        tls: PLAIN_TLS,
        unblockState: "UNBLOCKED",
        retries: 4,
        rateLimit: 1000,
        retryRefused: false
      })
      const error = yield* Effect.flip(cs.blockedUsers)
      expect(error.refused).toBe(true)
      expect(error.retryable).toBe(true)
      expect(error.message).toBe(`cannot reach CryptoSpike at 127.0.0.1:${port}: connection refused (ECONNREFUSED)`)
    }).pipe(Effect.scoped)
  )
})

describe("retryRefused true (reconcile, the default): a refused connection is retried like other transient failures", () => {
  it.effect("LoadMaster: refused, waits out a backoff, and the call succeeds once the LoadMaster listens again (a restarted web service)", () =>
    Effect.gen(function* () {
      // Given a LoadMaster whose port refuses connections
      const port = yield* Effect.promise(closedPort)
      const lm = yield* makeLiveLoadMaster({ url: `http://127.0.0.1:${port}`, apiKey: Redacted.make(KEY), api: "v2", rateLimit: 1000, tls: PLAIN_TLS, retries: 4, timeoutMs: CALL_TIMEOUT_MS })

      // When a list is called, it is refused and the call waits out a backoff instead of failing
      const call = yield* Effect.fork(lm.list(GLOBAL_SCOPE))
      expect(yield* endedOrBackingOff(call)).toBe("backing off")

      // Then, once the LoadMaster listens again on that port, the retry gets its answer
      yield* Effect.acquireRelease(Effect.promise(() => startLoadMasterEmulator({ port, apiKey: KEY })), (emulator) => Effect.promise(emulator.close))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(call)).toEqual([])
    }).pipe(Effect.scoped)
  )

  it.effect("LoadMaster with 2 retries: three refusals (the clock moved past each backoff), then the refusal is reported", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(closedPort)
      const lm = yield* makeLiveLoadMaster({ url: `http://127.0.0.1:${port}`, apiKey: Redacted.make(KEY), api: "v2", rateLimit: 1000, tls: PLAIN_TLS, retries: 2, timeoutMs: CALL_TIMEOUT_MS })
      const call = yield* Effect.fork(lm.list(GLOBAL_SCOPE))
      // Two backoffs waited out, one per retry, then the call ends with the refusal. The clock
      // moves to the end of each backoff only (the next one, longer, is not waited out with it).
      for (const _ of [1, 2]) {
        expect(yield* endedOrBackingOff(call)).toBe("backing off")
        yield* TestClock.setTime(yield* backoffEnd)
      }
      expect(yield* endedOrBackingOff(call)).toBe("ended")
      const error = yield* Effect.flip(Fiber.join(call))
      expect(error.refused).toBe(true)
      expect(error.message).toBe(`cannot reach the LoadMaster at 127.0.0.1:${port}: connection refused (ECONNREFUSED)`)
    }).pipe(Effect.scoped)
  )

  it.effect("CryptoSpike: refused, the call waits out a backoff rather than failing", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(closedPort)
      const cs = yield* makeLiveCryptoSpike({
        url: `http://127.0.0.1:${port}`,
        auth: { kind: "token", token: Redacted.make(CS_TOKEN) },
        tls: PLAIN_TLS,
        unblockState: "UNBLOCKED",
        retries: 4,
        rateLimit: 1000,
        timeoutMs: CALL_TIMEOUT_MS,
        retryRefused: true
      })
      const call = yield* Effect.fork(cs.blockedUsers)
      expect(yield* endedOrBackingOff(call)).toBe("backing off")
      yield* Fiber.interrupt(call)
    }).pipe(Effect.scoped)
  )
})

describe("a reset connection is retried within the call in either mode", () => {
  it.live("LoadMaster with 2 retries and retryRefused false: 3 connections, then the reset is reported", () =>
    Effect.gen(function* () {
      const server = yield* Effect.acquireRelease(Effect.promise(resettingServer), (s) => Effect.promise(s.close))
      const lm = yield* makeLiveLoadMaster({ url: server.url, apiKey: Redacted.make(KEY), api: "v2", rateLimit: 1000, tls: PLAIN_TLS, retries: 2, retryRefused: false })
      const error = yield* Effect.flip(lm.list(GLOBAL_SCOPE))
      expect(error.reason).toBe("transport")
      expect(error.refused).toBeUndefined()
      expect(server.connections()).toBe(3)
    }).pipe(Effect.scoped)
  )
})
