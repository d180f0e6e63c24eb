import { describe, expect, it } from "vitest"
import { formatListen, parseListen } from "../../src/domain/ListenAddress.js"

describe("serve's listen address", () => {
  it("reads IPv4, bracketed IPv6 and localhost, and knows which are loopback", () => {
    expect(parseListen("127.0.0.1:8787")).toEqual({ ok: true, value: { host: "127.0.0.1", port: 8787, loopback: true } })
    expect(parseListen("127.8.9.10:1")).toEqual({ ok: true, value: { host: "127.8.9.10", port: 1, loopback: true } })
    expect(parseListen("localhost:8787")).toEqual({ ok: true, value: { host: "127.0.0.1", port: 8787, loopback: true } })
    expect(parseListen("[::1]:8443")).toEqual({ ok: true, value: { host: "::1", port: 8443, loopback: true } })
    expect(parseListen("0.0.0.0:8443")).toEqual({ ok: true, value: { host: "0.0.0.0", port: 8443, loopback: false } })
    expect(parseListen("[::]:8443")).toEqual({ ok: true, value: { host: "::", port: 8443, loopback: false } })
    expect(parseListen("192.0.2.10:8443")).toEqual({ ok: true, value: { host: "192.0.2.10", port: 8443, loopback: false } })
  })

  it("refuses host names, a missing or out-of-range port, and unbracketed IPv6", () => {
    for (const text of ["mitigator.example:8787", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "::1:8787", ":8787", "127.0.0.1:80a"]) {
      expect(parseListen(text).ok, text).toBe(false)
    }
  })

  it("writes an address back as a URL would", () => {
    expect(formatListen({ host: "::1", port: 8443 })).toBe("[::1]:8443")
    expect(formatListen({ host: "127.0.0.1", port: 8787 })).toBe("127.0.0.1:8787")
  })
})
