/**
 * The LoadMaster emulator over real loopback HTTP(S): the envelopes and list shapes of the
 * research notes (shared/specs/loadmaster-api.md), its switchable behaviours, and its faults.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import * as path from "node:path"
import {
  certificateFingerprint,
  generateSelfSignedCertificate,
  loadState,
  startLoadMasterEmulator,
  type LoadMasterEmulatorHandle,
  type LoadMasterEmulatorOptions
} from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { tempDir } from "../support/cli.js"

const running: LoadMasterEmulatorHandle[] = []

const start = async (options: LoadMasterEmulatorOptions = {}): Promise<LoadMasterEmulatorHandle> => {
  const lm = await startLoadMasterEmulator(options)
  running.push(lm)
  return lm
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((lm) => lm.close()))
})

interface Answer {
  readonly status: number
  readonly contentType: string
  readonly text: string
  readonly json: any
}

const parse = (status: number, contentType: string, text: string): Answer => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status, contentType, text, json }
}

/** APIv2 over fetch, authenticated with the emulator's key unless `auth` says otherwise. */
const v2 = async (lm: LoadMasterEmulatorHandle, body: Record<string, unknown>, auth: Record<string, unknown> = { apikey: lm.apiKey }) => {
  const res = await fetch(`${lm.url}/accessv2`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, ...auth })
  })
  return parse(res.status, res.headers.get("content-type") ?? "", await res.text())
}

/** APIv1 over fetch: GET /access/<cmd>?params, with Basic auth unless `basic` is null. */
const v1 = async (
  lm: LoadMasterEmulatorHandle,
  cmd: string,
  params: Record<string, string> = {},
  basic: string | null = `bal:${lm.apiKey}`
) => {
  const headers: Record<string, string> = basic === null ? {} : { Authorization: `Basic ${Buffer.from(basic).toString("base64")}` }
  const res = await fetch(`${lm.url}/access/${cmd}?${new URLSearchParams(params)}`, { headers })
  const bytes = Buffer.from(await res.arrayBuffer())
  return parse(res.status, res.headers.get("content-type") ?? "", bytes.toString("latin1"))
}

/** One request on a fresh connection with node:http(s): a reset surfaces as "socket hang up". */
const raw = (lm: LoadMasterEmulatorHandle, body: Record<string, unknown>, ca?: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const data = JSON.stringify({ apikey: lm.apiKey, ...body })
    const url = new URL(`${lm.url}/accessv2`)
    const options: https.RequestOptions = {
      method: "POST",
      hostname: url.hostname,
      port: url.port,
      path: url.pathname,
      agent: false,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) },
      ...(ca === undefined ? {} : { ca })
    }
    const req = (url.protocol === "https:" ? https : http).request(options, (res) => {
      const chunks: Buffer[] = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve(parse(res.statusCode ?? 0, String(res.headers["content-type"] ?? ""), Buffer.concat(chunks).toString("utf8"))))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end(data)
  })

const OK = { code: 200, message: "Command completed ok", status: "ok" }
const failed = (message: string, code = 422) => ({ code, message, status: "fail" })

const add = (lm: LoadMasterEmulatorHandle, addr: string, comment = "", list = "block") =>
  v2(lm, { cmd: "aclcontrol", add: list, addr, comment })

describe("APIv2 global lists", () => {
  it("adds, lists (nested shape, insertion order) and deletes", async () => {
    const lm = await start()
    expect(lm.apiKey).toMatch(/^[0-9a-f]{32}$/)
    expect(lm.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

    const added = await add(lm, "203.0.113.7/32", "auto 2026-01-01")
    expect(added.status).toBe(200)
    expect(added.contentType).toMatch(/application\/json/)
    expect(added.text).toBe(JSON.stringify(OK))
    expect((await add(lm, "198.51.100.0/24")).json).toEqual(OK)
    expect((await add(lm, "2001:DB8::A1/128", "v6")).json).toEqual(OK)
    // The legacy name of the block list.
    expect((await v2(lm, { cmd: "aclcontrol", add: "black", addr: "192.0.2.1/32", comment: "legacy" })).json).toEqual(OK)

    const listed = await v2(lm, { cmd: "aclcontrol", list: "block" })
    expect(listed.status).toBe(200)
    expect(listed.text).toBe(
      JSON.stringify({
        code: 200,
        Blocklist: {
          IP: [
            { addr: "203.0.113.7/32", comment: "auto 2026-01-01" },
            { addr: "198.51.100.0/24", comment: "" },
            { addr: "2001:db8::a1/128", comment: "v6" },
            { addr: "192.0.2.1/32", comment: "legacy" }
          ]
        },
        status: "ok"
      })
    )

    expect((await v2(lm, { cmd: "aclcontrol", del: "block", addr: "198.51.100.0/24" })).json).toEqual(OK)
    expect(lm.entries("global").map((e) => e.addr)).toEqual(["203.0.113.7/32", "2001:db8::a1/128", "192.0.2.1/32"])
    expect(lm.entries({ kind: "global" }, "allow")).toEqual([])
  })

  it("keeps the allow list apart (allow and its legacy name white)", async () => {
    const lm = await start()
    expect((await add(lm, "192.0.2.0/24", "office", "allow")).json).toEqual(OK)
    expect((await v2(lm, { cmd: "aclcontrol", list: "white" })).json).toEqual({
      code: 200,
      Allowlist: { IP: [{ addr: "192.0.2.0/24", comment: "office" }] },
      status: "ok"
    })
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).json).toEqual({ code: 200, Blocklist: { IP: [] }, status: "ok" })
    expect(lm.entries("global", "allow")).toEqual([{ addr: "192.0.2.0/24", comment: "office" }])
  })

  it("accepts GET /accessv2 with query parameters, and apiuser/apipass", async () => {
    const lm = await start()
    const q = new URLSearchParams({ cmd: "aclcontrol", add: "block", addr: "203.0.113.9/32", apikey: lm.apiKey })
    const res = await fetch(`${lm.url}/accessv2?${q}`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual(OK)
    const byUser = await v2(lm, { cmd: "aclcontrol", list: "block" }, { apiuser: "bal", apipass: lm.apiKey })
    expect(byUser.json.Blocklist.IP).toEqual([{ addr: "203.0.113.9/32", comment: "" }])
  })
})

describe("APIv2 per-VS lists", () => {
  it("adds, lists and deletes by Index (string or number, vs or vsip) and by vip/port/prot", async () => {
    const lm = await start()
    expect((await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: "3", addr: "203.0.113.7/32", comment: "x" })).json).toEqual(OK)
    expect((await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: 3, addr: "203.0.113.8/32" })).json).toEqual(OK)
    expect((await v2(lm, { cmd: "aclcontrol", addvs: "block", vsip: "3", addr: "203.0.113.9/32" })).json).toEqual(OK)
    expect(
      (await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: "10.0.0.10", port: "443", prot: "tcp", addr: "198.51.100.1/32" })).json
    ).toEqual(OK)
    expect(
      (await v2(lm, { cmd: "aclcontrol", addvs: "block", vsip: "10.0.0.10", vsport: "443", vsprot: "tcp", addr: "198.51.100.2/32" })).json
    ).toEqual(OK)

    const listed = await v2(lm, { cmd: "aclcontrol", listvs: "block", vs: "3" })
    expect(listed.text).toBe(
      JSON.stringify({
        code: 200,
        VS: {
          VS_IP: "10.0.0.11",
          VS_Port: "80",
          VS_Protocol: "tcp",
          BlockList: {
            IP: [
              { addr: "203.0.113.7/32", comment: "x" },
              { addr: "203.0.113.8/32", comment: "" },
              { addr: "203.0.113.9/32", comment: "" }
            ]
          }
        },
        status: "ok"
      })
    )
    expect(lm.entries(1).map((e) => e.addr)).toEqual(["198.51.100.1/32", "198.51.100.2/32"])
    expect(lm.entries("global")).toEqual([])

    expect((await v2(lm, { cmd: "aclcontrol", delvs: "block", vs: "3", addr: "203.0.113.8/32" })).json).toEqual(OK)
    expect(lm.entries({ kind: "vs", index: 3 }).map((e) => e.addr)).toEqual(["203.0.113.7/32", "203.0.113.9/32"])

    expect((await v2(lm, { cmd: "aclcontrol", addvs: "allow", vs: "1", addr: "192.0.2.0/24" })).json).toEqual(OK)
    expect((await v2(lm, { cmd: "aclcontrol", listvs: "allow", vs: 1 })).json).toEqual({
      code: 200,
      VS: { VS_IP: "10.0.0.10", VS_Port: "443", VS_Protocol: "tcp", AllowList: { IP: [{ addr: "192.0.2.0/24", comment: "" }] } },
      status: "ok"
    })
  })
})

describe("list shapes", () => {
  it("kreemer: top-level IP array and the list name", async () => {
    const lm = await start({ listShape: "kreemer" })
    await add(lm, "203.0.113.7/32", "a")
    await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: "1", addr: "203.0.113.8/32", comment: "b" })
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).text).toBe(
      JSON.stringify({ code: 200, IP: [{ addr: "203.0.113.7/32", comment: "a" }], list: "block", status: "ok" })
    )
    expect((await v2(lm, { cmd: "aclcontrol", listvs: "block", vs: "1" })).json).toEqual({
      code: 200,
      IP: [{ addr: "203.0.113.8/32", comment: "b" }],
      list: "block",
      status: "ok"
    })
    expect((await v2(lm, { cmd: "aclcontrol", list: "allow" })).json).toEqual({ code: 200, IP: [], list: "allow", status: "ok" })
  })

  it("pier: Acl as an array of address strings; setOptions switches shapes at run time", async () => {
    const lm = await start({ listShape: "pier" })
    await add(lm, "203.0.113.7/32", "a")
    await add(lm, "198.51.100.0/24", "b")
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).text).toBe(
      JSON.stringify({ code: 200, Acl: ["203.0.113.7/32", "198.51.100.0/24"], status: "ok" })
    )
    lm.setOptions({ listShape: "nested" })
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).json.Blocklist.IP).toHaveLength(2)
  })
})

describe("list shapes: the wrappers and old firmware", () => {
  it("success: the nested list under Success.Data", async () => {
    const lm = await start({ listShape: "success" })
    await add(lm, "203.0.113.7/32", "a")
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).text).toBe(
      JSON.stringify({ code: 200, Success: { Data: { Blocklist: { IP: [{ addr: "203.0.113.7/32", comment: "a" }] } } }, status: "ok" })
    )
  })

  it("old: Blacklist (Whitelist) holding bare addr elements, no comments, in APIv2 and APIv1 alike", async () => {
    const lm = await start({ listShape: "old" })
    await add(lm, "203.0.113.7/32", "a")
    await add(lm, "198.51.100.0/24", "b")
    await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: "1", addr: "203.0.113.8/32", comment: "c" })
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).text).toBe(
      JSON.stringify({ code: 200, Blacklist: { addr: ["203.0.113.7/32", "198.51.100.0/24"] }, status: "ok" })
    )
    expect((await v2(lm, { cmd: "aclcontrol", list: "allow" })).json).toEqual({ code: 200, Whitelist: { addr: [] }, status: "ok" })
    expect((await v1(lm, "aclcontrol", { list: "block" })).text).toContain(
      "<Success><Data><Blacklist><addr>203.0.113.7/32</addr><addr>198.51.100.0/24</addr></Blacklist></Data></Success>"
    )
    expect((await v1(lm, "aclcontrol", { listvs: "block", vs: "1" })).text).toContain(
      "<VS><VS_IP>10.0.0.10</VS_IP><VS_Port>443</VS_Port><VS_Protocol>tcp</VS_Protocol><Blacklist><addr>203.0.113.8/32</addr></Blacklist></VS>"
    )
  })
})

describe("firmware profiles: address forms", () => {
  it("hostForm bare: a host with /32 or /128 is refused on add and delete, a bare one is listed bare; networks keep their prefix", async () => {
    const lm = await start({ hostForm: "bare" })
    expect((await add(lm, "203.0.113.7/32")).json).toEqual(failed("Invalid address"))
    expect((await add(lm, "2001:db8::1/128")).json).toEqual(failed("Invalid address"))
    expect((await add(lm, "203.0.113.7", "a")).json).toEqual(OK)
    expect((await add(lm, "2001:DB8::1", "b")).json).toEqual(OK)
    expect((await add(lm, "198.51.100.0/24", "c")).json).toEqual(OK)
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).json.Blocklist.IP).toEqual([
      { addr: "203.0.113.7", comment: "a" },
      { addr: "2001:db8::1", comment: "b" },
      { addr: "198.51.100.0/24", comment: "c" }
    ])
    expect((await v2(lm, { cmd: "aclcontrol", del: "block", addr: "203.0.113.7/32" })).json).toEqual(failed("Invalid address"))
    expect((await v2(lm, { cmd: "aclcontrol", del: "block", addr: "203.0.113.7" })).json).toEqual(OK)
    expect(lm.entries("global").map((e) => e.addr)).toEqual(["2001:db8::1", "198.51.100.0/24"])
  })

  it("hostForm cidr refuses bare hosts (as normaliseBareIpv4: false); listedHostForm as-sent echoes what was sent", async () => {
    const lm = await start({ hostForm: "cidr" })
    expect((await add(lm, "203.0.113.7")).json).toEqual(failed("Invalid network specification prefix is invalid for specified network"))
    lm.setOptions({ hostForm: "either", listedHostForm: "as-sent" })
    await add(lm, "203.0.113.7", "bare")
    await add(lm, "203.0.113.8/32", "cidr")
    expect(lm.entries("global").map((e) => e.addr)).toEqual(["203.0.113.7", "203.0.113.8/32"])
    // Either form still finds the other on a duplicate add.
    expect((await add(lm, "203.0.113.7/32")).json).toEqual(failed("Address already exists"))
  })
})

describe("firmware profiles: comments and parameters", () => {
  it("refuses a comment over the length limit, or outside [A-Za-z0-9 ._-] with the plain charset", async () => {
    const lm = await start({ commentMaxLength: 64, commentCharset: "plain" })
    expect((await add(lm, "203.0.113.7/32", "x".repeat(65))).json).toEqual(failed("Invalid comment"))
    expect((await add(lm, "203.0.113.7/32", "mitigator seq=3 ads:9001")).json).toEqual(failed("Invalid comment"))
    expect((await add(lm, "203.0.113.7/32", "café")).json).toEqual(failed("Invalid comment"))
    expect((await add(lm, "203.0.113.7/32", `mitigator fm1 4711 ads SSHDICT ${"y".repeat(33)}`)).json).toEqual(OK)
    expect(lm.entries("global")).toHaveLength(1)
    lm.setOptions({ commentCharset: "any", commentMaxLength: 1000 })
    expect((await add(lm, "203.0.113.8/32", "ADS ID 9001 - SSHDICT: ok")).json).toEqual(OK)
  })

  it("strictParameters refuses a parameter the command does not take, in APIv2 and APIv1", async () => {
    const lm = await start({ strictParameters: true })
    expect((await v2(lm, { cmd: "aclcontrol", add: "block", addr: "203.0.113.7/32", comment: "a", traceid: "1" })).json).toEqual(failed("Unknown parameter: traceid"))
    expect((await v2(lm, { cmd: "aclcontrol", del: "block", addr: "203.0.113.7/32", comment: "a" })).json).toEqual(failed("Unknown parameter: comment"))
    expect((await v2(lm, { cmd: "aclcontrol", list: "block", vs: "1" })).json).toEqual(failed("Unknown parameter: vs"))
    expect((await v1(lm, "aclcontrol", { add: "block", addr: "203.0.113.7/32", extra: "1" })).text).toContain("<Error>Unknown parameter: extra</Error>")
    expect(lm.entries("global")).toEqual([])
    // What the commands take is accepted, with either kind of credentials.
    expect((await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: "1", addr: "203.0.113.7/32", comment: "a" })).json).toEqual(OK)
    expect((await v2(lm, { cmd: "aclcontrol", listvs: "block", vsip: "10.0.0.10", vsport: "443", vsprot: "tcp" })).status).toBe(200)
    expect((await v1(lm, "aclcontrol", { add: "block", addr: "203.0.113.7/32" })).status).toBe(200)
    expect((await v2(lm, { cmd: "listvs" }, { apiuser: "bal", apipass: lm.apiKey })).status).toBe(200)
    expect((await v2(lm, { cmd: "get", param: "version" })).status).toBe(200)
  })
})

describe("request log", () => {
  it("records each request's method, path and query, headers and body, oldest first, until cleared", async () => {
    const lm = await start()
    await add(lm, "203.0.113.7/32", "a")
    await v1(lm, "aclcontrol", { del: "block", addr: "203.0.113.7/32" })
    const [first, second] = lm.requests()
    expect(first).toMatchObject({ method: "POST", url: "/accessv2", body: JSON.stringify({ cmd: "aclcontrol", add: "block", addr: "203.0.113.7/32", comment: "a", apikey: lm.apiKey }) })
    expect(first!.headers["content-type"]).toBe("application/json")
    expect(second).toMatchObject({ method: "GET", url: "/access/aclcontrol?del=block&addr=203.0.113.7%2F32", body: "" })
    expect(second!.headers["authorization"]).toMatch(/^Basic /)
    lm.clearRequests()
    expect(lm.requests()).toEqual([])
  })
})

describe("APIv1 XML", () => {
  it("lists the global and a VS's block list in ISO-8859-1 XML, escaping comments", async () => {
    const lm = await start({ listShape: "pier" }) // v1 ignores the v2 shape
    await add(lm, "203.0.113.7/32", `auto <"Tom" & 'Jerry'> café`)
    await add(lm, "198.51.100.0/24")
    await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: "1", addr: "203.0.113.7/32", comment: "x" })

    const global = await v1(lm, "aclcontrol", { list: "block" })
    expect(global.status).toBe(200)
    expect(global.contentType).toBe("text/xml; charset=ISO-8859-1")
    expect(global.text).toBe(
      `<?xml version="1.0" encoding="ISO-8859-1"?>\n<Response stat="200" code="ok">\n<Success><Data><Blocklist>` +
        `<IP><addr>203.0.113.7/32</addr><comment>auto &lt;&quot;Tom&quot; &amp; &apos;Jerry&apos;&gt; café</comment></IP>` +
        `<IP><addr>198.51.100.0/24</addr><comment></comment></IP>` +
        `</Blocklist></Data></Success>\n</Response>\n`
    )

    // The apikey query parameter works as well as Basic auth.
    const vs = await v1(lm, "aclcontrol", { listvs: "block", vs: "1", apikey: lm.apiKey }, null)
    expect(vs.status).toBe(200)
    expect(vs.text).toContain(
      `<Success><Data><VS><VS_IP>10.0.0.10</VS_IP><VS_Port>443</VS_Port><VS_Protocol>tcp</VS_Protocol>` +
        `<BlockList><IP><addr>203.0.113.7/32</addr><comment>x</comment></IP></BlockList></VS></Data></Success>`
    )
  })

  it("mutates with GET and with a form POST; answers errors as XML", async () => {
    const lm = await start()
    const added = await v1(lm, "aclcontrol", { add: "block", addr: "203.0.113.7/32", comment: "a b" })
    expect(added.text).toBe(
      `<?xml version="1.0" encoding="ISO-8859-1"?>\n<Response stat="200" code="ok">\n<Success>Command completed ok</Success>\n</Response>\n`
    )
    const posted = await fetch(`${lm.url}/access/aclcontrol`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${Buffer.from(`bal:${lm.apiKey}`).toString("base64")}` },
      body: new URLSearchParams({ addvs: "block", vs: "3", addr: "198.51.100.9/32" }).toString()
    })
    expect(posted.status).toBe(200)
    expect(lm.entries("global")).toEqual([{ addr: "203.0.113.7/32", comment: "a b" }])
    expect(lm.entries(3)).toEqual([{ addr: "198.51.100.9/32", comment: "" }])

    const bad = await v1(lm, "aclcontrol", { add: "block", addr: "not-an-address" })
    expect(bad.status).toBe(422)
    expect(bad.text).toBe(
      `<?xml version="1.0" encoding="ISO-8859-1"?>\n<Response stat="422" code="fail">\n<Error>Invalid address</Error>\n</Response>\n`
    )
  })

  it("answers isenabled, listvs and get version", async () => {
    const lm = await start()
    expect((await v1(lm, "aclcontrol/isenabled")).text).toContain("<Success><Data><aclstatus>yes</aclstatus></Data></Success>")
    const vss = await v1(lm, "listvs")
    expect(vss.text).toContain(
      "<VS><Index>1</Index><VSAddress>10.0.0.10</VSAddress><VSPort>443</VSPort><Protocol>tcp</Protocol><NickName>web-https</NickName><Status>Up</Status><Enable>Y</Enable></VS>"
    )
    expect((await v1(lm, "get", { param: "version" })).text).toContain("<Data><version>7.2.63.2</version></Data>")
  })
})

describe("authentication and API switch", () => {
  it("answers 401 to a bad key, password or missing credentials (v2 JSON, v1 text)", async () => {
    const lm = await start({ apiKey: "secret-key" })
    expect(lm.apiKey).toBe("secret-key")
    const unauthorized = { code: 401, message: "Unauthorized", status: "fail" }
    for (const auth of [{ apikey: "wrong" }, { apiuser: "bal", apipass: "wrong" }, { apiuser: "admin", apipass: "secret-key" }, {}]) {
      const res = await v2(lm, { cmd: "aclcontrol", list: "block" }, auth)
      expect(res.status).toBe(401)
      expect(res.text).toBe(JSON.stringify(unauthorized))
    }
    // An apikey, when present, wins over a correct user and password.
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" }, { apikey: "wrong", apiuser: "bal", apipass: "secret-key" })).status).toBe(401)

    for (const basic of [null, "bal:wrong", "other:secret-key"]) {
      const res = await v1(lm, "aclcontrol", { list: "block" }, basic)
      expect(res.status).toBe(401)
      expect(res.text).toBe("Unauthorized")
    }
    expect((await v1(lm, "aclcontrol", { list: "block", apikey: "wrong" }, null)).status).toBe(401)
    expect(lm.entries("global")).toEqual([])
    expect(lm.counts()).toEqual({ list: 9, rejected: 9 })
  })

  it("answers 404 to every API call while the API is disabled", async () => {
    const lm = await start({ apiEnabled: false })
    expect((await add(lm, "203.0.113.7/32")).status).toBe(404)
    expect((await v2(lm, { cmd: "listvs" })).status).toBe(404)
    expect((await v1(lm, "aclcontrol", { list: "block" })).status).toBe(404)
    expect(lm.entries("global")).toEqual([])
    lm.setOptions({ apiEnabled: true })
    expect((await add(lm, "203.0.113.7/32")).json).toEqual(OK)
  })

  it("fails every call with 401 under the authFailures fault", async () => {
    const lm = await start({ faults: { authFailures: true } })
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).status).toBe(401)
    lm.setFaults({})
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).status).toBe(200)
  })
})

describe("command errors", () => {
  it("answers 422 to bad addresses, unknown virtual services and unknown commands", async () => {
    const lm = await start()
    for (const addr of ["not-an-address", "", "192.0.2.999", "192.0.2.31/24", "192.0.2.0/33"]) {
      const res = await add(lm, addr)
      expect(res.status).toBe(422)
      expect(res.json).toEqual(failed("Invalid address"))
    }
    expect((await v2(lm, { cmd: "aclcontrol", add: "block" })).json).toEqual(failed("Invalid address"))

    for (const op of ["addvs", "listvs"]) {
      const res = await v2(lm, { cmd: "aclcontrol", [op]: "block", vs: "7", addr: "203.0.113.7/32" })
      expect(res.status).toBe(422)
      expect(res.json.status).toBe("fail")
      expect(res.json.message).toContain("Invalid address")
      expect(res.json.message).toContain("+")
    }
    const byAddress = await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: "10.9.9.9", port: "80", prot: "tcp", addr: "203.0.113.7/32" })
    expect(byAddress.json.message).toMatch(/Invalid address.*\+/)
    // `!7` is a Real Server index, not a VS.
    expect((await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: "!1", addr: "203.0.113.7/32" })).status).toBe(422)

    const delvs = await v2(lm, { cmd: "aclcontrol", delvs: "block", vs: "7", addr: "203.0.113.7/32" })
    expect(delvs.status).toBe(422)
    expect(delvs.json.message).toContain("vipdump")

    expect((await v2(lm, { cmd: "nosuchcmd" })).json).toEqual(failed("Unknown command"))
    expect((await v2(lm, { cmd: "aclcontrol" })).status).toBe(422)
    expect((await v2(lm, { cmd: "aclcontrol", list: "grey" })).status).toBe(422)
    // Parameter names and values that are also Object.prototype keys are nothing special.
    expect((await v2(lm, { cmd: "aclcontrol", list: "constructor" })).status).toBe(422)
    expect((await v2(lm, { cmd: "aclcontrol", toString: "block" })).json).toEqual(failed("Unknown command"))
    expect((await v2(lm, { cmd: "showvs", vs: "7" })).json).toEqual(failed("Unknown VS"))
    expect(lm.state().lists).toEqual({})
  })

  it("duplicate add and absent delete: 422 by default, success when set to ignore", async () => {
    const lm = await start()
    expect((await add(lm, "203.0.113.7/32", "first")).json).toEqual(OK)
    // A bare host is the same entry as its /32.
    for (const again of ["203.0.113.7/32", "203.0.113.7"]) {
      const dup = await add(lm, again, "second")
      expect(dup.status).toBe(422)
      expect(dup.json).toEqual(failed("Address already exists"))
    }
    const absent = await v2(lm, { cmd: "aclcontrol", del: "block", addr: "198.51.100.1/32" })
    expect(absent.status).toBe(422)
    expect(absent.json).toEqual(failed("Address not found"))
    const absentVs = await v2(lm, { cmd: "aclcontrol", delvs: "block", vs: "1", addr: "198.51.100.1/32" })
    expect(absentVs.json).toEqual(failed("Address not found"))

    lm.setOptions({ duplicateAdd: "ignore", absentDelete: "ignore" })
    expect((await add(lm, "203.0.113.7/32", "second")).json).toEqual(OK)
    expect((await v2(lm, { cmd: "aclcontrol", del: "block", addr: "198.51.100.1/32" })).json).toEqual(OK)
    expect(lm.entries("global")).toEqual([{ addr: "203.0.113.7/32", comment: "first" }])

    const ignoring = await start({ duplicateAdd: "ignore", absentDelete: "ignore" })
    await add(ignoring, "203.0.113.7/32")
    expect((await add(ignoring, "203.0.113.7/32")).status).toBe(200)
    expect((await v2(ignoring, { cmd: "aclcontrol", delvs: "block", vs: "3", addr: "203.0.113.7/32" })).status).toBe(200)
    expect(ignoring.entries("global")).toHaveLength(1)
  })

  it("answers errors with HTTP 200 and status fail when errorsAsHttp200 is set", async () => {
    const lm = await start({ errorsAsHttp200: true })
    const bad = await add(lm, "nope")
    expect(bad.status).toBe(200)
    expect(bad.json).toEqual(failed("Invalid address"))
    const unknown = await v2(lm, { cmd: "showvs", vs: "9" })
    expect([unknown.status, unknown.json]).toEqual([200, failed("Unknown VS")])
    const auth = await v2(lm, { cmd: "aclcontrol", list: "block" }, { apikey: "wrong" })
    expect([auth.status, auth.json]).toEqual([200, failed("Unauthorized", 401)])
    const xml = await v1(lm, "aclcontrol", { add: "block", addr: "nope" })
    expect(xml.status).toBe(200)
    expect(xml.text).toContain(`<Response stat="422" code="fail">`)
  })
})

describe("addresses", () => {
  it("stores a bare host as /32 (IPv6 /128) and deletes it by either form", async () => {
    const lm = await start()
    await add(lm, "203.0.113.7", "bare")
    await add(lm, "2001:db8::1")
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).json.Blocklist.IP).toEqual([
      { addr: "203.0.113.7/32", comment: "bare" },
      { addr: "2001:db8::1/128", comment: "" }
    ])
    expect((await v2(lm, { cmd: "aclcontrol", del: "block", addr: "203.0.113.7" })).json).toEqual(OK)
    expect((await v2(lm, { cmd: "aclcontrol", del: "block", addr: "2001:db8::1/128" })).json).toEqual(OK)
    expect(lm.entries("global")).toEqual([])
  })

  it("refuses bare hosts like old firmware when normaliseBareIpv4 is false", async () => {
    const lm = await start({ normaliseBareIpv4: false })
    const bare = await add(lm, "203.0.113.7")
    expect(bare.status).toBe(422)
    expect(bare.json).toEqual(failed("Invalid network specification prefix is invalid for specified network"))
    expect((await add(lm, "203.0.113.7/32")).json).toEqual(OK)
    expect(lm.entries("global")).toEqual([{ addr: "203.0.113.7/32", comment: "" }])
  })

  it("deletes a seeded entry that is listed in another form", async () => {
    const lm = await start()
    lm.seed("global", "203.0.113.7", "seeded")
    lm.seed(3, "198.51.100.0/24", "net", "allow")
    expect(() => lm.seed(9, "198.51.100.1/32")).toThrow(/Index 9/)
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).json.Blocklist.IP).toEqual([{ addr: "203.0.113.7", comment: "seeded" }])
    expect((await v2(lm, { cmd: "aclcontrol", listvs: "allow", vs: "3" })).json.VS.AllowList.IP).toEqual([
      { addr: "198.51.100.0/24", comment: "net" }
    ])
    expect((await v2(lm, { cmd: "aclcontrol", del: "block", addr: "203.0.113.7" })).json).toEqual(OK)
    expect(lm.entries("global")).toEqual([])
    expect(lm.counts()).toEqual({ list: 1, listvs: 1, del: 1 })
  })
})

describe("packet filter", () => {
  it("reports its state, switches with enable, and fails mutations while off when set to", async () => {
    const lm = await start({ packetFilter: { enabled: false, mutationsWhenOff: "fail" } })
    expect((await v2(lm, { cmd: "aclcontrol.isenabled" })).text).toBe(JSON.stringify({ code: 200, aclstatus: "no", status: "ok" }))
    expect((await v1(lm, "aclcontrol/isenabled")).text).toContain("<Data><aclstatus>no</aclstatus></Data>")

    for (const body of [
      { add: "block", addr: "203.0.113.7/32" },
      { addvs: "block", vs: "1", addr: "203.0.113.7/32" },
      { del: "block", addr: "203.0.113.7/32" },
      { delvs: "block", vs: "1", addr: "203.0.113.7/32" }
    ]) {
      const res = await v2(lm, { cmd: "aclcontrol", ...body })
      expect(res.status).toBe(422)
      expect(res.json).toEqual(failed("Packet filter is not enabled"))
    }
    // Reading still works.
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).status).toBe(200)

    expect((await v2(lm, { cmd: "aclcontrol", enable: "1" })).json).toEqual(OK)
    expect(lm.packetFilterEnabled()).toBe(true)
    expect((await v2(lm, { cmd: "aclcontrol.isenabled" })).json.aclstatus).toBe("yes")
    expect((await add(lm, "203.0.113.7/32")).json).toEqual(OK)
    expect((await v2(lm, { cmd: "aclcontrol", enable: "0" })).json).toEqual(OK)
    expect((await v2(lm, { cmd: "aclcontrol", enable: "2" })).status).toBe(422)
    expect(lm.packetFilterEnabled()).toBe(false)
  })

  it("accepts mutations silently while off by default", async () => {
    const lm = await start({ packetFilter: { enabled: false, mutationsWhenOff: "succeed" } })
    expect((await add(lm, "203.0.113.7/32")).json).toEqual(OK)
    expect(lm.entries("global")).toHaveLength(1)
    expect((await start()).packetFilterEnabled()).toBe(true)
  })
})

describe("virtual services and other commands", () => {
  it("lists the virtual services, shows one and reports the firmware version", async () => {
    const lm = await start()
    const listed = await v2(lm, { cmd: "listvs" })
    expect(listed.text).toBe(
      JSON.stringify({
        code: 200,
        VS: [
          { Index: 1, VSAddress: "10.0.0.10", VSPort: "443", Protocol: "tcp", NickName: "web-https", Status: "Up", Enable: true },
          { Index: 3, VSAddress: "10.0.0.11", VSPort: "80", Protocol: "tcp", NickName: "web-http", Status: "Up", Enable: true }
        ],
        status: "ok"
      })
    )
    expect((await v2(lm, { cmd: "showvs", vs: 3 })).json).toMatchObject({ code: 200, Index: 3, VSAddress: "10.0.0.11", status: "ok" })
    expect((await v2(lm, { cmd: "get", param: "version" })).json).toEqual({ code: 200, version: "7.2.63.2", status: "ok" })

    const custom = await start({
      virtualServices: [{ index: 12, address: "10.1.1.1", port: 8443, protocol: "tcp", nickname: "api" }],
      firmwareVersion: "7.2.54.18"
    })
    expect((await v2(custom, { cmd: "listvs" })).json.VS).toEqual([
      { Index: 12, VSAddress: "10.1.1.1", VSPort: "8443", Protocol: "tcp", NickName: "api", Status: "Up", Enable: true }
    ])
    expect((await v2(custom, { cmd: "aclcontrol", addvs: "block", vs: "12", addr: "203.0.113.7/32" })).json).toEqual(OK)
    expect((await v2(custom, { cmd: "aclcontrol", addvs: "block", vs: "1", addr: "203.0.113.7/32" })).status).toBe(422)
    expect((await v2(custom, { cmd: "get", param: "version" })).json.version).toBe("7.2.54.18")
  })
})

describe("faults", () => {
  it("failRate 1 answers 503 and changes nothing", async () => {
    const lm = await start({ faults: { failRate: 1 } })
    const res = await add(lm, "203.0.113.7/32")
    expect(res.status).toBe(503)
    expect(res.json).toEqual({ code: 503, message: "Service Unavailable", status: "fail" })
    const xml = await v1(lm, "aclcontrol", { list: "block" })
    expect(xml.status).toBe(503)
    expect(xml.text).toContain(`<Response stat="503" code="fail">`)
    expect(lm.entries("global")).toEqual([])
    expect(lm.counts()).toEqual({ faulted: 2 })
  })

  it("failRate uses the injected random source", async () => {
    const rolls = [0.9, 0.1, 0.6, 0.4]
    const lm = await start({ faults: { failRate: 0.5 }, random: () => rolls.shift() ?? 0.99 })
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await v2(lm, { cmd: "aclcontrol", list: "block" })).status)
    expect(statuses).toEqual([200, 503, 200, 503, 200])
  })

  it("resetRate 1 destroys the connection without an answer", async () => {
    const lm = await start({ faults: { resetRate: 1 } })
    await expect(raw(lm, { cmd: "aclcontrol", add: "block", addr: "203.0.113.7/32" })).rejects.toThrow(/socket hang up/)
    await expect(add(lm, "203.0.113.7/32")).rejects.toThrow()
    expect(lm.entries("global")).toEqual([])
    expect(lm.counts()).toEqual({ faulted: 2 })
    lm.setFaults({})
    expect((await add(lm, "203.0.113.7/32")).json).toEqual(OK)
  })

  it("delays every answer by latencyMs", async () => {
    const lm = await start({ faults: { latencyMs: 150 } })
    const t0 = performance.now()
    expect((await v2(lm, { cmd: "aclcontrol", list: "block" })).status).toBe(200)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145)
  })

  it("rateLimit resets the 31st call within 3 seconds", async () => {
    const lm = await start({ faults: { rateLimit: true } })
    for (let i = 0; i < 30; i++) expect((await raw(lm, { cmd: "aclcontrol", list: "block" })).status).toBe(200)
    await expect(raw(lm, { cmd: "aclcontrol", list: "block" })).rejects.toThrow(/socket hang up/)
    expect(lm.counts()).toEqual({ list: 30, faulted: 1 })
  })
})

describe("counts", () => {
  it("counts requests by kind until reset", async () => {
    const lm = await start()
    await add(lm, "203.0.113.7/32")
    await add(lm, "203.0.113.7/32") // duplicate: rejected
    await v2(lm, { cmd: "aclcontrol", del: "block", addr: "203.0.113.7/32" })
    await v2(lm, { cmd: "aclcontrol", list: "block" })
    await v1(lm, "aclcontrol", { list: "allow" })
    await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: "1", addr: "203.0.113.7/32" })
    await v2(lm, { cmd: "aclcontrol", delvs: "block", vs: "1", addr: "203.0.113.7/32" })
    await v2(lm, { cmd: "aclcontrol", listvs: "block", vs: "1" })
    await v2(lm, { cmd: "aclcontrol.isenabled" })
    await v2(lm, { cmd: "aclcontrol", enable: "1" })
    await v2(lm, { cmd: "listvs" })
    await v2(lm, { cmd: "get", param: "version" })
    await v2(lm, { cmd: "showvs", vs: "1" })
    expect(lm.counts()).toEqual({
      add: 2,
      rejected: 1,
      del: 1,
      list: 2,
      addvs: 1,
      delvs: 1,
      listvs: 1,
      isenabled: 1,
      enable: 1,
      "listvs-services": 1,
      other: 2
    })
    lm.resetCounts()
    expect(lm.counts()).toEqual({})
    lm.seed("global", "198.51.100.1/32", "")
    expect(lm.counts()).toEqual({})
  })
})

describe("state", () => {
  it("saves and restores lists, virtual services and the filter state", async () => {
    const dir = tempDir()
    const file = path.join(dir, "lm-state.json")
    const lm = await start({ packetFilter: { enabled: false, mutationsWhenOff: "succeed" } })
    await add(lm, "203.0.113.7/32", "one")
    await add(lm, "192.0.2.0/24", "office", "allow")
    await v2(lm, { cmd: "aclcontrol", addvs: "block", vs: "3", addr: "198.51.100.0/24", comment: "vs3" })
    lm.saveState(file)
    expect(fs.readdirSync(dir)).toEqual(["lm-state.json"])

    const saved = loadState(file)
    expect(saved).toEqual(lm.state())
    const restored = await start({ state: saved })
    expect(restored.state()).toEqual(lm.state())
    expect(restored.packetFilterEnabled()).toBe(false)
    expect((await v2(restored, { cmd: "aclcontrol", listvs: "block", vs: "3" })).json.VS.BlockList.IP).toEqual([
      { addr: "198.51.100.0/24", comment: "vs3" }
    ])
    expect(restored.entries("global", "allow")).toEqual([{ addr: "192.0.2.0/24", comment: "office" }])

    // The snapshot is a copy.
    const snapshot = restored.state()
    ;(snapshot.lists["global"]!.block as Array<{ addr: string; comment: string }>).push({ addr: "x", comment: "" })
    expect(restored.entries("global")).toHaveLength(1)

    fs.writeFileSync(file, JSON.stringify({ version: 2 }))
    expect(() => loadState(file)).toThrow(/not an emulator state/)
    expect(() => loadState(path.join(dir, "missing.json"))).toThrow(/cannot read/)
  })
})

describe("HTTPS", () => {
  it("serves with a generated self-signed certificate whose fingerprint matches", async () => {
    const lm = await start({ tls: true })
    expect(lm.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const pem = lm.certificatePem!
    expect(pem).toContain("-----BEGIN CERTIFICATE-----")
    expect(lm.fingerprint).toBe(new crypto.X509Certificate(pem).fingerprint256)
    const openssl = execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256"], { input: pem }).toString()
    expect(openssl.trim().split("=")[1]!.toUpperCase()).toBe(lm.fingerprint)

    const added = await raw(lm, { cmd: "aclcontrol", add: "block", addr: "203.0.113.7/32" }, pem)
    expect([added.status, added.json]).toEqual([200, OK])
    // Without the certificate as a CA, verification fails.
    await expect(raw(lm, { cmd: "aclcontrol", list: "block" })).rejects.toThrow(/self[- ]signed/i)
    expect(lm.entries("global")).toEqual([{ addr: "203.0.113.7/32", comment: "" }])
  })

  it("serves a given certificate and key, and refuses one without the other", async () => {
    const pair = await generateSelfSignedCertificate(["localhost"])
    const lm = await start({ tls: true, tlsCert: pair.certPem, tlsKey: pair.keyPem })
    expect(lm.certificatePem).toBe(pair.certPem)
    expect(lm.fingerprint).toBe(certificateFingerprint(pair.certPem))
    expect((await raw(lm, { cmd: "aclcontrol.isenabled" }, pair.certPem)).json).toEqual({ code: 200, aclstatus: "yes", status: "ok" })
    await expect(startLoadMasterEmulator({ tls: true, tlsCert: pair.certPem })).rejects.toThrow(/together/)
  })
})
