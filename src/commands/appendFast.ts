/**
 * `append` on its fast path (bin.ts): its options read by appendArgs.ts, run with its layers,
 * with none of @effect/cli loaded.
 */
import * as Effect from "effect/Effect"
import { appendLayers, runAppend, type AppendOptions } from "./append.js"

export { fastAppendOptions } from "./appendArgs.js"

export const appendFast = (opts: AppendOptions) => runAppend(opts).pipe(Effect.provide(appendLayers(opts)))
