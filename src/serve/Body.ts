/**
 * A request body read whole, up to a limit, and checked to be text: UTF-8 without NUL bytes (the
 * lines `append` reads on stdin). Reading stops at the limit; Node discards the rest of the
 * upload once the answer (413) is sent.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Http from "node:http"

export class BodyRefused extends Data.TaggedError("BodyRefused")<{
  readonly status: 400 | 413
  readonly message: string
}> {}

const tooLarge = (limit: number) => new BodyRefused({ status: 413, message: `the body is larger than ${limit} bytes (serve.bodyLimit): send fewer lines at a time` })

export const readBody = (request: Http.IncomingMessage, limit: number): Effect.Effect<Buffer, BodyRefused> => {
  const declared = Number(request.headers["content-length"] ?? "0")
  if (declared > limit) return Effect.fail(tooLarge(limit))
  return Effect.async<Buffer, BodyRefused>((resume) => {
    const chunks: Buffer[] = []
    let length = 0
    const done = () => {
      request.off("data", onData)
      request.off("end", onEnd)
      request.off("error", onError)
      request.off("aborted", onError)
    }
    const onData = (chunk: Buffer) => {
      length += chunk.length
      if (length > limit) {
        done()
        return resume(Effect.fail(tooLarge(limit)))
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      done()
      resume(Effect.succeed(Buffer.concat(chunks, length)))
    }
    const onError = () => {
      done()
      resume(Effect.fail(new BodyRefused({ status: 400, message: "the body ended early (the connection was closed)" })))
    }
    request.on("data", onData)
    request.on("end", onEnd)
    request.on("error", onError)
    request.on("aborted", onError)
    return Effect.sync(done)
  })
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Fails (400) unless the body is UTF-8 text without NUL bytes. */
export const checkText = (body: Uint8Array): Effect.Effect<void, BodyRefused> => {
  if (body.includes(0)) return Effect.fail(new BodyRefused({ status: 400, message: "the body is not text (it holds a NUL byte): send Flowmon lines (TSV, JSON or CEF)" }))
  try {
    utf8.decode(body)
    return Effect.void
  } catch {
    return Effect.fail(new BodyRefused({ status: 400, message: "the body is not text (not valid UTF-8): send Flowmon lines (TSV, JSON or CEF)" }))
  }
}
