/**
 * An appliance's HTTP client, made when the appliance can be reached. With a pinned certificate
 * fingerprint, @effect/platform's client (CryptoSpike) can only be made after one handshake has
 * fetched the certificate (tls.ts); an appliance that is down at start must not stop the command
 * there (`reconcile --watch` would exit, a single pass would record nothing): the handshake is
 * tried at once, and when it fails for a reason that may pass (the appliance down, a timeout),
 * again on each later call, each call failing with that reason until it succeeds. A certificate
 * that does not match the pin is not such a reason: it stops the command at once, before any
 * request. The LoadMaster's client checks its pin in each connection's own handshake instead
 * (`pinInHandshake`, tls.ts PinnedAgent): a mismatch fails the call, not retried, before any
 * request, and nothing is fetched ahead.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as https from "node:https"
import type { TlsSettings } from "../config/ConfigFile.js"
import type { LoadMasterError } from "./LoadMasterAcl.js"
import { agentOptions } from "./tls.js"

/** @effect/platform's client (platformClient.ts), loaded when a caller asks for it. */
const platformClient = (agent: https.AgentOptions) => Effect.flatMap(Effect.promise(() => import("./platformClient.js")), (m) => m.applianceHttpClient(agent))

/**
 * The client for `url`, or how to get it on each call until it can be made: by default
 * @effect/platform's HTTP client; `build` makes another from the same agent options (the
 * LoadMaster's calls go straight on a Node agent: nodeExchange.ts).
 */
export const applianceConnection = <C = HttpClient.HttpClient>(
  url: URL,
  tls: TlsSettings,
  timeoutMs: number,
  build: (agent: https.AgentOptions) => Effect.Effect<C, never, Scope.Scope> = platformClient as never,
  /** `build` makes its agent with tls.ts's PinnedAgent for PinnedAgentOptions (a pin checked in each connection's handshake) */
  pinInHandshake = false
): Effect.Effect<Effect.Effect<C, LoadMasterError>, LoadMasterError, Scope.Scope> =>
  Effect.gen(function* () {
    // The client is made in the scope of the caller (the command), whenever that happens.
    const scope = yield* Effect.scope
    const make = Effect.flatMap(agentOptions(url, tls, timeoutMs, pinInHandshake), (agent) => Scope.extend(build(agent), scope))
    const first = yield* Effect.either(make)
    if (first._tag === "Right") return Effect.succeed(first.right)
    if (!first.left.retryable) return yield* first.left
    let made: C | undefined
    const lock = yield* Effect.makeSemaphore(1)
    return lock.withPermits(1)(
      Effect.suspend(() =>
        made !== undefined
          ? Effect.succeed(made)
          : Effect.tap(make, (client) =>
              Effect.sync(() => {
                made = client
              })
            )
      )
    )
  })
