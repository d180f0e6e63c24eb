/** The filters `status` and `replay` share (--ip, --user, --rule, --since): options, and reading them. */
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { parseCidr } from "../domain/Cidr.js"
import type { Filters } from "../domain/Filter.js"
import { parseFlowmonTime, type TimeZone } from "../domain/Time.js"
import type { EventLogService } from "../eventlog/EventLog.js"
import { UsageError } from "./shared.js"

export const filterOptions = {
  ip: Options.text("ip").pipe(
    Options.withDescription("only blocks and events whose address is inside this address or network, or contains it (192.0.2.31, 192.0.2.0/24)"),
    Options.optional
  ),
  user: Options.text("user").pipe(
    Options.withDescription("only what names this user: a CryptoSpike SID, user or principal name, or the name Flowmon reported (case-insensitive)"),
    Options.optional
  ),
  rule: Options.text("rule").pipe(Options.withDescription("only blocks decided by this rule (and, with --events, its decisions and the changes made for them)"), Options.optional),
  since: Options.text("since").pipe(
    Options.withDescription("only blocks decided or requested, or events recorded, at or after this time (ISO 8601; without a zone: UTC)"),
    Options.optional
  )
}

export interface FilterOptions {
  readonly ip: Option.Option<string>
  readonly user: Option.Option<string>
  readonly rule: Option.Option<string>
  readonly since: Option.Option<string>
}

/**
 * The first seq recorded at or after `since` (one past the newest when there is none): recorded_at
 * never goes back along seq and seqs have no gaps, so a binary search over point reads finds it
 * in a few dozen lookups of the primary key, whatever the log's size.
 */
export const firstSeqAtOrAfter = (log: EventLogService, since: string) =>
  Effect.gen(function* () {
    const atOrAfter = (seq: number) => Effect.map(log.read({ afterSeq: seq - 1, limit: 1 }), (rows) => rows[0] === undefined || rows[0].recordedAt >= since)
    let hi = 1
    while (!(yield* atOrAfter(hi))) hi *= 2
    let lo = Math.floor(hi / 2) // 0, or a seq recorded before `since`
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2)
      if (yield* atOrAfter(mid)) hi = mid
      else lo = mid
    }
    return hi
  })

/** The filters as given, checked (a usage error names the option). */
export const readFilters = (opts: FilterOptions, log: EventLogService) =>
  Effect.gen(function* () {
    let filters: Filters = {}
    if (Option.isSome(opts.ip)) {
      const parsed = parseCidr(opts.ip.value)
      if (!parsed.ok) return yield* new UsageError({ message: `--ip: ${parsed.error}` })
      filters = { ...filters, ip: parsed.value }
    }
    if (Option.isSome(opts.user)) {
      if (opts.user.value.trim() === "") return yield* new UsageError({ message: "--user: expected a user name or id, got nothing" })
      filters = { ...filters, user: opts.user.value.trim() }
    }
    if (Option.isSome(opts.rule)) filters = { ...filters, rule: opts.rule.value }
    if (Option.isSome(opts.since)) {
      const parsed = parseFlowmonTime(opts.since.value, "UTC" as TimeZone)
      if (!parsed.ok) return yield* new UsageError({ message: `--since: ${parsed.error}` })
      filters = { ...filters, since: parsed.value, sinceSeq: yield* firstSeqAtOrAfter(log, parsed.value) }
    }
    return filters
  })
