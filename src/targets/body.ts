/**
 * Reading an appliance's answer with a byte cap. An answer is read whole before it is parsed;
 * without a cap a broken or hostile appliance sending a gigabyte makes the process build a string
 * V8 cannot hold (a RangeError thrown from a stream callback, outside any error handling: the
 * process dies, and with it the pass's bookkeeping). Above the cap the reading stops, the
 * connection is dropped, and the call fails like any other call.
 */
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/** The default cap: the largest list seen in the benchmarks (100,000 entries) is about 7 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

export class BodyTooLarge {
  readonly _tag = "BodyTooLarge"
  constructor(
    /** the cap, in bytes */
    readonly limit: number,
    /** the size the answer announced (Content-Length), when it did */
    readonly announced: number | undefined
  ) {}
}

const mib = (bytes: number): string => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`

/** In words, for an error message. */
export const describeTooLarge = (e: BodyTooLarge): string =>
  e.announced === undefined
    ? `an answer larger than ${mib(e.limit)} (stopped reading there)`
    : `an answer of ${mib(e.announced)}, more than the ${mib(e.limit)} accepted (not read)`

/** The length a `Content-Length` header announces, when it is a plain number. */
export const announcedLength = (header: string | undefined): number | undefined =>
  header !== undefined && /^\s*[0-9]{1,15}\s*$/.test(header) ? Number(header) : undefined

/**
 * The body as UTF-8 text, at most `maxBytes` bytes of it. An answer that announces more is
 * refused before a byte is read; one that sends more than it announced (or announces nothing)
 * is stopped as soon as it passes the cap. Failing the stream ends the response, and with it
 * the connection (the caller's scope aborts the request).
 */
export const readBodyCapped = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number
): Effect.Effect<string, BodyTooLarge | HttpClientError.ResponseError> => {
  const announced = announcedLength(response.headers["content-length"])
  if (announced !== undefined && announced > maxBytes) return Effect.fail(new BodyTooLarge(maxBytes, announced))
  // A length announced within the cap is read whole (a stream per answer costs more than the
  // call: serve adds hundreds a second); the socket gives no more than the announced length.
  if (announced !== undefined) return response.text
  return response.stream.pipe(
    Stream.runFoldEffect({ chunks: [] as Uint8Array[], size: 0 }, (acc, chunk) => {
      acc.size += chunk.length
      if (acc.size > maxBytes) return Effect.fail(new BodyTooLarge(maxBytes, undefined))
      acc.chunks.push(chunk)
      return Effect.succeed(acc)
    }),
    Effect.map(({ chunks }) => Buffer.concat(chunks).toString("utf8"))
  )
}
