/**
 * Which list answers are read as lists. The parser (wire.ts `parseList`) is tolerant: it finds
 * entries wherever a known client expects them, and finds none in anything else. Read alone, an
 * answer in a shape nobody anticipated (a firmware update, a proxy's error page in JSON) would
 * be an empty list, and an empty list is a statement: every entry mitigator owns would count as
 * removed by hand. So an answer is first checked against the shapes that are known, and one that
 * is not in them fails the list call (the pass leaves that list alone and records why, quoting
 * the first 200 bytes of the answer: `quoteAnswer`).
 *
 * The known shapes (shared/specs/loadmaster-api.md §2, §4; each has a test in
 * test/targets/list-shape.test.ts, and the emulator answers in each: `listShape`):
 *
 * | shape | where from | example |
 * |---|---|---|
 * | nested | APIv1 XML (§4.1), APIv2 by the "Data flattened" rule (§4.2); any spelling of block/black list | `{"code":200,"Blocklist":{"IP":[{"addr":"…","comment":"…"}]},"status":"ok"}` |
 * | old firmware | APIv1 before 7.2.37 (§4.1): bare addresses | `<Blacklist><addr>…</addr></Blacklist>` |
 * | per-VS | `listvs` (§4.1, §4.2); `VS` one object or an array | `{"VS":{"VS_IP":"…","BlockList":{"IP":[…]}}}` |
 * | kreemer | top-level `IP` array, with `list` (§4.2) | `{"code":200,"list":"block","IP":[…],"status":"ok"}` |
 * | pier | `Acl` string array (§4.2) | `{"code":200,"Acl":["…"],"status":"ok"}` |
 * | wrapped | any of these under `Data` or `Success.Data` (§8, fjacquet) | `{"Data":{"Blocklist":{"IP":[…]}}}` |
 *
 * An empty list is the list element empty, null, `{}` or `[]` (§4.1). Beside the list only the
 * envelope (`code`, `status`, `message`), the wrappers, allow lists and the other known list
 * keys may stand. Not known, and so an error:
 * - an answer with no block list for the scope at all (`{"code":200,"status":"ok"}`);
 * - a list element that is a number or a boolean;
 * - an EMPTY list with keys beside it (or inside it) that no known shape has: the entries may
 *   well be under those keys (`{"Blocklist":{"IP":[]},"Entries":[…]}`). Beside a list that has
 *   entries, such keys are tolerated (a firmware may add fields).
 */
import { LoadMasterError, type AclScope } from "../LoadMasterAcl.js"
import { BLOCK_KEY, parseList, quoteAnswer, type AclListing } from "./wire.js"

const ALLOW_KEY = /^(allow|white)[ _-]?list$/i
const ENVELOPE = new Set(["code", "status", "message"])
const ENTRY_KEYS = new Set(["ip", "addr", "address", "comment"])

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

const keyNamed = (record: Record<string, unknown>, name: string): string | undefined =>
  Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase())

interface Findings {
  lists: number
  unknownKeys: string[]
  problems: string[]
}

/** A list element (the value at `Blocklist`, `IP`, `Acl`…): known forms only. */
const checkList = (value: unknown, path: string, found: Findings): void => {
  found.lists++
  if (value === null || typeof value === "string" || Array.isArray(value)) return
  if (isRecord(value)) {
    for (const key of Object.keys(value)) if (!ENTRY_KEYS.has(key.toLowerCase())) found.unknownKeys.push(`${path}.${key}`)
    const ip = keyNamed(value, "IP")
    if (ip !== undefined) checkEntries(value[ip], `${path}.${ip}`, found)
    return
  }
  found.problems.push(`${path} is ${typeof value === "number" ? "a number" : typeof value}, not a list`)
}

/** The entries at `IP`: an array, one entry as an object or a string, or nothing. */
const checkEntries = (value: unknown, path: string, found: Findings): void => {
  if (value === null || value === undefined || typeof value === "string" || Array.isArray(value) || isRecord(value)) return
  found.problems.push(`${path} is ${typeof value}, not a list of entries`)
}

const checkRoot = (record: Record<string, unknown>, path: string, scope: AclScope, found: Findings, top: boolean): void => {
  for (const key of Object.keys(record)) {
    const value = record[key]
    const lower = key.toLowerCase()
    const at = `${path}${key}`
    if (ENVELOPE.has(lower) || ALLOW_KEY.test(key) || lower === "list") continue
    if (BLOCK_KEY.test(key) || lower === "acl") checkList(value, at, found)
    else if (lower === "ip") {
      found.lists++
      checkEntries(value, at, found)
    } else if (lower === "vs") {
      if (scope.kind !== "vs") continue
      for (const one of Array.isArray(value) ? value : [value]) {
        if (!isRecord(one)) continue
        // A VS carries its identity and more beside its lists: only the lists are looked at.
        for (const k of Object.keys(one)) if (BLOCK_KEY.test(k)) checkList(one[k], `${at}.${k}`, found)
      }
    } else if (lower === "data" && isRecord(value)) checkRoot(value, `${at}.`, scope, found, false)
    else if (top && lower === "success" && isRecord(value)) {
      for (const k of Object.keys(value)) {
        if (k.toLowerCase() === "data" && isRecord(value[k])) checkRoot(value[k] as Record<string, unknown>, `${at}.${k}.`, scope, found, false)
        else found.unknownKeys.push(`${at}.${k}`)
      }
    } else found.unknownKeys.push(at)
  }
}

/** Why `body` is not a list answer in a known shape for `scope`, given how many entries it holds; undefined when it is one. */
export const listShapeProblem = (body: Record<string, unknown>, scope: AclScope, items: number): string | undefined => {
  const found: Findings = { lists: 0, unknownKeys: [], problems: [] }
  checkRoot(body, "", scope, found, true)
  if (found.problems.length > 0) return found.problems.join("; ")
  if (found.lists === 0) {
    const keys = Object.keys(body)
    return `no block list ${scope.kind === "vs" ? `for virtual service ${scope.index} ` : ""}in it${keys.length === 0 ? "" : ` (keys: ${keys.slice(0, 10).join(", ")})`}`
  }
  if (items === 0 && found.unknownKeys.length > 0) {
    return `an empty list beside keys no known shape has (${found.unknownKeys.slice(0, 10).join(", ")}): the entries may be there`
  }
  return undefined
}

/**
 * The block list of `scope` in a list answer (`body` as classified, `text` as received and
 * redacted), or the protocol error saying why the answer is not read as one.
 */
export const readList = (body: Record<string, unknown>, text: string, scope: AclScope): AclListing | LoadMasterError => {
  const listing = parseList(body, scope)
  const problem = listShapeProblem(body, scope, listing.entries.length + listing.unparsed.length)
  if (problem === undefined) return listing
  const what = scope.kind === "vs" ? `the block list of virtual service ${scope.index}` : "the global block list"
  return new LoadMasterError({
    reason: "protocol",
    message: `the LoadMaster answered the listing of ${what} in a shape mitigator does not know (${problem}): not read as a list, nothing changed there; the answer begins: ${quoteAnswer(text.trim())}`,
    retryable: false
  })
}
