/**
 * Standard input as a port, read in batches of lines.
 *
 * A plain loop over the chunks, not an Effect Stream: `append` runs once per Flowmon detection,
 * and a stream pipeline (framing, grouping within a time window) cost more CPU at start-up than
 * storing the event itself.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { LineFramer, type FramedLine } from "../domain/LineFramer.js"

export class Stdin extends Context.Tag("mitigator/Stdin")<Stdin, AsyncIterable<Uint8Array>>() {}

export const StdinLive = Layer.sync(Stdin, () => process.stdin as AsyncIterable<Uint8Array>)

export const stdinFrom = (chunks: ReadonlyArray<Uint8Array | string>) =>
  Layer.succeed(Stdin, {
    async *[Symbol.asyncIterator]() {
      for (const c of chunks) yield typeof c === "string" ? new TextEncoder().encode(c) : c
    }
  })

const WAITED = Symbol("waited")

/**
 * Hands the lines of `input` to `record` in batches: at most `max` lines; lines that arrive
 * within `windowMs` of the first of a batch go together (so a burst is one transaction), and a
 * slow producer still gets each line recorded within `windowMs`. The end of the input flushes
 * at once. A failure to read is `onReadError`'s; a failure of `record` stops the reading.
 */
export const readBatches = <E, E2>(
  input: AsyncIterable<Uint8Array>,
  options: { readonly max: number; readonly windowMs: number; readonly onReadError: (e: unknown) => E2 },
  record: (lines: ReadonlyArray<FramedLine>) => Effect.Effect<void, E>
): Effect.Effect<void, E | E2> =>
  Effect.gen(function* () {
    const framer = new LineFramer()
    const chunks = input[Symbol.asyncIterator]()
    let pending: FramedLine[] = []
    let firstAt = 0
    let next: Promise<IteratorResult<Uint8Array>> | undefined
    const read = (waitMs: number | undefined) =>
      Effect.tryPromise({
        try: () => {
          next ??= chunks.next()
          if (waitMs === undefined) return next
          let timer: NodeJS.Timeout | undefined
          const waited = new Promise<typeof WAITED>((resolve) => (timer = setTimeout(resolve, waitMs, WAITED)))
          return Promise.race([next, waited]).finally(() => clearTimeout(timer))
        },
        catch: options.onReadError
      })
    const flush = (count: number) =>
      Effect.suspend(() => {
        const batch = pending.slice(0, count)
        pending = pending.slice(count)
        firstAt = performance.now()
        return record(batch)
      })
    for (;;) {
      const got = yield* read(pending.length === 0 ? undefined : Math.max(0, firstAt + options.windowMs - performance.now())).pipe(
        // The whole lines read before a failed read are recorded all the same.
        Effect.tapError(() => (pending.length === 0 ? Effect.void : flush(pending.length)))
      )
      if (got === WAITED) {
        yield* flush(pending.length)
        continue
      }
      next = undefined
      if (got.done === true) {
        pending.push(...framer.end())
        while (pending.length > 0) yield* flush(Math.min(options.max, pending.length))
        return
      }
      if (pending.length === 0) firstAt = performance.now()
      for (const line of framer.push(got.value)) pending.push(line)
      while (pending.length >= options.max) yield* flush(options.max)
    }
  })
