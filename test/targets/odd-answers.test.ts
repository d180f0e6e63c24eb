/**
 * The clients facing odd answers, over real HTTP on loopback: an answer above the byte cap is a
 * `too-large` error for that call (announced: refused unread; streamed: reading stops at the cap
 * and the connection is dropped), and a pinned-TLS appliance that is down does not stop the
 * client from being made: its calls fail as an outage (retryable) until it is back.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { startCryptoSpikeEmulator } from "../../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import { generateSelfSignedCertificate, startLoadMasterEmulator } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { GLOBAL_SCOPE } from "../../src/targets/LoadMasterAcl.js"
import { makeLiveCryptoSpike } from "../../src/targets/cryptospike/LiveCryptoSpike.js"
import { makeLiveLoadMaster } from "../../src/targets/loadmaster/LiveLoadMaster.js"

const PLAIN_TLS = { ca: undefined, fingerprint: undefined, insecure: false }
const MiB = 1024 * 1024

const lmList = (url: string, overrides: Partial<Parameters<typeof makeLiveLoadMaster>[0]> = {}) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        makeLiveLoadMaster({ url, apiKey: Redacted.make("0f3c9a1e5b7d42c8a6e1f09b3d5c7e2a"), api: "v2", rateLimit: 1000, tls: PLAIN_TLS, timeoutMs: 10_000, retries: 0, ...overrides }),
        (lm) => Effect.either(lm.list(GLOBAL_SCOPE))
      )
    )
  )

/** A server that streams `bytes` to every request, recording how much it wrote and whether the client hung up. */
const streamingServer = async (bytes: number) => {
  const seen = { written: 0, hungUp: false, finished: false }
  const chunk = Buffer.alloc(64 * 1024, "x")
  const server = http.createServer((req, res) => {
    req.resume()
    res.writeHead(200, { "content-type": "application/json" })
    res.on("close", () => {
      seen.hungUp = !res.writableFinished
    })
    const next = (): void => {
      while (seen.written < bytes && !res.destroyed) {
        seen.written += chunk.length
        if (!res.write(chunk)) return void res.once("drain", next)
      }
      if (!res.destroyed) {
        seen.finished = true
        res.end()
      }
    }
    next()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

describe("answers above the byte cap", () => {
  it("a streamed answer: reading stops at the cap, the connection is dropped, the call fails too-large", async () => {
    // Given an appliance that sends 64 MiB without announcing it
    const server = await streamingServer(64 * MiB)
    try {
      // When the client (cap 1 MiB) lists
      const result = await lmList(server.url, { maxBodyBytes: MiB })
      // Then the call fails with too-large, not retryable
      expect(Either.isLeft(result) && result.left.reason).toBe("too-large")
      expect(Either.isLeft(result) && result.left.retryable).toBe(false)
      expect(Either.isLeft(result) && result.left.message).toMatch(/sent an answer larger than 1 MiB \(stopped reading there\)/)
      // and the client hung up long before the end (the socket buffers hold a few MiB at most)
      await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 10_000
        const poll = () => (server.seen.hungUp ? resolve() : Date.now() > deadline ? reject(new Error("the client never hung up")) : setTimeout(poll, 20))
        poll()
      })
      expect(server.seen.finished).toBe(false)
      expect(server.seen.written).toBeLessThan(64 * MiB)
    } finally {
      await server.close()
    }
  })

  it("an announced answer above the cap is refused unread; one below it is read", async () => {
    const lm = await startLoadMasterEmulator({ apiKey: "0f3c9a1e5b7d42c8a6e1f09b3d5c7e2a", faults: { hugeBody: { bytes: 20 * MiB, announce: true } } })
    try {
      const refused = await lmList(lm.url)
      expect(Either.isLeft(refused) && refused.left.reason).toBe("too-large")
      expect(Either.isLeft(refused) && refused.left.message).toContain("sent an answer of 20 MiB, more than the 16 MiB accepted (not read)")
      lm.setFaults({})
      expect(Either.isRight(await lmList(lm.url))).toBe(true)
    } finally {
      await lm.close()
    }
  })

  it("CryptoSpike: the same cap, the same error", async () => {
    const cs = await startCryptoSpikeEmulator({ faults: { hugeBody: { bytes: 20 * MiB } } })
    try {
      const result = await Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(
            makeLiveCryptoSpike({ url: cs.url, auth: { kind: "token", token: Redacted.make(cs.token) }, tls: PLAIN_TLS, unblockState: "UNBLOCKED", retries: 0, rateLimit: 1000 }),
            (client) => Effect.either(client.blockedUsers)
          )
        )
      )
      expect(Either.isLeft(result) && result.left.reason).toBe("too-large")
      expect(Either.isLeft(result) && result.left.message).toContain("sent an answer larger than 16 MiB")
    } finally {
      await cs.close()
    }
  })
})

describe("a pinned-TLS appliance that is down", () => {
  it("the client is made; its calls fail as an outage until the appliance is back, then work", async () => {
    const cert = await generateSelfSignedCertificate(["127.0.0.1"])
    const first = await startLoadMasterEmulator({ tls: true, tlsCert: cert.certPem, tlsKey: cert.keyPem })
    const { url, port, apiKey, fingerprint } = first
    await first.close()
    const tls = { ca: undefined, fingerprint: fingerprint!, insecure: false }
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          // Given the appliance down, when the client is made, then it is (no request was possible)
          const lm = yield* makeLiveLoadMaster({ url, apiKey: Redacted.make(apiKey), api: "v2", rateLimit: 1000, tls, timeoutMs: 5000, retries: 0 })
          // and a call fails as an outage: transport, retryable
          const down = yield* Effect.either(lm.list(GLOBAL_SCOPE))
          expect(Either.isLeft(down) && down.left.reason).toBe("transport")
          expect(Either.isLeft(down) && down.left.retryable).toBe(true)
          // When the appliance is back (same certificate, same port), then the same client works
          const again = yield* Effect.promise(() => startLoadMasterEmulator({ tls: true, tlsCert: cert.certPem, tlsKey: cert.keyPem, port, apiKey }))
          yield* Effect.addFinalizer(() => Effect.promise(() => again.close()))
          again.seed("global", "203.0.113.7/32", "x")
          const up = yield* lm.list(GLOBAL_SCOPE)
          expect(up.map((e) => e.cidr)).toEqual(["203.0.113.7/32"])
        })
      )
    )
  })
})
