/**
 * `mitigator why <ADDR|CIDR|USER> [--json]`: the whole story of an address, a network or a user
 * from the log (src/domain/Story.ts): each detection and what became of it, operators' commands,
 * what reconcile applied where and when, the blocks in force now with the time left, and what the
 * next reconcile will do about it, judged from the log alone (`mitigator plan` asks the
 * appliances).
 *
 * Reading: the desired state comes from the projection (its checkpoints); the story's rows from
 * one pass over the log (two for a user: first to learn the addresses the user was found behind),
 * every row checked as folds check them, and only rows whose text may name the subject parsed.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { parseSubject, type Subject } from "../domain/Filter.js"
import type { LoggedEvent } from "../domain/Project.js"
import { buildStory, outcomeText, storyPrefilter, userAddresses, type Story } from "../domain/Story.js"
import { EventLog, type EventLogService } from "../eventlog/EventLog.js"
import { startProgress, ttyProgress } from "../platform/Progress.js"
import { desiredStateAt } from "../projection/desiredState.js"
import { configuredLog, LoadedConfig, logPath, UsageError } from "./shared.js"
import { globalOptions } from "./options.js"

/** Detections shown in full in the text view (the newest); --json has them all. */
const MAX_DETECTIONS_SHOWN = 100

const subjectArg = Args.text({ name: "ADDR|CIDR|USER" }).pipe(
  Args.withDescription("an address (192.0.2.31), a network (192.0.2.0/24), or a user (jdoe, CORP\\jdoe, jdoe@corp.example, or a SID)")
)
const json = Options.boolean("json").pipe(Options.withDescription("the story as one JSON object"))

/** The rows `keep` passes, in seq order; a detection's raw line is dropped (the summary says what it was). */
const readStory = (log: EventLogService, keep: (type: string, payload: string) => boolean) =>
  Effect.gen(function* () {
    const rows: LoggedEvent[] = []
    const bar = yield* startProgress("reading the log")
    yield* log
      .fold({ keep }, (e) => {
        if (e.type === "FlowmonEventReceived") delete (e.payload as { raw?: unknown }).raw
        rows.push({ seq: e.seq, recordedAt: e.recordedAt, type: e.type, payload: e.payload })
      }, bar === undefined ? undefined : (read) => bar.update(read))
      .pipe(Effect.ensuring(Effect.sync(() => bar?.finish())))
    return rows
  })

const storyRows = (log: EventLogService, subject: Subject) =>
  Effect.gen(function* () {
    const first = yield* readStory(log, storyPrefilter(subject))
    const addresses = userAddresses(subject, first)
    return addresses.length === 0 ? first : yield* readStory(log, storyPrefilter(subject, addresses))
  })

const isEmpty = (s: Story): boolean => s.timeline.length === 0 && s.inForce.length === 0 && s.heldBack.length === 0 && s.heldByOthers.length === 0 && s.nextReconcile.length === 0

/** The story for a person. */
export const renderStory = (s: Story, log: string): string => {
  const lines: string[] = []
  const what = s.kind === "address" ? (s.subject.endsWith("/32") || s.subject.endsWith("/128") ? s.subject.slice(0, s.subject.lastIndexOf("/")) : s.subject) : `user ${s.subject}`
  if (isEmpty(s)) return `Nothing recorded about ${what} in ${log} (as of ${s.asOf}).`
  lines.push(`The story of ${what}, as of ${s.asOf}`)
  if (s.users.length > 0) lines.push(`CryptoSpike user${s.users.length === 1 ? "" : "s"}: ${s.users.join(", ")}`)
  const outcomes = new Map(s.detections.map((d) => [d.seq, d]))
  const hidden = Math.max(0, s.detections.length - MAX_DETECTIONS_SHOWN)
  const firstShown = hidden === 0 ? 0 : s.detections[hidden]!.seq
  lines.push("", `Detections: ${s.detections.length}${hidden === 0 ? "" : ` (the oldest ${hidden} not shown: --json has them all)`}`)
  lines.push("", "What happened (seq, recorded at):")
  for (const e of s.timeline) {
    const detection = outcomes.get(e.seq)
    if (detection !== undefined && e.seq < firstShown) continue
    // A detection's decisions are told beside it.
    if ((e.type === "BlockDecided" || e.type === "BlockWithheld") && e.seq < firstShown) continue
    if (detection !== undefined) {
      lines.push(`  ${e.seq}  ${e.recordedAt}  detection: ${e.summary}`)
      lines.push(`        -> ${outcomeText(detection.outcome)}`)
      continue
    }
    if (e.type === "BlockDecided" || e.type === "BlockWithheld") continue
    lines.push(`  ${e.seq}  ${e.recordedAt}  ${e.type}: ${e.summary}`)
  }
  if (s.timeline.length === 0) lines.push("  nothing in the log names it")
  lines.push("", "In force now:")
  if (s.inForce.length === 0) lines.push("  no block")
  for (const b of s.inForce) {
    lines.push(`  ${b.target}  ${b.entry}  until ${b.until} (${b.left})`)
    for (const r of b.reasons) lines.push(`      ${r}`)
  }
  for (const h of s.heldBack) lines.push(`  ${h.target}  ${h.entry}  held back: ${h.why}`)
  for (const h of s.heldByOthers) lines.push(`  ${h.target}  ${h.entry}  held by ${h.holder} (mitigator will not remove it)`)
  lines.push("", "Next reconcile (from the log: what mitigator believes is on each target; `mitigator plan` asks the appliance):")
  if (s.nextReconcile.length === 0) lines.push("  nothing to do")
  for (const n of s.nextReconcile) lines.push(`  ${n.action}  ${n.target}  ${n.entry}: ${n.why}`)
  if (s.nextPassRefused !== null) lines.push(`  but the whole pass would be refused: ${s.nextPassRefused} (reconcile --force applies it)`)
  return lines.join("\n")
}

export const whyCommand = Command.make("why", { ...globalOptions, json, subject: subjectArg }, (opts) =>
  Effect.gen(function* () {
    const parsed = parseSubject(opts.subject)
    if (!parsed.ok) return yield* new UsageError({ message: `why: ${parsed.error}` })
    const log = yield* EventLog
    const cfg = yield* LoadedConfig
    const now = new Date(yield* Clock.currentTimeMillis).toISOString()
    const desired = yield* desiredStateAt(log, now)
    const events = yield* storyRows(log, parsed.value)
    const story = buildStory({
      subject: parsed.value,
      events,
      desired,
      now,
      caps: cfg.policy.caps,
      configured: { loadmaster: cfg.loadmaster !== undefined, cryptospike: cfg.cryptospike !== undefined }
    })
    yield* Console.log(opts.json ? canonicalJson(story) : renderStory(story, logPath(opts, cfg)))
  })
).pipe(
  Command.withDescription("The whole story of an address, network or user: detections, decisions and why, what was applied, what is in force and what reconcile will do"),
  Command.provide((opts) => Layer.merge(configuredLog(opts, false), ttyProgress))
)
