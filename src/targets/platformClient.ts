/**
 * @effect/platform's HTTP client for an appliance (CryptoSpike's calls; the LoadMaster's go
 * straight on a Node agent, nodeExchange.ts). Apart from http.ts, so a process that talks to
 * the LoadMaster only (an `append` blocking a detection) does not load it.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as https from "node:https"
import { USER_AGENT } from "./http.js"

/**
 * The HTTP client for one appliance, for the life of the enclosing scope: connections kept alive
 * and reused by every call of the process (a TLS handshake per call costs more than the call),
 * a `User-Agent: mitigator/<version>`, and no tracing headers (`traceparent`, `b3`): an appliance
 * has no use for them.
 */
export const applianceHttpClient = (agent: https.AgentOptions): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.map(
    Layer.build(NodeHttpClient.layerWithoutAgent.pipe(Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true, ...agent })))),
    (context): HttpClient.HttpClient => {
      const client = Context.get(context, HttpClient.HttpClient)
      return HttpClient.mapRequest(HttpClient.withTracerPropagation(client, false), HttpClientRequest.setHeader("user-agent", USER_AGENT))
    }
  )
