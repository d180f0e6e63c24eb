/**
 * The config file's shape (ARCHITECTURE.md 6a: the keys are a contract) and its normalisation.
 *
 * Decoding does two things at once: it refuses anything that is not exactly the documented shape
 * (unknown keys included), and it turns the friendly YAML forms into the canonical ones: durations
 * as their shortest text, CIDRs in canonical form, actions as targets, priorities in upper case,
 * defaults filled in. The policy comes out as the domain `Policy`, so equal meaning gives equal
 * `policyHash`, whatever the file looked like.
 *
 * Problems come back as one line each, `path: what was expected`
 * (`policy.rules[2].actions[0].ttl: expected a duration like "90s", "30m", "6h" or "7d"`).
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { parseCidr, compareCidr } from "../domain/Cidr.js"
import { checkDuration, DURATION_CEILING, DURATION_HINT, formatDuration, MAX_DURATION_TEXT, parseDuration } from "../domain/Duration.js"
import {
  DEFAULT_CAPS,
  MAX_ESCALATION_FACTOR,
  Policy,
  Rule,
  RuleAction,
  RuleMatch,
  Target,
  type AllowEntry,
  type Caps
} from "../domain/Policy.js"
import { parseListen } from "../domain/ListenAddress.js"
import { parseFlowmonTime, parseTimeZone, type TimeZone } from "../domain/Time.js"
import { PRIORITIES, Priority, Product } from "../domain/Vocabulary.js"

// ---------------------------------------------------------------------------------------------
// Leaves

/** One message for every way a leaf can be wrong (wrong type or failed check). */
const expecting = (message: string) => ({ message: () => ({ message, override: true }) })

/** A value of the wrong kind (not a chain of nested problems): the container's own message applies. */
const isKindMismatch = (issue: ParseResult.ParseIssue): boolean => {
  switch (issue._tag) {
    case "Type":
      return true
    case "Transformation":
      return issue.kind === "Encoded" && isKindMismatch(issue.issue)
    case "Refinement":
      return issue.kind === "From" && isKindMismatch(issue.issue)
    default:
      return false
  }
}

/** For mappings: this message when the value is not a mapping; problems inside keep their own. */
const mapping = (message: string) => ({
  message: (issue: ParseResult.ParseIssue) => ({ message, override: isKindMismatch(issue) })
})

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const Text = Schema.String.pipe(Schema.minLength(1)).annotations(expecting("expected a non-empty string"))

const FilePath = Schema.String.pipe(Schema.minLength(1)).annotations(expecting("expected a file path"))

const Bool = Schema.Boolean.annotations(expecting("expected true or false"))

/** A list (non-list input gets this message; element problems keep their own). */
const ListOf = <S extends Schema.Schema.Any>(item: S, what: string) =>
  Schema.Array(item).annotations({ message: () => `expected a list of ${what}` })

const NonEmptyListOf = <S extends Schema.Schema.Any>(item: S, what: string) =>
  ListOf(item, what).pipe(
    Schema.filter((items) => items.length > 0 || `expected a non-empty list of ${what} (leave the key out to match any)`)
  )

const INSTANCE = /^[A-Za-z0-9._-]{1,253}$/

/** Same rule as `append --instance`: it is part of every event's dedupe key. */
const Instance = Schema.String.pipe(Schema.pattern(INSTANCE)).annotations(
  expecting("expected 1 to 253 letters, digits, '.', '_' or '-'")
)

const TIME_ZONE_HINT = "expected an IANA time zone name such as Europe/Prague, or UTC"

const TimeZoneName = Schema.String.annotations(expecting(TIME_ZONE_HINT)).pipe(
  Schema.filter((name) => {
    const parsed = parseTimeZone(name)
    return parsed.ok || (name === "" ? TIME_ZONE_HINT : parsed.error)
  })
)

const HttpUrl = Schema.String.pipe(
  Schema.filter((text) => {
    try {
      const url = new URL(text)
      return url.protocol === "http:" || url.protocol === "https:"
    } catch {
      return false
    }
  })
).annotations(expecting("expected an http:// or https:// URL"))

/**
 * Durations, decoded to their canonical text (`90m` → `90m`, `120m` → `2h`); at most
 * MAX_DURATION (3650d, ten years).
 */
export const DurationText = Schema.transformOrFail(
  Schema.String.annotations({ message: () => DURATION_HINT }),
  Schema.String,
  {
    strict: true,
    decode: (text, _, ast) => {
      const checked = checkDuration(text)
      if (checked.ok) return ParseResult.succeed(formatDuration(checked.value))
      const message =
        checked.problem === DURATION_HINT
          ? DURATION_HINT
          : checked.problem === DURATION_CEILING
            ? `expected a duration of at most ${MAX_DURATION_TEXT}`
            : "expected a duration longer than zero"
      return ParseResult.fail(new ParseResult.Type(ast, text, message))
    },
    encode: ParseResult.succeed
  }
)

const durationMs = (canonical: string): number => {
  const parsed = parseDuration(canonical)
  if (!parsed.ok) throw new Error(`not a canonical duration: ${canonical}`)
  return parsed.value
}

const PositiveNumber = Schema.Number.pipe(Schema.finite(), Schema.greaterThan(0)).annotations(
  expecting("expected a number greater than 0")
)

const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.greaterThan(0)).annotations(
  expecting("expected a whole number greater than 0")
)

/** `sha256:` and 64 hex digits, colons between byte pairs allowed; decoded to 64 lower-case hex digits. */
const FINGERPRINT = /^sha256:([0-9A-Fa-f]{2}(?::?[0-9A-Fa-f]{2}){31})$/

const Fingerprint = Schema.transform(
  Schema.String.pipe(Schema.pattern(FINGERPRINT)).annotations(
    expecting('expected "sha256:" followed by 64 hex digits (colons between byte pairs allowed)')
  ),
  Schema.String,
  {
    strict: true,
    decode: (text) => text.slice("sha256:".length).replaceAll(":", "").toLowerCase(),
    encode: (hex) => `sha256:${hex}`
  }
)

// ---------------------------------------------------------------------------------------------
// TLS, LoadMaster, CryptoSpike

export const TlsSettings = Schema.Struct({
  /** CA bundle (PEM file) to trust instead of the system's */
  ca: Schema.UndefinedOr(Schema.String),
  /** pinned certificate: sha256 of the DER certificate, 64 lower-case hex digits, no prefix */
  fingerprint: Schema.UndefinedOr(Schema.String),
  /** skip certificate checks (never together with ca or fingerprint) */
  insecure: Schema.Boolean,
  /** the name (DNS name or IP address) the certificate must carry, when not the URL's host */
  serverName: Schema.optionalWith(Schema.String, { exact: true })
})
export type TlsSettings = typeof TlsSettings.Type

export const DEFAULT_TLS: TlsSettings = { ca: undefined, fingerprint: undefined, insecure: false }

/** A DNS name (letters, digits, '-', dots between labels; a trailing dot allowed) or an IP address. */
const SERVER_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$|^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/

const ServerName = Schema.String.pipe(Schema.pattern(SERVER_NAME)).annotations(
  expecting("expected the host name (or IP address) the appliance's certificate carries, such as lm1.corp.example")
)

const TlsFile = Schema.Struct({
  ca: Schema.optionalWith(FilePath, { exact: true }),
  fingerprint: Schema.optionalWith(Fingerprint, { exact: true }),
  insecure: Schema.optionalWith(Bool, { exact: true, default: () => false }),
  serverName: Schema.optionalWith(ServerName, { exact: true })
})
  .annotations(mapping("expected a mapping with ca, fingerprint, insecure or serverName"))
  .pipe(
    Schema.filter((tls) =>
      tls.insecure && (tls.ca !== undefined || tls.fingerprint !== undefined)
        ? {
            path: ["insecure"],
            message: `insecure: true contradicts ${tls.ca !== undefined ? "ca" : "fingerprint"} (which checks the certificate); keep one`
          }
        : tls.serverName !== undefined && (tls.insecure || tls.fingerprint !== undefined)
          ? {
              path: ["serverName"],
              message: `serverName names what the certificate must carry, which ${tls.insecure ? "insecure: true does not check" : "a pinned fingerprint does not check (the pin stands for the whole certificate)"}; keep one`
            }
          : undefined
    )
  )

const Tls = Schema.transform(TlsFile, TlsSettings, {
  strict: true,
  decode: (f) => ({ ca: f.ca, fingerprint: f.fingerprint, insecure: f.insecure, ...(f.serverName === undefined ? {} : { serverName: f.serverName }) }),
  encode: (s) => ({
    insecure: s.insecure,
    ...(s.ca === undefined ? {} : { ca: s.ca }),
    ...(s.fingerprint === undefined ? {} : { fingerprint: s.fingerprint }),
    ...(s.serverName === undefined ? {} : { serverName: s.serverName })
  })
})

const TlsOrDefault = Schema.optionalWith(Tls, { exact: true, default: () => DEFAULT_TLS })

export const LoadMasterSettings = Schema.Struct({
  url: Schema.String,
  /** file holding the API key (else env LOADMASTER_API_KEY) */
  apiKeyFile: Schema.UndefinedOr(Schema.String),
  /** v2 (JSON) or v1 (XML), for every call */
  api: Schema.Literal("v2", "v1"),
  /** how an add writes a single host: cidr (`/32`, `/128`) or bare */
  addressForm: Schema.Literal("cidr", "bare"),
  /** calls per second */
  rateLimit: Schema.Number,
  tls: TlsSettings
})
export type LoadMasterSettings = typeof LoadMasterSettings.Type

const LoadMasterFile = Schema.Struct({
  url: HttpUrl,
  apiKeyFile: Schema.optionalWith(FilePath, { exact: true }),
  api: Schema.optionalWith(Schema.Literal("v2", "v1").annotations(expecting('expected "v2" or "v1"')), {
    exact: true,
    default: () => "v2" as const
  }),
  addressForm: Schema.optionalWith(Schema.Literal("cidr", "bare").annotations(expecting('expected "cidr" (203.0.113.9/32) or "bare" (203.0.113.9)')), {
    exact: true,
    default: () => "cidr" as const
  }),
  rateLimit: Schema.optionalWith(PositiveNumber, { exact: true, default: () => 10 }),
  tls: TlsOrDefault
}).annotations(mapping("expected a mapping with url, apiKeyFile, api, addressForm, rateLimit or tls"))

const LoadMaster = Schema.transform(LoadMasterFile, LoadMasterSettings, {
  strict: true,
  decode: (f) => ({ url: f.url, apiKeyFile: f.apiKeyFile, api: f.api, addressForm: f.addressForm, rateLimit: f.rateLimit, tls: f.tls }),
  encode: (s) => ({
    url: s.url,
    api: s.api,
    addressForm: s.addressForm,
    rateLimit: s.rateLimit,
    tls: s.tls,
    ...(s.apiKeyFile === undefined ? {} : { apiKeyFile: s.apiKeyFile })
  })
})

export const CryptoSpikeSettings = Schema.Struct({
  url: Schema.String,
  /** file holding the API token (else env CRYPTOSPIKE_API_TOKEN) */
  tokenFile: Schema.UndefinedOr(Schema.String),
  /** canonical duration text */
  lookback: Schema.String,
  lookbackMs: Schema.Number,
  /** canonical duration text */
  grace: Schema.String,
  graceMs: Schema.Number,
  unblock: Schema.Struct({ userAccessState: Schema.String }),
  repairDrift: Schema.Boolean,
  tls: TlsSettings
})
export type CryptoSpikeSettings = typeof CryptoSpikeSettings.Type

const CryptoSpikeFile = Schema.Struct({
  url: HttpUrl,
  tokenFile: Schema.optionalWith(FilePath, { exact: true }),
  lookback: Schema.optionalWith(DurationText, { exact: true, default: () => "30m" }),
  grace: Schema.optionalWith(DurationText, { exact: true, default: () => "5m" }),
  unblock: Schema.optionalWith(
    Schema.Struct({
      userAccessState: Schema.optionalWith(Text, { exact: true, default: () => "UNBLOCKED" })
    }).annotations(mapping("expected a mapping with userAccessState")),
    { exact: true, default: () => ({ userAccessState: "UNBLOCKED" }) }
  ),
  repairDrift: Schema.optionalWith(Bool, { exact: true, default: () => false }),
  tls: TlsOrDefault
}).annotations(mapping("expected a mapping with url, tokenFile, lookback, grace, unblock, repairDrift or tls"))

const CryptoSpike = Schema.transform(CryptoSpikeFile, CryptoSpikeSettings, {
  strict: true,
  decode: (f) => ({
    url: f.url,
    tokenFile: f.tokenFile,
    lookback: f.lookback,
    lookbackMs: durationMs(f.lookback),
    grace: f.grace,
    graceMs: durationMs(f.grace),
    unblock: f.unblock,
    repairDrift: f.repairDrift,
    tls: f.tls
  }),
  encode: (s) => ({
    url: s.url,
    lookback: s.lookback,
    grace: s.grace,
    unblock: s.unblock,
    repairDrift: s.repairDrift,
    tls: s.tls,
    ...(s.tokenFile === undefined ? {} : { tokenFile: s.tokenFile })
  })
})

// ---------------------------------------------------------------------------------------------
// Policy

const MethodCode = Schema.transform(
  Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_.-]+$/)).annotations(
    expecting("expected a method code such as SSHDICT (letters, digits, '_', '-' or '.')")
  ),
  Schema.String,
  { strict: true, decode: (code) => code.toUpperCase(), encode: (code) => code }
)

const PRIORITY_HINT = `expected a priority: ${[...PRIORITIES].reverse().join(", ")}`

/** Case-insensitive on the way in, the canonical upper-case literal on the way out. */
const PriorityText = Schema.transformOrFail(Schema.String.annotations({ message: () => PRIORITY_HINT }), Priority, {
  strict: true,
  decode: (text, _, ast) => {
    const upper = text.trim().toUpperCase()
    return (PRIORITIES as ReadonlyArray<string>).includes(upper)
      ? ParseResult.succeed(upper as Priority)
      : ParseResult.fail(new ParseResult.Type(ast, text, PRIORITY_HINT))
  },
  encode: ParseResult.succeed
})

/** Sets: order and repeats carry no meaning, so they are dropped (equal meaning, equal hash). */
const setOf = (items: ReadonlyArray<string> | undefined): ReadonlyArray<string> | null =>
  items === undefined ? null : [...new Set(items)].sort()

const RuleMatchFile = Schema.Struct({
  product: Schema.optionalWith(Product.annotations(expecting('expected "ads" or "ids"')), { exact: true }),
  methods: Schema.optionalWith(NonEmptyListOf(MethodCode, "method codes"), { exact: true }),
  perspectives: Schema.optionalWith(NonEmptyListOf(Text, "perspective names"), { exact: true }),
  minPriority: Schema.optionalWith(PriorityText, { exact: true }),
  dataFeeds: Schema.optionalWith(NonEmptyListOf(Text, "data feed names"), { exact: true })
}).annotations(mapping("expected a mapping with product, methods, perspectives, minPriority or dataFeeds"))

const ANY_MATCH: RuleMatch = { product: null, methods: null, perspectives: null, minPriority: null, dataFeeds: null }

const RuleMatchSchema = Schema.transform(RuleMatchFile, RuleMatch, {
  strict: true,
  decode: (f) => ({
    product: f.product ?? null,
    methods: setOf(f.methods),
    perspectives: setOf(f.perspectives),
    minPriority: f.minPriority ?? null,
    dataFeeds: setOf(f.dataFeeds)
  }),
  encode: (m) => ({
    ...(m.product === null ? {} : { product: m.product }),
    ...(m.methods === null ? {} : { methods: m.methods }),
    ...(m.perspectives === null ? {} : { perspectives: m.perspectives }),
    ...(m.minPriority === null ? {} : { minPriority: m.minPriority }),
    ...(m.dataFeeds === null ? {} : { dataFeeds: m.dataFeeds })
  })
})

/** Target's regex allows up to 9 digits. */
const VsIndex = Schema.Number.pipe(Schema.int(), Schema.between(0, 999_999_999)).annotations(
  expecting("expected a virtual service index: a whole number, 0 or more")
)

const VsTarget = Schema.Struct({ vs: VsIndex }).annotations(mapping('expected "global" or { vs: <index> }'))

const LOADMASTER_TARGET_HINT = 'expected "global" or { vs: <index> }'

/** `global` or `{ vs: 3 }`, decoded to the domain target text. */
const LoadMasterTarget = Schema.transformOrFail(Schema.Unknown, Target, {
  strict: true,
  decode: (u, options, ast) => {
    if (u === "global") return ParseResult.succeed("loadmaster:global")
    if (isRecord(u)) return ParseResult.map(ParseResult.decodeUnknown(VsTarget)(u, options), (t) => `loadmaster:vs:${t.vs}`)
    return ParseResult.fail(new ParseResult.Type(ast, u, LOADMASTER_TARGET_HINT))
  },
  encode: (target) =>
    ParseResult.succeed(target === "loadmaster:global" ? "global" : { vs: Number(target.slice("loadmaster:vs:".length)) })
})

const LoadMasterAction = Schema.Struct({ loadmaster: LoadMasterTarget, ttl: DurationText })

const CryptoSpikeAction = Schema.Struct({
  cryptospike: Schema.Literal("user").annotations(expecting('expected "user"')),
  ttl: DurationText
})

const ACTION_HINT =
  "expected an action: { loadmaster: global, ttl: 6h }, { loadmaster: { vs: <index> }, ttl: 6h } or { cryptospike: user, ttl: 24h }"

/** One of the three action forms, decoded to `{ target, ttl }`. */
const Action = Schema.transformOrFail(Schema.Unknown, RuleAction, {
  strict: true,
  decode: (u, options, ast) => {
    if (!isRecord(u)) return ParseResult.fail(new ParseResult.Type(ast, u, ACTION_HINT))
    const hasLm = "loadmaster" in u
    const hasCs = "cryptospike" in u
    if (hasLm && hasCs) {
      return ParseResult.fail(
        new ParseResult.Type(ast, u, "an action has one target: loadmaster or cryptospike, not both (write two actions)")
      )
    }
    if (hasLm) {
      return ParseResult.map(ParseResult.decodeUnknown(LoadMasterAction)(u, options), (a) => ({
        target: a.loadmaster,
        ttl: a.ttl
      }))
    }
    if (hasCs) {
      return ParseResult.map(ParseResult.decodeUnknown(CryptoSpikeAction)(u, options), (a) => ({
        target: "cryptospike",
        ttl: a.ttl
      }))
    }
    return ParseResult.fail(new ParseResult.Type(ast, u, ACTION_HINT))
  },
  encode: (action) =>
    ParseResult.succeed(
      action.target === "cryptospike"
        ? { cryptospike: "user", ttl: action.ttl }
        : {
            loadmaster:
              action.target === "loadmaster:global" ? "global" : { vs: Number(action.target.slice("loadmaster:vs:".length)) },
            ttl: action.ttl
          }
    )
})

const Actions = ListOf(Action, "actions").pipe(
  Schema.filter((actions) => {
    if (actions.length === 0) return "expected at least one action"
    const seen = new Set<string>()
    const issues: Array<Schema.FilterIssue> = []
    actions.forEach((action, i) => {
      if (seen.has(action.target)) {
        issues.push({ path: [i], message: `the rule already has an action for ${action.target} (one ttl per target)` })
      }
      seen.add(action.target)
    })
    return issues
  })
)

const RuleFile = Schema.Struct({
  name: Text,
  match: Schema.optionalWith(RuleMatchSchema, { exact: true }),
  actions: Actions
}).annotations(mapping("expected a rule: a mapping with name, match and actions"))

const RuleSchema = Schema.transform(RuleFile, Rule, {
  strict: true,
  decode: (f) => ({ name: f.name, match: f.match ?? ANY_MATCH, actions: f.actions }),
  encode: (r) => ({ name: r.name, match: r.match, actions: r.actions })
})

const Escalation = Schema.Struct({
  window: DurationText,
  factor: Schema.Number.pipe(Schema.finite(), Schema.between(1, MAX_ESCALATION_FACTOR)).annotations(
    expecting(`expected a number from 1 to ${MAX_ESCALATION_FACTOR}`)
  ),
  maxTtl: DurationText
}).annotations(mapping("expected a mapping with window, factor and maxTtl"))

const CidrText = Schema.transformOrFail(Schema.String.annotations({ message: () => "expected a CIDR or an address" }), Schema.String, {
  strict: true,
  decode: (text, _, ast) => {
    const parsed = parseCidr(text)
    return parsed.ok ? ParseResult.succeed(parsed.value.text) : ParseResult.fail(new ParseResult.Type(ast, text, parsed.error))
  },
  encode: ParseResult.succeed
})

/** Never-block entries: sets (order and repeats carry no meaning), canonical and sorted. */
const neverBlockSet = (entries: ReadonlyArray<string>): ReadonlyArray<string> =>
  [...new Set(entries)].sort((a, b) => compareCidr(cidrOf(a), cidrOf(b)))

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/
const WITH_ZONE = /(?:Z|[+-]\d{2}:?\d{2})$/
const UNTIL_HINT = "expected an ISO time with a zone, like 2026-12-31T00:00:00Z, or a date like 2026-12-31 (00:00 UTC)"
const UTC = "UTC" as TimeZone

/**
 * `2026-12-31T00:00:00Z`, `…+01:00`, or `2026-12-31` (00:00 UTC), decoded to the fixed-width UTC
 * ISO form every expiry has (`2026-12-31T00:00:00.000Z`): years 1970 to 9999.
 */
const UntilText = Schema.transformOrFail(Schema.String.annotations({ message: () => UNTIL_HINT }), Schema.String, {
  strict: true,
  decode: (text, _, ast) => {
    const trimmed = text.trim()
    const dateOnly = DATE_ONLY.test(trimmed)
    if (!dateOnly && !(WITH_ZONE.test(trimmed) && /^\d{4}-\d{2}-\d{2}[T ]/.test(trimmed))) {
      return ParseResult.fail(new ParseResult.Type(ast, text, UNTIL_HINT))
    }
    const parsed = parseFlowmonTime(dateOnly ? `${trimmed} 00:00:00` : trimmed, UTC)
    return parsed.ok ? ParseResult.succeed(parsed.value) : ParseResult.fail(new ParseResult.Type(ast, text, parsed.error))
  },
  encode: ParseResult.succeed
})

const AllowObject = Schema.Struct({ cidr: CidrText, until: Schema.optionalWith(UntilText, { exact: true }) })

const ALLOW_HINT = "expected a CIDR or an address, or { cidr, until }"

const AllowEntrySchema = Schema.transformOrFail(
  Schema.Unknown,
  Schema.Struct({ cidr: Schema.String, until: Schema.NullOr(Schema.String) }),
  {
    strict: true,
    decode: (u, options, ast) => {
      if (typeof u === "string") {
        return ParseResult.map(ParseResult.decodeUnknown(CidrText)(u, options), (cidr) => ({ cidr, until: null }))
      }
      if (isRecord(u)) {
        return ParseResult.map(ParseResult.decodeUnknown(AllowObject)(u, options), (e) => ({
          cidr: e.cidr,
          until: e.until ?? null
        }))
      }
      return ParseResult.fail(new ParseResult.Type(ast, u, ALLOW_HINT))
    },
    encode: (e) => ParseResult.succeed(e.until === null ? e.cidr : { cidr: e.cidr, until: e.until })
  }
)

const compareAllow = (a: AllowEntry, b: AllowEntry): number => {
  const byCidr = compareCidr(cidrOf(a.cidr), cidrOf(b.cidr))
  if (byCidr !== 0) return byCidr
  // for good (null) first, then by time
  return a.until === b.until ? 0 : a.until === null ? -1 : b.until === null ? 1 : a.until < b.until ? -1 : 1
}

const cidrOf = (text: string) => {
  const parsed = parseCidr(text)
  if (!parsed.ok) throw new Error(`not a canonical CIDR: ${text}`)
  return parsed.value
}

const CapsFile = Schema.Struct({
  maxAddsPerPass: Schema.optionalWith(PositiveInt, { exact: true, default: () => DEFAULT_CAPS.maxAddsPerPass }),
  maxRemovesPerPass: Schema.optionalWith(PositiveInt, { exact: true, default: () => DEFAULT_CAPS.maxRemovesPerPass }),
  maxActivePerTarget: Schema.optionalWith(PositiveInt, { exact: true, default: () => DEFAULT_CAPS.maxActivePerTarget })
}).annotations(mapping("expected a mapping with maxAddsPerPass, maxRemovesPerPass or maxActivePerTarget"))

const PolicyFile = Schema.Struct({
  rules: Schema.optionalWith(ListOf(RuleSchema, "rules"), { exact: true, default: () => [] }),
  escalation: Schema.optionalWith(Escalation, { exact: true }),
  allowlist: Schema.optionalWith(ListOf(AllowEntrySchema, "CIDRs or addresses"), { exact: true, default: () => [] }),
  neverBlock: Schema.optionalWith(ListOf(CidrText, "CIDRs or addresses"), { exact: true, default: () => [] }),
  caps: Schema.optionalWith(CapsFile, { exact: true, default: (): Caps => DEFAULT_CAPS })
}).annotations(mapping("expected a mapping with rules, escalation, allowlist, neverBlock or caps"))

/** The file's `policy:` section, decoded to the domain `Policy`. */
export const PolicySection = Schema.transform(PolicyFile, Policy, {
  strict: true,
  decode: (f) => ({
    rules: f.rules,
    escalation: f.escalation ?? null,
    allowlist: [...f.allowlist].sort(compareAllow),
    // Left out when empty: a policy without it keeps the hash it had before the key existed.
    ...(f.neverBlock.length === 0 ? {} : { neverBlock: neverBlockSet(f.neverBlock) }),
    caps: f.caps
  }),
  encode: (p) => ({
    rules: p.rules,
    allowlist: p.allowlist,
    neverBlock: p.neverBlock ?? [],
    caps: p.caps,
    ...(p.escalation === null ? {} : { escalation: p.escalation })
  })
})

// ---------------------------------------------------------------------------------------------
// serve

/** `serve`'s default request body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024
/** A body limit above this is refused: a POST is one batch of detections, held in memory. */
export const MAX_BODY_LIMIT = 64 * 1024 * 1024
/** `serve`'s default: requests per second to POST /v1/events (a token bucket holding as many). */
export const DEFAULT_SERVE_RATE_LIMIT = 50

const ListenText = Schema.String.annotations(expecting("expected HOST:PORT (127.0.0.1:8787, [::1]:8787, 0.0.0.0:8443)")).pipe(
  Schema.filter((text) => {
    const parsed = parseListen(text)
    return parsed.ok || parsed.error
  })
)

const BodyLimit = Schema.Number.pipe(Schema.int(), Schema.greaterThan(0), Schema.lessThanOrEqualTo(MAX_BODY_LIMIT)).annotations(
  expecting(`expected a whole number of bytes from 1 to ${MAX_BODY_LIMIT} (64 MiB)`)
)

export const ServeSettings = Schema.Struct({
  /** HOST:PORT as written (checked by parseListen) */
  listen: Schema.UndefinedOr(Schema.String),
  /** file holding the bearer token clients send */
  tokenFile: Schema.UndefinedOr(Schema.String),
  /** the server's certificate and key (PEM files); both or neither */
  tls: Schema.UndefinedOr(Schema.Struct({ cert: Schema.String, key: Schema.String })),
  /** bytes */
  bodyLimit: Schema.Number,
  /** requests per second */
  rateLimit: Schema.Number
})
export type ServeSettings = typeof ServeSettings.Type

const ServeFile = Schema.Struct({
  listen: Schema.optionalWith(ListenText, { exact: true }),
  tokenFile: Schema.optionalWith(FilePath, { exact: true }),
  tls: Schema.optionalWith(
    Schema.Struct({ cert: FilePath, key: FilePath }).annotations(mapping("expected a mapping with cert and key (PEM files)")),
    { exact: true }
  ),
  bodyLimit: Schema.optionalWith(BodyLimit, { exact: true, default: () => DEFAULT_BODY_LIMIT }),
  rateLimit: Schema.optionalWith(PositiveNumber, { exact: true, default: () => DEFAULT_SERVE_RATE_LIMIT })
}).annotations(mapping("expected a mapping with listen, tokenFile, tls, bodyLimit or rateLimit"))

const Serve = Schema.transform(ServeFile, ServeSettings, {
  strict: true,
  decode: (f) => ({ listen: f.listen, tokenFile: f.tokenFile, tls: f.tls, bodyLimit: f.bodyLimit, rateLimit: f.rateLimit }),
  encode: (s) => ({
    bodyLimit: s.bodyLimit,
    rateLimit: s.rateLimit,
    ...(s.listen === undefined ? {} : { listen: s.listen }),
    ...(s.tokenFile === undefined ? {} : { tokenFile: s.tokenFile }),
    ...(s.tls === undefined ? {} : { tls: s.tls })
  })
})

// ---------------------------------------------------------------------------------------------
// The file

/** The whole file: every key optional (command-line options and defaults fill the rest). */
export const ConfigFile = Schema.Struct({
  /** path of the SQLite event log, or a postgres:// URL (without a password) */
  database: Schema.optionalWith(Text, { exact: true }),
  /** a file whose first line is the PostgreSQL role's password (with a postgres:// database) */
  databasePasswordFile: Schema.optionalWith(FilePath, { exact: true }),
  /** names this Flowmon appliance in dedupe keys */
  instance: Schema.optionalWith(Instance, { exact: true }),
  /** zone of the timestamps Flowmon writes */
  timezone: Schema.optionalWith(TimeZoneName, { exact: true }),
  loadmaster: Schema.optionalWith(LoadMaster, { exact: true }),
  cryptospike: Schema.optionalWith(CryptoSpike, { exact: true }),
  policy: Schema.optionalWith(PolicySection, { exact: true }),
  serve: Schema.optionalWith(Serve, { exact: true })
}).annotations(mapping("expected a mapping of config keys (database, databasePasswordFile, instance, timezone, loadmaster, cryptospike, policy, serve)"))
export type ConfigFile = typeof ConfigFile.Type

/** A problem with the file's content: where (`policy.rules[2].ttl`, "" for the whole file) and what. */
export interface ConfigProblem {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/

/** `policy.rules[2].actions[0].ttl`; odd keys quoted (`policy["my key"]`). */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else if (typeof key === "string" && IDENTIFIER.test(key)) out += out === "" ? key : `.${key}`
    else out += `[${JSON.stringify(String(key))}]`
  }
  return out
}

export const formatProblem = (problem: ConfigProblem): string =>
  problem.path.length === 0 ? problem.message : `${formatPath(problem.path)}: ${problem.message}`

const messageFor = (issue: ParseResult.ArrayFormatterIssue): string => {
  switch (issue._tag) {
    case "Unexpected":
      return "unknown key"
    case "Missing":
      return "required key is missing"
    default:
      return issue.message
  }
}

/**
 * Checks across entries that the schema cannot see while other parts are wrong; run on the raw
 * value so they are reported together with everything else.
 */
const crossChecks = (raw: unknown): Array<ConfigProblem> => {
  const problems: Array<ConfigProblem> = []
  const policy = isRecord(raw) ? raw["policy"] : undefined
  const rules = isRecord(policy) ? policy["rules"] : undefined
  if (Array.isArray(rules)) {
    const firstIndex = new Map<string, number>()
    rules.forEach((rule: unknown, i) => {
      const name = isRecord(rule) ? rule["name"] : undefined
      if (typeof name !== "string" || name === "") return
      const first = firstIndex.get(name)
      if (first === undefined) firstIndex.set(name, i)
      else {
        problems.push({
          path: ["policy", "rules", i, "name"],
          message: `duplicate rule name ${JSON.stringify(name)} (also policy.rules[${first}])`
        })
      }
    })
  }
  return problems
}

const decode = Schema.decodeUnknownEither(ConfigFile, { onExcessProperty: "error", errors: "all" })

/**
 * Decodes the parsed file (plain JS from YAML or JSON; null for an empty file). All problems
 * are returned, in the order found (schema first, then cross-entry checks).
 */
export const decodeConfigFile = (raw: unknown): Either.Either<ConfigFile, ReadonlyArray<ConfigProblem>> => {
  const value = raw === null || raw === undefined ? {} : raw
  const decoded = decode(value)
  const problems: Array<ConfigProblem> = Either.isLeft(decoded)
    ? ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((issue) => ({
        path: issue.path,
        message: messageFor(issue)
      }))
    : []
  problems.push(...crossChecks(value))
  if (problems.length > 0 || Either.isLeft(decoded)) return Either.left(problems)
  return Either.right(decoded.right)
}
