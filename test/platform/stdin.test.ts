import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { readBatches } from "../../src/platform/Stdin.js"

const text = new TextDecoder()
const bytes = (s: string) => new TextEncoder().encode(s)

/** An input whose chunks the test releases one at a time (or fails). */
const controlledInput = () => {
  const waiting: Array<(r: IteratorResult<Uint8Array>) => void> = []
  const failing: Array<(e: Error) => void> = []
  const queued: Array<IteratorResult<Uint8Array> | Error> = []
  const deliver = (item: IteratorResult<Uint8Array> | Error) => {
    const resolve = waiting.shift()
    const reject = failing.shift()
    if (resolve === undefined || reject === undefined) return void queued.push(item)
    if (item instanceof Error) reject(item)
    else resolve(item)
  }
  const input: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
          const item = queued.shift()
          if (item === undefined) {
            waiting.push(resolve)
            failing.push(reject)
          } else if (item instanceof Error) reject(item)
          else resolve(item)
        })
    })
  }
  return {
    input,
    send: (s: string) => deliver({ done: false, value: bytes(s) }),
    end: () => deliver({ done: true, value: undefined }),
    fail: (e: Error) => deliver(e)
  }
}

const until = (condition: () => boolean) =>
  Effect.promise(async () => {
    // Generous: the loop under test only needs its 20 ms window to pass, on any machine.
    for (let waited = 0; !condition(); waited += 5) {
      if (waited > 30_000) throw new Error("condition not reached")
      await new Promise((r) => setTimeout(r, 5))
    }
  })

const lines = (batch: ReadonlyArray<{ bytes: Uint8Array; number: number }>) => batch.map((l) => `${l.number}:${text.decode(l.bytes)}`)

describe("reading standard input in batches", () => {
  it.effect("a burst is cut into batches of at most `max` lines, and the end flushes the rest at once", () =>
    Effect.gen(function* () {
      const all = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join("\n")
      const batches: string[][] = []
      const input = (async function* () {
        yield bytes(all.slice(0, 17)) // a line cut in the middle
        yield bytes(all.slice(17))
      })()
      yield* readBatches(input, { max: 5, windowMs: 20, onReadError: String }, (b) => Effect.sync(() => void batches.push(lines(b))))
      expect(batches.flat()).toEqual(Array.from({ length: 12 }, (_, i) => `${i + 1}:line ${i + 1}`))
      expect(batches.every((b) => b.length <= 5)).toBe(true)
      expect(batches.at(-1)).toEqual(["11:line 11", "12:line 12"])
    }))

  it.effect("a slow producer gets each line recorded before the next one arrives", () =>
    Effect.gen(function* () {
      const source = controlledInput()
      const batches: string[][] = []
      const reading = yield* Effect.fork(
        readBatches(source.input, { max: 2000, windowMs: 20, onReadError: String }, (b) => Effect.sync(() => void batches.push(lines(b))))
      )
      source.send("first\n")
      yield* until(() => batches.length === 1)
      expect(batches).toEqual([["1:first"]])
      source.send("second\nthird")
      yield* until(() => batches.length === 2)
      expect(batches[1]).toEqual(["2:second"])
      source.end()
      yield* reading.await
      expect(batches).toEqual([["1:first"], ["2:second"], ["3:third"]])
    }))

  it.effect("a read error ends the reading with the caller's error, after what was read is recorded", () =>
    Effect.gen(function* () {
      const source = controlledInput()
      const recorded: string[] = []
      const reading = yield* Effect.fork(
        readBatches(source.input, { max: 10, windowMs: 20, onReadError: (e) => `read: ${(e as Error).message}` }, (b) =>
          Effect.sync(() => void recorded.push(...lines(b)))
        )
      )
      source.send("kept\n")
      yield* until(() => recorded.length === 1)
      source.fail(new Error("EIO"))
      const outcome = yield* Effect.either(reading.await.pipe(Effect.flatten))
      expect(outcome).toEqual(Either.left("read: EIO"))
      expect(recorded).toEqual(["1:kept"])
    }))

  it.effect("a read that fails right after some lines arrived records those lines, then reports the failure", () =>
    Effect.gen(function* () {
      const source = controlledInput()
      const recorded: string[] = []
      const reading = yield* Effect.fork(
        readBatches(source.input, { max: 10, windowMs: 60_000, onReadError: (e) => `read: ${(e as Error).message}` }, (b) =>
          Effect.sync(() => void recorded.push(...lines(b)))
        )
      )
      source.send("a\nb\npartial")
      source.fail(new Error("EIO"))
      const outcome = yield* Effect.either(reading.await.pipe(Effect.flatten))
      expect(outcome).toEqual(Either.left("read: EIO"))
      // The whole lines only: a line cut off by the failure is not a line.
      expect(recorded).toEqual(["1:a", "2:b"])
    }))

  it.effect("a read that fails while a batch is being recorded is reported once the batch is done, not left unhandled", () =>
    Effect.gen(function* () {
      const source = controlledInput()
      const recorded: string[] = []
      let release: () => void = () => {}
      const released = new Promise<void>((r) => (release = r))
      const reading = yield* Effect.fork(
        readBatches(source.input, { max: 10, windowMs: 20, onReadError: (e) => `read: ${(e as Error).message}` }, (b) =>
          Effect.promise(async () => {
            recorded.push(...lines(b))
            await released
          })
        )
      )
      source.send("kept\n")
      yield* until(() => recorded.length === 1)
      // The batch is still being recorded (a slow disk) when the next read fails.
      source.fail(new Error("EIO"))
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
      release()
      const outcome = yield* Effect.either(reading.await.pipe(Effect.flatten))
      expect(outcome).toEqual(Either.left("read: EIO"))
      expect(recorded).toEqual(["1:kept"])
    }))

  it.effect("a failure to record stops the reading: later lines are not handed on", () =>
    Effect.gen(function* () {
      const handed: string[] = []
      const input = (async function* () {
        yield bytes("a\nb\nc\nd\n")
        yield bytes("e\n")
      })()
      const outcome = yield* Effect.either(
        readBatches(input, { max: 2, windowMs: 20, onReadError: String }, (b) =>
          Effect.suspend(() => {
            handed.push(...lines(b))
            return handed.length >= 2 ? Effect.fail("disk full") : Effect.void
          })
        )
      )
      expect(outcome).toEqual(Either.left("disk full"))
      expect(handed).toEqual(["1:a", "2:b"])
    }))
})
