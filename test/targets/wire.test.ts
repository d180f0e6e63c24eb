import { describe, expect, it } from "@effect/vitest"
import { GLOBAL_SCOPE, LoadMasterError, type AclScope } from "../../src/targets/LoadMasterAcl.js"
import {
  addBody,
  addressOnWire,
  listedHostForm,
  API_DISABLED_MESSAGE,
  classifyV1,
  classifyV2,
  COMMENT_MARKER,
  decodeXmlText,
  commentInstance,
  commentMarker,
  commentSeq,
  entryComment,
  isEnabledBody,
  isMitigatorComment,
  listBody,
  listVsBody,
  operatorComment,
  parseIsEnabled,
  parseList,
  parseV1List,
  parseV2List,
  parseVirtualServices,
  parseXml,
  removeBody,
  sameCidr,
  sanitizeComment,
  stillOurs,
  v1ListPath,
  v1Path,
  type Classified
} from "../../src/targets/loadmaster/wire.js"

const VS3: AclScope = { kind: "vs", index: 3 }

const okBody = (c: Classified): Record<string, unknown> => {
  if (!c.ok) throw new Error(`expected success, got ${c.error.reason}: ${c.error.message}`)
  return c.body
}

const errorOf = (c: Classified): LoadMasterError => {
  if (c.ok) throw new Error(`expected an error, got ${JSON.stringify(c.body)}`)
  return c.error
}

/** The parser alone (whether the answer's shape is read at all is listShape's call: list-shape.test.ts). */
const v2List = (json: string, scope: AclScope = GLOBAL_SCOPE) => parseV2List(JSON.parse(json) as Record<string, unknown>, scope)
const v1List = (xml: string, scope: AclScope = GLOBAL_SCOPE) => parseV1List(okBody(classifyV1(200, xml)), scope)
const pairs = (listing: { entries: ReadonlyArray<{ cidr: string; listed: string; comment: string | null }> }) =>
  listing.entries.map((e) => [e.listed, e.cidr, e.comment])

const SAFE = /^[A-Za-z0-9 _.:=/-]*$/

describe("LoadMaster wire: APIv2 request bodies", () => {
  it("lists the global block list and a VS's block list", () => {
    expect(listBody(GLOBAL_SCOPE)).toEqual({ cmd: "aclcontrol", list: "block" })
    expect(listBody(VS3)).toEqual({ cmd: "aclcontrol", listvs: "block", vs: "3" })
    expect(listBody({ kind: "vs", index: 0 })).toEqual({ cmd: "aclcontrol", listvs: "block", vs: "0" })
  })

  it("adds with the prefix always present: /32 and /128 for hosts, canonical text for networks", () => {
    expect(addBody(GLOBAL_SCOPE, "203.0.113.7", "c")).toEqual({ cmd: "aclcontrol", add: "block", addr: "203.0.113.7/32", comment: "c" })
    expect(addBody(GLOBAL_SCOPE, "203.0.113.7/32", "c").addr).toBe("203.0.113.7/32")
    expect(addBody(GLOBAL_SCOPE, "2001:DB8::1", "c").addr).toBe("2001:db8::1/128")
    expect(addBody(GLOBAL_SCOPE, "198.51.100.0/24", "").addr).toBe("198.51.100.0/24")
    expect(addBody(GLOBAL_SCOPE, "2001:db8:0:0::/48", "").addr).toBe("2001:db8::/48")
    expect(addBody(VS3, "203.0.113.7", "auto")).toEqual({
      cmd: "aclcontrol",
      addvs: "block",
      vs: "3",
      addr: "203.0.113.7/32",
      comment: "auto"
    })
  })

  it("adds a single host bare when the address form is bare; a network keeps its prefix in either form", () => {
    // Given the bare form (the Flowmon script's, for firmware that wants it)
    expect(addBody(GLOBAL_SCOPE, "203.0.113.7/32", "c", "bare")).toEqual({ cmd: "aclcontrol", add: "block", addr: "203.0.113.7", comment: "c" })
    expect(addBody(VS3, "2001:db8::1/128", "c", "bare")).toEqual({ cmd: "aclcontrol", addvs: "block", vs: "3", addr: "2001:db8::1", comment: "c" })
    // then networks (an IPv6 /32 too, which is no host) keep their prefix
    expect(addressOnWire("198.51.100.0/24", "bare")).toBe("198.51.100.0/24")
    expect(addressOnWire("2001:db8::/32", "bare")).toBe("2001:db8::/32")
    expect(addressOnWire("10.0.0.0/31", "bare")).toBe("10.0.0.0/31")
    // and the default (cidr) form gives a host its prefix however it was written
    expect(addressOnWire("203.0.113.7", "cidr")).toBe("203.0.113.7/32")
    expect(addressOnWire("::ffff:203.0.113.7", "bare")).toBe("203.0.113.7")
    expect(addBody(GLOBAL_SCOPE, "203.0.113.7", "c")).toEqual(addBody(GLOBAL_SCOPE, "203.0.113.7", "c", "cidr"))
  })

  it("tells which form an appliance lists single hosts in: cidr, bare, mixed, or nothing to tell", () => {
    const entry = (listed: string) => ({ cidr: addressOnWire(listed, "cidr"), listed })
    expect(listedHostForm([entry("203.0.113.7/32"), entry("198.51.100.0/24")])).toBe("cidr")
    expect(listedHostForm([entry("203.0.113.7"), entry("2001:db8::1")])).toBe("bare")
    expect(listedHostForm([entry("203.0.113.7"), entry("203.0.113.8/32")])).toBe("mixed")
    expect(listedHostForm([entry("198.51.100.0/24"), entry("2001:db8::/32")])).toBeUndefined()
    expect(listedHostForm([])).toBeUndefined()
  })

  it("every value is a string and no body carries credentials", () => {
    const bodies = [
      listBody(GLOBAL_SCOPE),
      listBody(VS3),
      addBody(VS3, "203.0.113.7", "x"),
      removeBody(VS3, "203.0.113.7"),
      listVsBody(),
      isEnabledBody()
    ]
    for (const body of bodies) {
      for (const value of Object.values(body)) expect(typeof value).toBe("string")
      expect(Object.keys(body)).not.toContain("apikey")
      expect(Object.keys(body)).not.toContain("apiuser")
      expect(Object.keys(body)).not.toContain("apipass")
    }
  })

  it("sanitises the comment on the wire whatever the caller built", () => {
    const body = addBody(GLOBAL_SCOPE, "203.0.113.7", `x"; rm -rf / #\n${"y".repeat(100)}`)
    expect(body.comment).toMatch(SAFE)
    expect(body.comment!.length).toBeLessThanOrEqual(64)
    expect(body.comment!.startsWith("x__ rm -rf _ _")).toBe(true)
  })

  it("refuses to build an add for text that is not an address block (a caller bug)", () => {
    expect(() => addBody(GLOBAL_SCOPE, "not-an-ip", "")).toThrow(/not an address block/)
    expect(() => addBody(GLOBAL_SCOPE, "192.0.2.31/24", "")).toThrow(/host bits/)
  })

  it("removes with the address exactly as listed, bare or prefixed", () => {
    expect(removeBody(GLOBAL_SCOPE, "203.0.113.7")).toEqual({ cmd: "aclcontrol", del: "block", addr: "203.0.113.7" })
    expect(removeBody(GLOBAL_SCOPE, "203.0.113.7/32")).toEqual({ cmd: "aclcontrol", del: "block", addr: "203.0.113.7/32" })
    expect(removeBody(VS3, "2001:DB8::1")).toEqual({ cmd: "aclcontrol", delvs: "block", vs: "3", addr: "2001:DB8::1" })
  })

  it("lists virtual services and reads the packet filter state", () => {
    expect(listVsBody()).toEqual({ cmd: "listvs" })
    expect(isEnabledBody()).toEqual({ cmd: "aclcontrol.isenabled" })
  })

  it("matches the spec's example bodies (§9) once the caller adds apikey", () => {
    expect(JSON.stringify({ ...removeBody(VS3, "203.0.113.7"), apikey: "<key>" })).toBe(
      '{"cmd":"aclcontrol","delvs":"block","vs":"3","addr":"203.0.113.7","apikey":"<key>"}'
    )
    expect({ ...listBody(VS3), apikey: "<key>" }).toEqual({ cmd: "aclcontrol", apikey: "<key>", listvs: "block", vs: "3" })
  })
})

describe("LoadMaster wire: APIv1 paths", () => {
  it("lists through GET /access/aclcontrol with the list in the query", () => {
    expect(v1ListPath(GLOBAL_SCOPE)).toBe("/access/aclcontrol?list=block")
    expect(v1ListPath(VS3)).toBe("/access/aclcontrol?listvs=block&vs=3")
  })

  it("turns any body into a v1 path: dotted commands become path segments, values are encoded", () => {
    expect(v1Path(isEnabledBody())).toBe("/access/aclcontrol/isenabled")
    expect(v1Path(listVsBody())).toBe("/access/listvs")
    expect(v1Path(addBody(GLOBAL_SCOPE, "203.0.113.7", "auto"))).toBe("/access/aclcontrol?add=block&addr=203.0.113.7/32&comment=auto")
    expect(v1Path(addBody(VS3, "2001:db8::1", "mitigator fm1 1 ads SSHDICT"))).toBe(
      "/access/aclcontrol?addvs=block&vs=3&addr=2001:db8::1/128&comment=mitigator%20fm1%201%20ads%20SSHDICT"
    )
    expect(v1Path(removeBody(GLOBAL_SCOPE, "a&b=c#d"))).toBe("/access/aclcontrol?del=block&addr=a%26b%3Dc%23d")
  })
})

describe("LoadMaster wire: APIv2 response classification (spec §2, §6)", () => {
  it("a data-less success and a success with data", () => {
    expect(okBody(classifyV2(200, '{ "code": 200, "message": "Command completed ok", "status": "ok" }'))).toEqual({
      code: 200,
      message: "Command completed ok",
      status: "ok"
    })
    // The real fixtures are loosely formatted but valid JSON.
    const loose = '{\n  "code" : 200 ,\n  "VS" : [ { "Index" : 1 } ]\n  ,\n  "status" : "ok"\n}'
    expect(okBody(classifyV2(200, loose))["VS"]).toEqual([{ Index: 1 }])
  })

  it("HTTP 401 and 403 are auth failures, never retried", () => {
    for (const status of [401, 403]) {
      const e = errorOf(classifyV2(status, '{"code":401,"message":"Unauthorized","status":"fail"}'))
      expect(e).toBeInstanceOf(LoadMasterError)
      expect(e.reason).toBe("auth")
      expect(e.retryable).toBe(false)
      expect(e.status).toBe(status)
    }
    expect(errorOf(classifyV2(401, "Unauthorized")).reason).toBe("auth")
    expect(errorOf(classifyV2(401, "")).reason).toBe("auth")
  })

  it("a 200 with status fail and code 401 is an auth failure too", () => {
    const e = errorOf(classifyV2(200, '{"status":"fail","code":401}'))
    expect(e.reason).toBe("auth")
    expect(e.retryable).toBe(false)
    expect(errorOf(classifyV2(200, '{"code":"403","message":"Forbidden","status":"fail"}')).reason).toBe("auth")
  })

  it("HTTP 404 means the API is disabled, whatever the body", () => {
    for (const body of ["", "<html>Not Found</html>", '{"status":"fail"}']) {
      const e = errorOf(classifyV2(404, body))
      expect(e.reason).toBe("api-disabled")
      expect(e.message).toBe(API_DISABLED_MESSAGE)
      expect(e.message).toContain("Certificates & Security > Remote Access > Enable API Interface")
      expect(e.retryable).toBe(false)
    }
  })

  it("HTTP 422 is a rejection carrying the appliance's message", () => {
    const invalid = errorOf(classifyV2(422, '{"code":422,"message":"Invalid address","status":"fail"}'))
    expect(invalid.reason).toBe("rejected")
    expect(invalid.message).toBe("Invalid address")
    expect(invalid.status).toBe(422)
    expect(invalid.retryable).toBe(false)
    expect(errorOf(classifyV2(422, '{"code":422,"message":"Unknown VS","status":"fail"}')).message).toBe("Unknown VS")
    const old = errorOf(
      classifyV2(422, '{"code":422,"message":"Invalid network specification prefix is invalid for specified network","status":"fail"}')
    )
    expect(old.message).toMatch(/Invalid network specification/)
    const noMessage = errorOf(classifyV2(422, "not json"))
    expect(noMessage.reason).toBe("rejected")
    expect(noMessage.message).toMatch(/HTTP 422/)
  })

  it("a 200 with status fail is a rejection too (pier62350 quirk 7), status from the body's code", () => {
    const e = errorOf(classifyV2(200, '{"code":422,"status":"fail","message":"Unknown VS"}'))
    expect(e.reason).toBe("rejected")
    expect(e.message).toBe("Unknown VS")
    expect(e.status).toBe(422)
    expect(e.retryable).toBe(false)
    expect(errorOf(classifyV2(200, '{"status":"FAIL","message":"Invalid address ... +"}')).message).toBe("Invalid address ... +")
    expect(errorOf(classifyV2(200, '{"status":"fail"}')).status).toBe(200)
    // No status word, but an error code.
    expect(errorOf(classifyV2(200, '{"code":422,"message":"vipdump failed"}')).reason).toBe("rejected")
  })

  it("HTTP 429 is rate-limited and 5xx a server failure, both retryable", () => {
    const limited = errorOf(classifyV2(429, ""))
    expect(limited.reason).toBe("rate-limited")
    expect(limited.retryable).toBe(true)
    for (const status of [500, 502, 503, 504]) {
      const e = errorOf(classifyV2(status, "<html>Bad Gateway</html>"))
      expect(e.reason).toBe("server")
      expect(e.retryable).toBe(true)
      expect(e.status).toBe(status)
    }
    expect(errorOf(classifyV2(408, "")).reason).toBe("timeout")
    expect(errorOf(classifyV2(408, "")).retryable).toBe(true)
  })

  it("a 2xx without the status field every answer carries, or with an unknown status, is a protocol error, never a success", () => {
    // Given answers that carry data but not `"status":"ok"` (spec §2)
    for (const [body, said] of [
      ['{"code":200,"message":"Command completed ok"}', 'without the "status" field'],
      ['{"code":200,"Blocklist":{"IP":[]}}', 'without the "status" field'],
      ["{}", 'without the "status" field'],
      ['{"code":200,"status":"success"}', '"status": "success", neither ok nor fail'],
      ['{"code":200,"status":""}', '"status": "", neither ok nor fail'],
      ['{"code":200,"status":null}', 'without the "status" field']
    ] as const) {
      // When classified, then each is a protocol error that quotes the answer
      const e = errorOf(classifyV2(200, body))
      expect(e.reason, body).toBe("protocol")
      expect(e.retryable).toBe(false)
      expect(e.message).toContain(said)
      expect(e.message).toContain(`the answer begins: ${body}`)
    }
    // and the status is read in any case, around blanks
    expect(okBody(classifyV2(200, '{"code":200,"status":" OK "}'))).toEqual({ code: 200, status: " OK " })
    // A failure needs no status to be one.
    expect(errorOf(classifyV2(200, '{"code":422,"message":"Unknown VS"}')).reason).toBe("rejected")
  })

  it("quotes at most the first 200 bytes of an answer it cannot read", () => {
    const body = `{"code":200,"junk":"${"x".repeat(500)}"}`
    const e = errorOf(classifyV2(200, body))
    expect(e.message).toContain(`the answer begins: ${body.slice(0, 200)}...`)
    expect(e.message).not.toContain(body.slice(0, 201))
  })

  it("a 200 that is not a JSON object is a protocol error", () => {
    for (const body of ["", "<html>login</html>", "[1,2]", "null", '"ok"', "{", '<Response stat="200" code="ok"/>']) {
      const e = errorOf(classifyV2(200, body))
      expect(e.reason).toBe("protocol")
      expect(e.retryable).toBe(false)
    }
  })

  it("other 4xx are rejections, redirects are protocol errors", () => {
    expect(errorOf(classifyV2(400, '{"code":400,"message":"Unknown command","status":"fail"}')).message).toBe("Unknown command")
    expect(errorOf(classifyV2(400, "")).reason).toBe("rejected")
    expect(errorOf(classifyV2(302, "")).reason).toBe("protocol")
  })

  it("the appliance's text is made printable and bounded before it reaches a message", () => {
    const e = errorOf(classifyV2(422, JSON.stringify({ status: "fail", message: `bad\u001b[31mred\n${"x".repeat(1000)}` })))
    expect(e.message).not.toMatch(/[\u0000-\u001f\u007f-\uffff]/)
    expect(e.message).toContain("\\x1b[31mred\\n")
    expect(e.message.length).toBeLessThan(400)
  })
})

describe("LoadMaster wire: APIv1 response classification", () => {
  it("a data-less success and a success with data", () => {
    expect(okBody(classifyV1(200, '<Response stat="200" code="ok"><Success>Command completed ok</Success></Response>'))).toEqual({
      message: "Command completed ok"
    })
    const body = okBody(
      classifyV1(
        200,
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<Response stat="200" code="ok"><Success><Data><aclstatus>no</aclstatus></Data></Success></Response>'
      )
    )
    expect(body).toEqual({ aclstatus: "no" })
  })

  it("a command error with its <Error> text", () => {
    const e = errorOf(classifyV1(422, '<Response stat="422" code="fail"><Error>Invalid address</Error></Response>'))
    expect(e.reason).toBe("rejected")
    expect(e.message).toBe("Invalid address")
    expect(e.status).toBe(422)
    expect(e.retryable).toBe(false)
    const at200 = errorOf(classifyV1(200, '<Response stat="422" code="fail"><Error>Unknown VS</Error></Response>'))
    expect(at200.reason).toBe("rejected")
    expect(at200.message).toBe("Unknown VS")
    expect(at200.status).toBe(422)
  })

  it("401 (HTTP or stat), 404, 429, 5xx", () => {
    expect(errorOf(classifyV1(401, "Unauthorized")).reason).toBe("auth")
    expect(errorOf(classifyV1(403, "")).reason).toBe("auth")
    expect(errorOf(classifyV1(200, '<Response stat="401" code="fail"><Error>Unauthorized</Error></Response>')).reason).toBe("auth")
    const disabled = errorOf(classifyV1(404, "<html/>"))
    expect(disabled.reason).toBe("api-disabled")
    expect(disabled.message).toBe(API_DISABLED_MESSAGE)
    expect(errorOf(classifyV1(429, "")).retryable).toBe(true)
    expect(errorOf(classifyV1(503, "")).reason).toBe("server")
    expect(errorOf(classifyV1(503, "")).retryable).toBe(true)
  })

  it("a 200 that is not a <Response> document is a protocol error", () => {
    for (const body of ["", "Unauthorized", "<html><body>login</body></html>", '<Response stat="200" code="ok"><Success>', '{"status":"ok"}', '<Response stat="200" code="ok"></Response>']) {
      expect(errorOf(classifyV1(200, body)).reason).toBe("protocol")
    }
  })

  it("a success needs code=\"ok\": a <Response> without it is a protocol error quoting the answer", () => {
    for (const [xml, said] of [
      ['<Response stat="200"><Success>Command completed ok</Success></Response>', "whose code is missing"],
      ['<Response stat="200" code="done"><Success><Data><aclstatus>yes</aclstatus></Data></Success></Response>', 'whose code is "done"']
    ] as const) {
      const e = errorOf(classifyV1(200, xml))
      expect(e.reason).toBe("protocol")
      expect(e.message).toContain(said)
      expect(e.message).toContain(`the answer begins: ${xml.slice(0, 60)}`)
    }
    expect(okBody(classifyV1(200, '<Response stat="200" code="OK"><Success>Command completed ok</Success></Response>'))).toEqual({ message: "Command completed ok" })
  })

  it("decodes entities in the error text", () => {
    expect(errorOf(classifyV1(422, '<Response stat="422" code="fail"><Error>Invalid &quot;addr&quot; &lt;x&gt; &amp; y</Error></Response>')).message).toBe(
      'Invalid "addr" <x> & y'
    )
  })
})

describe("LoadMaster wire: the tolerant APIv2 list parser (spec §4.2)", () => {
  it("the default nested shape: Blocklist.IP", () => {
    const listing = v2List('{ "code": 200, "Blocklist": { "IP": [ { "addr": "203.0.113.7/32", "comment": "auto" } ] }, "status": "ok" }')
    expect(listing.entries).toEqual([{ cidr: "203.0.113.7/32", listed: "203.0.113.7/32", comment: "auto" }])
    expect(listing.unparsed).toEqual([])
    expect(listing.foundAt).toEqual(["Blocklist.IP"])
  })

  it("any spelling of the block-list key, never an allow list", () => {
    for (const key of ["Blocklist", "BlockList", "Blacklist", "blocklist", "BLACKLIST", "block_list"]) {
      const listing = parseV2List({ code: 200, [key]: { IP: [{ addr: "198.51.100.0/24", comment: "" }] }, status: "ok" }, GLOBAL_SCOPE)
      expect(pairs(listing)).toEqual([["198.51.100.0/24", "198.51.100.0/24", ""]])
    }
    for (const key of ["Allowlist", "AllowList", "Whitelist"]) {
      expect(parseV2List({ code: 200, [key]: { IP: [{ addr: "198.51.100.0/24" }] }, status: "ok" }, GLOBAL_SCOPE).entries).toEqual([])
    }
    const both = parseV2List(
      { Allowlist: { IP: [{ addr: "192.0.2.1" }] }, Blocklist: { IP: [{ addr: "192.0.2.2" }] } },
      GLOBAL_SCOPE
    )
    expect(both.entries.map((e) => e.listed)).toEqual(["192.0.2.2"])
  })

  it("kreemer's top-level IP array", () => {
    const listing = v2List(
      '{"code":200,"list":"block","IP":[{"addr":"203.0.113.7/32","comment":"a"},{"addr":"2001:db8::/32","comment":"b"}],"status":"ok"}'
    )
    expect(pairs(listing)).toEqual([
      ["203.0.113.7/32", "203.0.113.7/32", "a"],
      ["2001:db8::/32", "2001:db8::/32", "b"]
    ])
    expect(listing.foundAt).toEqual(["IP"])
  })

  it("pier62350's Acl string array", () => {
    const listing = v2List('{"code":200,"Acl":["203.0.113.7","198.51.100.0/24"],"status":"ok"}')
    // Bare addresses: this list form carries no comments (null), so ownership rests on the ledger.
    expect(pairs(listing)).toEqual([
      ["203.0.113.7", "203.0.113.7/32", null],
      ["198.51.100.0/24", "198.51.100.0/24", null]
    ])
  })

  it("a single object where an array belongs, at every level", () => {
    expect(pairs(v2List('{"Blocklist":{"IP":{"addr":"203.0.113.7","comment":"one"}}}'))).toEqual([["203.0.113.7", "203.0.113.7/32", "one"]])
    expect(pairs(v2List('{"IP":{"addr":"203.0.113.7"}}'))).toEqual([["203.0.113.7", "203.0.113.7/32", null]])
    expect(pairs(v2List('{"Acl":"203.0.113.7"}'))).toEqual([["203.0.113.7", "203.0.113.7/32", null]])
    expect(pairs(v2List('{"Blocklist":{"addr":"203.0.113.7","comment":"c"}}'))).toEqual([["203.0.113.7", "203.0.113.7/32", "c"]])
    expect(pairs(v2List('{"Blocklist":[{"addr":"203.0.113.7"}]}'))).toEqual([["203.0.113.7", "203.0.113.7/32", null]])
  })

  it("a missing key, an empty list, an empty or null element: no entries (the shape check refuses the missing key)", () => {
    for (const json of [
      '{"code":200,"status":"ok"}',
      '{"code":200,"message":"Command completed ok","status":"ok"}',
      '{"Blocklist":{}}',
      '{"Blocklist":""}',
      '{"Blocklist":null}',
      '{"Blocklist":{"IP":[]}}',
      '{"Blocklist":{"IP":null}}',
      '{"IP":[]}',
      '{"Acl":[]}'
    ]) {
      const listing = v2List(json)
      expect(listing.entries).toEqual([])
      expect(listing.unparsed).toEqual([])
    }
    expect(v2List('{"code":200,"status":"ok"}').foundAt).toEqual([])
  })

  it("the per-VS shape: VS.BlockList.IP, read only for a VS scope", () => {
    const json =
      '{ "code": 200, "VS": { "VS_IP": "10.0.0.10", "VS_Port": "443", "VS_Protocol": "tcp", "BlockList": { "IP": [ { "addr": "203.0.113.7/32", "comment": "x" } ] } }, "status": "ok" }'
    const listing = v2List(json, VS3)
    expect(pairs(listing)).toEqual([["203.0.113.7/32", "203.0.113.7/32", "x"]])
    expect(listing.foundAt).toEqual(["VS.BlockList.IP"])
    expect(v2List(json, GLOBAL_SCOPE).entries).toEqual([])
    // VS as an array, Blacklist spelling, and an allow list beside it.
    const arrayForm = v2List('{"VS":[{"Blacklist":{"IP":["192.0.2.1"]},"Whitelist":{"IP":["192.0.2.9"]}}]}', VS3)
    expect(arrayForm.entries.map((e) => e.listed)).toEqual(["192.0.2.1"])
    // A per-VS answer in one of the top-level shapes.
    expect(v2List('{"IP":[{"addr":"192.0.2.1"}]}', VS3).entries.map((e) => e.cidr)).toEqual(["192.0.2.1/32"])
  })

  it("a list wrapped in Data or Success.Data", () => {
    expect(v2List('{"Data":{"Blocklist":{"IP":["192.0.2.1"]}}}').foundAt).toEqual(["Data.Blocklist.IP"])
    expect(v2List('{"Success":{"Data":{"Blocklist":{"IP":["192.0.2.1"]}}}}').entries.length).toBe(1)
  })

  it("keeps the address exactly as listed and canonicalises the cidr", () => {
    const listing = parseV2List(
      { IP: [{ addr: "2001:DB8::1" }, { addr: " 192.0.2.5 " }, { addr: "2001:0db8:0000::/32", comment: null }] },
      GLOBAL_SCOPE
    )
    expect(pairs(listing)).toEqual([
      ["2001:DB8::1", "2001:db8::1/128", null],
      [" 192.0.2.5 ", "192.0.2.5/32", null],
      ["2001:0db8:0000::/32", "2001:db8::/32", ""]
    ])
  })

  it("tolerates key case and other value types in entries", () => {
    const listing = parseV2List({ ip: [{ Addr: "192.0.2.1", Comment: 42 }, { address: "192.0.2.2", comment: "" }] }, GLOBAL_SCOPE)
    expect(pairs(listing)).toEqual([
      ["192.0.2.1", "192.0.2.1/32", "42"],
      ["192.0.2.2", "192.0.2.2/32", ""]
    ])
  })

  it("entries that are not address blocks are reported, not dropped silently", () => {
    const listing = parseV2List(
      {
        Blocklist: {
          IP: [
            { addr: "192.0.2.31/24", comment: "host bits" },
            { addr: "192.0.2.1-192.0.2.9" },
            "garbage\u001b[2J",
            "",
            { comment: "no address" },
            { addr: 17 },
            42,
            { addr: "192.0.2.7", comment: "good" }
          ]
        }
      },
      GLOBAL_SCOPE
    )
    expect(pairs(listing)).toEqual([["192.0.2.7", "192.0.2.7/32", "good"]])
    expect(listing.unparsed).toEqual([
      "192.0.2.31/24",
      "192.0.2.1-192.0.2.9",
      "garbage\\x1b[2J",
      "(empty address)",
      '{"comment":"no address"}',
      '{"addr":17}',
      "42"
    ])
  })

  it("an address found twice (two shapes in one answer) is kept once", () => {
    const listing = parseV2List({ IP: [{ addr: "192.0.2.1", comment: "a" }], Blocklist: { IP: [{ addr: "192.0.2.1", comment: "a" }, "192.0.2.2"] } }, GLOBAL_SCOPE)
    expect(listing.entries.map((e) => e.listed)).toEqual(["192.0.2.1", "192.0.2.2"])
    expect(listing.foundAt).toEqual(["IP", "Blocklist.IP"])
  })

  it("parseList and parseV2List are the same parser; a __proto__ key is plain data", () => {
    expect(parseList).toBe(parseV2List)
    const listing = v2List('{"__proto__":{"IP":["192.0.2.1"]},"Blocklist":{"IP":["192.0.2.2"]}}')
    expect(listing.entries.map((e) => e.listed)).toEqual(["192.0.2.2"])
  })
})

describe("LoadMaster wire: the APIv1 list parser (spec §4.1)", () => {
  it("the global block list with <IP><addr/><comment/></IP> entries", () => {
    const xml = `<?xml version="1.0" encoding="ISO-8859-1"?>
<Response stat="200" code="ok">
<Success><Data><Blocklist>
<IP><addr>203.0.113.7/32</addr><comment>auto 2026-01-01</comment></IP>
<IP><addr>198.51.100.0/24</addr><comment></comment></IP>
</Blocklist></Data></Success>
</Response>`
    const listing = v1List(xml)
    expect(pairs(listing)).toEqual([
      ["203.0.113.7/32", "203.0.113.7/32", "auto 2026-01-01"],
      ["198.51.100.0/24", "198.51.100.0/24", ""]
    ])
    expect(listing.unparsed).toEqual([])
    expect(parseV1List(xml, GLOBAL_SCOPE)).toEqual(listing)
  })

  it("Blacklist and BlockList spellings; one entry; a self-closed comment", () => {
    for (const tag of ["Blacklist", "BlockList", "blocklist"]) {
      const xml = `<Response stat="200" code="ok"><Success><Data><${tag}><IP><addr>192.0.2.1</addr><comment/></IP></${tag}></Data></Success></Response>`
      expect(pairs(v1List(xml))).toEqual([["192.0.2.1", "192.0.2.1/32", ""]])
    }
  })

  it("old firmware's bare <addr> children", () => {
    const xml = '<Response stat="200" code="ok"><Success><Data><Blacklist><addr>192.0.2.1</addr><addr>198.51.100.0/24</addr></Blacklist></Data></Success></Response>'
    // No comments in this form at all (null), unlike an empty comment ("").
    expect(pairs(v1List(xml))).toEqual([
      ["192.0.2.1", "192.0.2.1/32", null],
      ["198.51.100.0/24", "198.51.100.0/24", null]
    ])
    const one = '<Response stat="200" code="ok"><Success><Data><Blacklist><addr>192.0.2.1</addr></Blacklist></Data></Success></Response>'
    expect(pairs(v1List(one))).toEqual([["192.0.2.1", "192.0.2.1/32", null]])
  })

  it("the per-VS form", () => {
    const xml = `<Response stat="200" code="ok"><Success><Data><VS>
<VS_IP>10.0.0.10</VS_IP><VS_Port>443</VS_Port><VS_Protocol>tcp</VS_Protocol>
<BlockList><IP><addr>203.0.113.7/32</addr><comment>x</comment></IP></BlockList>
<AllowList><IP><addr>192.0.2.50/32</addr><comment>friend</comment></IP></AllowList>
</VS></Data></Success></Response>`
    expect(pairs(v1List(xml, VS3))).toEqual([["203.0.113.7/32", "203.0.113.7/32", "x"]])
    expect(v1List(xml, GLOBAL_SCOPE).entries).toEqual([])
  })

  it("an empty or null list element is an empty list", () => {
    for (const data of ["<Blocklist></Blocklist>", "<Blocklist/>", "<Blocklist>\n</Blocklist>", "", "<Blocklist><IP/></Blocklist>"]) {
      const xml = `<Response stat="200" code="ok"><Success><Data>${data}</Data></Success></Response>`
      const listing = v1List(xml)
      expect(listing.entries).toEqual([])
      expect(listing.unparsed).toEqual([])
    }
    expect(v1List('<Response stat="200" code="ok"><Success>Command completed ok</Success></Response>').entries).toEqual([])
  })

  it("decodes the five entities, numeric references and CDATA; keeps unknown entities as written", () => {
    const xml = `<Response stat="200" code="ok"><Success><Data><Blocklist>
<IP><addr>192.0.2.1</addr><comment>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#233;&#xE9; &nbsp;</comment></IP>
<IP><addr><![CDATA[192.0.2.2]]></addr><comment><![CDATA[<raw> & ]]>x</comment></IP>
<!-- a comment --><?pi x?>
<IP><addr>&#49;92.0.2.3</addr><comment>&#0; &#xD800; &#1114112;</comment></IP>
</Blocklist></Data></Success></Response>`
    expect(pairs(v1List(xml))).toEqual([
      ["192.0.2.1", "192.0.2.1/32", `a <b> & "c" 'd' éé &nbsp;`],
      ["192.0.2.2", "192.0.2.2/32", "<raw> & x"],
      ["192.0.2.3", "192.0.2.3/32", "&#0; &#xD800; &#1114112;"]
    ])
  })

  it("reads an ISO-8859-1 body that the caller decoded", () => {
    const bytes = Buffer.from('<Response stat="200" code="ok"><Success><Data><Blocklist><IP><addr>192.0.2.1</addr><comment>caf\xe9</comment></IP></Blocklist></Data></Success></Response>', "latin1")
    const text = new TextDecoder("latin1").decode(bytes)
    expect(pairs(v1List(text))).toEqual([["192.0.2.1", "192.0.2.1/32", "café"]])
  })

  it("takes the XML text itself too, and throws the LoadMasterError when it is not a successful answer", () => {
    expect(parseV1List('<Response stat="200" code="ok"><Success><Data><Blocklist><IP>192.0.2.1</IP></Blocklist></Data></Success></Response>', GLOBAL_SCOPE).entries.length).toBe(1)
    expect(() => parseV1List('<Response stat="422" code="fail"><Error>Unknown VS</Error></Response>', VS3)).toThrow(LoadMasterError)
    expect(() => parseV1List("<Response>", GLOBAL_SCOPE)).toThrow(/not XML/)
  })
})

describe("LoadMaster wire: the XML reader", () => {
  it("reads elements, attributes (either quotes, entities), text and self-closed elements", () => {
    const r = parseXml(`<?xml version="1.0"?>\n<!DOCTYPE Response>\n<Response stat='200' code="o&amp;k"><A>t</A><B/></Response>\n`)
    if (!r.ok) throw new Error(r.error)
    expect(r.value.name).toBe("Response")
    expect(r.value.attributes).toEqual({ stat: "200", code: "o&k" })
    expect(r.value.children.length).toBe(2)
  })

  it("refuses malformed documents", () => {
    for (const bad of ["", "text", "<a>", "<a></b>", "<a></a><b></b>", "<a b></a>", "<a b=c></a>", '<a b="c></a>', "<a><!-- x</a>", "</a>", "< a></a>", "<a>x</a>trailing"]) {
      expect(parseXml(bad).ok).toBe(false)
    }
  })

  it("never expands a DOCTYPE's entities and refuses deep nesting", () => {
    const r = parseXml('<!DOCTYPE r [<!ENTITY x "boom">]><r>&x;</r>')
    if (!r.ok) throw new Error(r.error)
    expect(r.value.children).toEqual(["&x;"])
    expect(parseXml(`${"<a>".repeat(100)}${"</a>".repeat(100)}`).ok).toBe(false)
    expect(parseXml(`${"<a>".repeat(60)}${"</a>".repeat(60)}`).ok).toBe(true)
  })

  it("decodeXmlText leaves text without references alone", () => {
    expect(decodeXmlText("plain & simple")).toBe("plain & simple")
    expect(decodeXmlText("&amp;lt;")).toBe("&lt;")
    expect(decodeXmlText("&#x1F600;")).toBe("😀")
  })
})

describe("LoadMaster wire: virtual services", () => {
  it("reads listvs: Index a number, VSPort a string, missing fields empty", () => {
    const body = okBody(
      classifyV2(
        200,
        JSON.stringify({
          code: 200,
          VS: [
            { Status: "Up", Index: 1, VSAddress: "10.0.0.10", VSPort: "443", Layer: 7, Enable: true, Protocol: "tcp", NickName: "web" },
            { Status: "Down", Index: 2, VSPort: "0", Protocol: "tcp", NickName: "sub", MasterVSID: 1 },
            { NickName: "no index" }
          ],
          status: "ok"
        })
      )
    )
    expect(parseVirtualServices(body)).toEqual([
      { index: 1, address: "10.0.0.10", port: "443", protocol: "tcp", nickname: "web" },
      { index: 2, address: "", port: "0", protocol: "tcp", nickname: "sub" }
    ])
  })

  it("VS as a single object, numbers as strings (APIv1), none at all", () => {
    expect(parseVirtualServices({ VS: { Index: "7", VSAddress: "10.0.0.7", VSPort: 80, Protocol: "udp", NickName: "dns" } })).toEqual([
      { index: 7, address: "10.0.0.7", port: "80", protocol: "udp", nickname: "dns" }
    ])
    expect(parseVirtualServices({ code: 200, status: "ok" })).toEqual([])
    expect(parseVirtualServices({ VS: [] })).toEqual([])
    const v1 = okBody(
      classifyV1(200, '<Response stat="200" code="ok"><Success><Data><VS><Index>4</Index><VSAddress>10.0.0.4</VSAddress><VSPort>8080</VSPort><Protocol>tcp</Protocol><NickName>a&amp;b</NickName></VS></Data></Success></Response>')
    )
    expect(parseVirtualServices(v1)).toEqual([{ index: 4, address: "10.0.0.4", port: "8080", protocol: "tcp", nickname: "a&b" }])
  })
})

describe("LoadMaster wire: packet filter state", () => {
  it("accepts the likely keys and values", () => {
    const cases: Array<[Record<string, unknown>, boolean]> = [
      [{ aclstatus: "yes" }, true],
      [{ aclstatus: "no" }, false],
      [{ code: 200, aclstatus: "Yes", status: "ok" }, true],
      [{ enabled: true }, true],
      [{ enabled: false }, false],
      [{ isenabled: "1" }, true],
      [{ IsEnabled: "0" }, false],
      [{ enabled: 1 }, true],
      [{ enabled: 0 }, false],
      [{ AclStatus: "enabled" }, true],
      [{ aclstatus: " Disabled " }, false],
      [{ Data: { aclstatus: "no" } }, false]
    ]
    for (const [body, expected] of cases) expect(parseIsEnabled(body)).toBe(expected)
  })

  it("reads APIv1's answer through classifyV1", () => {
    const body = okBody(classifyV1(200, '<Response stat="200" code="ok"><Success><Data><aclstatus>yes</aclstatus><aclmethod>drop</aclmethod></Data></Success></Response>'))
    expect(parseIsEnabled(body)).toBe(true)
  })

  it("anything else is a protocol error, returned", () => {
    for (const body of [{ code: 200, status: "ok" }, { aclstatus: "maybe" }, { enabled: null }, { enabled: 2 }, { status: "ok" }]) {
      const result = parseIsEnabled(body)
      expect(result).toBeInstanceOf(LoadMasterError)
      if (typeof result === "boolean") throw new Error("expected an error")
      expect(result.reason).toBe("protocol")
      expect(result.retryable).toBe(false)
    }
  })
})

describe("LoadMaster wire: comments", () => {
  const cause = { instance: "fm1", seq: 4711, product: "ads", method: "SSHDICT" }

  it("names the marker, the instance, the deciding event, the product and the method, short and plain", () => {
    const c = entryComment(cause)
    expect(c).toBe("mitigator fm1 4711 ads SSHDICT")
    expect(c.startsWith(`${COMMENT_MARKER} `)).toBe(true)
    expect(isMitigatorComment(c)).toBe(true)
    expect(entryComment({ ...cause, method: null, product: "ids" })).toBe("mitigator fm1 4711 ids")
    expect(commentMarker(c)).toEqual({ instance: "fm1", seq: 4711 })
  })

  it("reduces everything from the input to [A-Za-z0-9 ._-]: quotes, newlines, shell metacharacters, ANSI escapes, unicode", () => {
    const nasty = { instance: "fm1", seq: 1, product: "ads", method: `SC"; $(rm -rf /) \`id\` | & ; > < \n\r\t\u001b[31m'\\ÄNS😀\u202e` }
    const c = entryComment(nasty)
    expect(c).toMatch(/^[A-Za-z0-9 ._-]*$/)
    expect(c.length).toBeLessThanOrEqual(64)
    expect(c.startsWith("mitigator fm1 1 ads SC__")).toBe(true)
    expect(c).not.toContain("\u001b")
    expect(sanitizeComment("SCÄNS😀\u202e")).toBe("SC_NS__")
    expect(sanitizeComment(`a"b'c\nd\u001b[0m`)).toBe("a_b_c_d__0m")
    expect(sanitizeComment("ok: a=b/c.d-e_f 9")).toBe("ok_ a_b_c.d-e_f 9")
    expect(sanitizeComment("x".repeat(100)).length).toBe(64)
  })

  it("keeps within 64 characters with the marker, instance and seq first; a long instance is shortened with a hash", () => {
    const long = "flowmon-collector-in-the-second-datacenter.example.org"
    const c = entryComment({ instance: long, seq: 123456789012, product: "ads", method: "M".repeat(80) })
    expect(c.length).toBeLessThanOrEqual(64)
    const marker = commentMarker(c)!
    expect(marker.seq).toBe(123456789012)
    expect(marker.instance).toBe(commentInstance(long))
    expect(commentInstance(long)).toHaveLength(24)
    expect(commentInstance(long).startsWith("flowmon-collect-")).toBe(true)
    // Two long names that share their beginning stay apart.
    expect(commentInstance(`${long}-2`)).not.toBe(commentInstance(long))
    expect(commentInstance("fm1")).toBe("fm1")
  })

  it("operator comments carry the marker, the instance, the request's seq and the actor", () => {
    expect(operatorComment({ instance: "fm1", seq: 57, actor: "alice" })).toBe("mitigator fm1 57 op alice")
    const c = operatorComment({ instance: "fm1", seq: 57, actor: `eve"; drop\n${"x".repeat(100)}` })
    expect(c).toMatch(/^[A-Za-z0-9 ._-]*$/)
    expect(c.length).toBeLessThanOrEqual(64)
    expect(c.startsWith("mitigator fm1 57 op eve__")).toBe(true)
    expect(operatorComment({ instance: "fm1", seq: 57, actor: "  " })).toBe("mitigator fm1 57 op unknown")
    expect(commentMarker(c)).toEqual({ instance: "fm1", seq: 57 })
  })

  it("reads the comments earlier versions wrote, so their entries stay owned after an upgrade", () => {
    expect(commentMarker("mitigator seq=3 ads:9001 SSHDICT until 2026-12-02T07:02Z")).toEqual({ instance: null, seq: 3 })
    expect(commentMarker("mitigator seq=57 op=alice until 2026-11-22T02:26Z")).toEqual({ instance: null, seq: 57 })
    expect(commentMarker("mitigator op=alice until 2026-11-22T02:26Z")).toEqual({ instance: null, seq: null })
    for (const other of ["", "admin permanent ticket 99", "ADS ID 9001 - SSHDICT", "Mitigator fm1 3", "hand-made seq=12", "mitigators fm1 3"]) {
      expect(commentMarker(other), other).toBeUndefined()
    }
    expect(commentSeq("mitigator fm1 4711 ads SSHDICT")).toBe(4711)
    expect(commentSeq("mitigator seq=3 ads:9001 SSHDICT until 2026-12-02T07:02Z")).toBe(3)
    expect(commentSeq("mitigator op=alice until x")).toBeUndefined()
  })

  it("an entry is still ours only while it carries the marker it was added with", () => {
    const written = "mitigator fm1 4711 ads SSHDICT"
    expect(stillOurs(written, written)).toBe(true)
    // The appliance may cut or pad a comment: the marker is what counts.
    expect(stillOurs("  mitigator fm1 4711 ads SSH", written)).toBe(true)
    // Re-made by hand, or by another instance or another decision: not ours.
    expect(stillOurs("admin permanent ticket 99", written)).toBe(false)
    expect(stillOurs("mitigator fm2 4711 ads SSHDICT", written)).toBe(false)
    expect(stillOurs("mitigator fm1 4712 ads SSHDICT", written)).toBe(false)
    // Written by an earlier version: its seq must match.
    const old = "mitigator seq=3 ads:9001 SSHDICT until 2026-12-02T07:02Z"
    expect(stillOurs(old, old)).toBe(true)
    expect(stillOurs("mitigator seq=4 ads:9002 SSHDICT until 2026-12-02T07:02Z", old)).toBe(false)
    // Taken over from another tool: that tool's comment must still be there.
    expect(stillOurs("ADS ID 9001 - SSHDICT", "ADS ID 9001 - SSHDICT")).toBe(true)
    expect(stillOurs("admin permanent ticket 99", "ADS ID 9001 - SSHDICT")).toBe(false)
    // The ledger does not know the comment (adopted by an older version, an import's entry among
    // them): the ledger decides, and the reconciler keeps what is listed now for the next time.
    expect(stillOurs(written, null)).toBe(true)
    expect(stillOurs("fail2ban ban ticket 7", null)).toBe(true)
    // A list form without comments, or firmware that lists them empty: only the ledger can tell.
    expect(stillOurs(null, written)).toBe(true)
    expect(stillOurs("", written)).toBe(true)
    expect(stillOurs("   ", written)).toBe(true)
  })

  it("recognises only its own comments", () => {
    expect(isMitigatorComment("mitigator seq=1 ads:1 until x")).toBe(true)
    expect(isMitigatorComment("  mitigator seq=1 ")).toBe(true)
    expect(isMitigatorComment("mitigator")).toBe(true)
    for (const other of ["", "auto", "ADS ID 42 - SCANS", "mitigators", "Mitigator seq=1", "not mitigator seq=1", "mitigator-old"]) {
      expect(isMitigatorComment(other)).toBe(false)
    }
  })
})

describe("LoadMaster wire: sameCidr", () => {
  it("compares after canonicalising both sides", () => {
    expect(sameCidr("203.0.113.7", "203.0.113.7/32")).toBe(true)
    expect(sameCidr("203.0.113.7/32", "203.0.113.7")).toBe(true)
    expect(sameCidr("2001:DB8::1/128", "2001:db8::1")).toBe(true)
    expect(sameCidr("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1/128")).toBe(true)
    expect(sameCidr(" 198.51.100.0/24", "198.51.100.0/24 ")).toBe(true)
    expect(sameCidr("198.51.100.0/24", "198.51.100.0/25")).toBe(false)
    expect(sameCidr("203.0.113.7", "203.0.113.8")).toBe(false)
    // one canonical form: IPv4 written as IPv6 is IPv4
    expect(sameCidr("::ffff:203.0.113.7", "203.0.113.7")).toBe(true)
    expect(sameCidr("2001:db8::cb00:7107", "203.0.113.7")).toBe(false)
  })

  it("text that is not a block equals only the same text", () => {
    expect(sameCidr("garbage", "garbage")).toBe(true)
    expect(sameCidr("garbage", "203.0.113.7")).toBe(false)
    expect(sameCidr("192.0.2.31/24", "192.0.2.0/24")).toBe(false)
  })
})
