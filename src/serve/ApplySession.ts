/**
 * `serve`'s immediate apply: the adds the committed requests call for go to the LoadMaster as they
 * come, up to `concurrency` in flight, rather than in rounds that each wait for their slowest add.
 * One session holds the reconcile lease while there is work, and ends after `idleMs` without any
 * (or after `maxMs`, so a reconcile pass or an operator's command gets its turn); the outcomes are
 * recorded together every `flushEveryMs` (one transaction for many adds). What each add decides
 * (stillToApply, addOne) is `append`'s immediate apply, not a copy of it.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type { NewEvent } from "../domain/Events.js"
import type { EventLogService } from "../eventlog/EventLog.js"
import { addOne, immediateResult, stillToApply, type ImmediateAdd, type ImmediateResult } from "../reconciler/applyAtOnce.js"
import type { LoadMasterAclService } from "../targets/LoadMasterAcl.js"

/** The adds waiting for the LoadMaster, one per target and CIDR, oldest first, at most `max`. */
export class PendingAdds {
  private readonly waiting = new Map<string, ImmediateAdd>()

  constructor(
    readonly max: number,
    /** told when there is something to take */
    readonly wake: Queue.Queue<void>
  ) {}

  get size(): number {
    return this.waiting.size
  }

  /** Keeps `add` unless it waits already, or `max` do (then the next reconcile applies it). */
  offer(key: string, add: ImmediateAdd): void {
    if (this.waiting.has(key) || this.waiting.size >= this.max) return
    this.waiting.set(key, add)
  }

  take(max: number): ReadonlyArray<ImmediateAdd> {
    const taken: ImmediateAdd[] = []
    for (const [key, add] of this.waiting) {
      if (taken.length >= max) break
      taken.push(add)
      this.waiting.delete(key)
    }
    return taken
  }

  /**
   * Waits until something is waiting, or `ms` pass: whether something is. Looked at again after
   * the wait: a signal that arrives as the wait times out may be lost with it.
   */
  awaitWork(ms: number): Effect.Effect<boolean> {
    return this.size > 0
      ? Effect.succeed(true)
      : Effect.map(Effect.timeout(Queue.take(this.wake), ms).pipe(Effect.option), (told) => Option.isSome(told) || this.size > 0)
  }
}

export interface SessionSettings {
  readonly concurrency: number
  /** at most this many adds taken at once (the policy's maxAddsPerPass) */
  readonly takeMax: number
  readonly flushEveryMs: number
  readonly idleMs: number
  readonly maxMs: number
  /** each batch of outcomes once recorded (or not: `recorded` false), for the counters */
  readonly onOutcomes: (outcomes: ReadonlyArray<NewEvent>, recorded: boolean) => void
}

/**
 * Applies what `pending` holds and whatever joins it while the session lasts; returns what the
 * adds came to. Call it holding the lease: it changes the LoadMaster.
 */
export const applySession = (log: EventLogService, lm: LoadMasterAclService, pending: PendingAdds, settings: SessionSettings) =>
  Effect.gen(function* () {
    const inFlight = yield* Effect.makeSemaphore(settings.concurrency)
    const landed: NewEvent[] = []
    const all: NewEvent[] = []
    let ours = 0
    let deferred = 0
    // Uninterruptible: outcomes taken from `landed` are recorded, or said not to be.
    const flush = Effect.uninterruptible(
      Effect.suspend(() => {
        if (landed.length === 0) return Effect.void
        const batch = landed.splice(0)
        return log.append(batch).pipe(
          Effect.matchEffect({
            onSuccess: () => Effect.sync(() => settings.onOutcomes(batch, true)),
            onFailure: (e) =>
              Effect.zipRight(
                Effect.sync(() => settings.onOutcomes(batch, false)),
                Effect.logError(`mitigator serve: ${batch.length} outcome(s) of the immediate apply not recorded: ${e.message}`)
              )
          })
        )
      })
    )
    const flusher = yield* Effect.fork(Effect.forever(Effect.zipRight(Effect.sleep(settings.flushEveryMs), flush)))
    const started = yield* Clock.currentTimeMillis
    for (;;) {
      if (!(yield* pending.awaitWork(settings.idleMs))) break
      const now = yield* Clock.currentTimeMillis
      if (now - started > settings.maxMs) break
      const batch = pending.take(settings.takeMax)
      if (batch.length === 0) continue
      const still = yield* stillToApply(log, batch, new Date(now).toISOString())
      ours += still.ours
      deferred += still.deferred
      for (const add of still.adds) {
        yield* inFlight.take(1)
        yield* Effect.fork(
          addOne(lm, add).pipe(
            Effect.tap((outcome) => Effect.sync(() => (landed.push(outcome), all.push(outcome)))),
            Effect.ensuring(inFlight.release(1))
          )
        )
      }
    }
    // Every add answered, then the last outcomes recorded.
    yield* inFlight.take(settings.concurrency)
    yield* Fiber.interrupt(flusher)
    yield* flush
    return immediateResult(all, ours, deferred) satisfies ImmediateResult
  })
