/**
 * Never remove what is no longer ours. Reconcile passes run in-process against a real SQLite log
 * and the emulators over loopback, with a clock that can be moved past a block's expiry (so no
 * test waits for one): the administrator's re-made LoadMaster entry and CryptoSpike's own
 * re-block survive mitigator's expiry; what is still mitigator's is lifted as before.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as path from "node:path"
import { decide } from "../../src/domain/Decide.js"
import type { NewEvent } from "../../src/domain/Events.js"
import { DEFAULT_CAPS, type Policy } from "../../src/domain/Policy.js"
import { applianceRail, type Rail } from "../../src/domain/Rails.js"
import { EventLog, type StoredEvent } from "../../src/eventlog/EventLog.js"
import * as SqliteEventLog from "../../src/eventlog/SqliteEventLog.js"
import { desiredStateAt } from "../../src/projection/desiredState.js"
import {
  OWN_BLOCK_RULE,
  startCryptoSpikeEmulator,
  type CryptoSpikeEmulatorHandle,
  type CryptoSpikeEmulatorOptions
} from "../../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import { startLoadMasterEmulator, type LoadMasterEmulatorHandle, type ListShape } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { reconcileCryptoSpikePass } from "../../src/reconciler/reconcileCryptoSpike.js"
import { reconcilePass } from "../../src/reconciler/reconcileLoadMaster.js"
import { makeLiveCryptoSpike } from "../../src/targets/cryptospike/LiveCryptoSpike.js"
import { makeLiveLoadMaster } from "../../src/targets/loadmaster/LiveLoadMaster.js"
import { tempDir } from "../support/cli.js"
import { deleteOnAppliance } from "../support/loadmaster.js"
import { seedUser, sid } from "../support/cryptospike.js"
import { adsEvent } from "../support/scenario.js"

const PLAIN_TLS = { ca: undefined, fingerprint: undefined, insecure: false }
const HOUR = 3_600_000
const SOURCE = "192.0.2.31"
const HOST = "192.0.2.31/32"

/** A clock `offsetMs` ahead of the real one (sleeps and timeouts stay real). */
const clockAhead = (offsetMs: number): Clock.Clock => {
  const real = Clock.make()
  const millis = () => real.unsafeCurrentTimeMillis() + offsetMs
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: millis,
    currentTimeMillis: Effect.sync(millis),
    unsafeCurrentTimeNanos: () => BigInt(millis()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(millis()) * 1_000_000n),
    sleep: (duration) => real.sleep(duration)
  }
}

/** A log in a fresh directory; `at(hours, effect)` runs `effect` with the log open and the clock `hours` ahead. */
const workspace = () => {
  const db = path.join(tempDir("mitigator-ownership-"), "events.db")
  const at = <A, E>(hours: number, effect: Effect.Effect<A, E, EventLog>): Promise<A> =>
    Effect.runPromise(
      effect.pipe(Effect.withClock(clockAhead(hours * HOUR)), Effect.provide(SqliteEventLog.layer({ filename: db, create: true }))) as Effect.Effect<
        A,
        never
      >
    )
  const events = () =>
    at(0, Effect.flatMap(EventLog, (log) => log.read({ afterSeq: 0, limit: 100_000 })))
  const state = (hours: number) =>
    at(hours, Effect.gen(function* () {
      const log = yield* EventLog
      return yield* desiredStateAt(log, new Date((yield* Clock.currentTimeMillis)).toISOString())
    }))
  return { db, at, events, state }
}

const policyFor = (actions: Policy["rules"][number]["actions"]): Policy => ({
  rules: [{ name: "brute-force", match: { product: null, methods: ["SSHDICT"], perspectives: null, minPriority: null, dataFeeds: null }, actions }],
  escalation: null,
  allowlist: [],
  caps: DEFAULT_CAPS
})

/** Flowmon reports an SSH dictionary attack from `source` (detected `detectedAt`); the decider decides under `policy`. */
const detect = (policy: Policy, source = SOURCE, detectedAt = new Date().toISOString()) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    return yield* log.transaction((tx) =>
      Effect.gen(function* () {
        const event = adsEvent({ source, detectedAt, eventId: `${Math.floor(Math.random() * 1e9)}` })
        const [stored] = yield* tx.append([{ type: "FlowmonEventReceived", dedupeKey: null, payload: event }])
        const decisions = decide(policy, "policy-under-test", { seq: stored!.seq, event }, [], tx.recordedAt)
        yield* tx.append(decisions.decided.map((payload): NewEvent => ({ type: "BlockDecided", dedupeKey: null, payload })))
      })
    )
  })

const ofType = (events: ReadonlyArray<StoredEvent>, type: string) => events.filter((e) => e.type === type)

// ---------------------------------------------------------------------------------------------
// LoadMaster

const withLoadMaster = async <A>(body: (emulator: LoadMasterEmulatorHandle) => Promise<A>, listShape: ListShape = "nested") => {
  // These passes run at a test clock of their own: the emulator's real Date would disagree, and
  // a pass holds its removals then (test/chaos/clock.test.ts); this LoadMaster sends none.
  const emulator = await startLoadMasterEmulator({ listShape, sendDate: false })
  try {
    return await body(emulator)
  } finally {
    await emulator.close()
  }
}

/** One reconcile pass against `emulator` (or a dry run: plan). */
const lmPass = (emulator: LoadMasterEmulatorHandle, dryRun = false, protect: ReadonlyArray<Rail> = []) =>
  Effect.scoped(
    Effect.gen(function* () {
      const log = yield* EventLog
      const lm = yield* makeLiveLoadMaster({
        url: emulator.url,
        apiKey: Redacted.make(emulator.apiKey),
        api: "v2",
        rateLimit: 1000,
        tls: PLAIN_TLS,
        timeoutMs: 5000,
        retries: 4
      })
      return yield* reconcilePass(log, lm, { caps: DEFAULT_CAPS, force: false, dryRun, concurrency: 2, instance: "fm-reconciler", protect })
    })
  )

const SIX_HOURS_GLOBAL = policyFor([{ target: "loadmaster:global", ttl: "6h" }])

describe("LoadMaster: a removal first checks that the entry is still mitigator's", () => {
  it("an entry an administrator deleted and re-made by hand survives mitigator's expiry, and is no longer claimed", async () => {
    await withLoadMaster(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(SIX_HOURS_GLOBAL))
      const added = await w.at(0, lmPass(emulator))
      expect(added.applied).toBe(1)
      const [ours] = emulator.entries("global")
      expect(ours!.comment).toMatch(/^mitigator fm01 [0-9]+ ads SSHDICT$/)

      // The administrator deletes mitigator's entry and re-adds the address as a permanent block.
      await adminRemake(emulator, ours!.addr, "admin permanent ticket 99")

      // At mitigator's expiry, plan says the entry is someone else's, and removes nothing.
      const planned = await w.at(7, lmPass(emulator, true))
      expect(planned.plan.removes).toEqual([])
      expect(planned.relinquished).toEqual([{ target: "loadmaster:global", cidr: HOST, comment: "admin permanent ticket 99" }])
      const before = await w.events()

      emulator.resetCounts()
      const expired = await w.at(7, lmPass(emulator))
      expect(expired.converged).toBe(true)
      expect(expired.plan.removes).toEqual([])
      expect(emulator.counts()["del"] ?? 0).toBe(0)
      expect(emulator.entries("global")).toEqual([{ addr: HOST, comment: "admin permanent ticket 99" }])

      // Recorded: held by someone else now; no longer in the ledger, shown by status.
      const after = await w.events()
      expect(ofType(after, "TargetChanged").filter((e) => (e.payload as any).op === "remove")).toEqual([])
      const lost = after.slice(before.length).filter((e) => e.type === "OwnershipLost")
      expect(lost.map((e) => e.payload)).toEqual([
        { target: "loadmaster:global", cidr: HOST, userId: null, holder: "someone else", comment: "admin permanent ticket 99" }
      ])
      const state = await w.state(7)
      expect(state.owned).toEqual([])
      expect(state.heldByOthers).toMatchObject([{ target: "loadmaster:global", entry: HOST, comment: "admin permanent ticket 99", holder: "someone else" }])

      // Later passes leave it alone and record nothing more.
      const quiet = await w.events()
      const again = await w.at(8, lmPass(emulator))
      expect(again.relinquished).toEqual([])
      expect(await w.events()).toEqual(quiet)
      expect(emulator.entries("global")).toEqual([{ addr: HOST, comment: "admin permanent ticket 99" }])
    })
  })

  it("an entry re-made by hand while the block is still in force is given up at once, and not removed at expiry", async () => {
    await withLoadMaster(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(SIX_HOURS_GLOBAL))
      await w.at(0, lmPass(emulator))
      await adminRemake(emulator, HOST, "ticket 4711 keep")

      const inForce = await w.at(1, lmPass(emulator))
      expect(inForce.plan.adds).toEqual([])
      expect(inForce.relinquished).toHaveLength(1)
      expect((await w.state(1)).owned).toEqual([])

      const expired = await w.at(7, lmPass(emulator))
      expect(expired.plan.removes).toEqual([])
      expect(emulator.entries("global")).toEqual([{ addr: HOST, comment: "ticket 4711 keep" }])
    })
  })

  it("what is still mitigator's is lifted at expiry as before", async () => {
    await withLoadMaster(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(policyFor([{ target: "loadmaster:global", ttl: "6h" }, { target: "loadmaster:vs:3", ttl: "6h" }])))
      await w.at(0, lmPass(emulator))
      expect(emulator.entries("global")).toHaveLength(1)
      expect(emulator.entries(3)).toHaveLength(1)
      // Only the global entry is re-made by hand: the VS entry is still ours.
      await adminRemake(emulator, HOST, "admin permanent ticket 99")

      const expired = await w.at(7, lmPass(emulator))
      expect(expired.plan.removes).toEqual([{ target: "loadmaster:vs:3", cidr: HOST, listed: HOST }])
      expect(expired.applied).toBe(1)
      expect(emulator.entries(3)).toEqual([])
      expect(emulator.entries("global")).toEqual([{ addr: HOST, comment: "admin permanent ticket 99" }])
    })
  })

  it("entries added by an earlier version (comment `mitigator seq=N …`) stay owned after an upgrade and are lifted", async () => {
    await withLoadMaster(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(SIX_HOURS_GLOBAL))
      const decided = ofType(await w.events(), "BlockDecided")[0]!
      // As the previous build added and recorded it.
      const oldComment = `mitigator seq=${decided.seq} ads:1001 SSHDICT until 2026-12-02T07:02Z`
      emulator.seed("global", HOST, oldComment)
      await w.at(
        0,
        Effect.flatMap(EventLog, (log) =>
          log.append([
            {
              type: "TargetChanged",
              dedupeKey: null,
              payload: { target: "loadmaster:global", cidr: HOST, op: "add", listed: HOST, comment: oldComment, causeSeq: decided.seq }
            }
          ])
        )
      )
      const inForce = await w.at(1, lmPass(emulator))
      expect(inForce.relinquished).toEqual([])
      expect(inForce.plan.adds).toEqual([])
      const expired = await w.at(7, lmPass(emulator))
      expect(expired.plan.removes).toEqual([{ target: "loadmaster:global", cidr: HOST, listed: HOST }])
      expect(emulator.entries("global")).toEqual([])
    })
  })

  it("another mitigator's entry for the same address (its own marker) is never taken for ours", async () => {
    await withLoadMaster(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(SIX_HOURS_GLOBAL))
      await w.at(0, lmPass(emulator))
      const [ours] = emulator.entries("global")
      // Another instance's mitigator blocked the same address under its own decision.
      await adminRemake(emulator, HOST, ours!.comment.replace("mitigator fm01 ", "mitigator fm02 "))
      const expired = await w.at(7, lmPass(emulator))
      expect(expired.plan.removes).toEqual([])
      expect(expired.relinquished).toHaveLength(1)
      expect(emulator.entries("global")).toHaveLength(1)
    })
  })

  it("an entry taken over from another tool and adopted by an earlier version (no comment in its ledger) stays owned after an upgrade", async () => {
    await withLoadMaster(async (emulator) => {
      const w = workspace()
      const imported = "198.51.100.7/32"
      const other = "198.51.100.8/32"
      // As the previous build recorded an `import` take-over and its adoption: no comment kept.
      await w.at(
        0,
        Effect.flatMap(EventLog, (log) =>
          log.append(
            [imported, other].flatMap((cidr): NewEvent[] => [
              {
                type: "BlockRequested",
                dedupeKey: null,
                payload: {
                  target: "loadmaster:global",
                  subject: { kind: "ip", cidr },
                  until: new Date(Date.now() + 6 * HOUR).toISOString(),
                  ttl: "6h",
                  actor: "import",
                  reason: "taken over from lm-timeout.py",
                  takeOver: { from: "lm-timeout.py", database: "/tmp/lm.db", event: "9001", ttlHours: 6 }
                }
              },
              { type: "DriftObserved", dedupeKey: null, payload: { target: "loadmaster:global", cidr, kind: "adopted", repair: false, listed: cidr } }
            ])
          )
        )
      )
      emulator.seed("global", imported, "ADS ID 9001 - SSHDICT")
      emulator.seed("global", other, "ADS ID 9002 - SSHDICT")

      // The first pass after the upgrade keeps them, and records what they carry as the baseline.
      const first = await w.at(1, lmPass(emulator))
      expect(first.relinquished).toEqual([])
      const baselines = ofType(await w.events(), "DriftObserved").filter((e) => (e.payload as any).comment !== undefined)
      expect(baselines.map((e) => [(e.payload as any).cidr, (e.payload as any).comment])).toEqual([
        [imported, "ADS ID 9001 - SSHDICT"],
        [other, "ADS ID 9002 - SSHDICT"]
      ])
      // From then on a re-made entry is told apart; the other is lifted when its block ends.
      await adminRemake(emulator, other, "admin permanent ticket 99")
      const expired = await w.at(7, lmPass(emulator))
      expect(expired.plan.removes).toEqual([{ target: "loadmaster:global", cidr: imported, listed: imported }])
      expect(expired.relinquished).toEqual([{ target: "loadmaster:global", cidr: other, comment: "admin permanent ticket 99" }])
      expect(emulator.entries("global")).toEqual([{ addr: other, comment: "admin permanent ticket 99" }])
    })
  })

  it("an entry someone else held that is then deleted is no longer shown as held; a block that wants it adds it again", async () => {
    await withLoadMaster(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(SIX_HOURS_GLOBAL))
      await w.at(0, lmPass(emulator))
      await adminRemake(emulator, HOST, "admin temporary")
      await w.at(1, lmPass(emulator))
      expect((await w.state(1)).heldByOthers).toHaveLength(1)
      await deleteOnAppliance(emulator, HOST)

      const again = await w.at(2, lmPass(emulator))
      expect(again.plan.adds.map((a) => a.cidr)).toEqual([HOST])
      const state = await w.state(2)
      expect(state.heldByOthers).toEqual([])
      expect(state.owned.map((o) => o.cidr)).toEqual([HOST])
      expect(emulator.entries("global")).toEqual([{ addr: HOST, comment: expect.stringMatching(/^mitigator fm01 /) }])
    })
  })

  it("firmware that lists comments empty leaves the ledger to decide: mitigator's entries are not given up", async () => {
    await withLoadMaster(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(SIX_HOURS_GLOBAL))
      await w.at(0, lmPass(emulator))
      // As if the appliance had dropped the comment.
      await adminRemake(emulator, HOST, "")
      const expired = await w.at(7, lmPass(emulator))
      expect(expired.relinquished).toEqual([])
      expect(expired.plan.removes).toHaveLength(1)
    })
  })

  it("where the list carries no comments, the ledger decides (doctor warns of it): mitigator's own entries are still lifted", async () => {
    await withLoadMaster(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(SIX_HOURS_GLOBAL))
      await w.at(0, lmPass(emulator))
      const expired = await w.at(7, lmPass(emulator))
      expect(expired.relinquished).toEqual([])
      expect(expired.plan.removes).toHaveLength(1)
      expect(emulator.entries("global")).toEqual([])
    }, "pier")
  })
})

describe("LoadMaster: an appliance's own address never goes on a block list", () => {
  it("a block of the CryptoSpike appliance's address in an old log is not applied, and lifted where mitigator had put it", async () => {
    await withLoadMaster(async (emulator) => {
      const w = workspace()
      const cryptoSpike = "198.51.100.77"
      // Decided by an earlier version, which had no appliance rails.
      await w.at(0, detect(SIX_HOURS_GLOBAL, cryptoSpike))
      await w.at(0, detect(SIX_HOURS_GLOBAL, SOURCE))
      await w.at(0, lmPass(emulator))
      expect(emulator.entries("global").map((e) => e.addr).sort()).toEqual([HOST, `${cryptoSpike}/32`])

      const rails = [applianceRail("cryptospike", "cs.example", cryptoSpike)]
      const guarded = await w.at(1, lmPass(emulator, false, rails))
      expect(guarded.plan.removes).toEqual([{ target: "loadmaster:global", cidr: `${cryptoSpike}/32`, listed: `${cryptoSpike}/32` }])
      expect(guarded.plan.adds).toEqual([])
      expect(emulator.entries("global").map((e) => e.addr)).toEqual([HOST])
    })
  })
})

/** An administrator deletes the entry (through the API, as the UI would) and adds the address again with a comment of their own. */
const adminRemake = async (emulator: LoadMasterEmulatorHandle, addr: string, comment: string) => {
  await deleteOnAppliance(emulator, addr)
  emulator.seed("global", addr, comment)
}

// ---------------------------------------------------------------------------------------------
// CryptoSpike

const USER = sid(1)
const DETECTED = "2026-12-01T10:00:00.000Z"

const withCryptoSpike = async <A>(body: (emulator: CryptoSpikeEmulatorHandle) => Promise<A>, options: CryptoSpikeEmulatorOptions = {}) => {
  const emulator = await startCryptoSpikeEmulator({
    seed: { users: [seedUser(1)], fileActivity: [{ userId: USER, ip: SOURCE, time: DETECTED }] },
    // (as for the LoadMaster above: these passes run at a test clock of their own)
    sendDate: false,
    ...options
  })
  try {
    return await body(emulator)
  } finally {
    await emulator.close()
  }
}

const csPass = (emulator: CryptoSpikeEmulatorHandle, dryRun = false) =>
  Effect.scoped(
    Effect.gen(function* () {
      const log = yield* EventLog
      const cs = yield* makeLiveCryptoSpike({
        url: emulator.url,
        auth: { kind: "token", token: Redacted.make(emulator.token) },
        tls: PLAIN_TLS,
        unblockState: "UNBLOCKED",
        timeoutMs: 5000,
        retries: 4,
        rateLimit: 1000
      })
      return yield* reconcileCryptoSpikePass(log, cs, {
        caps: DEFAULT_CAPS,
        force: false,
        dryRun,
        lookbackMs: 30 * 60_000,
        graceMs: 5 * 60_000,
        repairDrift: false
      })
    })
  )

const USER_FOR_A_DAY = policyFor([{ target: "cryptospike", ttl: "24h" }])

describe("CryptoSpike: an unblock first checks that the user's block is still mitigator's", () => {
  it("a user CryptoSpike blocked again by itself stays blocked at mitigator's expiry, and is recorded as CryptoSpike's", async () => {
    await withCryptoSpike(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(USER_FOR_A_DAY, SOURCE, DETECTED))
      const blocked = await w.at(0, csPass(emulator))
      expect(blocked.applied).toBe(1)
      expect(emulator.user(USER)).toMatchObject({ blocked: true, blockedBy: "api" })
      expect(emulator.user(USER)!.comment).toMatch(/^mitigator seq=[0-9]+: Flowmon ADS event /)

      // CryptoSpike's own detection blocks the same user again.
      emulator.blockByCryptoSpike(USER)

      const planned = await w.at(25, csPass(emulator, true))
      expect(planned.toUnblock).toEqual([])
      expect(planned.heldByOthers).toEqual([{ userId: USER, holder: `CryptoSpike (rules: ${OWN_BLOCK_RULE})`, comment: expect.any(String) }])

      emulator.resetCounts()
      const expired = await w.at(25, csPass(emulator))
      expect(expired.toUnblock).toEqual([])
      expect(emulator.counts()["access"] ?? 0).toBe(0)
      expect(emulator.user(USER)).toMatchObject({ blocked: true, blockedBy: "cryptospike" })

      const lost = ofType(await w.events(), "OwnershipLost")
      expect(lost.map((e) => e.payload)).toMatchObject([{ target: "cryptospike", cidr: null, userId: USER, holder: `CryptoSpike (rules: ${OWN_BLOCK_RULE})` }])
      expect(ofType(await w.events(), "UserBlockChanged").map((e) => (e.payload as any).op)).toEqual(["block"])
      const state = await w.state(25)
      expect(state.ownedUsers).toEqual([])
      expect(state.heldByOthers).toMatchObject([{ target: "cryptospike", entry: USER }])
    })
  })

  it("a user an administrator blocked again (own comment) is theirs from then on", async () => {
    await withCryptoSpike(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(USER_FOR_A_DAY, SOURCE, DETECTED))
      await w.at(0, csPass(emulator))
      emulator.blockByAdmin(USER, "blocked pending HR investigation")

      const expired = await w.at(25, csPass(emulator))
      expect(expired.toUnblock).toEqual([])
      expect(expired.heldByOthers).toEqual([{ userId: USER, holder: "someone else", comment: "blocked pending HR investigation" }])
      expect(emulator.user(USER)).toMatchObject({ blocked: true, blockedBy: "admin" })
    })
  })

  it("once CryptoSpike holds the user, an administrator's unblock stands: the old detection does not block the user again, a new one does", async () => {
    await withCryptoSpike(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(USER_FOR_A_DAY, SOURCE, DETECTED))
      await w.at(0, csPass(emulator))
      emulator.blockByCryptoSpike(USER)
      expect((await w.at(1, csPass(emulator))).heldByOthers).toHaveLength(1)
      emulator.unblockByAdmin(USER)

      const after = await w.at(2, csPass(emulator))
      expect(after.toBlock).toEqual([])
      expect(emulator.user(USER)!.blocked).toBe(false)
      expect((await w.state(2)).heldByOthers).toEqual([])
      expect(ofType(await w.events(), "UserBlockLifted").map((e) => e.payload)).toEqual([{ userId: USER, repair: false }])

      // A new detection behind the same user blocks again.
      emulator.seed({ fileActivity: [{ userId: USER, ip: SOURCE, time: "2026-12-01T12:00:00.000Z" }] })
      await w.at(2, detect(USER_FOR_A_DAY, SOURCE, "2026-12-01T12:00:00.000Z"))
      const blockedAgain = await w.at(2, csPass(emulator))
      expect(blockedAgain.toBlock).toEqual([USER])
      expect(emulator.user(USER)).toMatchObject({ blocked: true, blockedBy: "api" })
    })
  })

  it("a user still blocked by mitigator is unblocked at expiry as before", async () => {
    await withCryptoSpike(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(USER_FOR_A_DAY, SOURCE, DETECTED))
      await w.at(0, csPass(emulator))
      const inForce = await w.at(1, csPass(emulator))
      expect(inForce.heldByOthers).toEqual([])
      const expired = await w.at(25, csPass(emulator))
      expect(expired.toUnblock).toEqual([USER])
      expect(emulator.user(USER)!.blocked).toBe(false)
    })
  })

  it("where the list does not say who blocked, the ledger decides (doctor warns of it)", async () => {
    await withCryptoSpike(async (emulator) => {
      const w = workspace()
      await w.at(0, detect(USER_FOR_A_DAY, SOURCE, DETECTED))
      await w.at(0, csPass(emulator))
      const expired = await w.at(25, csPass(emulator))
      expect(expired.heldByOthers).toEqual([])
      expect(expired.toUnblock).toEqual([USER])
    }, { blockInfo: "none" })
  })
})
