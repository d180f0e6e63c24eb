/**
 * Operator commands, recorded as events like everything else (with who and why):
 * `mitigator block ADDR|CIDR --ttl D --reason R [--target T] [--force]`,
 * `mitigator unblock ADDR|CIDR --reason R [--target T]`,
 * `mitigator allow CIDR --reason R [--ttl D]`.
 *
 * Each is applied at once (operatorApply.ts: on the LoadMaster, a reconcile pass limited to that
 * address or network; a block on CryptoSpike, the user behind the address) unless `--defer`, and
 * says what it did. Exit 0: recorded and in effect (applied, nothing to change, or a block held
 * back by an operator's allow in force), or deferred, or no appliance configured for it; 4:
 * recorded, but not all in effect now (each reason said, and whether the next reconcile does it:
 * an unblock of a CryptoSpike user waits for it by design, a plan over the caps or an unresolvable
 * user does not); 1: refused (nothing recorded, e.g. control characters in --reason or --actor),
 * or an error that stops reconcile too (a config or credential error, a tampered log: the first
 * line says whether the request was recorded). `--json`: one object with the same facts.
 *
 * `block` refuses (exit 1, one line, nothing recorded) what mitigator never blocks: an address or
 * network that touches a never-block rail (built in, the config's `policy.neverBlock`, the
 * appliances' own addresses), a network wider than /8 (IPv4) or /32 (IPv6), and, without
 * `--force`, one wider than /24 or /64.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as os from "node:os"
import { contains, overlaps, parseCidr, type Cidr } from "../domain/Cidr.js"
import { allowedBy, allowEntryInForce, cidrOf, policyRails } from "../domain/Decide.js"
import { formatDuration, parseDuration, timeLeft } from "../domain/Duration.js"
import { canonicalJson } from "../domain/CanonicalJson.js"
import type { NewEvent } from "../domain/Events.js"
import { protectionOf, widthOf, WIDTH_LIMITS, type Rail } from "../domain/Rails.js"
import { instantAfter } from "../domain/Time.js"
import { EventLog } from "../eventlog/EventLog.js"
import { describeCodeUnit } from "../domain/SafeText.js"
import { applianceRails } from "./appliances.js"
import { configuredLog, ExitCode, LoadedConfig, UsageError } from "./shared.js"
import type { ApplyOutcome, OperatorApplyOptions } from "./operatorApply.js"
import { apiKeyOption, globalOptions, tokenOption } from "./options.js"

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

const address = Args.text({ name: "ADDR|CIDR" }).pipe(
  Args.withDescription("an address (192.0.2.31, 2001:db8::1) or a network (192.0.2.0/24)"),
  Args.mapEffect((text) => {
    const parsed = parseCidr(text)
    // Args report a HelpDoc, not a ValidationError.
    return parsed.ok ? Effect.succeed(parsed.value) : Effect.fail(HelpDoc.p(parsed.error))
  })
)

const ttlOption = Options.text("ttl").pipe(
  Options.withDescription('how long, e.g. "30m", "6h", "7d"'),
  Options.mapEffect((text) => {
    const parsed = parseDuration(text)
    return parsed.ok ? Effect.succeed(parsed.value) : Effect.fail(invalid(`--ttl ${parsed.error}`))
  })
)

const TARGET = /^(loadmaster:global|loadmaster:vs:[0-9]{1,9}|cryptospike)$/
const target = Options.text("target").pipe(
  Options.withDescription("loadmaster:global, loadmaster:vs:<index> or cryptospike (the user behind the address)"),
  Options.mapEffect((text) =>
    TARGET.test(text)
      ? Effect.succeed(text)
      : Effect.fail(invalid(`--target '${text}': expected loadmaster:global, loadmaster:vs:<index> or cryptospike`))
  )
)

/**
 * The first character of `text` that could act on a terminal rather than be shown: C0 controls
 * (TAB and newline too: a reason is one line), DEL, C1 controls (U+009B is an escape sequence's
 * start on some terminals), the bidi controls that reorder what is shown (U+202E and kin) and the
 * line and paragraph separators. `why`, `replay` and `status` print what is recorded as it is.
 */
export const unsafeCharacter = (text: string): { readonly index: number; readonly code: number } | undefined => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (
      c < 0x20 ||
      (c >= 0x7f && c <= 0x9f) ||
      c === 0x061c ||
      c === 0x200e ||
      c === 0x200f ||
      (c >= 0x2028 && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069)
    ) {
      return { index: i, code: c }
    }
  }
  return undefined
}

/** Refuses text for `--name` that holds a character that could act on a terminal (nothing is recorded). */
const plainText = (name: string, text: string) => {
  const found = unsafeCharacter(text)
  return found === undefined
    ? Effect.succeed(text)
    : Effect.fail(
        invalid(
          `--${name} must be plain text: it holds the control character ${describeCodeUnit(found.code)} at position ${found.index + 1} (escape sequences and bidi controls are refused)`
        )
      )
}

const reason = Options.text("reason").pipe(
  Options.withDescription("why (recorded in the log, shown by status and replay; plain text, no control characters)"),
  Options.mapEffect((text) => (text.trim() === "" ? Effect.fail(invalid("--reason must not be empty")) : plainText("reason", text.trim())))
)

const currentUser = (): string => {
  try {
    return os.userInfo().username
  } catch {
    return process.env["USER"] ?? "unknown"
  }
}

export const actor = Options.text("actor").pipe(
  Options.withDescription("who asks (default: the operating-system user; plain text, no control characters)"),
  Options.mapEffect((text) => plainText("actor", text)),
  Options.optional
)

export const actorOf = (opt: Option.Option<string>) => Option.getOrElse(opt, currentUser)

/**
 * Records one operator event, made at this run's clock (an expiry is that plus the ttl, whatever
 * time the newest row carries); returns its seq and that time.
 */
const record = (make: (recordedAt: string) => NewEvent) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    return yield* log.transaction((tx) =>
      Effect.map(tx.append([make(tx.clock)]), (outcomes) => ({ seq: outcomes[0]!.seq, recordedAt: tx.clock }))
    )
  })

/** The policy's allowlist entry in force that contains `cidr`, to warn about a block that will not apply. */
const warnIfAllowlisted = (cidr: Cidr, command: string) =>
  Effect.gen(function* () {
    const cfg = yield* LoadedConfig
    const now = new Date().toISOString()
    const entry = allowedBy(cfg.policy.allowlist, cidr, now)
    if (entry !== undefined) {
      yield* Console.error(
        `mitigator ${command}: warning: ${cidr.text} is inside the allowlist entry ${entry.cidr}: it is recorded, but not blocked while that entry is in force`
      )
    }
  })

/** An operator's allow in force, as the block's output names it. */
interface OperatorAllow {
  readonly seq: number
  readonly cidr: string
  readonly until: string | null
  readonly actor: string
  readonly reason: string
}

const describeAllow = (a: OperatorAllow): string =>
  `the operator's allow seq ${a.seq} (${a.cidr} ${a.until === null ? "for good" : `until ${a.until}`}, by ${a.actor}: ${a.reason})`

/**
 * The operators' allows in force at `now` that overlap `cidr`, newest first. The indexed list of
 * allows says whether there is any; only then is the log read for their seq, who and why.
 */
const operatorAllowsOver = (cidr: Cidr, now: string) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    const known = yield* log.transaction((tx) => tx.operatorAllows)
    if (!known.some((a) => allowEntryInForce(a, now) && overlaps(cidrOf(a.cidr), cidr))) return []
    const found: OperatorAllow[] = []
    yield* log.fold({ keep: (type) => type === "AllowRequested" }, (event) => {
      const p = event.payload as { cidr: string; until: string | null; actor: string; reason: string }
      if (allowEntryInForce(p, now) && overlaps(cidrOf(p.cidr), cidr)) found.push({ seq: event.seq, cidr: p.cidr, until: p.until, actor: p.actor, reason: p.reason })
    })
    return found.reverse()
  })

/**
 * What an operator's allow does to a block of `cidr` just recorded: the allow that holds all of
 * it back (nothing of it is blocked while that allow is in force), and a warning for each allow
 * inside it (those parts are not blocked).
 */
const allowsAgainst = (cidr: Cidr, now: string) =>
  Effect.gen(function* () {
    const allows = yield* operatorAllowsOver(cidr, now)
    const whole = allows.find((a) => contains(cidrOf(a.cidr), cidr))
    if (whole === undefined) {
      for (const a of allows) {
        yield* Console.error(`mitigator block: warning: ${describeAllow(a)} is inside ${cidr.text}: that part is not blocked while the allow is in force`)
      }
    }
    return whole === undefined ? undefined : describeAllow(whole)
  })

const defer = Options.boolean("defer").pipe(Options.withDescription("only record it; the next reconcile applies it"))
const json = Options.boolean("json").pipe(Options.withDescription("what was recorded and applied, as one JSON object"))

/** The options that apply a request at once: --defer, --json and the appliances' credentials. */
const applyOptions = { defer, json, apiKey: apiKeyOption, csToken: tokenOption }

/** Exit code of a request recorded but not applied (the next reconcile applies it). */
export const RECORDED_NOT_APPLIED = 4

/**
 * Applies what was just recorded (unless --defer), then says both: the recorded line and what was
 * applied (text), or one object (--json). Exit 4 when it was recorded but not applied.
 */
const applyAndReport = (
  command: "block" | "unblock" | "allow",
  opts: OperatorApplyOptions & { readonly defer: boolean; readonly json: boolean },
  request: Parameters<typeof import("./operatorApply.js").applyOperatorRequest>[2],
  recorded: { readonly line: string; readonly facts: Record<string, unknown> }
) =>
  Effect.gen(function* () {
    const cfg = yield* LoadedConfig
    // Loaded only when applying: --defer never loads the reconciler or the HTTP stack.
    const { applyOperatorRequest, describeOutcome } = yield* Effect.promise(() => import("./operatorApply.js"))
    const heldBackBy = request.kind === "block" ? yield* allowsAgainst(request.cidr, request.recordedAt) : undefined
    const outcome: ApplyOutcome = opts.defer
      ? { status: "deferred", changes: [], problems: [], leftToReconcile: [], retried: true }
      : yield* applyOperatorRequest(cfg, opts, request, heldBackBy).pipe(
          // A config or credential error, a tampered log: the command fails as reconcile does
          // (exit 1, the error said), after saying that the request is recorded.
          Effect.tapError(() => (opts.json ? Effect.void : Console.log(`mitigator ${command}: ${recorded.line}`)))
        )
    if (opts.json) {
      yield* Console.log(canonicalJson({ command, ...recorded.facts, apply: outcome }))
    } else {
      yield* Console.log(`mitigator ${command}: ${recorded.line}`)
      const said = `mitigator ${command}: ${describeOutcome(outcome)}`
      yield* outcome.status === "not-applied" ? Console.error(said) : Console.log(said)
    }
    if (outcome.status === "not-applied" || outcome.status === "pending") return yield* new ExitCode({ code: RECORDED_NOT_APPLIED })
  })

const force = Options.boolean("force").pipe(
  Options.withDescription(
    `allow a network wider than /${WIDTH_LIMITS[4].force} (IPv4) or /${WIDTH_LIMITS[6].force} (IPv6); wider than /${WIDTH_LIMITS[4].max} or /${WIDTH_LIMITS[6].max} is never blocked`
  )
)

const refused = (message: string) => new UsageError({ message: `block: refused: ${message}` })

/** How `cidr` touches `rail`, for the one line that refuses it. */
const touching = (cidr: Cidr, rail: Rail): string => {
  const what = cidr.prefix === (cidr.version === 4 ? 32 : 128) ? cidr.text.slice(0, cidr.text.indexOf("/")) : cidr.text
  return contains(rail.cidr, cidr) ? `${what} is protected: ${rail.label} is never blocked` : `${what} contains ${rail.label}, which is never blocked`
}

/**
 * Refuses a block mitigator never makes: too wide (or wide without --force), or touching a
 * never-block rail. The appliances' names are looked up only when everything else passed.
 */
const checkBlock = (cidr: Cidr, forced: boolean) =>
  Effect.gen(function* () {
    const limits = WIDTH_LIMITS[cidr.version]
    const width = widthOf(cidr)
    if (width === "too-wide") {
      return yield* refused(`${cidr.text} is wider than /${limits.max}, the widest block mitigator makes (even with --force)`)
    }
    if (width === "needs-force" && !forced) {
      return yield* refused(`${cidr.text} is wider than /${limits.force}: give --force to block a network this wide`)
    }
    const cfg = yield* LoadedConfig
    const configured = protectionOf(cidr, policyRails(cfg.policy))
    if (configured !== undefined) return yield* refused(touching(cidr, configured))
    const appliances = yield* applianceRails(cfg)
    for (const warning of appliances.warnings) yield* Console.error(`mitigator block: warning: ${warning}`)
    const appliance = protectionOf(cidr, appliances.rails)
    if (appliance !== undefined) return yield* refused(touching(cidr, appliance))
  })

export const blockCommand = Command.make(
  "block",
  { ...globalOptions, ...applyOptions, address, ttl: ttlOption, reason, target: target.pipe(Options.withDefault("loadmaster:global")), force, actor },
  (opts) =>
    Effect.gen(function* () {
      const cidr = opts.address
      if (opts.target === "cryptospike" && cidr.prefix !== (cidr.version === 4 ? 32 : 128)) {
        return yield* new UsageError({
          message: "block --target cryptospike blocks the user behind ONE address: give an address, not a network"
        })
      }
      yield* checkBlock(cidr, opts.force)
      yield* warnIfAllowlisted(cidr, "block")
      const who = actorOf(opts.actor)
      const { seq, recordedAt } = yield* record((recordedAt) => ({
        type: "BlockRequested",
        dedupeKey: null,
        payload: {
          target: opts.target,
          subject:
            opts.target === "cryptospike"
              ? { kind: "userBehindIp", ip: cidr.text.slice(0, cidr.text.indexOf("/")), at: recordedAt, userIdentity: "" }
              : { kind: "ip", cidr: cidr.text },
          until: instantAfter(Date.parse(recordedAt), opts.ttl),
          ttl: formatDuration(opts.ttl),
          actor: who,
          reason: opts.reason
        }
      }))
      const until = instantAfter(Date.parse(recordedAt), opts.ttl)
      const left = timeLeft(until, recordedAt)
      yield* applyAndReport("block", opts, { kind: "block", cidr, target: opts.target, recordedAt }, {
        line: `recorded as seq ${seq}: ${cidr.text} on ${opts.target} until ${until} (${left}) (by ${who})`,
        facts: { seq, recordedAt, cidr: cidr.text, target: opts.target, until, left, actor: who, reason: opts.reason }
      })
    })
).pipe(
  Command.withDescription(
    "Block an address or network (recorded in the log, applied at once unless --defer; exit 4: recorded, not applied); never-block rails and width limits refuse what mitigator never blocks"
  ),
  Command.provide((opts) => configuredLog(opts, true))
)

export const unblockCommand = Command.make(
  "unblock",
  { ...globalOptions, ...applyOptions, address, reason, target: target.pipe(Options.optional), actor },
  (opts) =>
    Effect.gen(function* () {
      const who = actorOf(opts.actor)
      const where = Option.getOrNull(opts.target)
      const { seq, recordedAt } = yield* record(() => ({
        type: "UnblockRequested",
        dedupeKey: null,
        payload: { cidr: opts.address.text, target: where, actor: who, reason: opts.reason }
      }))
      yield* applyAndReport("unblock", opts, { kind: "unblock", cidr: opts.address, target: where }, {
        line: `recorded as seq ${seq}: blocks inside ${opts.address.text} end on ${where ?? "every target"} (by ${who})`,
        facts: { seq, recordedAt, cidr: opts.address.text, target: where, actor: who, reason: opts.reason }
      })
    })
).pipe(
  Command.withDescription(
    "End the blocks inside an address or network (a later detection blocks again); applied at once unless --defer, removing only what mitigator made"
  ),
  Command.provide((opts) => configuredLog(opts, true))
)

export const allowCommand = Command.make(
  "allow",
  { ...globalOptions, ...applyOptions, address, reason, ttl: ttlOption.pipe(Options.optional), actor },
  (opts) =>
    Effect.gen(function* () {
      const who = actorOf(opts.actor)
      const { seq, recordedAt } = yield* record((recordedAt) => ({
        type: "AllowRequested",
        dedupeKey: null,
        payload: {
          cidr: opts.address.text,
          until: Option.match(opts.ttl, { onNone: () => null, onSome: (ms) => instantAfter(Date.parse(recordedAt), ms) }),
          actor: who,
          reason: opts.reason
        }
      }))
      const until = Option.match(opts.ttl, { onNone: () => null, onSome: (ms) => instantAfter(Date.parse(recordedAt), ms) })
      const left = until === null ? null : timeLeft(until, recordedAt)
      yield* applyAndReport("allow", opts, { kind: "allow", cidr: opts.address, target: null }, {
        line: `recorded as seq ${seq}: ${opts.address.text} is never blocked ${until === null ? "for good" : `until ${until} (${left})`} (by ${who})`,
        facts: { seq, recordedAt, cidr: opts.address.text, until, left, actor: who, reason: opts.reason }
      })
    })
).pipe(
  Command.withDescription("Never block inside an address or network (lifts blocks already in force there, at once unless --defer)"),
  Command.provide((opts) => configuredLog(opts, true))
)
