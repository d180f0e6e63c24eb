/**
 * Checkpoints of the projection: a state restored from a checkpoint folds on exactly as the state
 * it was made from, for random logs cut at random places; and, on a real log, a fold from the
 * newest checkpoint plus the events after it equals a fold from scratch, now and as of any time.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import { createHash } from "node:crypto"
import * as path from "node:path"
import type { NewEvent } from "../../src/domain/Events.js"
import { desiredAt, evolve, initialState, project } from "../../src/domain/Project.js"
import { EventLog, type EventLogService } from "../../src/eventlog/EventLog.js"
import * as SqliteEventLog from "../../src/eventlog/SqliteEventLog.js"
import { PROJECTION_VERSION, restoreState, serializeState } from "../../src/projection/Checkpoint.js"
import { CHECKPOINT_EVERY, desiredStateAt, openProjection } from "../../src/projection/desiredState.js"
import { tempDir } from "../support/cli.js"
import { tamper, withRaw } from "../eventlog/support.js"
import { randomLog } from "./randomEvents.js"

const T0 = Date.parse("2026-01-05T08:00:00.000Z")
const MINUTE = 60_000
const iso = (ms: number) => new Date(ms).toISOString()

describe("a checkpoint of the fold", () => {
  it("for random logs cut at random places: restored and folded on, it equals the fold from scratch, at any later time", () => {
    fc.assert(
      fc.property(randomLog, fc.nat(), fc.integer({ min: 0, max: 2000 }), (events, cutAt, laterMin) => {
        const cut = cutAt % (events.length + 1)
        const head = initialState()
        for (const e of events.slice(0, cut)) evolve(head, e)
        const restored = restoreState(serializeState(head))!
        expect(restored).toEqual(head)
        for (const e of events.slice(cut)) evolve(restored, e)
        const scratch = events.reduce(evolve, initialState())
        expect(serializeState(restored)).toBe(serializeState(scratch))
        const last = events[events.length - 1]!.recordedAt
        for (const t of [last, iso(Date.parse(last) + laterMin * MINUTE)]) {
          expect(JSON.stringify(desiredAt(restored, t))).toBe(JSON.stringify(project(events, t)))
        }
      }),
      { numRuns: 500 }
    )
  })

  it("text that is not a checkpoint of this code restores nothing", () => {
    expect(restoreState("not json")).toBeUndefined()
    expect(restoreState("null")).toBeUndefined()
    expect(restoreState(JSON.stringify({ revision: -1 }))).toBeUndefined()
    expect(PROJECTION_VERSION).toMatch(/^[0-9a-f]{16}$/)
  })
})

// ---------------------------------------------------------------------------------------------
// On a real log

/** `n` decisions on a few hundred addresses, 20 s apart, with an unblock and an allow among them. */
const decisions = (n: number, from: number): NewEvent[] =>
  Array.from({ length: n }, (_, k): NewEvent => {
    const i = from + k
    const host = `10.${(i >> 8) & 3}.${i & 255}.${(i % 7) + 1}`
    if (i % 997 === 0) return { type: "UnblockRequested", dedupeKey: null, payload: { cidr: `10.0.0.0/16`, target: null, actor: "alice", reason: "fp" } }
    if (i % 1511 === 0) return { type: "AllowRequested", dedupeKey: null, payload: { cidr: `10.1.0.0/16`, until: null, actor: "bob", reason: "lab" } }
    return {
      type: "BlockDecided",
      dedupeKey: null,
      payload: {
        target: "loadmaster:global",
        subject: { kind: "ip", cidr: `${host}/32` },
        // Some in force when the test looks, most expired by then.
        until: iso(Date.now() + (i % 3 === 0 ? (i % 5) + 1 : -1) * 3_600_000),
        ttl: "1h",
        rule: "r",
        offence: 1,
        policyHash: "h",
        cause: { seq: i, product: "ads", instance: "fm1", eventId: String(i), method: "SSHDICT", source: host, detectedAt: iso(T0) }
      }
    }
  })

const run = <A, E>(db: string, f: (log: EventLogService) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.flatMap(EventLog, f).pipe(Effect.provide(SqliteEventLog.layer({ filename: db, create: true }))) as Effect.Effect<A, never>)

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

const refusal = (db: string) =>
  Effect.runPromise(Effect.flip(Effect.flatMap(EventLog, (log) => openProjection(log)).pipe(Effect.provide(SqliteEventLog.layer({ filename: db, create: false })))))

const scratch = (log: EventLogService, at: string, cutAt?: string) =>
  Effect.map(log.read({ afterSeq: 0, limit: 1_000_000, only: "projection", ...(cutAt === undefined ? {} : { until: cutAt }) }), (rows) => project(rows, at))

describe("checkpoints on a real log", () => {
  it("a fold leaves a checkpoint; the next folds start from it and agree with a fold from scratch, now and as of any time", async () => {
    const db = path.join(tempDir("mitigator-checkpoint-"), "events.db")
    // Recorded in batches, so the log has many recording times.
    for (let batch = 0; batch < 25; batch++) await run(db, (log) => log.append(decisions(1000, batch * 1000 + 1)))
    let now = iso(Date.now())

    const first = await run(db, (log) => desiredStateAt(log, now))
    const saved = await run(db, (log) => log.latestCheckpoint(PROJECTION_VERSION))
    expect(saved?.seq).toBe(25_000)
    expect(25_000).toBeGreaterThanOrEqual(CHECKPOINT_EVERY)
    expect(first).toEqual(await run(db, (log) => scratch(log, now)))

    // More events: the fold reads only those after the checkpoint, and agrees.
    await run(db, (log) => log.append(decisions(300, 25_001)))
    now = iso(Date.now())
    const later = await run(db, (log) => desiredStateAt(log, now))
    expect(later).toEqual(await run(db, (log) => scratch(log, now)))
    expect(later.ipBlocks.length).toBeGreaterThan(100)

    // replay --at: from the newest checkpoint recorded at or before T, or from scratch.
    const times = await run(db, (log) => Effect.map(log.read({ afterSeq: 0, limit: 1_000_000 }), (rows) => rows.map((r) => r.recordedAt)))
    for (const t of [times[0]!, times[4_999]!, times[12_345]!, times[24_999]!, times[25_150]!, now]) {
      const asOf = await run(db, (log) => desiredStateAt(log, t, { cutAt: t }))
      expect(asOf, `as of ${t}`).toEqual(await run(db, (log) => scratch(log, t, t)))
    }
  }, 120_000)

  it("a checkpoint whose event row was edited is not used: the fold starts from scratch, and its chain check refuses the row", async () => {
    const db = path.join(tempDir("mitigator-checkpoint-"), "events.db")
    await run(db, (log) => log.append(decisions(CHECKPOINT_EVERY, 1)))
    await run(db, (log) => openProjection(log))
    const saved = (await run(db, (log) => log.latestCheckpoint(PROJECTION_VERSION)))!
    // Rows after it, so the edited row is not the head the head file vouches for.
    await run(db, (log) => log.append(decisions(5, CHECKPOINT_EVERY + 1)))
    tamper(db, (raw) => raw.prepare("UPDATE events SET hash = ? WHERE seq = ?").run("e".repeat(64), saved.seq))
    expect(await run(db, (log) => log.latestCheckpoint(PROJECTION_VERSION))).toBeUndefined()
    const refused = await Effect.runPromise(
      Effect.flip(Effect.flatMap(EventLog, (log) => openProjection(log)).pipe(Effect.provide(SqliteEventLog.layer({ filename: db, create: false }))))
    )
    expect(refused.reason).toBe("tampered")
    expect(refused.message).toContain(`at seq ${saved.seq}:`)
  }, 60_000)

  it("keeps the newest three and the first of every 100,000 events; another version keeps only its newest", async () => {
    const db = path.join(tempDir("mitigator-checkpoint-"), "events.db")
    const save = (version: string, seq: number) =>
      run(db, (log) => log.saveCheckpoint({ version, seq, recordedAt: iso(T0 + seq), eventHash: "h", state: "{}" }))
    await save("older-build", 5_000)
    await save("older-build", 7_000)
    for (const seq of [10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 120_000, 130_000]) await save(PROJECTION_VERSION, seq)
    const rows = withRaw(db, (raw) => raw.prepare("SELECT version, seq FROM checkpoints ORDER BY version, seq").all()) as Array<{ version: string; seq: number }>
    expect(rows.filter((r) => r.version === PROJECTION_VERSION).map((r) => r.seq)).toEqual([10_000, 60_000, 120_000, 130_000])
    expect(rows.filter((r) => r.version === "older-build").map((r) => r.seq)).toEqual([7_000])
  }, 60_000)

  it("a checkpoint that cannot be restored (bound to the chain, but not a state this code reads) is ignored: the fold starts from scratch and agrees", async () => {
    const db = path.join(tempDir("mitigator-checkpoint-"), "events.db")
    await run(db, (log) => log.append(decisions(CHECKPOINT_EVERY, 1)))
    const last = (await run(db, (log) => log.read({ afterSeq: CHECKPOINT_EVERY - 1, limit: 1 })))[0]!
    const damaged = JSON.stringify({ revision: 1, policyNeverBlock: ["not a cidr"] })
    await run(db, (log) => log.saveCheckpoint({ version: PROJECTION_VERSION, seq: last.seq, recordedAt: last.recordedAt, eventHash: last.hash, state: damaged }))
    expect((await run(db, (log) => log.latestCheckpoint(PROJECTION_VERSION)))?.state).toBe(damaged)
    const now = iso(Date.now())
    expect(await run(db, (log) => desiredStateAt(log, now))).toEqual(await run(db, (log) => scratch(log, now)))
  }, 60_000)

  it("saving a checkpoint appends its CheckpointSaved event, in the chain, with sha256 of the state", async () => {
    // Given a fold of CHECKPOINT_EVERY events, which saves a checkpoint
    const db = path.join(tempDir("mitigator-checkpoint-"), "events.db")
    await run(db, (log) => log.append(decisions(CHECKPOINT_EVERY, 1)))
    await run(db, (log) => openProjection(log))
    // Then the row after the checkpoint's vouches for its state, and the chain holds
    const saved = withRaw(db, (raw) => raw.prepare("SELECT version, seq, state FROM checkpoints").all()) as Array<{ version: string; seq: number; state: string }>
    expect(saved.map((c) => c.seq)).toEqual([CHECKPOINT_EVERY])
    const bound = withRaw(db, (raw) => raw.prepare("SELECT seq, type, payload, dedupe_key FROM events WHERE seq = ?").get(CHECKPOINT_EVERY + 1)) as {
      seq: number
      type: string
      payload: string
      dedupe_key: string
    }
    expect(bound.type).toBe("CheckpointSaved")
    expect(bound.dedupe_key).toBe(`checkpoint:${PROJECTION_VERSION}:${CHECKPOINT_EVERY}`)
    expect(JSON.parse(bound.payload)).toEqual({ version: PROJECTION_VERSION, seq: CHECKPOINT_EVERY, stateSha256: sha256(saved[0]!.state) })
    expect(await run(db, (log) => log.verify)).toMatchObject({ _tag: "Intact", count: CHECKPOINT_EVERY + 1 })
    expect((await run(db, (log) => log.latestCheckpoint(PROJECTION_VERSION)))?.seq).toBe(CHECKPOINT_EVERY)
  }, 60_000)

  it("a checkpoint whose state was edited in the file is refused, naming its seq; so is an edit of its CheckpointSaved row to match", async () => {
    // Given a saved checkpoint, and rows after it
    const db = path.join(tempDir("mitigator-checkpoint-"), "events.db")
    await run(db, (log) => log.append(decisions(CHECKPOINT_EVERY, 1)))
    await run(db, (log) => openProjection(log))
    await run(db, (log) => log.append(decisions(5, CHECKPOINT_EVERY + 1)))
    const { state } = withRaw(db, (raw) => raw.prepare("SELECT state FROM checkpoints").get()) as { state: string }
    const block = JSON.parse(state).blocks[0][1] as { cidr: string }
    // When its state is forged: one of its blocks now names another address (no hashing needed)
    const forged = state.replaceAll(`"${block.cidr}"`, `"192.0.2.99/32"`)
    expect(forged).not.toBe(state)
    tamper(db, (raw) => raw.prepare("UPDATE checkpoints SET state = ?").run(forged))
    // Then the fold refuses it, naming the checkpoint's seq, and the state is never used
    const refused = await refusal(db)
    expect(refused.reason).toBe("tampered")
    expect(refused.message).toContain(`at seq ${CHECKPOINT_EVERY}:`)
    expect(refused.message).toContain("its state was altered")

    // When the CheckpointSaved row is edited to vouch for the forged state, then its row no longer gives its hash
    withRaw(db, (raw) =>
      raw.prepare("UPDATE events SET payload = json_set(payload, '$.stateSha256', ?) WHERE type = 'CheckpointSaved'").run(sha256(forged))
    )
    const again = await refusal(db)
    expect(again.reason).toBe("tampered")
    expect(again.message).toContain(`at seq ${CHECKPOINT_EVERY + 1}: row ${CHECKPOINT_EVERY + 1} does not match its hash`)
  }, 60_000)

  it("a checkpoint without its CheckpointSaved event (an older build's) is ignored: the fold starts from scratch, agrees, and saves a bound one", async () => {
    // Given a log with a checkpoint saved as an older build did: a row in the table, no event (its state even differs)
    const db = path.join(tempDir("mitigator-checkpoint-"), "events.db")
    await run(db, (log) => log.append(decisions(CHECKPOINT_EVERY + 5, 1)))
    const row = withRaw(db, (raw) => raw.prepare("SELECT recorded_at, hash FROM events WHERE seq = ?").get(CHECKPOINT_EVERY)) as { recorded_at: string; hash: string }
    withRaw(db, (raw) =>
      raw
        .prepare("INSERT INTO checkpoints (version, seq, recorded_at, event_hash, state) VALUES (?, ?, ?, ?, ?)")
        .run(PROJECTION_VERSION, CHECKPOINT_EVERY, row.recorded_at, row.hash, serializeState(initialState()))
    )
    // Then it is not used
    expect(await run(db, (log) => log.latestCheckpoint(PROJECTION_VERSION))).toBeUndefined()
    // When the projection is folded, then it equals a fold from scratch
    const now = iso(Date.now())
    const state = await run(db, (log) => desiredStateAt(log, now))
    expect(state.ipBlocks.length).toBeGreaterThan(100)
    expect(state).toEqual(await run(db, (log) => scratch(log, now)))
    // and a new, bound checkpoint was saved at the last row, which the next fold uses
    const bound = await run(db, (log) => log.latestCheckpoint(PROJECTION_VERSION))
    expect(bound?.seq).toBe(CHECKPOINT_EVERY + 5)
    const event = withRaw(db, (raw) => raw.prepare("SELECT seq FROM events WHERE dedupe_key = ?").get(`checkpoint:${PROJECTION_VERSION}:${CHECKPOINT_EVERY + 5}`)) as { seq: number } | undefined
    expect(event?.seq).toBe(CHECKPOINT_EVERY + 6)
    expect(await run(db, (log) => desiredStateAt(log, now))).toEqual(state)
  }, 60_000)
})
