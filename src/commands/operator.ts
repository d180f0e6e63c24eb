/**
 * Operator commands, recorded as events like everything else (with who and why):
 * `mitigator block ADDR|CIDR --ttl D --reason R [--target T] [--force]`,
 * `mitigator unblock ADDR|CIDR --reason R [--target T]`,
 * `mitigator allow CIDR --reason R [--ttl D]`.
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
import { contains, parseCidr, type Cidr } from "../domain/Cidr.js"
import { allowedBy, policyRails } from "../domain/Decide.js"
import { formatDuration, parseDuration } from "../domain/Duration.js"
import type { NewEvent } from "../domain/Events.js"
import { protectionOf, widthOf, WIDTH_LIMITS, type Rail } from "../domain/Rails.js"
import { instantAfter } from "../domain/Time.js"
import { EventLog } from "../eventlog/EventLog.js"
import { applianceRails } from "./appliances.js"
import { configuredLog, globalOptions, LoadedConfig, UsageError } from "./shared.js"

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

const reason = Options.text("reason").pipe(
  Options.withDescription("why (recorded in the log, shown by status and replay)"),
  Options.mapEffect((text) => (text.trim() === "" ? Effect.fail(invalid("--reason must not be empty")) : Effect.succeed(text.trim())))
)

const currentUser = (): string => {
  try {
    return os.userInfo().username
  } catch {
    return process.env["USER"] ?? "unknown"
  }
}

export const actor = Options.text("actor").pipe(
  Options.withDescription("who asks (default: the operating-system user)"),
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
  { ...globalOptions, address, ttl: ttlOption, reason, target: target.pipe(Options.withDefault("loadmaster:global")), force, actor },
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
      yield* Console.log(
        `mitigator block: recorded as seq ${seq}: ${cidr.text} on ${opts.target} until ${instantAfter(Date.parse(recordedAt), opts.ttl)} (by ${who})`
      )
    })
).pipe(
  Command.withDescription(
    "Block an address or network (recorded in the log; applied by reconcile); never-block rails and width limits refuse what mitigator never blocks"
  ),
  Command.provide((opts) => configuredLog(opts, true))
)

export const unblockCommand = Command.make(
  "unblock",
  { ...globalOptions, address, reason, target: target.pipe(Options.optional), actor },
  (opts) =>
    Effect.gen(function* () {
      const who = actorOf(opts.actor)
      const where = Option.getOrNull(opts.target)
      const { seq } = yield* record(() => ({
        type: "UnblockRequested",
        dedupeKey: null,
        payload: { cidr: opts.address.text, target: where, actor: who, reason: opts.reason }
      }))
      yield* Console.log(
        `mitigator unblock: recorded as seq ${seq}: blocks inside ${opts.address.text} end on ${where ?? "every target"} (by ${who})`
      )
    })
).pipe(
  Command.withDescription("End the blocks inside an address or network (a later detection blocks again)"),
  Command.provide((opts) => configuredLog(opts, true))
)

export const allowCommand = Command.make(
  "allow",
  { ...globalOptions, address, reason, ttl: ttlOption.pipe(Options.optional), actor },
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
      const until = Option.match(opts.ttl, {
        onNone: () => "for good",
        onSome: (ms) => `until ${instantAfter(Date.parse(recordedAt), ms)}`
      })
      yield* Console.log(`mitigator allow: recorded as seq ${seq}: ${opts.address.text} is never blocked ${until} (by ${who})`)
    })
).pipe(
  Command.withDescription("Never block inside an address or network (lifts blocks already in force there)"),
  Command.provide((opts) => configuredLog(opts, true))
)
