/**
 * The LoadMaster wire protocol, without I/O: request bodies (APIv2 JSON) and paths (APIv1 XML),
 * classification of responses into data or a `LoadMasterError`, tolerant parsers for the list
 * shapes seen in the wild, and the comments mitigator writes on the entries it adds.
 *
 * Authentication is never part of what is built here: the caller adds `apikey` at the last
 * moment, so every body and path from this module can be logged as it is.
 *
 * Sources and their weight: shared/specs/loadmaster-api.md (§2 envelopes, §3 operations, §4 list
 * shapes, §6 error messages). The exact APIv2 list shape is unconfirmed (spec "Uncertain" 1),
 * hence the parser that accepts every shape any known client expects.
 */
import { createHash } from "node:crypto"
import { parseCidr } from "../../domain/Cidr.js"
import { escapeBytes } from "../../domain/SafeText.js"
import { LoadMasterError, type AclEntry, type AclScope, type VirtualService } from "../LoadMasterAcl.js"

// ---------------------------------------------------------------------------------------------
// Request bodies (APIv2) and paths (APIv1)
// ---------------------------------------------------------------------------------------------

/** An APIv2 request body without authentication: every value is a JSON string. */
export type WireBody = Record<string, string>

const vsOf = (scope: AclScope): WireBody => (scope.kind === "vs" ? { vs: String(scope.index) } : {})

/** `{cmd:"aclcontrol", list:"block"}`, or `{cmd:"aclcontrol", listvs:"block", vs:"<index>"}`. */
export const listBody = (scope: AclScope): WireBody =>
  scope.kind === "global" ? { cmd: "aclcontrol", list: "block" } : { cmd: "aclcontrol", listvs: "block", ...vsOf(scope) }

/**
 * How an add writes a single host (a network always carries its prefix):
 * - `cidr` (the default): `203.0.113.9/32`, `2001:db8::1/128`. Some older firmware refuses a bare
 *   host ("Invalid network specification…", spec §3.2) and CIDR is documented as accepted;
 * - `bare`: `203.0.113.9`, as the Flowmon script tested on 7.2.62 sends it, for firmware that
 *   wants that form.
 * Lists are read in either form whatever is configured (`parseList` canonicalises both).
 */
export type AddressForm = "cidr" | "bare"

export const ADDRESS_FORMS: ReadonlyArray<AddressForm> = ["cidr", "bare"]

/**
 * The text an add sends for `cidr` in `form`: the canonical block; a host without its prefix in
 * the bare form. Throws when `cidr` is not an address block: callers hold canonical CIDRs, so that
 * is a bug.
 */
export const addressOnWire = (cidr: string, form: AddressForm): string => {
  const parsed = parseCidr(cidr)
  if (!parsed.ok) throw new Error(`addBody: not an address block: ${parsed.error}`)
  const { text, prefix, version } = parsed.value
  const host = prefix === (version === 4 ? 32 : 128)
  return form === "bare" && host ? text.slice(0, text.lastIndexOf("/")) : text
}

/**
 * Adds `cidr` to the block list, a host written in `form` (`cidr` unless said: `/32`, `/128`).
 * The comment is sanitised again here, whatever the caller built, because this is what reaches
 * the appliance.
 */
export const addBody = (scope: AclScope, cidr: string, comment: string, form: AddressForm = "cidr"): WireBody => {
  const addr = addressOnWire(cidr, form)
  return scope.kind === "global"
    ? { cmd: "aclcontrol", add: "block", addr, comment: sanitizeComment(comment) }
    : { cmd: "aclcontrol", addvs: "block", ...vsOf(scope), addr, comment: sanitizeComment(comment) }
}

/**
 * Which form the appliance lists single hosts in, from a list it answered: `cidr`, `bare`,
 * `mixed`, or undefined when it lists no single host (networks always carry their prefix).
 */
export const listedHostForm = (entries: ReadonlyArray<{ readonly cidr: string; readonly listed: string }>): AddressForm | "mixed" | undefined => {
  const forms = new Set<AddressForm>()
  for (const e of entries) {
    const parsed = parseCidr(e.cidr)
    if (!parsed.ok || parsed.value.prefix !== (parsed.value.version === 4 ? 32 : 128)) continue
    forms.add(e.listed.includes("/") ? "cidr" : "bare")
  }
  return forms.size === 0 ? undefined : forms.size === 2 ? "mixed" : [...forms][0]
}

/** Removes an entry, sending its address exactly as the appliance listed it. */
export const removeBody = (scope: AclScope, listed: string): WireBody =>
  scope.kind === "global"
    ? { cmd: "aclcontrol", del: "block", addr: listed }
    : { cmd: "aclcontrol", delvs: "block", ...vsOf(scope), addr: listed }

/** Lists the virtual services (the top-level `listvs` command, unrelated to `aclcontrol listvs`). */
export const listVsBody = (): WireBody => ({ cmd: "listvs" })

/** Reads whether the packet routing filter (which enforces the ACLs) is on. */
export const isEnabledBody = (): WireBody => ({ cmd: "aclcontrol.isenabled" })

/** Query encoding that leaves `/` and `:` readable (both are legal in a query: RFC 3986 §3.4). */
const encodeQueryValue = (value: string): string =>
  encodeURIComponent(value).replace(/%2F/gi, "/").replace(/%3A/gi, ":")

/**
 * The APIv1 path and query of a body: `cmd` becomes the path (`aclcontrol.isenabled` →
 * `/access/aclcontrol/isenabled`), the other keys the query, in order. No `apikey`.
 */
export const v1Path = (body: WireBody): string => {
  const { cmd, ...params } = body
  const path = `/access/${(cmd ?? "").split(".").map(encodeURIComponent).join("/")}`
  const query = Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeQueryValue(v)}`)
    .join("&")
  return query === "" ? path : `${path}?${query}`
}

/** `/access/aclcontrol?list=block`, or `/access/aclcontrol?listvs=block&vs=N`. */
export const v1ListPath = (scope: AclScope): string => v1Path(listBody(scope))

// ---------------------------------------------------------------------------------------------
// Response classification
// ---------------------------------------------------------------------------------------------

export type Classified =
  | { readonly ok: true; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly error: LoadMasterError }

const MAX_SHOWN = 300

/** Appliance text made safe for a log or a terminal: printable ASCII, escapes visible, bounded. */
export const printable = (text: string, max = MAX_SHOWN): string => {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text
  return escapeBytes(new TextEncoder().encode(cut))
}

/** How much of an answer that cannot be read is quoted in the error. */
export const SHOWN_BYTES = 200

/** The first `SHOWN_BYTES` bytes of an answer (trimmed), made printable; `...` when there is more. */
export const quoteAnswer = (text: string): string => {
  const bytes = new TextEncoder().encode(text.trim())
  const shown = escapeBytes(bytes.subarray(0, SHOWN_BYTES))
  return bytes.length > SHOWN_BYTES ? `${shown}...` : shown
}

export const API_DISABLED_MESSAGE =
  "the LoadMaster API is not enabled (Certificates & Security > Remote Access > Enable API Interface)"

const failure = (error: LoadMasterError): Classified => ({ ok: false, error })

const withDetail = (message: string, detail: string | undefined): string =>
  detail === undefined || detail.trim() === "" ? message : `${message}: ${printable(detail.trim())}`

/**
 * The error for an HTTP status that settles the matter whatever the body says (401/403, 404,
 * 408, 429, 5xx), or undefined.
 */
const statusError = (status: number, detail: string | undefined): LoadMasterError | undefined => {
  if (status === 401 || status === 403)
    return new LoadMasterError({
      reason: "auth",
      message: withDetail(`the LoadMaster refused the API key (HTTP ${status})`, detail),
      status,
      retryable: false
    })
  if (status === 404)
    return new LoadMasterError({ reason: "api-disabled", message: API_DISABLED_MESSAGE, status, retryable: false })
  if (status === 408)
    return new LoadMasterError({
      reason: "timeout",
      message: withDetail(`the LoadMaster timed out the request (HTTP 408)`, detail),
      status,
      retryable: true
    })
  if (status === 429)
    return new LoadMasterError({
      reason: "rate-limited",
      message: withDetail(`the LoadMaster is limiting the rate of API calls (HTTP 429)`, detail),
      status,
      retryable: true
    })
  if (status >= 500 && status <= 599)
    return new LoadMasterError({
      reason: "server",
      message: withDetail(`the LoadMaster failed (HTTP ${status})`, detail),
      status,
      retryable: true
    })
  return undefined
}

/** The appliance refused a command: the message is the appliance's own text (made printable). */
const rejected = (status: number, message: string | undefined): LoadMasterError =>
  new LoadMasterError({
    reason: "rejected",
    message:
      message === undefined || message.trim() === ""
        ? `the LoadMaster refused the command (HTTP ${status})`
        : printable(message.trim()),
    status,
    retryable: false
  })

const protocolError = (message: string, status?: number): LoadMasterError =>
  status === undefined
    ? new LoadMasterError({ reason: "protocol", message, retryable: false })
    : new LoadMasterError({ reason: "protocol", message, status, retryable: false })

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const parseJsonObject = (text: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return isRecord(value) ? value : undefined
  } catch {
    return undefined
  }
}

const numberOf = (value: unknown): number | undefined => {
  if (typeof value === "number" && Number.isInteger(value)) return value
  if (typeof value === "string" && /^\s*[0-9]{1,4}\s*$/.test(value)) return Number(value)
  return undefined
}

const textOf = (value: unknown): string | undefined =>
  typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : undefined

/**
 * An APIv2 answer: the JSON object on success; otherwise an error by reason. 401/403 → auth,
 * 404 → api-disabled, 429 → rate-limited, 5xx → server (both retryable), 422 or a 200 with
 * `status:"fail"` → rejected with the appliance's message (a `fail` whose `code` is 401/403 →
 * auth), a 200 whose body is not a JSON object → protocol. For a `fail` inside a 200 the error's
 * `status` is the body's `code` when it has one. A success is a 2xx whose `status` is `ok`
 * (spec §2: every answer carries it): a 2xx without `status`, or with a `status` that is neither
 * `ok` nor a failure, is a protocol error quoting the answer, never a success.
 */
export const classifyV2 = (status: number, bodyText: string): Classified => {
  const json = parseJsonObject(bodyText)
  const detail = json === undefined ? undefined : textOf(json["message"])
  const byStatus = statusError(status, detail)
  if (byStatus !== undefined) return failure(byStatus)
  if (status >= 400 && status <= 499) return failure(rejected(status, detail))
  if (status < 200 || status > 299) return failure(protocolError(`unexpected HTTP ${status} from the LoadMaster`, status))
  if (json === undefined) {
    return failure(
      protocolError(
        bodyText.trim() === ""
          ? `the LoadMaster answered HTTP ${status} with an empty body`
          : `the LoadMaster answered HTTP ${status} with something that is not a JSON object: ${printable(bodyText.trim(), 120)}`,
        status
      )
    )
  }
  const outcome = textOf(json["status"])?.trim().toLowerCase()
  const code = numberOf(json["code"])
  const failed = outcome === "fail" || outcome === "error" || (outcome === undefined && code !== undefined && code >= 400)
  if (!failed) {
    if (outcome === "ok") return { ok: true, body: json }
    return failure(
      protocolError(
        `the LoadMaster answered HTTP ${status} ${outcome === undefined ? `without the "status" field every answer carries` : `with "status": ${JSON.stringify(printable(outcome, 40))}, neither ok nor fail`}: not taken as a success; the answer begins: ${quoteAnswer(bodyText)}`,
        status
      )
    )
  }
  const effective = code ?? status
  const byCode = effective === 401 || effective === 403 || effective === 429 ? statusError(effective, detail) : undefined
  return failure(byCode ?? rejected(effective, detail))
}

// ---------------------------------------------------------------------------------------------
// A small XML reader, for the APIv1 answers only
// ---------------------------------------------------------------------------------------------

export interface XmlElement {
  readonly name: string
  readonly attributes: Readonly<Record<string, string>>
  readonly children: ReadonlyArray<XmlElement | string>
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }

/** Decodes the five XML entities and numeric references; anything else stays as written. */
export const decodeXmlText = (text: string): string =>
  text.indexOf("&") === -1
    ? text
    : text.replace(/&(#[xX][0-9a-fA-F]{1,8}|#[0-9]{1,10}|lt|gt|amp|quot|apos);/g, (whole, ref: string) => {
        if (ref.startsWith("#")) {
          const cp = ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10)
          const valid = cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)
          return valid ? String.fromCodePoint(cp) : whole
        }
        return NAMED_ENTITIES[ref] ?? whole
      })

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y
const SPACE = /[ \t\r\n]*/y
const MAX_DEPTH = 64

type XmlResult = { readonly ok: true; readonly value: XmlElement } | { readonly ok: false; readonly error: string }

interface OpenElement {
  readonly name: string
  readonly attributes: Record<string, string>
  readonly children: Array<XmlElement | string>
}

/**
 * Parses one XML document into its root element: elements, attributes, text, CDATA; skips the
 * declaration, processing instructions, comments and a DOCTYPE (whose entities are never
 * expanded). The text must already be decoded (the appliance sends ISO-8859-1).
 */
export const parseXml = (input: string): XmlResult => {
  const text = input.startsWith("\uFEFF") ? input.slice(1) : input
  const n = text.length
  const stack: OpenElement[] = []
  let root: XmlElement | undefined
  let i = 0
  const fail = (what: string): XmlResult => ({ ok: false, error: `${what} at offset ${i}` })
  const addText = (value: string): XmlResult | undefined => {
    const top = stack[stack.length - 1]
    if (top !== undefined) top.children.push(value)
    else if (value.trim() !== "") return fail("text outside the root element")
    return undefined
  }
  const readName = (): string | undefined => {
    NAME.lastIndex = i
    const m = NAME.exec(text)
    if (m === null) return undefined
    i += m[0].length
    return m[0]
  }
  const skipSpace = () => {
    SPACE.lastIndex = i
    SPACE.exec(text)
    i = SPACE.lastIndex
  }
  while (i < n) {
    const lt = text.indexOf("<", i)
    if (lt === -1 || lt > i) {
      const end = lt === -1 ? n : lt
      const bad = addText(decodeXmlText(text.slice(i, end)))
      if (bad !== undefined) return bad
      i = end
      continue
    }
    if (text.startsWith("<?", i)) {
      const end = text.indexOf("?>", i + 2)
      if (end === -1) return fail("unterminated processing instruction")
      i = end + 2
    } else if (text.startsWith("<!--", i)) {
      const end = text.indexOf("-->", i + 4)
      if (end === -1) return fail("unterminated comment")
      i = end + 3
    } else if (text.startsWith("<![CDATA[", i)) {
      const end = text.indexOf("]]>", i + 9)
      if (end === -1) return fail("unterminated CDATA section")
      const bad = addText(text.slice(i + 9, end))
      if (bad !== undefined) return bad
      i = end + 3
    } else if (text.startsWith("<!", i)) {
      // A DOCTYPE: skipped, internal subset included; its entities are never used.
      const bracket = text.indexOf("[", i)
      const close = text.indexOf(">", i)
      if (close === -1) return fail("unterminated declaration")
      const end = bracket !== -1 && bracket < close ? text.indexOf("]", bracket) : close
      const gt = end === -1 ? -1 : text.indexOf(">", end)
      if (gt === -1) return fail("unterminated declaration")
      i = gt + 1
    } else if (text.startsWith("</", i)) {
      i += 2
      const name = readName()
      skipSpace()
      if (name === undefined || text[i] !== ">") return fail("malformed end tag")
      i++
      const open = stack.pop()
      if (open === undefined || open.name !== name) return fail(`end tag </${name}> does not match ${open === undefined ? "anything" : `<${open.name}>`}`)
      const element: XmlElement = open
      const parent = stack[stack.length - 1]
      if (parent !== undefined) parent.children.push(element)
      else root = element
    } else {
      i++
      const name = readName()
      if (name === undefined) return fail("malformed start tag")
      if (root !== undefined && stack.length === 0) return fail("a second root element")
      const attributes: Record<string, string> = Object.create(null) as Record<string, string>
      let selfClosing = false
      for (;;) {
        skipSpace()
        if (text.startsWith("/>", i)) {
          selfClosing = true
          i += 2
          break
        }
        if (text[i] === ">") {
          i++
          break
        }
        const attr = readName()
        if (attr === undefined) return fail(`malformed attribute in <${name}>`)
        skipSpace()
        if (text[i] !== "=") return fail(`attribute ${attr} without a value`)
        i++
        skipSpace()
        const q = text[i]
        if (q !== '"' && q !== "'") return fail(`attribute ${attr} without quotes`)
        const end = text.indexOf(q, i + 1)
        if (end === -1) return fail(`unterminated attribute ${attr}`)
        attributes[attr] = decodeXmlText(text.slice(i + 1, end))
        i = end + 1
      }
      const element: OpenElement = { name, attributes, children: [] }
      if (selfClosing) {
        const parent = stack[stack.length - 1]
        if (parent !== undefined) parent.children.push(element)
        else root = element
      } else {
        if (stack.length >= MAX_DEPTH) return fail("elements nested too deep")
        stack.push(element)
      }
    }
  }
  const open = stack[stack.length - 1]
  if (open !== undefined) return { ok: false, error: `element <${open.name}> is not closed` }
  if (root === undefined) return { ok: false, error: "no root element" }
  return { ok: true, value: root }
}

const childElements = (element: XmlElement): XmlElement[] =>
  element.children.filter((c): c is XmlElement => typeof c !== "string")

/**
 * An element as JSON-like data, the way APIv2 flattens it: an element without child elements is
 * its text (exactly, untrimmed; "" when empty); otherwise an object of its children, a name that
 * repeats becoming an array. Attributes are dropped.
 */
export const xmlToValue = (element: XmlElement): unknown => {
  const elements = childElements(element)
  if (elements.length === 0) return element.children.filter((c): c is string => typeof c === "string").join("")
  const out = Object.create(null) as Record<string, unknown>
  for (const child of elements) {
    const value = xmlToValue(child)
    const existing = out[child.name]
    // Element values are never arrays themselves, so an array here is one this loop made.
    if (existing === undefined) out[child.name] = value
    else if (Array.isArray(existing)) existing.push(value)
    else out[child.name] = [existing, value]
  }
  return out
}

const findChild = (element: XmlElement, name: string): XmlElement | undefined =>
  childElements(element).find((c) => c.name.toLowerCase() === name.toLowerCase())

const elementText = (element: XmlElement): string =>
  element.children.map((c) => (typeof c === "string" ? c : elementText(c))).join("")

/**
 * An APIv1 answer (`<Response stat=".." code="ok|fail">`): on success the `<Data>` children as a
 * record (the same shape an APIv2 body has, so the same parsers read it), or `{message}` for a
 * data-less `<Success>text</Success>`. Errors as for `classifyV2`; a `code="fail"` gives the
 * `<Error>` text (a `stat` of 401/403 → auth); a success needs `code="ok"` (spec §2: every
 * answer carries it), else it is a protocol error quoting the answer.
 */
export const classifyV1 = (status: number, bodyText: string): Classified => {
  const parsed = parseXml(bodyText)
  const response = parsed.ok && parsed.value.name.toLowerCase() === "response" ? parsed.value : undefined
  const errorElement = response === undefined ? undefined : findChild(response, "Error")
  const detail = errorElement === undefined ? undefined : elementText(errorElement)
  const byStatus = statusError(status, detail)
  if (byStatus !== undefined) return failure(byStatus)
  if (status >= 400 && status <= 499) return failure(rejected(status, detail))
  if (status < 200 || status > 299) return failure(protocolError(`unexpected HTTP ${status} from the LoadMaster`, status))
  if (response === undefined) {
    return failure(
      protocolError(
        parsed.ok
          ? `the LoadMaster answered with <${printable(parsed.value.name, 40)}>, not <Response>`
          : `the LoadMaster answered HTTP ${status} with something that is not XML (${parsed.error}): ${printable(bodyText.trim(), 120)}`,
        status
      )
    )
  }
  const code = (response.attributes["code"] ?? "").trim().toLowerCase()
  const stat = numberOf(response.attributes["stat"])
  if (code === "fail" || errorElement !== undefined || (stat !== undefined && stat >= 400)) {
    const effective = stat ?? status
    const byCode = effective === 401 || effective === 403 || effective === 429 ? statusError(effective, detail) : undefined
    return failure(byCode ?? rejected(effective, detail))
  }
  if (code !== "ok") {
    return failure(
      protocolError(
        `the LoadMaster answered HTTP ${status} with a <Response> whose code is ${code === "" ? "missing" : JSON.stringify(printable(code, 40))}, not "ok": not taken as a success; the answer begins: ${quoteAnswer(bodyText)}`,
        status
      )
    )
  }
  const success = findChild(response, "Success")
  if (success === undefined) return failure(protocolError("the LoadMaster's <Response> has neither <Success> nor <Error>", status))
  const data = findChild(success, "Data") ?? (childElements(success).length > 0 ? success : undefined)
  if (data === undefined) {
    const message = elementText(success)
    return { ok: true, body: message.trim() === "" ? {} : { message } }
  }
  const value = xmlToValue(data)
  return { ok: true, body: isRecord(value) ? value : {} }
}

// ---------------------------------------------------------------------------------------------
// Block lists
// ---------------------------------------------------------------------------------------------

export interface AclListing {
  readonly entries: ReadonlyArray<AclEntry>
  /**
   * Entries that are not address blocks (bad text, host bits set, no address at all), made
   * printable for a warning. They are left alone: never compared, never removed.
   */
  readonly unparsed: ReadonlyArray<string>
  /** Where lists were found (`Blocklist.IP`, `IP`, `VS.BlockList.IP`, `Acl`…); empty: none. */
  readonly foundAt: ReadonlyArray<string>
}

/** The value of the first key equal to one of `names`, ignoring case (an exact match first). */
const getKey = (record: Record<string, unknown>, names: ReadonlyArray<string>): { key: string; value: unknown } | undefined => {
  for (const name of names) if (Object.hasOwn(record, name)) return { key: name, value: record[name] }
  const lower = names.map((n) => n.toLowerCase())
  for (const key of Object.keys(record)) if (lower.includes(key.toLowerCase())) return { key, value: record[key] }
  return undefined
}

const asArray = (value: unknown): ReadonlyArray<unknown> => {
  if (Array.isArray(value)) return value
  if (value === undefined || value === null) return []
  if (typeof value === "string" && value.trim() === "") return []
  return [value]
}

/** `Blocklist`, `BlockList`, `Blacklist`, `blocklist`, `Block_List`… never an allow list. */
export const BLOCK_KEY = /^(block|black)[ _-]?list$/i

const ADDR_KEYS = ["addr", "address", "ip"]
const COMMENT_KEYS = ["comment"]

/** The entries a list element holds: `{IP: [...]}`, `{addr: [...]}` (old firmware), an array, text. */
const entriesOfList = (list: unknown): { items: ReadonlyArray<unknown>; path: string } => {
  if (isRecord(list)) {
    const ip = getKey(list, ["IP"])
    if (ip !== undefined) return { items: asArray(ip.value), path: `.${ip.key}` }
    const addr = getKey(list, ["addr"])
    if (addr !== undefined) {
      // Old firmware: bare <addr> children. A lone {addr, comment} is one entry given as an object.
      return Array.isArray(addr.value) ? { items: addr.value, path: `.${addr.key}` } : { items: [list], path: "" }
    }
    return { items: [], path: "" }
  }
  return { items: asArray(list), path: "" }
}

const describeRaw = (value: unknown): string => {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return printable(text, 120)
}

/** Every place a block list may sit, in order of likelihood (spec §4.2). */
const blockLists = (body: Record<string, unknown>, scope: AclScope): Array<{ list: unknown; path: string }> => {
  const roots: Array<{ record: Record<string, unknown>; path: string }> = [{ record: body, path: "" }]
  const data = getKey(body, ["Data"])
  if (data !== undefined && isRecord(data.value)) roots.push({ record: data.value, path: `${data.key}.` })
  const success = getKey(body, ["Success"])
  if (success !== undefined && isRecord(success.value)) {
    const inner = getKey(success.value, ["Data"])
    if (inner !== undefined && isRecord(inner.value)) roots.push({ record: inner.value, path: `${success.key}.${inner.key}.` })
  }
  const found: Array<{ list: unknown; path: string }> = []
  for (const { record, path } of roots) {
    if (scope.kind === "vs") {
      const vs = getKey(record, ["VS"])
      if (vs !== undefined) {
        for (const one of asArray(vs.value)) {
          if (!isRecord(one)) continue
          for (const key of Object.keys(one)) if (BLOCK_KEY.test(key)) found.push({ list: one[key], path: `${path}${vs.key}.${key}` })
        }
      }
    }
    const ip = getKey(record, ["IP"])
    if (ip !== undefined) found.push({ list: { [ip.key]: ip.value }, path })
    for (const key of Object.keys(record)) if (BLOCK_KEY.test(key)) found.push({ list: record[key], path: `${path}${key}` })
    const acl = getKey(record, ["Acl"])
    if (acl !== undefined) found.push({ list: acl.value, path: `${path}${acl.key}` })
  }
  return found
}

/**
 * The block list of `scope` from an answer's body, whatever its shape: the entry array at `IP`,
 * `Blocklist.IP` (any spelling of block/black list, any case), `VS.<list>.IP` for a VS scope,
 * `Acl`, possibly under `Data`; an object where an array belongs; entries as strings or
 * `{addr, comment}` objects; no list at all = an empty list. Allow lists are never read.
 * Entries are kept in order; an address listed twice is kept once.
 */
export const parseList = (body: Record<string, unknown>, scope: AclScope): AclListing => {
  const entries: AclEntry[] = []
  const unparsed: string[] = []
  const foundAt: string[] = []
  const seen = new Set<string>()
  for (const { list, path } of blockLists(body, scope)) {
    const { items, path: inner } = entriesOfList(list)
    foundAt.push(`${path}${inner}`.replace(/^\./, ""))
    for (const item of items) {
      let listed: string | undefined
      // null: this form of list carries no comments at all (bare addresses)
      let comment: string | null = null
      if (typeof item === "string") listed = item
      else if (isRecord(item)) {
        const addr = getKey(item, ADDR_KEYS)
        if (addr !== undefined && typeof addr.value === "string") listed = addr.value
        const c = getKey(item, COMMENT_KEYS)
        comment = c === undefined ? null : (textOf(c.value) ?? "")
      }
      if (listed === undefined) {
        unparsed.push(describeRaw(item))
        continue
      }
      if (seen.has(listed)) continue
      seen.add(listed)
      const cidr = parseCidr(listed)
      if (cidr.ok) entries.push({ cidr: cidr.value.text, listed, comment })
      else unparsed.push(listed === "" ? "(empty address)" : printable(listed, 120))
    }
  }
  return { entries, unparsed, foundAt }
}

/** The APIv2 list parser (see `parseList`). */
export const parseV2List: (body: Record<string, unknown>, scope: AclScope) => AclListing = parseList

/**
 * The APIv1 list parser: `<Data><Blocklist|Blacklist|BlockList>` with `<IP><addr/><comment/></IP>`
 * children, old firmware's bare `<addr>` children, the per-VS `<VS>…<BlockList><IP>…`; an empty
 * element is an empty list. Takes `classifyV1`'s body, or the XML text itself; XML that is not a
 * successful `<Response>` throws the `LoadMasterError` (pass the classified body to avoid that).
 */
export const parseV1List = (xml: string | Record<string, unknown>, scope: AclScope): AclListing => {
  if (typeof xml !== "string") return parseList(xml, scope)
  const classified = classifyV1(200, xml)
  if (!classified.ok) throw classified.error
  return parseList(classified.body, scope)
}

// ---------------------------------------------------------------------------------------------
// Virtual services, packet filter state
// ---------------------------------------------------------------------------------------------

const vsIndexOf = (value: unknown): number | undefined => {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value
  if (typeof value === "string" && /^\s*[0-9]{1,9}\s*$/.test(value)) return Number(value)
  return undefined
}

/**
 * The virtual services of a `listvs` answer: `{VS: [{Index, VSAddress, VSPort, Protocol,
 * NickName, …}]}` (`VS` may be one object; APIv1's strings are read too). A VS without a usable
 * Index cannot be addressed and is skipped.
 */
export const parseVirtualServices = (body: Record<string, unknown>): VirtualService[] => {
  const vs = getKey(body, ["VS"]) ?? (() => {
    const data = getKey(body, ["Data"])
    return data !== undefined && isRecord(data.value) ? getKey(data.value, ["VS"]) : undefined
  })()
  if (vs === undefined) return []
  const out: VirtualService[] = []
  for (const one of asArray(vs.value)) {
    if (!isRecord(one)) continue
    const index = vsIndexOf(getKey(one, ["Index"])?.value)
    if (index === undefined) continue
    const text = (names: ReadonlyArray<string>) => textOf(getKey(one, names)?.value) ?? ""
    out.push({
      index,
      address: text(["VSAddress"]),
      port: text(["VSPort"]),
      protocol: text(["Protocol"]),
      nickname: text(["NickName"])
    })
  }
  return out
}

const ENABLED_KEYS = ["aclstatus", "isenabled", "enabled", "aclenabled", "enable"]
const TRUE_WORDS = new Set(["yes", "y", "1", "true", "on", "enabled", "enable"])
const FALSE_WORDS = new Set(["no", "n", "0", "false", "off", "disabled", "disable"])

/**
 * Whether the packet routing filter is on, from an `aclcontrol.isenabled` answer. The APIv2 key
 * is unconfirmed (spec "Uncertain" 10): `aclstatus` (the APIv1 name), `isenabled`, `enabled`…,
 * top level or under `Data`; values yes/no, true/false, 1/0, enabled/disabled, on/off. Anything
 * else is a protocol error, returned (not thrown).
 */
export const parseIsEnabled = (body: Record<string, unknown>): boolean | LoadMasterError => {
  const data = getKey(body, ["Data"])
  const found = getKey(body, ENABLED_KEYS) ?? (data !== undefined && isRecord(data.value) ? getKey(data.value, ENABLED_KEYS) : undefined)
  if (found !== undefined) {
    const v = found.value
    if (typeof v === "boolean") return v
    const word = typeof v === "number" ? String(v) : typeof v === "string" ? v.trim().toLowerCase() : undefined
    if (word !== undefined && TRUE_WORDS.has(word)) return true
    if (word !== undefined && FALSE_WORDS.has(word)) return false
  }
  return protocolError(
    `cannot tell from the LoadMaster's answer whether the packet routing filter is on: ${describeRaw(body)}`
  )
}

// ---------------------------------------------------------------------------------------------
// Comments and address comparison
// ---------------------------------------------------------------------------------------------

/** The first word of every comment mitigator writes: an operator reading the ACL sees who added it. */
export const COMMENT_MARKER = "mitigator"

/** No public source documents the limits: 64 characters of a plain set is what every firmware should keep. */
export const MAX_COMMENT_LENGTH = 64

/** The longest instance name a comment carries; longer ones are shortened with a hash (`commentInstance`). */
const MAX_COMMENT_INSTANCE = 24

/**
 * Only `[A-Za-z0-9 ._-]`: every other character (quotes, newlines, `=`, `:`, shell
 * metacharacters, escapes, anything not ASCII: counted per code point) becomes `_`; cut to 64.
 */
export const sanitizeComment = (text: string): string => {
  let out = ""
  for (const ch of text) out += /^[A-Za-z0-9 ._-]$/.test(ch) ? ch : "_"
  return out.length > MAX_COMMENT_LENGTH ? out.slice(0, MAX_COMMENT_LENGTH) : out
}

/** One word of a comment: no blanks, the comment's charset, never empty. */
const word = (text: string, fallback: string): string => {
  const w = sanitizeComment(text.trim()).replace(/ +/g, "_")
  return w === "" ? fallback : w
}

/**
 * The instance as a comment carries it: as it is up to 24 characters, else its first 15 and
 * 8 hex digits of its SHA-256 (two long names that share a beginning stay apart).
 */
export const commentInstance = (instance: string): string => {
  const w = word(instance, "unknown")
  return w.length <= MAX_COMMENT_INSTANCE ? w : `${w.slice(0, 15)}-${createHash("sha256").update(instance).digest("hex").slice(0, 8)}`
}

const compose = (parts: ReadonlyArray<string>): string => sanitizeComment(parts.filter((p) => p !== "").join(" ")).trimEnd()

/**
 * `mitigator fm1 4711 ads SSHDICT`: the marker, the instance that detected, the seq of the
 * decision that added the entry, the product and the method. The marker, instance and seq
 * (what ownership is checked by) come first, so a cut keeps them.
 */
export const entryComment = (cause: {
  readonly instance: string
  readonly seq: number
  readonly product: string
  readonly method: string | null
}): string => compose([COMMENT_MARKER, commentInstance(cause.instance), String(cause.seq), word(cause.product, ""), cause.method === null ? "" : word(cause.method, "")])

/** `mitigator fm1 57 op alice`: an entry an operator asked for (`seq`: the BlockRequested event). */
export const operatorComment = (block: { readonly instance: string; readonly seq: number; readonly actor: string }): string =>
  compose([COMMENT_MARKER, commentInstance(block.instance), String(block.seq), "op", word(block.actor, "unknown")])

/** What identifies one of mitigator's comments: the instance and the event seq (null where an old comment has none). */
export interface CommentMarker {
  readonly instance: string | null
  readonly seq: number | null
}

const CURRENT_MARKER = /^mitigator ([A-Za-z0-9._-]{1,24}) ([0-9]{1,15})(?: |$)/
const OLD_SEQ = /(?:^|\s)seq=([0-9]{1,15})(?:\s|$)/

/**
 * The marker of a comment mitigator wrote, in today's form (`mitigator fm1 4711 …`) or the
 * form of earlier versions (`mitigator seq=3 ads:9001 …`, `mitigator op=alice until …`, no
 * instance); undefined for any other comment.
 */
export const commentMarker = (comment: string): CommentMarker | undefined => {
  const t = comment.trim()
  const current = CURRENT_MARKER.exec(t)
  if (current !== null) return { instance: current[1]!, seq: Number(current[2]) }
  if (!isMitigatorComment(t)) return undefined
  const old = OLD_SEQ.exec(t)
  return { instance: null, seq: old === null ? null : Number(old[1]) }
}

/** The event seq a comment of ours names, if any. */
export const commentSeq = (comment: string): number | undefined => commentMarker(comment)?.seq ?? undefined

/** Whether a listed comment is one mitigator wrote (it starts with the marker word). */
export const isMitigatorComment = (comment: string): boolean => {
  const t = comment.trim()
  return t === COMMENT_MARKER || t.startsWith(`${COMMENT_MARKER} `)
}

/**
 * Whether an entry as listed now is still the one mitigator put there (checked right before a
 * removal). `listed`: the comment the appliance lists now; null where its list form carries no
 * comments, and an empty one (firmware that drops comments lists them empty) tells nothing
 * either: then only the ledger can tell (true). `written`: the comment the ledger recorded for the
 * entry; null when it has none (adopted by an older version): the ledger decides (true), and the
 * reconciler records the listed comment as the one to check from then on.
 * - written by mitigator: the listed comment must carry the same marker (instance and seq);
 * - taken over from another tool (its comment): the listed comment must be that comment still.
 */
export const stillOurs = (listed: string | null, written: string | null): boolean => {
  if (listed === null || listed.trim() === "" || written === null) return true
  const then = commentMarker(written)
  if (then === undefined) return listed.trim() === written.trim()
  const now = commentMarker(listed)
  return now !== undefined && now.instance === then.instance && now.seq === then.seq
}

/**
 * Whether two addresses name the same block, after canonicalising both (`203.0.113.7` and
 * `203.0.113.7/32`; `2001:DB8::1/128` and `2001:db8::1`). Text that is not a block equals only
 * the same text.
 */
export const sameCidr = (a: string, b: string): boolean => {
  const pa = parseCidr(a)
  const pb = parseCidr(b)
  if (pa.ok && pb.ok) return pa.value.text === pb.value.text
  if (pa.ok || pb.ok) return false
  return a.trim() === b.trim()
}
