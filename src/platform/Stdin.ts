/** Standard input as a port, so tests and `demo` can feed `append` without a real pipe. */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

export class Stdin extends Context.Tag("mitigator/Stdin")<Stdin, Stream.Stream<Uint8Array, Error>>() {}

export const StdinLive = Layer.sync(Stdin, () =>
  Stream.fromAsyncIterable(process.stdin as AsyncIterable<Uint8Array>, (e) => (e instanceof Error ? e : new Error(String(e))))
)

export const stdinFrom = (chunks: ReadonlyArray<Uint8Array | string>) =>
  Layer.succeed(Stdin, Stream.fromIterable(chunks.map((c) => (typeof c === "string" ? new TextEncoder().encode(c) : c))))
