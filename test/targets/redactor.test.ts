/**
 * The redactor takes every form of a secret out of appliance text: as it is, URL-encoded (either
 * hex case, `+` for a blank), JSON- and XML-escaped, base64 and base64url (padded or not), and
 * a Basic header's `user:password`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import { makeRedactor, REDACTED, secretForms } from "../../src/targets/Redactor.js"

// Characters that every encoding changes (a blank, +, /, =, &, a quote, %, a backslash, <), and a
// length and ending that make base64 padded and different from base64url.
const KEY = `S3cret Key+/=&"%\\<x~~?`
const b64 = (s: string) => Buffer.from(s).toString("base64")
const b64url = (s: string) => Buffer.from(s).toString("base64url")

/** Every form the issue names, each different from the others. */
const forms: ReadonlyArray<readonly [string, string]> = [
  ["raw", KEY],
  ["encodeURIComponent", encodeURIComponent(KEY)],
  ["encodeURIComponent, lower-case hex", encodeURIComponent(KEY).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())],
  ["form encoding (+ for a blank)", new URLSearchParams({ k: KEY }).toString().slice(2)],
  ["JSON string", JSON.stringify(KEY).slice(1, -1)],
  ["XML text", KEY.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;")],
  ["base64", b64(KEY)],
  ["base64 without padding", b64(KEY).replace(/=+$/, "")],
  ["base64url", b64url(KEY)],
  ["Basic user:password", b64(`bal:${KEY}`)]
]

describe("Redactor", () => {
  it("the forms are different from each other (so each test below tests something)", () => {
    expect(new Set(forms.map(([, f]) => f)).size).toBe(forms.length)
  })

  for (const [name, form] of forms) {
    it(`takes out the key ${name}`, () => {
      const redactor = makeRedactor([Redacted.make(KEY)], [{ user: "bal", password: Redacted.make(KEY) }])
      // Given an echo holding the key in that form, between other text
      const echo = `{"message":"bad request: GET /access/x?apikey=${form}&y=1 Authorization: Basic ${form}"}`
      expect(echo).toContain(form)
      // When redacted, then the form is gone and the rest is kept
      const out = redactor.redact(echo)
      expect(out).not.toContain(form)
      expect(out).toContain(`apikey=${REDACTED}&y=1`)
      for (const [other, f] of forms) expect(out, `${other} survives`).not.toContain(f)
    })
  }

  it("takes out the key inside base64 of a longer text (an echoed request body), whatever its offset", () => {
    const redactor = makeRedactor([Redacted.make(KEY)])
    for (const prefix of ['{"apikey":"', '{"apikey": "', '{"apikey":  "']) {
      for (const encoding of ["base64", "base64url"] as const) {
        // Given an appliance that echoes the request body in base64
        const body = Buffer.from(`${prefix}${KEY}","cmd":"addblock"}`).toString(encoding)
        const echo = `{"message":"body b64=${body}"}`
        // When redacted, then nothing of it decodes to the key any more
        const out = redactor.redact(echo)
        expect(out).toContain(REDACTED)
        const left = out.slice(out.indexOf("b64=") + 4).split(REDACTED)
        for (const piece of left) expect(Buffer.from(piece, encoding).toString("latin1")).not.toContain(KEY.slice(0, 8))
      }
    }
  })

  it("leaves text without a secret as it is (the same string)", () => {
    const redactor = makeRedactor([Redacted.make(KEY)])
    const text = '{"code":200,"Blocklist":{"IP":[{"addr":"203.0.113.7/32","comment":"100% mitigator"}]},"status":"ok"}'
    expect(redactor.redact(text)).toBe(text)
    expect(makeRedactor([]).redact(text)).toBe(text)
  })

  it("a session token learnt later is taken out too, and so is every secret of several", () => {
    const session = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    const redactor = makeRedactor([Redacted.make("password-1"), Redacted.make("xapp-token-2")]).with(Redacted.make(session))
    expect(redactor.redact(`a password-1 b xapp-token-2 c Bearer ${session} d ${b64(session)}`)).toBe(
      `a ${REDACTED} b ${REDACTED} c Bearer ${REDACTED} d ${REDACTED}`
    )
  })

  it("a form that holds another form is replaced whole", () => {
    const forms = secretForms("a b")
    expect(forms).toContain("a%20b")
    expect(forms).toContain("a+b")
    expect(makeRedactor([Redacted.make("a b")]).redact("x=a%20b y=a+b z=a b")).toBe(`x=${REDACTED} y=${REDACTED} z=${REDACTED}`)
  })
})
