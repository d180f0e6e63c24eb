/**
 * A local stand-in for a Kemp LoadMaster's ACL API (block/allow lists), for tests and demos.
 * A real HTTP or HTTPS server on loopback, answering:
 *
 * - APIv2: `POST /accessv2` with a JSON body (or `GET /accessv2?cmd=..` with query parameters);
 * - APIv1: `GET|POST /access/<cmd>[/<sub>]` with query or form parameters, answering XML in
 *   ISO-8859-1 (`/access/aclcontrol/isenabled` is the v2 command `aclcontrol.isenabled`).
 *
 * Commands: `aclcontrol` (add/del/list/addvs/delvs/listvs on `block`/`allow`, the legacy names
 * `black`/`white`, and `enable`), `aclcontrol.isenabled`, `listvs`, `showvs`, `get param=version`.
 * Envelopes, error texts and the switchable behaviours follow the research notes
 * (shared/specs/loadmaster-api.md §2-§6 and §10 "Emulator contract"). Where the real appliance's
 * behaviour is unknown (duplicate add, absent delete, packet filter off, the v2 list shape), the
 * emulator's choice is an option; so are the ways firmware is known or feared to differ (issue
 * 18): the single-host form it accepts and lists, limits on comments, parameters it refuses. A
 * request log (`requests`) shows tests exactly what a client sent.
 *
 * Plain Node on purpose: it is a test fixture, and clarity matters more than effects here.
 */
import { execFile } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { parseCidr } from "../../domain/Cidr.js"
import type { AclScope } from "../../targets/LoadMasterAcl.js"
import { answerLost, checkFaults, networkFault, type NetworkFaults } from "../faults.js"
import { echoText, sendHugeBody, type OddAnswers } from "../oddAnswers.js"
import { serveHttp } from "../serveHttp.js"

// ---------------------------------------------------------------------------------------------
// Public types

export type ListName = "block" | "allow"

/**
 * The v2 JSON shape of list answers (spec §4.2); v1 XML is the nested form, or old firmware's
 * with `old`. The known shapes: `nested` (the default), `kreemer`, `pier`, `data` (the nested
 * form wrapped in `Data`), `success` (wrapped in `Success.Data`, as fjacquet reads it) and `old`
 * (firmware before 7.2.37: `Blacklist` holding bare `addr`s, no comments; spec §4.1). Two no
 * client knows: `unknown` (the entries under `Entries`, as `{Address, Note}`) and `split` (an
 * empty nested list, the entries beside it under `Entries`).
 */
export type ListShape = "nested" | "kreemer" | "pier" | "data" | "success" | "old" | "unknown" | "split"

/** Every list shape, the known ones first. */
export const LIST_SHAPES: ReadonlyArray<ListShape> = ["nested", "kreemer", "pier", "data", "success", "old", "unknown", "split"]

/**
 * Which form of a single host an add (and a delete) accepts: `either` (the default), `cidr` (a
 * bare host refused, as older firmware does: spec §3.2) or `bare` (a host with `/32` or `/128`
 * refused, for firmware that wants the form the Flowmon script sends). Networks always carry
 * their prefix.
 */
export type HostForm = "either" | "cidr" | "bare"

/** How a list shows a single host: `cidr` (the default: `/32`, `/128`), `bare`, or `as-sent`. */
export type ListedHostForm = "cidr" | "bare" | "as-sent"

/** One request as the emulator received it (the API key included: it is a test fixture). */
export interface RecordedRequest {
  readonly method: string
  /** path and query, as sent */
  readonly url: string
  /** lower-case names */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  /** the body as text ("" for none) */
  readonly body: string
}

/** The request log keeps the newest this many requests. */
export const MAX_RECORDED_REQUESTS = 1000

/** A list's owner: the global lists, or a virtual service's (by Index). */
export type EmulatorScope = "global" | number | AclScope

export interface EmulatorAclEntry {
  readonly addr: string
  readonly comment: string
}

export interface EmulatorVirtualService {
  readonly index: number
  readonly address: string
  readonly port: number | string
  readonly protocol: string
  readonly nickname: string
}

/**
 * The network faults (a 503 is `{code:503,...,status:"fail"}`), the odd answers (an echo is a
 * 422 `{code:422,message:<echo>,status:"fail"}`, XML on APIv1), and the LoadMaster's own.
 */
export interface LoadMasterFaults extends NetworkFaults, OddAnswers {
  /** 0..1: the share of calls carried out whose answer is lost (the connection is destroyed after the change) */
  readonly lostAnswerRate?: number | undefined
  /** every call is answered 401 */
  readonly authFailures?: boolean | undefined
  /** destroy the connection of a call beyond 30 served calls in any 3 s window (spec §7) */
  readonly rateLimit?: boolean | undefined
}

export interface PacketFilterSettings {
  /** the filter's state at start (`enable` changes it later) */
  readonly enabled: boolean
  /** while it is off, ACL mutations either fail (422) or succeed silently */
  readonly mutationsWhenOff: "fail" | "succeed"
  /** the 422 message when they fail (default "Packet filter is not enabled") */
  readonly message?: string | undefined
}

export interface LoadMasterEmulatorOptions {
  /** 0 (default) = any free port */
  readonly port?: number | undefined
  /**
   * answer with a `Date` header (default true); false: none, as behind a proxy that strips it
   * (and for tests that move their own clock, which the emulator's real one would contradict)
   */
  readonly sendDate?: boolean | undefined
  /** default 127.0.0.1 */
  readonly host?: string | undefined
  /** default: 32 random hex characters */
  readonly apiKey?: string | undefined
  readonly tls?: boolean | undefined
  /** PEM; when `tls` is set and these are absent, a self-signed certificate is made with openssl */
  readonly tlsCert?: string | undefined
  readonly tlsKey?: string | undefined
  readonly listShape?: ListShape | undefined
  /** default: Index 1 (10.0.0.10:443 tcp) and Index 3 (10.0.0.11:80 tcp) */
  readonly virtualServices?: ReadonlyArray<EmulatorVirtualService> | undefined
  /** default "error": 422 `Address already exists` */
  readonly duplicateAdd?: "error" | "ignore" | undefined
  /** default "error": 422 `Address not found` */
  readonly absentDelete?: "error" | "ignore" | undefined
  /** answer command errors (422) and auth failures (401) with HTTP 200 and `status:"fail"` */
  readonly errorsAsHttp200?: boolean | undefined
  /** answer APIv2 successes without the `status` field (which every real answer carries) */
  readonly omitStatus?: boolean | undefined
  /** default { enabled: true, mutationsWhenOff: "succeed" } */
  readonly packetFilter?: PacketFilterSettings | undefined
  /** default true; false: every API call gets HTTP 404 */
  readonly apiEnabled?: boolean | undefined
  /** default true: `a.b.c.d` is stored as `a.b.c.d/32` (IPv6: /128); false: bare hosts are refused (`hostForm: "cidr"`) */
  readonly normaliseBareIpv4?: boolean | undefined
  /** which single-host form adds and deletes accept (default `either`; overrides normaliseBareIpv4) */
  readonly hostForm?: HostForm | undefined
  /** how lists show a single host (default `cidr`; `bare` with `hostForm: "bare"`) */
  readonly listedHostForm?: ListedHostForm | undefined
  /** the longest comment an add accepts (default: no limit); longer: 422 `Invalid comment` */
  readonly commentMaxLength?: number | undefined
  /** `plain`: an add whose comment has a character outside `[A-Za-z0-9 ._-]` gets 422 `Invalid comment` (default `any`) */
  readonly commentCharset?: "any" | "plain" | undefined
  /** refuse (422 `Unknown parameter`) any parameter the command does not take, as a strict firmware might */
  readonly strictParameters?: boolean | undefined
  /** what `get param=version` answers (default "7.2.63.2") */
  readonly firmwareVersion?: string | undefined
  readonly faults?: LoadMasterFaults | undefined
  /** a saved state (see `saveState` / `loadState`): its lists, virtual services and filter state */
  readonly state?: LoadMasterEmulatorState | undefined
  /** for the fault dice; default Math.random */
  readonly random?: (() => number) | undefined
}

/** What `setOptions` may change on a running emulator. */
export type LoadMasterEmulatorSettings = Pick<
  LoadMasterEmulatorOptions,
  | "listShape"
  | "virtualServices"
  | "duplicateAdd"
  | "absentDelete"
  | "errorsAsHttp200"
  | "omitStatus"
  | "packetFilter"
  | "apiEnabled"
  | "normaliseBareIpv4"
  | "hostForm"
  | "listedHostForm"
  | "commentMaxLength"
  | "commentCharset"
  | "strictParameters"
  | "firmwareVersion"
  | "faults"
  | "random"
>

/** The saved form: JSON, written by `saveState`, read by `loadState`. */
export interface LoadMasterEmulatorState {
  readonly version: 1
  readonly packetFilterEnabled: boolean
  readonly virtualServices: ReadonlyArray<EmulatorVirtualService>
  /** keyed "global" or a VS Index as text */
  readonly lists: Readonly<Record<string, { readonly block: ReadonlyArray<EmulatorAclEntry>; readonly allow: ReadonlyArray<EmulatorAclEntry> }>>
}

/**
 * Requests by kind. A call is counted under its kind when the emulator answered it (whatever
 * the answer); `rejected` also counts every answer that was not a success (400/401/404/422),
 * `faulted` counts the injected faults (503, reset, rate-limit reset), which are not counted
 * under their kind.
 */
export type RequestKind =
  | "list"
  | "listvs"
  | "add"
  | "addvs"
  | "del"
  | "delvs"
  | "isenabled"
  | "enable"
  | "listvs-services"
  | "other"

export interface LoadMasterEmulatorHandle {
  /** `http://127.0.0.1:PORT` or `https://...` */
  readonly url: string
  readonly port: number
  readonly apiKey: string
  readonly certificatePem?: string
  /** SHA-256 of the certificate's DER, upper-case hex pairs joined by ':' (as openssl prints it) */
  readonly fingerprint?: string
  /** a deep copy of the current state */
  readonly state: () => LoadMasterEmulatorState
  readonly entries: (scope: EmulatorScope, list?: ListName) => EmulatorAclEntry[]
  /** puts an entry straight into a list, exactly as given (no validation, not counted) */
  readonly seed: (scope: EmulatorScope, addr: string, comment?: string, list?: ListName) => void
  readonly packetFilterEnabled: () => boolean
  readonly counts: () => Record<string, number>
  readonly resetCounts: () => void
  /** TLS handshakes completed since the emulator started (0 over plain HTTP) */
  readonly tlsHandshakes: () => number
  /** the newest requests (at most MAX_RECORDED_REQUESTS), oldest first, faulted ones included */
  readonly requests: () => ReadonlyArray<RecordedRequest>
  readonly clearRequests: () => void
  /** replaces the faults (`setFaults({})` clears them) */
  readonly setFaults: (faults: LoadMasterFaults) => void
  readonly setOptions: (settings: LoadMasterEmulatorSettings) => void
  readonly saveState: (file: string) => void
  readonly close: () => Promise<void>
}

export const DEFAULT_VIRTUAL_SERVICES: ReadonlyArray<EmulatorVirtualService> = [
  { index: 1, address: "10.0.0.10", port: "443", protocol: "tcp", nickname: "web-https" },
  { index: 3, address: "10.0.0.11", port: "80", protocol: "tcp", nickname: "web-http" }
]

export const RATE_LIMIT_CALLS = 30
export const RATE_LIMIT_WINDOW_MS = 3000

// ---------------------------------------------------------------------------------------------
// State files

/** Reads a state written by `saveState`; throws an Error naming the file when it is not one. */
export const loadState = (file: string): LoadMasterEmulatorState => {
  let parsed: unknown
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"))
  } catch (e) {
    throw new Error(`${file}: cannot read the emulator state: ${e instanceof Error ? e.message : String(e)}`)
  }
  const problem = stateProblem(parsed)
  if (problem !== undefined) throw new Error(`${file}: not an emulator state: ${problem}`)
  return parsed as LoadMasterEmulatorState
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const isEntry = (u: unknown): boolean => isRecord(u) && typeof u["addr"] === "string" && typeof u["comment"] === "string"

const stateProblem = (u: unknown): string | undefined => {
  if (!isRecord(u)) return "expected a JSON object"
  if (u["version"] !== 1) return "expected version 1"
  if (typeof u["packetFilterEnabled"] !== "boolean") return "packetFilterEnabled must be a boolean"
  const vss = u["virtualServices"]
  if (!Array.isArray(vss)) return "virtualServices must be an array"
  for (const vs of vss) {
    if (!isRecord(vs) || typeof vs["index"] !== "number" || typeof vs["address"] !== "string") {
      return "each virtual service needs a numeric index and an address"
    }
  }
  const lists = u["lists"]
  if (!isRecord(lists)) return "lists must be an object"
  for (const [key, value] of Object.entries(lists)) {
    if (key !== "global" && !/^[0-9]+$/.test(key)) return `list key ${JSON.stringify(key)} is neither "global" nor a VS Index`
    if (!isRecord(value)) return `lists.${key} must be an object`
    for (const list of ["block", "allow"] as const) {
      const entries = value[list]
      if (!Array.isArray(entries) || !entries.every(isEntry)) return `lists.${key}.${list} must be an array of {addr, comment}`
    }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// TLS

export interface SelfSignedCertificate {
  readonly certPem: string
  readonly keyPem: string
}

/**
 * An emulator's certificate and key: none without `tls`; the given pair; else a self-signed one
 * for `host`. A certificate without its key (or the reverse) is refused.
 */
export const emulatorTlsMaterial = async (
  options: { readonly tls?: boolean | undefined; readonly tlsCert?: string | undefined; readonly tlsKey?: string | undefined },
  host: string
): Promise<SelfSignedCertificate | undefined> => {
  if (options.tls !== true) return undefined
  if (options.tlsCert !== undefined && options.tlsKey !== undefined) return { certPem: options.tlsCert, keyPem: options.tlsKey }
  if (options.tlsCert !== undefined || options.tlsKey !== undefined) {
    throw new Error("tlsCert and tlsKey go together: pass both, or neither to generate a self-signed certificate")
  }
  return generateSelfSignedCertificate([host])
}

/**
 * A throwaway self-signed certificate (EC P-256, 2 days) for `hosts` (IP addresses and DNS
 * names, used as subjectAltNames). Node cannot make X.509 certificates, so this runs `openssl`;
 * without it, it fails saying so.
 */
export const generateSelfSignedCertificate = async (hosts: ReadonlyArray<string>): Promise<SelfSignedCertificate> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-emulator-tls-"))
  try {
    const names = [...new Set(["127.0.0.1", "::1", "localhost", ...hosts])].filter((h) => h !== "" && h !== "0.0.0.0" && h !== "::")
    const san = names.map((h) => (net.isIP(h) === 0 ? `DNS:${h}` : `IP:${h}`)).join(",")
    const keyFile = path.join(dir, "key.pem")
    const certFile = path.join(dir, "cert.pem")
    const args = [
      "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
      "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=loadmaster-emulator", "-addext", `subjectAltName=${san}`
    ]
    await new Promise<void>((resolve, reject) => {
      execFile("openssl", args, { timeout: 30_000 }, (error, _stdout, stderr) => {
        if (error === null) return resolve()
        const code = (error as NodeJS.ErrnoException).code
        reject(
          new Error(
            code === "ENOENT"
              ? "openssl is not installed (or not on PATH): it is needed to make the emulator's self-signed TLS certificate; install it or pass a certificate and key"
              : `openssl could not make a self-signed certificate: ${String(stderr).trim() || error.message}`
          )
        )
      })
    })
    return { certPem: fs.readFileSync(certFile, "utf8"), keyPem: fs.readFileSync(keyFile, "utf8") }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** SHA-256 fingerprint of a PEM certificate, `AB:CD:...` (the form `openssl x509 -fingerprint -sha256` prints). */
export const certificateFingerprint = (certPem: string): string => new crypto.X509Certificate(certPem).fingerprint256

// ---------------------------------------------------------------------------------------------
// The emulator

type Api = "v1" | "v2"

type Params = Record<string, string>

interface StoredVs {
  index: number
  address: string
  port: string
  protocol: string
  nickname: string
}

interface Lists {
  block: EmulatorAclEntry[]
  allow: EmulatorAclEntry[]
}

type Outcome =
  | { readonly tag: "ok" }
  | { readonly tag: "data"; readonly data: Record<string, unknown> }
  | { readonly tag: "list"; readonly list: ListName; readonly vs: StoredVs | undefined; readonly entries: ReadonlyArray<EmulatorAclEntry> }
  | { readonly tag: "error"; readonly code: number; readonly message: string }

const OK: Outcome = { tag: "ok" }
const fail = (message: string, code = 422): Outcome => ({ tag: "error", code, message })

const ACL_OPERATIONS = ["add", "del", "list", "addvs", "delvs", "listvs", "enable"] as const
type AclOperation = (typeof ACL_OPERATIONS)[number]

const LIST_NAMES: Record<string, ListName> = { block: "block", black: "block", allow: "allow", white: "allow" }

const checkLoadMasterFaults = (faults: LoadMasterFaults): void => checkFaults(faults, { lostAnswerRate: faults.lostAnswerRate })

const toStoredVs = (vs: EmulatorVirtualService): StoredVs => ({
  index: vs.index,
  address: vs.address,
  port: String(vs.port),
  protocol: vs.protocol,
  nickname: vs.nickname
})

const scopeKey = (scope: EmulatorScope): string =>
  scope === "global" ? "global" : typeof scope === "number" ? String(scope) : scope.kind === "global" ? "global" : String(scope.index)

const copyEntries = (entries: ReadonlyArray<EmulatorAclEntry>): EmulatorAclEntry[] => entries.map((e) => ({ addr: e.addr, comment: e.comment }))

/** The key two addresses are compared by: the canonical CIDR (a bare host is its /32 or /128), else the text. */
const matchKeys = new Map<string, string>()
const matchKey = (addr: string): string => {
  // Memoised: every add compares with every entry of the list (10,000-entry benchmarks).
  let key = matchKeys.get(addr)
  if (key === undefined) {
    const parsed = parseCidr(addr)
    key = parsed.ok ? parsed.value.text : addr.trim()
    if (matchKeys.size > 1_000_000) matchKeys.clear()
    matchKeys.set(addr, key)
  }
  return key
}

export const startLoadMasterEmulator = async (options: LoadMasterEmulatorOptions = {}): Promise<LoadMasterEmulatorHandle> => {
  const host = options.host ?? "127.0.0.1"
  const apiKey = options.apiKey ?? crypto.randomBytes(16).toString("hex")
  checkLoadMasterFaults(options.faults ?? {})

  // Settings (mutable through setOptions / setFaults).
  let listShape: ListShape = options.listShape ?? "nested"
  let duplicateAdd = options.duplicateAdd ?? "error"
  let absentDelete = options.absentDelete ?? "error"
  let errorsAsHttp200 = options.errorsAsHttp200 ?? false
  let omitStatus = options.omitStatus ?? false
  let mutationsWhenOff = options.packetFilter?.mutationsWhenOff ?? "succeed"
  let filterOffMessage = options.packetFilter?.message ?? "Packet filter is not enabled"
  let apiEnabled = options.apiEnabled ?? true
  let hostForm: HostForm = options.hostForm ?? (options.normaliseBareIpv4 === false ? "cidr" : "either")
  // Firmware that wants bare hosts is taken to list them so, unless said otherwise.
  let listedHosts: ListedHostForm = options.listedHostForm ?? (hostForm === "bare" ? "bare" : "cidr")
  let commentMaxLength = options.commentMaxLength
  let commentCharset = options.commentCharset ?? "any"
  let strictParameters = options.strictParameters ?? false
  let recorded: RecordedRequest[] = []
  let firmwareVersion = options.firmwareVersion ?? "7.2.63.2"
  let faults: LoadMasterFaults = { ...options.faults }
  let random = options.random ?? Math.random

  // State.
  let packetFilterEnabled = options.state?.packetFilterEnabled ?? options.packetFilter?.enabled ?? true
  let virtualServices: StoredVs[] = (options.state?.virtualServices ?? options.virtualServices ?? DEFAULT_VIRTUAL_SERVICES).map(toStoredVs)
  const lists = new Map<string, Lists>()
  for (const [key, value] of Object.entries(options.state?.lists ?? {})) {
    lists.set(key, { block: copyEntries(value.block), allow: copyEntries(value.allow) })
  }
  // Each list's entries by match key (the first of each), so that an add to a list of 100,000
  // entries does not look through all of them (the bench adds a thousand a second); made when
  // first needed, dropped when a list is changed another way.
  const indexes = new WeakMap<EmulatorAclEntry[], Map<string, EmulatorAclEntry>>()
  const indexOf = (entries: EmulatorAclEntry[]): Map<string, EmulatorAclEntry> => {
    let index = indexes.get(entries)
    if (index === undefined) {
      index = new Map()
      for (const e of entries) if (!index.has(matchKey(e.addr))) index.set(matchKey(e.addr), e)
      indexes.set(entries, index)
    }
    return index
  }
  const listsOf = (key: string): Lists => {
    let found = lists.get(key)
    if (found === undefined) {
      found = { block: [], allow: [] }
      lists.set(key, found)
    }
    return found
  }

  // Counters.
  let counts: Record<string, number> = {}
  const count = (kind: string) => {
    counts[kind] = (counts[kind] ?? 0) + 1
  }
  let served: number[] = []

  const tlsMaterial = await emulatorTlsMaterial(options, host)

  // --- commands -------------------------------------------------------------------------------

  const findVs = (params: Params): { vs: StoredVs | undefined; described: string } => {
    const vsText = (params["vs"] ?? params["vsip"] ?? "").trim()
    const port = (params["port"] ?? params["vsport"] ?? "").trim()
    const prot = (params["prot"] ?? params["vsprot"] ?? "").trim().toLowerCase()
    const described = `${vsText}+${port}+${prot}`
    if (/^[0-9]+$/.test(vsText)) return { vs: virtualServices.find((v) => v.index === Number(vsText)), described }
    if (vsText === "" || port === "") return { vs: undefined, described }
    const vs = virtualServices.find(
      (v) => v.address === vsText && v.port === port && v.protocol.toLowerCase() === (prot === "" ? "tcp" : prot)
    )
    return { vs, described }
  }

  /** The address as it is stored (and listed), or the error to answer. */
  const checkAddress = (raw: string | undefined): { ok: true; addr: string } | { ok: false; outcome: Outcome } => {
    const text = (raw ?? "").trim()
    const parsed = parseCidr(text)
    if (text === "" || !parsed.ok) return { ok: false, outcome: fail("Invalid address") }
    const host = parsed.value.prefix === (parsed.value.version === 4 ? 32 : 128)
    if (host && !text.includes("/") && hostForm === "cidr") {
      return { ok: false, outcome: fail("Invalid network specification prefix is invalid for specified network") }
    }
    // What such firmware would say is unknown; spec §6 has "Invalid address" for a malformed one.
    if (host && text.includes("/") && hostForm === "bare") return { ok: false, outcome: fail("Invalid address") }
    const canonical = parsed.value.text
    const addr = !host || listedHosts === "cidr" ? canonical : listedHosts === "bare" ? canonical.slice(0, canonical.lastIndexOf("/")) : text
    return { ok: true, addr }
  }

  /** Why a comment is refused, under the comment limits; undefined when it is not. */
  const commentProblem = (comment: string | undefined): Outcome | undefined => {
    if (comment === undefined) return undefined
    if (commentMaxLength !== undefined && [...comment].length > commentMaxLength) return fail("Invalid comment")
    if (commentCharset === "plain" && !/^[A-Za-z0-9 ._-]*$/.test(comment)) return fail("Invalid comment")
    return undefined
  }

  const AUTH_PARAMETERS = ["apikey", "apiuser", "apipass"]
  const VS_PARAMETERS = ["vs", "vsip", "port", "vsport", "prot", "vsprot"]

  /** The parameters `cmd` takes (beyond `cmd` and the credentials), for strictParameters. */
  const parametersOf = (cmd: string, params: Params): ReadonlyArray<string> | undefined => {
    switch (cmd) {
      case "aclcontrol": {
        const op = ACL_OPERATIONS.find((o) => o in params)
        switch (op) {
          case "add":
            return ["add", "addr", "comment"]
          case "del":
            return ["del", "addr"]
          case "list":
            return ["list"]
          case "addvs":
            return ["addvs", "addr", "comment", ...VS_PARAMETERS]
          case "delvs":
            return ["delvs", "addr", ...VS_PARAMETERS]
          case "listvs":
            return ["listvs", ...VS_PARAMETERS]
          case "enable":
            return ["enable"]
          default:
            return undefined
        }
      }
      case "aclcontrol.isenabled":
      case "listvs":
        return []
      case "showvs":
        return VS_PARAMETERS
      case "get":
        return ["param"]
      default:
        return undefined
    }
  }

  /** The first parameter `cmd` does not take, under strictParameters. */
  const unknownParameter = (cmd: string, params: Params, api: Api): string | undefined => {
    if (!strictParameters) return undefined
    const known = parametersOf(cmd, params)
    if (known === undefined) return undefined
    return Object.keys(params).find((k) => !(api === "v2" && k === "cmd") && !AUTH_PARAMETERS.includes(k) && !known.includes(k))
  }

  const aclcontrol = (params: Params): Outcome => {
    const op: AclOperation | undefined = ACL_OPERATIONS.find((o) => o in params)
    if (op === undefined) return fail("Unknown command")
    if (op === "enable") {
      const value = (params["enable"] ?? "").trim()
      if (value !== "0" && value !== "1") return fail("Invalid value for enable (expected 0 or 1)")
      packetFilterEnabled = value === "1"
      return OK
    }
    const listText = (params[op] ?? "").trim().toLowerCase()
    const list = Object.hasOwn(LIST_NAMES, listText) ? LIST_NAMES[listText] : undefined
    if (list === undefined) return fail(`Unknown list type ${JSON.stringify(params[op] ?? "")} (expected block or allow)`)

    let key = "global"
    let vs: StoredVs | undefined
    if (op === "addvs" || op === "delvs" || op === "listvs") {
      const found = findVs(params)
      if (found.vs === undefined) {
        return op === "delvs" ? fail(`vipdump failed: no virtual service ${found.described}`) : fail(`Invalid address ${found.described}`)
      }
      vs = found.vs
      key = String(vs.index)
    }
    if (op === "list" || op === "listvs") {
      return { tag: "list", list, vs, entries: copyEntries(lists.get(key)?.[list] ?? []) }
    }

    const address = checkAddress(params["addr"])
    if (!address.ok) return address.outcome
    const badComment = op === "add" || op === "addvs" ? commentProblem(params["comment"]) : undefined
    if (badComment !== undefined) return badComment
    if (!packetFilterEnabled && mutationsWhenOff === "fail") return fail(filterOffMessage)
    const entries = listsOf(key)[list]
    const index = indexOf(entries)
    const wanted = matchKey(address.addr)
    const found = index.get(wanted)
    if (op === "add" || op === "addvs") {
      if (found !== undefined) return duplicateAdd === "error" ? fail("Address already exists") : OK
      const entry = { addr: address.addr, comment: params["comment"] ?? "" }
      entries.push(entry)
      index.set(wanted, entry)
      return OK
    }
    if (found === undefined) return absentDelete === "error" ? fail("Address not found") : OK
    entries.splice(entries.indexOf(found), 1)
    // A list seeded with the same address twice still holds the other.
    const other = entries.find((e) => matchKey(e.addr) === wanted)
    if (other === undefined) index.delete(wanted)
    else index.set(wanted, other)
    return OK
  }

  const vsData = (vs: StoredVs): Record<string, unknown> => ({
    Index: vs.index,
    VSAddress: vs.address,
    VSPort: vs.port,
    Protocol: vs.protocol,
    NickName: vs.nickname,
    Status: "Up",
    Enable: true
  })

  const dispatch = (cmd: string, params: Params): Outcome => {
    switch (cmd) {
      case "":
        return fail("Command not specified")
      case "aclcontrol":
        return aclcontrol(params)
      case "aclcontrol.isenabled":
        return { tag: "data", data: { aclstatus: packetFilterEnabled ? "yes" : "no" } }
      case "listvs":
        return { tag: "data", data: { VS: virtualServices.map(vsData) } }
      case "showvs": {
        const { vs } = findVs(params)
        return vs === undefined ? fail("Unknown VS") : { tag: "data", data: vsData(vs) }
      }
      case "get":
        return params["param"] === "version" ? { tag: "data", data: { version: firmwareVersion } } : fail("Unknown parameter")
      default:
        return fail("Unknown command")
    }
  }

  const classify = (cmd: string, params: Params): RequestKind => {
    if (cmd === "aclcontrol") return ACL_OPERATIONS.find((o) => o in params) ?? "other"
    if (cmd === "aclcontrol.isenabled") return "isenabled"
    if (cmd === "listvs") return "listvs-services"
    return "other"
  }

  // --- rendering ------------------------------------------------------------------------------

  const listJson = (o: Extract<Outcome, { tag: "list" }>): Record<string, unknown> => {
    const ip = copyEntries(o.entries)
    const nestedList = o.list === "block" ? "Blocklist" : "Allowlist"
    switch (listShape) {
      case "kreemer":
        return { IP: ip, list: o.list }
      case "pier":
        return { Acl: ip.map((e) => e.addr) }
      case "data":
        return { Data: listXmlData(o) }
      case "success":
        return { Success: { Data: listXmlData(o) } }
      case "old":
        return listXmlData(o)
      case "unknown":
        return { Entries: ip.map((e) => ({ Address: e.addr, Note: e.comment })) }
      case "split":
        return { [nestedList]: { IP: [] }, Entries: ip.map((e) => ({ Address: e.addr, Note: e.comment })) }
      case "nested":
        if (o.vs === undefined) return { [o.list === "block" ? "Blocklist" : "Allowlist"]: { IP: ip } }
        return {
          VS: {
            VS_IP: o.vs.address,
            VS_Port: o.vs.port,
            VS_Protocol: o.vs.protocol,
            [o.list === "block" ? "BlockList" : "AllowList"]: { IP: ip }
          }
        }
    }
  }

  /** The list as APIv1 writes it under `Data`: nested, or old firmware's bare `addr`s under the legacy names. */
  const listXmlData = (o: Extract<Outcome, { tag: "list" }>): Record<string, unknown> => {
    const ip = copyEntries(o.entries)
    const old = listShape === "old"
    const list = old ? { addr: ip.map((e) => e.addr) } : { IP: ip }
    const name = old ? (o.list === "block" ? "Blacklist" : "Whitelist") : o.vs === undefined ? (o.list === "block" ? "Blocklist" : "Allowlist") : o.list === "block" ? "BlockList" : "AllowList"
    if (o.vs === undefined) return { [name]: list }
    return { VS: { VS_IP: o.vs.address, VS_Port: o.vs.port, VS_Protocol: o.vs.protocol, [name]: list } }
  }

  const send = (res: http.ServerResponse, status: number, contentType: string, body: string | Buffer) => {
    if (res.destroyed || res.writableEnded) return
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body
    res.writeHead(status, { "Content-Type": contentType, "Content-Length": bytes.length })
    res.end(bytes)
  }

  const sendJson = (res: http.ServerResponse, status: number, body: unknown) =>
    send(res, status, "application/json", JSON.stringify(body))

  const sendXml = (res: http.ServerResponse, status: number, xml: string) =>
    send(res, status, "text/xml; charset=ISO-8859-1", Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>\n${xml}`, "latin1"))

  const answer = (res: http.ServerResponse, api: Api, outcome: Outcome) => {
    if (outcome.tag === "error") {
      const status = errorsAsHttp200 && (outcome.code === 422 || outcome.code === 401) ? 200 : outcome.code
      if (api === "v2") return sendJson(res, status, { code: outcome.code, message: outcome.message, status: "fail" })
      if (outcome.code === 401) return send(res, status, "text/plain", "Unauthorized")
      return sendXml(res, status, `<Response stat="${outcome.code}" code="fail">\n<Error>${xmlText(outcome.message)}</Error>\n</Response>\n`)
    }
    if (api === "v2") {
      const status = omitStatus ? {} : { status: "ok" }
      switch (outcome.tag) {
        case "ok":
          return sendJson(res, 200, { code: 200, message: "Command completed ok", ...status })
        case "data":
          return sendJson(res, 200, { code: 200, ...outcome.data, ...status })
        case "list":
          return sendJson(res, 200, { code: 200, ...listJson(outcome), ...status })
      }
    }
    const success = (inner: string) => sendXml(res, 200, `<Response stat="200" code="ok">\n<Success>${inner}</Success>\n</Response>\n`)
    switch (outcome.tag) {
      case "ok":
        return success("Command completed ok")
      case "data":
        return success(`<Data>${toXml(outcome.data)}</Data>`)
      case "list":
        return success(`<Data>${toXml(listXmlData(outcome))}</Data>`)
    }
  }

  // --- requests -------------------------------------------------------------------------------

  const authorised = (api: Api, params: Params, req: http.IncomingMessage): boolean => {
    if ("apikey" in params) return params["apikey"] === apiKey
    if (api === "v2") return params["apiuser"] === "bal" && params["apipass"] === apiKey
    const header = req.headers.authorization ?? ""
    const m = /^Basic\s+(\S+)$/i.exec(header)
    if (m === null) return false
    const decoded = Buffer.from(m[1]!, "base64").toString("utf8")
    return decoded === `bal:${apiKey}`
  }

  const readBody = (req: http.IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      req.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size > 1024 * 1024) {
          reject(new Error("request body over 1 MiB"))
          req.destroy()
        } else chunks.push(chunk)
      })
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
      req.on("error", reject)
    })


  const handleRequest = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://emulator.invalid")
    let api: Api
    let cmdFromPath = ""
    if (url.pathname === "/accessv2") api = "v2"
    else if (url.pathname.startsWith("/access/")) {
      api = "v1"
      cmdFromPath = url.pathname
        .slice("/access/".length)
        .split("/")
        .filter((s) => s !== "")
        .map((s) => decodeURIComponent(s))
        .join(".")
    } else {
      req.resume()
      return send(res, 404, "text/plain", "Not Found")
    }
    if (req.method !== "GET" && req.method !== "POST") {
      req.resume()
      return send(res, 405, "text/plain", "Method Not Allowed")
    }

    // No prototype: parameter names come from the client (`"constructor" in params` must be false).
    const params: Params = Object.create(null) as Params
    for (const [k, v] of url.searchParams) params[k] = v
    const body = await readBody(req)
    let badBody = false
    if (body.trim() !== "") {
      if (api === "v2") {
        try {
          const json: unknown = JSON.parse(body)
          if (!isRecord(json)) badBody = true
          else
            for (const [k, v] of Object.entries(json)) {
              if (v !== null && v !== undefined) params[k] = typeof v === "object" ? JSON.stringify(v) : String(v)
            }
        } catch {
          badBody = true
        }
      } else {
        for (const [k, v] of new URLSearchParams(body)) params[k] = v
      }
    }
    const cmd = api === "v2" ? (params["cmd"] ?? "").trim() : cmdFromPath
    const kind = classify(cmd, params)
    recorded.push({ method: req.method, url: req.url ?? "/", headers: { ...req.headers }, body })
    if (recorded.length > MAX_RECORDED_REQUESTS) recorded = recorded.slice(-MAX_RECORDED_REQUESTS)

    // Odd answers: not a command's outcome at all.
    if (faults.echoRequests === true) {
      count("faulted")
      return answer(res, api, fail(echoText(req, params, body, params["apiuser"] ?? "bal")))
    }
    if (faults.hugeBody !== undefined) {
      count("faulted")
      return sendHugeBody(res, faults.hugeBody)
    }

    // Injected faults first: the appliance (or the network) misbehaves before any command runs.
    const now = Date.now()
    // In time order: the calls that left the window are at the front.
    while (served.length > 0 && now - served[0]! >= RATE_LIMIT_WINDOW_MS) served.shift()
    if (faults.rateLimit === true && served.length >= RATE_LIMIT_CALLS) {
      count("faulted")
      req.socket.destroy()
      return
    }
    served.push(now)
    const fault = await networkFault(faults, random)
    if (fault === "reset") {
      count("faulted")
      req.socket.destroy()
      return
    }
    if (fault === "fail") {
      count("faulted")
      if (api === "v2") return sendJson(res, 503, { code: 503, message: "Service Unavailable", status: "fail" })
      return sendXml(res, 503, `<Response stat="503" code="fail">\n<Error>Service Unavailable</Error>\n</Response>\n`)
    }

    count(kind)
    if (!apiEnabled) {
      count("rejected")
      return send(res, 404, "text/html", "<html><body><h1>404 Not Found</h1></body></html>")
    }
    if (faults.authFailures === true || !authorised(api, params, req)) {
      count("rejected")
      if (api === "v1") res.setHeader("WWW-Authenticate", 'Basic realm="LoadMaster"')
      return answer(res, api, fail("Unauthorized", 401))
    }
    if (badBody) {
      count("rejected")
      return answer(res, api, fail("Bad request: the body is not a JSON object", 400))
    }
    const unknown = unknownParameter(cmd, params, api)
    const outcome = unknown !== undefined ? fail(`Unknown parameter: ${unknown}`) : dispatch(cmd, params)
    if (outcome.tag === "error") count("rejected")
    if (answerLost(faults.lostAnswerRate, random)) {
      count("faulted")
      req.socket.destroy()
      return
    }
    answer(res, api, outcome)
  }

  const serving = await serveHttp({
    host,
    port: options.port ?? 0,
    tls: tlsMaterial === undefined ? undefined : { cert: tlsMaterial.certPem, key: tlsMaterial.keyPem },
    handle: handleRequest,
    internalError: (res, text) => send(res, 500, "text/plain", text),
    ...(options.sendDate === false ? { sendDate: false } : {})
  })
  const { url, port } = serving

  const snapshot = (): LoadMasterEmulatorState => {
    const out: Record<string, { block: EmulatorAclEntry[]; allow: EmulatorAclEntry[] }> = {}
    for (const [key, value] of lists) out[key] = { block: copyEntries(value.block), allow: copyEntries(value.allow) }
    return {
      version: 1,
      packetFilterEnabled,
      virtualServices: virtualServices.map((v) => ({ ...v })),
      lists: out
    }
  }

  const handle: LoadMasterEmulatorHandle = {
    url,
    port,
    apiKey,
    tlsHandshakes: serving.tlsHandshakes,
    ...(tlsMaterial === undefined ? {} : { certificatePem: tlsMaterial.certPem, fingerprint: certificateFingerprint(tlsMaterial.certPem) }),
    state: snapshot,
    entries: (scope, list = "block") => copyEntries(lists.get(scopeKey(scope))?.[list] ?? []),
    seed: (scope, addr, comment = "", list = "block") => {
      const key = scopeKey(scope)
      if (key !== "global" && !virtualServices.some((v) => String(v.index) === key)) {
        throw new Error(`seed: no virtual service with Index ${key}`)
      }
      const entries = listsOf(key)[list]
      entries.push({ addr, comment })
      indexes.delete(entries)
    },
    packetFilterEnabled: () => packetFilterEnabled,
    counts: () => ({ ...counts }),
    resetCounts: () => {
      counts = {}
    },
    requests: () => recorded.map((r) => ({ ...r, headers: { ...r.headers } })),
    clearRequests: () => {
      recorded = []
    },
    setFaults: (f) => {
      checkLoadMasterFaults(f)
      faults = { ...f }
    },
    setOptions: (s) => {
      if (s.faults !== undefined) handle.setFaults(s.faults)
      if (s.listShape !== undefined) listShape = s.listShape
      if (s.virtualServices !== undefined) virtualServices = s.virtualServices.map(toStoredVs)
      if (s.duplicateAdd !== undefined) duplicateAdd = s.duplicateAdd
      if (s.absentDelete !== undefined) absentDelete = s.absentDelete
      if (s.errorsAsHttp200 !== undefined) errorsAsHttp200 = s.errorsAsHttp200
      if (s.omitStatus !== undefined) omitStatus = s.omitStatus
      if (s.packetFilter !== undefined) {
        packetFilterEnabled = s.packetFilter.enabled
        mutationsWhenOff = s.packetFilter.mutationsWhenOff
        if (s.packetFilter.message !== undefined) filterOffMessage = s.packetFilter.message
      }
      if (s.apiEnabled !== undefined) apiEnabled = s.apiEnabled
      if (s.normaliseBareIpv4 !== undefined) hostForm = s.normaliseBareIpv4 ? "either" : "cidr"
      if (s.hostForm !== undefined) hostForm = s.hostForm
      if (s.listedHostForm !== undefined) listedHosts = s.listedHostForm
      if (s.commentMaxLength !== undefined) commentMaxLength = s.commentMaxLength
      if (s.commentCharset !== undefined) commentCharset = s.commentCharset
      if (s.strictParameters !== undefined) strictParameters = s.strictParameters
      if (s.firmwareVersion !== undefined) firmwareVersion = s.firmwareVersion
      if (s.random !== undefined) random = s.random
    },
    saveState: (file) => {
      const temporary = `${file}.${process.pid}.tmp`
      fs.writeFileSync(temporary, JSON.stringify(snapshot(), null, 2) + "\n")
      fs.renameSync(temporary, file)
    },
    close: serving.close
  }
  return handle
}

// ---------------------------------------------------------------------------------------------
// XML

/** Escapes text for XML; characters beyond ISO-8859-1 become character references. */
const xmlText = (value: string): string =>
  value.replace(/[&<>"']|[^\u0000-\u00ff]/gu, (c) => {
    switch (c) {
      case "&":
        return "&amp;"
      case "<":
        return "&lt;"
      case ">":
        return "&gt;"
      case '"':
        return "&quot;"
      case "'":
        return "&apos;"
      default:
        return `&#${c.codePointAt(0)};`
    }
  })

/** Object → elements: arrays repeat their element, booleans are Y/N (as APIv1 writes them). */
const toXml = (value: unknown): string => {
  if (Array.isArray(value)) return value.map(toXml).join("")
  if (isRecord(value)) {
    return Object.entries(value)
      .map(([k, v]) => (Array.isArray(v) ? v.map((item) => `<${k}>${toXml(item)}</${k}>`).join("") : `<${k}>${toXml(v)}</${k}>`))
      .join("")
  }
  if (typeof value === "boolean") return value ? "Y" : "N"
  if (value === null || value === undefined) return ""
  return xmlText(String(value))
}
