/**
 * The bearer token `serve` requires. Compared in constant time: both sides are hashed first
 * (SHA-256), so the comparison takes as long whatever the presented token's length or content.
 */
import { createHash, timingSafeEqual } from "node:crypto"
import * as Redacted from "effect/Redacted"

/** A token shorter than this is refused at start-up: it could be guessed. */
export const MIN_TOKEN_LENGTH = 16

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/** Whether an `Authorization` header carries `token`. */
export const bearerMatcher = (token: Redacted.Redacted<string>) => {
  const expected = digest(Redacted.value(token))
  return (authorization: string | undefined): boolean => {
    const match = authorization === undefined ? null : /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization)
    // A missing or malformed header is still compared (against nothing): no early answer.
    return timingSafeEqual(digest(match?.[1] ?? ""), expected) && match !== null
  }
}
