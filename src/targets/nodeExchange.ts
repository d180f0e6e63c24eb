/**
 * HTTP(S) exchanges straight on a Node agent, for the LoadMaster client: `serve` and a large
 * reconcile make hundreds of its calls a second, and @effect/platform's client costs about 1 ms of
 * CPU a call (a fiber, a scope and a body stream each; this, about a quarter of that, measured
 * side by side against the emulator). What the shared client does is done here too: the agent
 * options (TLS trust, keep-alive) come from tls.ts, every request says `User-Agent:
 * mitigator/<version>` and carries no tracing header, the answer is read with a byte cap, and an
 * interrupted exchange (a timeout) destroys its request.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import * as https from "node:https"
import { announcedLength, BodyTooLarge } from "./body.js"
import { USER_AGENT } from "./http.js"
import { isPinned, PinnedAgent } from "./tls.js"

export interface ExchangeRequest {
  readonly method: "GET" | "POST"
  readonly url: string
  /** sent as application/json */
  readonly json?: string
}

export interface ExchangeAnswer {
  readonly status: number
  /** the `Date` header, if any */
  readonly date: string | undefined
  readonly text: string
}

export type Exchange = (request: ExchangeRequest, maxBytes: number) => Effect.Effect<ExchangeAnswer, BodyTooLarge | Error>

/** The exchanges of one appliance for the life of the scope, on one keep-alive agent (destroyed with the scope). */
export const nodeExchange = (secure: boolean, agentOptions: https.AgentOptions): Effect.Effect<Exchange, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() =>
        !secure ? new http.Agent({ keepAlive: true }) : isPinned(agentOptions) ? new PinnedAgent({ keepAlive: true, ...agentOptions }) : new https.Agent({ keepAlive: true, ...agentOptions })
      ),
      (agent) => Effect.sync(() => agent.destroy())
    ),
    (agent) => (request, maxBytes) =>
      Effect.async<ExchangeAnswer, BodyTooLarge | Error>((resume) => {
        let settled = false
        const settle = (outcome: Effect.Effect<ExchangeAnswer, BodyTooLarge | Error>) => {
          if (settled) return
          settled = true
          resume(outcome)
        }
        const headers: http.OutgoingHttpHeaders = { "user-agent": USER_AGENT }
        if (request.json !== undefined) {
          headers["content-type"] = "application/json"
          headers["content-length"] = Buffer.byteLength(request.json)
        }
        const call = (secure ? https : http).request(request.url, { method: request.method, agent, headers }, (response) => {
          const announced = announcedLength(response.headers["content-length"])
          if (announced !== undefined && announced > maxBytes) {
            call.destroy()
            return settle(Effect.fail(new BodyTooLarge(maxBytes, announced)))
          }
          const chunks: Buffer[] = []
          let size = 0
          response.on("data", (chunk: Buffer) => {
            size += chunk.length
            if (size > maxBytes) {
              call.destroy()
              return settle(Effect.fail(new BodyTooLarge(maxBytes, undefined)))
            }
            chunks.push(chunk)
          })
          response.on("end", () =>
            settle(Effect.succeed({ status: response.statusCode ?? 0, date: response.headers["date"], text: Buffer.concat(chunks).toString("utf8") }))
          )
          response.on("error", (e) => settle(Effect.fail(e)))
          response.on("aborted", () => settle(Effect.fail(Object.assign(new Error("the connection was closed before the answer ended"), { code: "ECONNRESET" }))))
        })
        call.on("error", (e) => settle(Effect.fail(e)))
        call.end(request.json)
        return Effect.sync(() => {
          settled = true
          call.destroy()
        })
      })
  )
