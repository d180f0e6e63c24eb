/**
 * The facts the log records. Payload schemas hold only JSON-native values (strings, numbers,
 * booleans, nulls, arrays, plain objects), so a payload's encoded and decoded forms are the same
 * object and the ingest hot path needs no encoding step.
 */
import * as Schema from "effect/Schema"

import { Policy, Target } from "./Policy.js"
import { InputFormat, Priority, Product } from "./Vocabulary.js"

export { InputFormat, Priority, Product } from "./Vocabulary.js"

const NullableString = Schema.NullOr(Schema.String)

/** Fields that only IDS events carry. */
export const IdsDetails = Schema.Struct({
  lastSeen: NullableString,
  sourcePort: Schema.String,
  targetPort: Schema.String,
  category: Schema.String,
  logSourceIp: Schema.String,
  logSourceInterface: Schema.String
})
export type IdsDetails = typeof IdsDetails.Type

/** What the CEF header and extension said that has no place among the common fields. */
export const CefDetails = Schema.Struct({
  syslogHost: Schema.String,
  vendor: Schema.String,
  product: Schema.String,
  version: Schema.String,
  severity: Schema.String,
  sourceMac: NullableString,
  methodInstance: NullableString
})
export type CefDetails = typeof CefDetails.Type

/**
 * An optional field of a detection that could not be read (a target list cut off with an
 * ellipsis, a time cut short, bytes in another encoding, a value of the wrong JSON type): the
 * detection is stored all the same, the field holds what could be read of it (or its empty
 * value), and this keeps the field's text as received and why.
 */
export const FieldWarning = Schema.Struct({
  /** the event field (`targets`, `firstFlowAt`, `ids.category`, …), or `raw` for the line itself */
  field: Schema.String,
  /** the field as received (escaped where it was not valid UTF-8), cut to MAX_WARNING_RAW characters */
  raw: Schema.String,
  /** a sentence naming the field as the layout does and what was wrong */
  reason: Schema.String
})
export type FieldWarning = typeof FieldWarning.Type

/**
 * One Flowmon detection as received. Text fields are "" when the layout has the field but it was
 * empty, and null when the layout has no such field at all.
 */
export const FlowmonEventReceived = Schema.Struct({
  product: Product,
  instance: Schema.String,
  eventId: Schema.String,
  /** UTC ISO; ADS: event detection time, IDS: first seen, CEF: `start` */
  detectedAt: Schema.String,
  /** UTC ISO; ADS TSV only (timestamp of the first flow) */
  firstFlowAt: NullableString,
  /** ADS method code (SCANS, SSHDICT, …); null for IDS, and for an ADS code that could not be read (see `warnings`) */
  method: NullableString,
  subtype: NullableString,
  mitre: NullableString,
  description: Schema.String,
  perspective: NullableString,
  /** normalised; null when empty or not one of the five levels (the original is in `severity`) */
  priority: Schema.NullOr(Priority),
  /** the priority or severity exactly as written */
  severity: Schema.String,
  detail: Schema.String,
  ports: NullableString,
  protocol: NullableString,
  /** canonical IPv4 / IPv6 */
  source: Schema.String,
  sourceName: NullableString,
  /** canonical IPv4 / IPv6 */
  targets: Schema.Array(Schema.String),
  dataFeed: NullableString,
  userIdentity: Schema.String,
  signature: Schema.NullOr(Schema.Struct({ id: Schema.String, name: Schema.String })),
  ids: Schema.NullOr(IdsDetails),
  cef: Schema.NullOr(CefDetails),
  format: InputFormat,
  raw: Schema.String,
  /**
   * the optional fields that could not be read; absent when there are none (so a clean event,
   * and every event recorded before this field existed, is unchanged)
   */
  warnings: Schema.optionalWith(Schema.Array(FieldWarning), { exact: true })
})
export type FlowmonEventReceived = typeof FlowmonEventReceived.Type

/** A line that could not be accepted, kept so that nothing is silently dropped. */
export const InputRejected = Schema.Struct({
  instance: Schema.String,
  /** 1-based line number within one `append` run */
  line: Schema.Number,
  reason: Schema.String,
  /** the layout the line was read as, when one was chosen */
  format: Schema.NullOr(InputFormat),
  /** escaped printable ASCII, cut to 4 KiB of the original bytes */
  raw: Schema.String,
  rawBytes: Schema.Number,
  truncated: Schema.Boolean
})
export type InputRejected = typeof InputRejected.Type

/** The policy in force from this event on (recorded when the loaded config differs from the last one). */
export const PolicyActivated = Schema.Struct({
  hash: Schema.String,
  policy: Policy,
  /** the config file it was loaded from */
  source: Schema.String
})
export type PolicyActivated = typeof PolicyActivated.Type

/**
 * What a block applies to: an address block, or the Windows user found behind an address on
 * CryptoSpike (resolved later, from file activity around `at`).
 */
export const BlockSubject = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("ip"), cidr: Schema.String }),
  Schema.Struct({
    kind: Schema.Literal("userBehindIp"),
    ip: Schema.String,
    /** when the address was seen acting (the detection time) */
    at: Schema.String,
    /** the user name Flowmon reported, if any ("" when none) */
    userIdentity: Schema.String
  })
)
export type BlockSubject = typeof BlockSubject.Type

/** The Flowmon event a decision was made for. */
export const DecisionCause = Schema.Struct({
  seq: Schema.Number,
  product: Product,
  instance: Schema.String,
  eventId: Schema.String,
  method: Schema.NullOr(Schema.String),
  source: Schema.String,
  detectedAt: Schema.String
})
export type DecisionCause = typeof DecisionCause.Type

/** A rule's action applied to one detection: block `subject` on `target` until `until`. */
export const BlockDecided = Schema.Struct({
  target: Target,
  subject: BlockSubject,
  /** UTC ISO: the deciding run's clock plus the (escalated) ttl (see LogTransaction.clock) */
  until: Schema.String,
  ttl: Schema.String,
  rule: Schema.String,
  /** 1 for the first offence of this source inside the escalation window, 2 for the second, … */
  offence: Schema.Number,
  policyHash: Schema.String,
  cause: DecisionCause
})
export type BlockDecided = typeof BlockDecided.Type

/**
 * A rule matched, but its source is protected by a never-block rail (src/domain/Rails.ts): no
 * block is decided, and this says so ("not blocked: protected (loopback 127.0.0.0/8)"). One per
 * detection; it is not an offence (escalation counts only BlockDecided).
 */
export const BlockWithheld = Schema.Struct({
  /** the targets the rule's actions name */
  targets: Schema.Array(Target),
  rule: Schema.String,
  reason: Schema.Literal("protected"),
  /** which rail: `loopback 127.0.0.0/8`, `neverBlock 192.0.2.53/32`, `appliance loadmaster lm.example (198.51.100.7)` */
  protection: Schema.String,
  policyHash: Schema.String,
  cause: DecisionCause
})
export type BlockWithheld = typeof BlockWithheld.Type

/**
 * An entry another tool put on a target, which mitigator takes over with this block (`import`):
 * the next reconcile that sees it adopts it instead of adding it again, and lifts it when the
 * block ends.
 */
export const TakeOver = Schema.Struct({
  from: Schema.String,
  database: Schema.String,
  /** the ADS event id the legacy tool blocked for */
  event: Schema.String,
  /** the hours the legacy tool had left */
  ttlHours: Schema.Number
})
export type TakeOver = typeof TakeOver.Type

/** `mitigator block` (an operator's block), or a block taken over by `mitigator import`. */
export const BlockRequested = Schema.Struct({
  target: Target,
  subject: BlockSubject,
  until: Schema.String,
  ttl: Schema.String,
  actor: Schema.String,
  reason: Schema.String,
  takeOver: Schema.optionalWith(TakeOver, { exact: true })
})
export type BlockRequested = typeof BlockRequested.Type

/** `mitigator unblock`: ends the blocks inside `cidr` (on `target`, or everywhere when null). */
export const UnblockRequested = Schema.Struct({
  cidr: Schema.String,
  target: Schema.NullOr(Target),
  actor: Schema.String,
  reason: Schema.String
})
export type UnblockRequested = typeof UnblockRequested.Type

/** `mitigator allow`: never block inside `cidr` (until `until`, or for good when null). */
export const AllowRequested = Schema.Struct({
  cidr: Schema.String,
  until: Schema.NullOr(Schema.String),
  actor: Schema.String,
  reason: Schema.String
})
export type AllowRequested = typeof AllowRequested.Type

/** CryptoSpike named the user behind `ip` for the detection seen at `at`. */
export const UserResolved = Schema.Struct({
  ip: Schema.String,
  at: Schema.String,
  userId: Schema.String,
  userName: Schema.String,
  userPrincipalName: Schema.String,
  via: Schema.Literal("file-activity", "name")
})
export type UserResolved = typeof UserResolved.Type

/** A CryptoSpike user with the names CryptoSpike gave ("" where it gave none). */
export const NamedUser = Schema.Struct({
  userId: Schema.String,
  userName: Schema.String,
  userPrincipalName: Schema.String
})
export type NamedUser = typeof NamedUser.Type

/**
 * The user behind `ip` could not be named: nobody, or more than one, or (a name search) only a
 * user of another domain (never guessed).
 */
export const UserResolutionFailed = Schema.Struct({
  ip: Schema.String,
  at: Schema.String,
  reason: Schema.Literal("unknown", "ambiguous"),
  /** the candidates' user ids */
  candidates: Schema.Array(Schema.String),
  /** the candidates with their names (absent in events recorded before names were kept) */
  matches: Schema.optionalWith(Schema.Array(NamedUser), { exact: true }),
  /** the name searched for, when the candidates came from a name search */
  searched: Schema.optionalWith(Schema.String, { exact: true })
})
export type UserResolutionFailed = typeof UserResolutionFailed.Type

/** Reconcile blocked or unblocked a user on CryptoSpike (the user ownership ledger). */
export const UserBlockChanged = Schema.Struct({
  userId: Schema.String,
  op: Schema.Literal("block", "unblock"),
  comment: Schema.String,
  /** the decision or operator block behind it (block), when known */
  causeSeq: Schema.NullOr(Schema.Number),
  /** the reconcile lease's fencing token the change was made under (a log on PostgreSQL; absent otherwise and in older logs) */
  fence: Schema.optionalWith(Schema.Number, { exact: true })
})
export type UserBlockChanged = typeof UserBlockChanged.Type

/**
 * A user mitigator blocked is no longer blocked on CryptoSpike (an administrator lifted it).
 * `repair: false` (cryptospike.repairDrift off): the human decision wins, the reasons recorded
 * before it no longer block this user; only a new detection does.
 */
export const UserBlockLifted = Schema.Struct({
  userId: Schema.String,
  repair: Schema.Boolean,
  /** the reconcile lease's fencing token the change was made under (a log on PostgreSQL; absent otherwise and in older logs) */
  fence: Schema.optionalWith(Schema.Number, { exact: true })
})
export type UserBlockLifted = typeof UserBlockLifted.Type

/** Reconcile changed a target: the entry is now there (add) or gone (remove). */
export const TargetChanged = Schema.Struct({
  target: Target,
  /** canonical CIDR */
  cidr: Schema.String,
  op: Schema.Literal("add", "remove"),
  /** the address as sent (add) or as the target listed it (remove) */
  listed: Schema.String,
  comment: Schema.String,
  /** the event the block was for (add), when known */
  causeSeq: Schema.NullOr(Schema.Number),
  /** the reconcile lease's fencing token the change was made under (a log on PostgreSQL; absent otherwise and in older logs) */
  fence: Schema.optionalWith(Schema.Number, { exact: true })
})
export type TargetChanged = typeof TargetChanged.Type

/** Reconcile could not make a change (or could not observe a target); it is retried next pass. */
export const TargetChangeFailed = Schema.Struct({
  target: Target,
  cidr: Schema.NullOr(Schema.String),
  op: Schema.Literal("add", "remove", "list"),
  errorClass: Schema.Literal("transient", "auth", "rejected"),
  reason: Schema.String,
  message: Schema.String,
  /** the reconcile lease's fencing token the change was made under (a log on PostgreSQL; absent otherwise and in older logs) */
  fence: Schema.optionalWith(Schema.Number, { exact: true })
})
export type TargetChangeFailed = typeof TargetChangeFailed.Type

/**
 * The target and the ownership ledger disagree: an entry mitigator added is no longer there
 * (`missing`: someone removed it by hand), or an entry carrying mitigator's marker is there but
 * not in the ledger (`adopted`: a crash between applying and recording; it is taken back).
 * Also the outcome of a take-over claim (`import`): the legacy entry is adopted, or `missing`.
 */
export const DriftObserved = Schema.Struct({
  target: Target,
  cidr: Schema.String,
  kind: Schema.Literal("missing", "adopted"),
  /** the address as listed (adopted entries) */
  listed: Schema.optionalWith(Schema.String, { exact: true }),
  /** the comment as listed (adopted entries): what removing it later checks it against */
  comment: Schema.optionalWith(Schema.String, { exact: true }),
  /** whether reconcile puts it back (LoadMaster: always, while the block is desired) */
  repair: Schema.Boolean,
  /** the reconcile lease's fencing token the change was made under (a log on PostgreSQL; absent otherwise and in older logs) */
  fence: Schema.optionalWith(Schema.Number, { exact: true })
})
export type DriftObserved = typeof DriftObserved.Type

/**
 * An entry or a user block mitigator made is no longer its own: the LoadMaster entry's comment is
 * not the one mitigator wrote (an administrator re-made it by hand, another tool took it), or the
 * CryptoSpike user was blocked again by someone else (CryptoSpike's own detection, an
 * administrator). mitigator stops claiming it and never removes it; the holder decides now.
 */
export const OwnershipLost = Schema.Struct({
  target: Target,
  /** the address block (LoadMaster), null for a user */
  cidr: Schema.NullOr(Schema.String),
  /** the user (CryptoSpike), null for an address */
  userId: Schema.NullOr(Schema.String),
  /** who holds it now, as far as the target says ("someone else" when it does not say) */
  holder: Schema.String,
  /** the comment the target lists now (made safe and cut short) */
  comment: Schema.String,
  /** the reconcile lease's fencing token the change was made under (a log on PostgreSQL; absent otherwise and in older logs) */
  fence: Schema.optionalWith(Schema.Number, { exact: true })
})
export type OwnershipLost = typeof OwnershipLost.Type

/** A plan over the safety caps, not applied (`--force` applies it). */
export const PlanRefused = Schema.Struct({
  adds: Schema.Number,
  removes: Schema.Number,
  reason: Schema.String
})
export type PlanRefused = typeof PlanRefused.Type

/**
 * This run's clock disagreed with another by more than CLOCK_TOLERANCE_MS:
 * - `log`: it was behind the newest row (this clock is behind, or an earlier run's was ahead).
 *   Decisions still use this run's clock (see LogTransaction.clock); recorded once per
 *   newest-row time, so once per episode.
 * - `loadmaster` / `cryptospike`: the appliance's `Date` header disagreed; that reconcile pass
 *   removed nothing from it (no entry, no user unblocked).
 */
export const ClockSkewObserved = Schema.Struct({
  /** what this run's clock said */
  clock: Schema.String,
  against: Schema.Literal("log", "loadmaster", "cryptospike"),
  /** the other clock's time: the newest row's recording time, or the appliance's Date */
  reference: Schema.String,
  /** reference - clock: positive when this clock is behind, negative when it is ahead */
  behindMs: Schema.Number
})
export type ClockSkewObserved = typeof ClockSkewObserved.Type

/**
 * The reconcile lease (one pass at a time per log) was taken from a holder judged stale: its
 * process is gone, its pid now names another process, the machine rebooted since, it expired
 * without being renewed, or it could not be read. The projection does not read it: it is there
 * so that a takeover is never silent.
 */
export const LeaseTakenOver = Schema.Struct({
  /** the lease file (beside the event log's real path), or the lease row of a log on PostgreSQL (`postgresql:reconcile_lease/<name>`) */
  lease: Schema.String,
  reason: Schema.Literal("owner-gone", "pid-reused", "rebooted", "expired", "unreadable"),
  /** the holder as the lease named it; null when it could not be read */
  previous: Schema.NullOr(
    Schema.Struct({
      pid: Schema.Number,
      /** null in a lease written before leases named their host */
      host: Schema.NullOr(Schema.String),
      acquiredAt: Schema.NullOr(Schema.String),
      expiresAt: Schema.NullOr(Schema.String)
    })
  ),
  /** the process that took it over */
  pid: Schema.Number,
  host: Schema.String,
  /** the fencing token it took the lease with (a lease row on PostgreSQL); the changes it makes carry it as `fence` */
  fencingToken: Schema.optionalWith(Schema.Number, { exact: true })
})
export type LeaseTakenOver = typeof LeaseTakenOver.Type

/**
 * A checkpoint of the projection's fold was saved (in the same write transaction): it binds the
 * checkpoint's state, kept outside the chain in its own table, to the hash chain. A checkpoint is
 * used only while sha256 of its state equals `stateSha256` here; one without this event (saved by
 * an older build) is not used at all. Dedupe key `checkpoint:<version>:<seq>`. The projection does
 * not read it.
 */
export const CheckpointSaved = Schema.Struct({
  /** the projection's version (PROJECTION_VERSION) the state was made by */
  version: Schema.String,
  /** the last event folded into the state */
  seq: Schema.Number,
  /** sha256 (hex) of the checkpoint's state text, as stored */
  stateSha256: Schema.String
})
export type CheckpointSaved = typeof CheckpointSaved.Type

/**
 * The changes a lease holder records: under a lease row on PostgreSQL each carries the holder's
 * fencing token (`fence`), stamped by the log in the transaction that checks the token is still
 * the holder's.
 */
export const FENCED_EVENT_TYPES: ReadonlySet<string> = new Set(["TargetChanged", "TargetChangeFailed", "DriftObserved", "OwnershipLost", "UserBlockChanged", "UserBlockLifted"])

/** `event` with the fencing token it is recorded under (only the FENCED_EVENT_TYPES carry one). */
export const withFence = <E extends NewEvent>(event: E, token: number): E =>
  FENCED_EVENT_TYPES.has(event.type) ? ({ ...event, payload: { ...event.payload, fence: token } } as E) : event

export const checkpointDedupeKey = (version: string, seq: number): string => `checkpoint:${version}:${seq}`

export const EventPayloads = {
  FlowmonEventReceived,
  InputRejected,
  PolicyActivated,
  BlockDecided,
  BlockWithheld,
  BlockRequested,
  UnblockRequested,
  AllowRequested,
  TargetChanged,
  TargetChangeFailed,
  DriftObserved,
  OwnershipLost,
  PlanRefused,
  UserResolved,
  UserResolutionFailed,
  UserBlockChanged,
  UserBlockLifted,
  ClockSkewObserved,
  LeaseTakenOver,
  CheckpointSaved
} as const

export type EventType = keyof typeof EventPayloads
export type PayloadOf<T extends EventType> = (typeof EventPayloads)[T]["Type"]

/** An event before it is appended. */
export type NewEvent = {
  [T in EventType]: { readonly type: T; readonly payload: PayloadOf<T>; readonly dedupeKey: string | null }
}[EventType]

export const flowmonDedupeKey = (e: Pick<FlowmonEventReceived, "product" | "instance" | "eventId">): string =>
  `${e.product}:${e.instance}:${e.eventId}`

/** A new event of the given type(s). */
export type NewEventOf<T extends EventType> = Extract<NewEvent, { readonly type: T }>

/** What one input line becomes. */
export type IngestedEvent = NewEventOf<"FlowmonEventReceived" | "InputRejected">
