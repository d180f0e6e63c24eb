/**
 * Answers both emulators can give instead of a real one, to test how a client copes with an
 * appliance that misbehaves in what it says rather than in whether it answers:
 *
 * - `echoRequests`: every call is refused with an error whose text echoes the request: each
 *   credential it carries (an `apikey`, `apipass` or `password` parameter, an `x-auth-token` or
 *   `Authorization` header) first, in the forms appliances and the proxies in front of them
 *   echo and log such values (as it is, URL-encoded, form-encoded, JSON-escaped, base64,
 *   base64url, and as the base64 of a Basic header's `user:value`), then the method and URL as
 *   received, every header and the body. Deliberately hostile: a client that quotes an error
 *   body quotes every one of those forms unless it takes them out.
 * - `hugeBody`: every call is answered 200 with a body of `bytes` bytes, streamed in chunks
 *   (without a Content-Length unless `announce`), so a client that reads an answer whole must
 *   cap it. The emulator stops sending when the client hangs up.
 */
import type * as http from "node:http"

export interface OddAnswers {
  readonly echoRequests?: boolean | undefined
  readonly hugeBody?: { readonly bytes: number; readonly announce?: boolean | undefined } | undefined
}

const CREDENTIAL_PARAMS = ["apikey", "apipass", "password", "token"]

/** The forms an echo shows each credential in (see the module comment); no Basic form without a `user`. */
export const echoForms = (value: string, user: string): ReadonlyArray<string> => [
  value,
  encodeURIComponent(value),
  new URLSearchParams({ k: value }).toString().slice(2),
  JSON.stringify(value).slice(1, -1),
  Buffer.from(value).toString("base64"),
  Buffer.from(value).toString("base64url"),
  ...(user === "" ? [] : [Buffer.from(`${user}:${value}`).toString("base64")])
]

/**
 * The text of an echo: `params` are the request's parameters as the emulator read them (query
 * and body), `user` the user name a Basic header would carry (`bal` on a LoadMaster).
 */
export const echoText = (req: http.IncomingMessage, params: Readonly<Record<string, string>>, body: string, user: string): string => {
  const credentials: Array<[string, string]> = []
  for (const [name, value] of Object.entries(params)) if (CREDENTIAL_PARAMS.includes(name.toLowerCase())) credentials.push([name, value])
  for (const name of ["x-auth-token", "authorization"]) {
    const value = req.headers[name]
    if (typeof value === "string") credentials.push([name, value.replace(/^(Bearer|Basic)\s+/i, "")])
  }
  const echoed = credentials.map(([name, value]) => `${name}: ${echoForms(value, user).join(" ")}`).join("; ")
  const headers = Object.entries(req.headers)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : (v ?? "")}`)
    .join("; ")
  return `request rejected (${echoed}) ${req.method ?? ""} ${req.url ?? ""} (${headers}) ${body}`
}

const CHUNK = Buffer.alloc(64 * 1024, "x")

/** Answers 200 with `bytes` bytes of a JSON text that never ends, as fast as the client reads. */
export const sendHugeBody = (res: http.ServerResponse, huge: NonNullable<OddAnswers["hugeBody"]>): void => {
  res.writeHead(200, { "Content-Type": "application/json", ...(huge.announce === true ? { "Content-Length": huge.bytes } : {}) })
  const head = Buffer.from('{"code":200,"status":"ok","Blocklist":{"IP":[],"junk":"')
  let left = huge.bytes
  const next = (): void => {
    while (left > 0 && !res.destroyed) {
      const piece = left === huge.bytes ? head.subarray(0, Math.min(head.length, left)) : CHUNK.subarray(0, Math.min(CHUNK.length, left))
      left -= piece.length
      if (!res.write(piece)) {
        res.once("drain", next)
        return
      }
    }
    if (left === 0 && !res.destroyed) res.end()
  }
  next()
}
