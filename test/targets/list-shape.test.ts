/**
 * Which list answers are read as lists: every known shape (listShape.ts's table for the
 * LoadMaster, the page and the bare array for CryptoSpike) is read, with entries and empty;
 * an answer in any other shape, or an empty list beside keys no known shape has, is a protocol
 * error that quotes the first 200 bytes of the answer, never an empty list.
 */
import { describe, expect, it } from "@effect/vitest"
import { CryptoSpikeError } from "../../src/targets/CryptoSpikeUsers.js"
import { GLOBAL_SCOPE, LoadMasterError, type AclScope } from "../../src/targets/LoadMasterAcl.js"
import { parseActivityPage, parseUsersPage, pagingShortfall } from "../../src/targets/cryptospike/wire.js"
import { readList } from "../../src/targets/loadmaster/listShape.js"
import { classifyV1, type AclListing } from "../../src/targets/loadmaster/wire.js"

const VS3: AclScope = { kind: "vs", index: 3 }

const read = (json: string, scope: AclScope = GLOBAL_SCOPE): AclListing | LoadMasterError => readList(JSON.parse(json), json, scope)

const listed = (json: string, scope: AclScope = GLOBAL_SCOPE): string[] => {
  const result = read(json, scope)
  if (result instanceof LoadMasterError) throw new Error(`expected a list, got: ${result.message}`)
  return result.entries.map((e) => e.cidr)
}

const refused = (json: string, scope: AclScope = GLOBAL_SCOPE): LoadMasterError => {
  const result = read(json, scope)
  if (!(result instanceof LoadMasterError)) throw new Error(`expected an error, got ${JSON.stringify(result)}`)
  return result
}

const v1 = (data: string, scope: AclScope = GLOBAL_SCOPE) => {
  const xml = `<Response stat="200" code="ok"><Success>${data}</Success></Response>`
  const classified = classifyV1(200, xml)
  if (!classified.ok) throw new Error(classified.error.message)
  return readList(classified.body, xml, scope)
}

describe("LoadMaster list answers: every known shape is read, with entries and empty", () => {
  const entry = '{"addr":"203.0.113.7/32","comment":"mitigator fm1 1 ads SCANS"}'
  const known: ReadonlyArray<readonly [string, string, string, AclScope?]> = [
    ["nested (APIv2, the flattened Data)", `{"code":200,"Blocklist":{"IP":[${entry}]},"status":"ok"}`, '{"code":200,"Blocklist":{"IP":[]},"status":"ok"}'],
    ["nested, Blacklist spelling, one entry as an object", `{"code":200,"Blacklist":{"IP":${entry}},"status":"ok"}`, '{"code":200,"Blacklist":"","status":"ok"}'],
    ["nested, empty element as null or {}", `{"code":200,"BlockList":{"IP":[${entry}]},"status":"ok"}`, '{"code":200,"BlockList":null,"status":"ok"}'],
    ["old firmware's bare addresses", '{"Blacklist":{"addr":["203.0.113.7"]}}', '{"Blacklist":{}}'],
    ["per-VS", `{"code":200,"VS":{"VS_IP":"10.0.0.11","VS_Port":"80","VS_Protocol":"tcp","BlockList":{"IP":[${entry}]}},"status":"ok"}`, '{"code":200,"VS":{"VS_IP":"10.0.0.11","VS_Port":"80","VS_Protocol":"tcp","BlockList":{"IP":[]}},"status":"ok"}', VS3],
    ["per-VS, VS as an array", `{"code":200,"VS":[{"Index":3,"Blacklist":{"IP":[${entry}]},"Whitelist":""}],"status":"ok"}`, '{"code":200,"VS":[{"Index":3,"Blacklist":""}],"status":"ok"}', VS3],
    ["kreemer's top-level IP", `{"code":200,"list":"block","IP":[${entry}],"status":"ok"}`, '{"code":200,"list":"block","IP":[],"status":"ok"}'],
    ["pier's Acl strings", '{"code":200,"Acl":["203.0.113.7"],"status":"ok"}', '{"code":200,"Acl":[],"status":"ok"}'],
    ["wrapped in Data", `{"code":200,"Data":{"Blocklist":{"IP":[${entry}]}},"status":"ok"}`, '{"code":200,"Data":{"Blocklist":{"IP":[]}},"status":"ok"}'],
    ["wrapped in Success.Data", `{"Success":{"Data":{"Blocklist":{"IP":[${entry}]}}},"status":"ok"}`, '{"Success":{"Data":{"Blocklist":""}},"status":"ok"}'],
    ["an allow list beside", `{"code":200,"Allowlist":{"IP":["192.0.2.9"]},"Blocklist":{"IP":[${entry}]},"status":"ok"}`, '{"code":200,"Allowlist":{"IP":["192.0.2.9"]},"Blocklist":{"IP":[]},"status":"ok"}']
  ]
  for (const [shape, full, empty, scope] of known) {
    it(shape, () => {
      // Given an answer in a known shape, when it is read, then its entries are the list
      expect(listed(full, scope)).toEqual(["203.0.113.7/32"])
      // and the same shape empty is an empty list
      expect(listed(empty, scope)).toEqual([])
    })
  }

  it("APIv1: the nested list, old firmware's bare <addr>, the per-VS form, an empty or self-closed element", () => {
    const ok = (r: AclListing | LoadMasterError) => {
      if (r instanceof LoadMasterError) throw new Error(r.message)
      return r.entries.map((e) => e.cidr)
    }
    expect(ok(v1("<Data><Blocklist><IP><addr>203.0.113.7</addr><comment>x</comment></IP></Blocklist></Data>"))).toEqual(["203.0.113.7/32"])
    expect(ok(v1("<Data><Blacklist><addr>203.0.113.7</addr><addr>198.51.100.0/24</addr></Blacklist></Data>"))).toEqual(["203.0.113.7/32", "198.51.100.0/24"])
    expect(ok(v1("<Data><VS><VS_IP>10.0.0.11</VS_IP><BlockList><IP><addr>203.0.113.7</addr></IP></BlockList></VS></Data>", VS3))).toEqual(["203.0.113.7/32"])
    for (const empty of ["<Data><Blocklist></Blocklist></Data>", "<Data><Blocklist/></Data>", "<Data><Blocklist><IP/></Blocklist></Data>"]) expect(ok(v1(empty))).toEqual([])
  })
})

describe("LoadMaster list answers: anything else is an error quoting the answer", () => {
  it("no block list at all is not an empty list", () => {
    for (const json of ['{"code":200,"status":"ok"}', '{"code":200,"message":"Command completed ok","status":"ok"}', '{"code":200,"Entries":[{"Address":"203.0.113.7"}],"status":"ok"}']) {
      const e = refused(json)
      expect(e.reason).toBe("protocol")
      expect(e.retryable).toBe(false)
      expect(e.message).toContain("in a shape mitigator does not know (no block list in it")
      expect(e.message).toContain(`the answer begins: ${json}`)
    }
    // A per-VS answer read for the global list, a global one read for a virtual service.
    expect(refused('{"code":200,"VS":{"BlockList":{"IP":["203.0.113.7"]}},"status":"ok"}').message).toContain("no block list in it")
    expect(refused('{"code":200,"VS":{"VS_IP":"10.0.0.11"},"status":"ok"}', VS3).message).toContain("no block list for virtual service 3 in it")
    // APIv1: a data-less success, an empty <Data>.
    for (const answer of [v1("Command completed ok"), v1("<Data></Data>")]) expect(answer).toBeInstanceOf(LoadMasterError)
  })

  it("an empty list beside (or inside) keys no known shape has: the entries may be there", () => {
    for (const [json, key] of [
      ['{"code":200,"Blocklist":{"IP":[]},"Entries":[{"Address":"203.0.113.7"}],"status":"ok"}', "Entries"],
      ['{"code":200,"Blocklist":{"IP":[],"Entry":[{"Address":"203.0.113.7"}]},"status":"ok"}', "Blocklist.Entry"],
      ['{"code":200,"Acl":[],"Rules":"203.0.113.7","status":"ok"}', "Rules"],
      ['{"code":200,"Data":{"Blocklist":"","more":1},"status":"ok"}', "Data.more"]
    ] as const) {
      const e = refused(json)
      expect(e.message).toContain(`an empty list beside keys no known shape has (${key})`)
    }
    // Beside a list that has entries, an unknown key is tolerated (a firmware may add fields).
    expect(listed('{"code":200,"Blocklist":{"IP":["203.0.113.7"]},"count":1,"status":"ok"}')).toEqual(["203.0.113.7/32"])
  })

  it("a list element that is a number or a boolean", () => {
    expect(refused('{"code":200,"Blocklist":3,"status":"ok"}').message).toContain("Blocklist is a number, not a list")
    expect(refused('{"code":200,"IP":true,"status":"ok"}').message).toContain("IP is boolean, not a list of entries")
  })

  it("quotes 200 bytes at most, made printable", () => {
    const json = `{"code":200,"status":"ok","note":"\\u001b[2J${"y".repeat(400)}"}`
    const e = refused(json)
    expect(e.message).toMatch(/the answer begins: \{"code":200,"status":"ok","note":"\\\\u001b\[2Jy+\.\.\.$/)
    expect(e.message.length).toBeLessThan(500)
  })
})

describe("CryptoSpike list answers", () => {
  const user = { userId: "S-1-5-21-1", userName: "jdoe", blocked: true }

  it("the page shape and the bare array are read, with items and empty", () => {
    for (const parse of [(b: unknown) => parseUsersPage(b, true), parseActivityPage]) {
      for (const body of [{ items: [user], totalItems: 1, totalUnfilteredItems: 9 }, { items: [user] }, [user]]) {
        const page = parse(body)
        expect(page).not.toBeInstanceOf(CryptoSpikeError)
        expect((page as { count: number }).count).toBe(1)
      }
      for (const body of [{ items: [], totalItems: 0, totalUnfilteredItems: 9 }, { items: [] }, []]) {
        expect((parse(body) as { count: number }).count).toBe(0)
      }
    }
  })

  it("anything else is an error quoting the answer: no items, items not a list, an empty page beside unknown keys", () => {
    for (const [body, said] of [
      [{ content: [user], totalElements: 1 }, 'no "items" list'],
      [{ items: { user } }, '"items" is not a list'],
      [{ items: [], content: [user] }, 'an empty "items" beside "content"'],
      ["not a list", "not a JSON object"]
    ] as const) {
      const e = parseUsersPage(body, true)
      expect(e).toBeInstanceOf(CryptoSpikeError)
      expect((e as CryptoSpikeError).reason).toBe("protocol")
      expect((e as CryptoSpikeError).message).toContain(`in a shape mitigator does not know (${said})`)
      expect((e as CryptoSpikeError).message).toContain(`the answer begins: ${JSON.stringify(body).slice(0, 40)}`)
    }
    // Beside items that are there, other keys are tolerated.
    expect(parseUsersPage({ items: [user], page: 0 }, true)).not.toBeInstanceOf(CryptoSpikeError)
  })

  it("a list that runs out before the total it announced cannot be complete", () => {
    expect(pagingShortfall({ count: 0, totalItems: 5 }, 100, 0)).toBe("it says it holds 5 item(s) but ran out after 0")
    expect(pagingShortfall({ count: 3, totalItems: 103 }, 100, 103)).toBeUndefined()
    expect(pagingShortfall({ count: 3, totalItems: undefined }, 100, 3)).toBeUndefined()
    expect(pagingShortfall({ count: 100, totalItems: 500 }, 100, 100)).toBeUndefined()
  })
})
