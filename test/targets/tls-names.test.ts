/**
 * The name a certificate is checked against: `tls.serverName` for an appliance reached by an
 * address its certificate does not carry, and what the client says when the name is what fails
 * (a certificate without subjectAltName above all: `tls.ca` is no fix there). Real HTTPS to the
 * LoadMaster emulator serving certificates made with openssl.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { startLoadMasterEmulator, type LoadMasterEmulatorHandle } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import type { TlsSettings } from "../../src/config/ConfigFile.js"
import { GLOBAL_SCOPE } from "../../src/targets/LoadMasterAcl.js"
import { makeLiveLoadMaster } from "../../src/targets/loadmaster/LiveLoadMaster.js"
import { inspectCertificate } from "../../src/targets/tls.js"
import { makeCertificate, type TestCertificate } from "../support/certificates.js"

const running: LoadMasterEmulatorHandle[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()))
})

/** An HTTPS LoadMaster on 127.0.0.1 presenting `certificate`. */
const serving = async (certificate: TestCertificate) => {
  const lm = await startLoadMasterEmulator({ tls: true, tlsCert: certificate.certPem, tlsKey: certificate.keyPem })
  running.push(lm)
  return lm
}

const tlsOf = (settings: Partial<TlsSettings>): TlsSettings => ({ ca: undefined, fingerprint: undefined, insecure: false, ...settings })

/** Lists the global block list with `tls`: the entries, or the error. */
const list = (lm: LoadMasterEmulatorHandle, tls: TlsSettings) =>
  Effect.runPromise(
    Effect.either(
      Effect.scoped(
        Effect.flatMap(
          makeLiveLoadMaster({ url: lm.url, apiKey: Redacted.make(lm.apiKey), api: "v2", rateLimit: 1000, tls, timeoutMs: 5000, retries: 0 }),
          (client) => client.list(GLOBAL_SCOPE)
        )
      )
    )
  )

describe("tls.serverName", () => {
  it("checks the certificate against the configured name instead of the URL's address", async () => {
    // Given an appliance reached at 127.0.0.1 whose certificate carries only its DNS name
    const certificate = makeCertificate("/CN=lm1.corp.example", "DNS:lm1.corp.example")
    const lm = await serving(certificate)

    // When the client trusts its CA but checks the URL's address, then the name fails, and the message says what to set
    const byAddress = await list(lm, tlsOf({ ca: certificate.caFile }))
    expect(Either.isLeft(byAddress) && byAddress.left.reason).toBe("auth")
    const message = Either.isLeft(byAddress) ? byAddress.left.message : ""
    expect(message).toContain("ERR_TLS_CERT_ALTNAME_INVALID")
    expect(message).toContain("the certificate does not name 127.0.0.1 (it names DNS:lm1.corp.example)")
    expect(message).toContain("set loadmaster.tls.serverName: lm1.corp.example")
    expect(message).not.toContain("set loadmaster.tls.ca")

    // When serverName names it, then the same CA verifies and the call goes through
    expect(await list(lm, tlsOf({ ca: certificate.caFile, serverName: "lm1.corp.example" }))).toEqual(Either.right([]))

    // When serverName names something else, then it is refused, naming that name
    const other = await list(lm, tlsOf({ ca: certificate.caFile, serverName: "lm2.corp.example" }))
    expect(Either.isLeft(other) && other.left.message).toContain("does not name lm2.corp.example")
    expect(lm.counts()["list"]).toBe(1)
  })

  it("a certificate without subjectAltName: with an address for CN only a pin helps, and the message says so instead of pointing at tls.ca", async () => {
    const certificate = makeCertificate("/CN=127.0.0.1")
    const lm = await serving(certificate)
    const viaCa = await list(lm, tlsOf({ ca: certificate.caFile }))
    const message = Either.isLeft(viaCa) ? viaCa.left.message : ""
    expect(message).toContain("does not name 127.0.0.1 (it has no subjectAltName (subject CN=127.0.0.1)), and no name it carries can be checked: pin it with loadmaster.tls.fingerprint")
    expect(message).not.toContain("set loadmaster.tls.ca")
    // The pin trusts exactly that certificate.
    expect(await list(lm, tlsOf({ fingerprint: lm.fingerprint! }))).toEqual(Either.right([]))
  })

  it("a certificate without subjectAltName whose CN is a DNS name: serverName set to it verifies (the CN is read when there is no subjectAltName)", async () => {
    const certificate = makeCertificate("/O=Kemp/CN=lm-legacy.corp.example")
    const lm = await serving(certificate)
    const viaCa = await list(lm, tlsOf({ ca: certificate.caFile }))
    expect(Either.isLeft(viaCa) && viaCa.left.message).toContain("set loadmaster.tls.serverName: lm-legacy.corp.example")
    expect(await list(lm, tlsOf({ ca: certificate.caFile, serverName: "lm-legacy.corp.example" }))).toEqual(Either.right([]))
  })
})

describe("inspectCertificate (what doctor shows)", () => {
  it("reports the presented certificate's fingerprint, subject and subjectAltNames, and why it is not verified", async () => {
    const certificate = makeCertificate("/CN=lm1.corp.example", "DNS:lm1.corp.example,IP:10.0.0.5")
    const lm = await serving(certificate)
    const inspect = (tls: TlsSettings) => Effect.runPromise(inspectCertificate(new URL(lm.url), tls, 5000, "loadmaster"))

    const systemCas = await inspect(tlsOf({}))
    expect(systemCas.certificate).toEqual({ sha256: lm.fingerprint, subject: "CN=lm1.corp.example", subjectAltNames: ["DNS:lm1.corp.example", "IP Address:10.0.0.5"] })
    expect(systemCas.problem).toBe("a self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT) (checked against the system's CAs)")

    const wrongName = await inspect(tlsOf({ ca: certificate.caFile }))
    expect(wrongName.problem).toContain("IP: 127.0.0.1 is not in the cert's list: 10.0.0.5")
    expect(wrongName.advice).toContain("set loadmaster.tls.serverName: lm1.corp.example")

    expect((await inspect(tlsOf({ ca: certificate.caFile, serverName: "lm1.corp.example" }))).problem).toBeUndefined()
    expect((await inspect(tlsOf({ fingerprint: lm.fingerprint!.replaceAll(":", "").toLowerCase() }))).problem).toBeUndefined()
    expect((await inspect(tlsOf({ fingerprint: "0".repeat(64) }))).problem).toBe(`its sha256 fingerprint is not the pinned ${"0".repeat(64)}`)
    // Inspecting sends no request.
    expect(lm.requests()).toEqual([])
  })
})
