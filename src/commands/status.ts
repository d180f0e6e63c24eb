/** `mitigator status [--json]`: the blocks in force now, until when, and why. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { policyHash } from "../domain/Policy.js"
import { EventLog } from "../eventlog/EventLog.js"
import { desiredStateAt, renderState } from "./desiredState.js"
import { configuredLog, globalOptions, LoadedConfig } from "./shared.js"

export const json = Options.boolean("json").pipe(Options.withDescription("the desired state as one JSON object (stable: sorted, byte-identical for the same log and time)"))

export const statusCommand = Command.make("status", { ...globalOptions, json }, (opts) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    const cfg = yield* LoadedConfig
    const now = new Date(yield* Clock.currentTimeMillis).toISOString()
    const state = yield* desiredStateAt(log, now)
    yield* Console.log(opts.json ? canonicalJson(state) : renderState(state))
    if (cfg.source !== null && policyHash(cfg.policy) !== state.policyHash) {
      yield* Console.error(
        `mitigator status: the policy in ${cfg.source} is not the one in force yet; it becomes active with the next append`
      )
    }
  })
).pipe(
  Command.withDescription("Show the blocks in force now: target, address, until when, and why"),
  Command.provide((opts) => configuredLog(opts, false))
)
