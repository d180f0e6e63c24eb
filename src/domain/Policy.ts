/**
 * The policy in force: which detections become which blocks, for how long, and what is never
 * blocked. This is the normalised form recorded in `PolicyActivated` (JSON-native, canonical
 * text for durations and blocks), so the log says exactly what was decided under which policy.
 * The config file's friendlier YAML shape is turned into this by src/config.
 */
import { createHash } from "node:crypto"
import * as Schema from "effect/Schema"
import { canonicalJson } from "./CanonicalJson.js"
import { Priority, Product } from "./Vocabulary.js"

/** Where a block applies: LoadMaster's global block list, one virtual service's, or CryptoSpike. */
export const Target = Schema.String.pipe(
  Schema.pattern(/^(loadmaster:global|loadmaster:vs:[0-9]{1,9}|cryptospike)$/),
  Schema.annotations({ message: () => 'expected "loadmaster:global", "loadmaster:vs:<index>" or "cryptospike"' })
)
export type Target = typeof Target.Type

export const RuleMatch = Schema.Struct({
  product: Schema.NullOr(Product),
  /** method codes, upper case; null = any */
  methods: Schema.NullOr(Schema.Array(Schema.String)),
  perspectives: Schema.NullOr(Schema.Array(Schema.String)),
  minPriority: Schema.NullOr(Priority),
  dataFeeds: Schema.NullOr(Schema.Array(Schema.String))
})
export type RuleMatch = typeof RuleMatch.Type

export const RuleAction = Schema.Struct({
  target: Target,
  /** canonical duration text, e.g. "6h" */
  ttl: Schema.String
})
export type RuleAction = typeof RuleAction.Type

export const Rule = Schema.Struct({
  name: Schema.String,
  match: RuleMatch,
  actions: Schema.Array(RuleAction)
})
export type Rule = typeof Rule.Type

export const Escalation = Schema.Struct({
  /** canonical duration text, at most MAX_DURATION */
  window: Schema.String,
  /** from 1 to MAX_ESCALATION_FACTOR */
  factor: Schema.Number,
  /** canonical duration text, at most MAX_DURATION */
  maxTtl: Schema.String
})
export type Escalation = typeof Escalation.Type

export const AllowEntry = Schema.Struct({
  /** canonical CIDR */
  cidr: Schema.String,
  /** UTC ISO; null = for good */
  until: Schema.NullOr(Schema.String)
})
export type AllowEntry = typeof AllowEntry.Type

export const Caps = Schema.Struct({
  maxAddsPerPass: Schema.Number,
  maxRemovesPerPass: Schema.Number,
  maxActivePerTarget: Schema.Number
})
export type Caps = typeof Caps.Type

export const Policy = Schema.Struct({
  rules: Schema.Array(Rule),
  escalation: Schema.NullOr(Escalation),
  allowlist: Schema.Array(AllowEntry),
  /**
   * canonical CIDRs never blocked, beside the built-in rails (src/domain/Rails.ts); sorted, no
   * repeats. Absent when empty: policies without it keep the hash they had before it existed,
   * and PolicyActivated events recorded before it existed read as "none".
   */
  neverBlock: Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
  caps: Caps
})
export type Policy = typeof Policy.Type

/** The largest escalation factor a policy may give (documented beside `policy.escalation`). */
export const MAX_ESCALATION_FACTOR = 1000

export const DEFAULT_CAPS: Caps = { maxAddsPerPass: 500, maxRemovesPerPass: 500, maxActivePerTarget: 10_000 }

/** No rules: every event is recorded, nothing is decided. */
export const EMPTY_POLICY: Policy = { rules: [], escalation: null, allowlist: [], caps: DEFAULT_CAPS }

/** sha256 of the canonical JSON: equal policies have equal hashes, whatever the YAML looked like. */
export const policyHash = (policy: Policy): string => createHash("sha256").update(canonicalJson(policy)).digest("hex")
