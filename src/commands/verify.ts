/**
 * `mitigator verify`: walk the hash chain and compare its end with the head file; exit 0 when
 * intact, 1 naming the first bad row (altered, removed, reordered, or cut off the end).
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { EventLog } from "../eventlog/EventLog.js"
import { configuredLog, ExitCode } from "./shared.js"
import { globalOptions } from "./options.js"

const json = Options.boolean("json").pipe(Options.withDescription("the result as one JSON object"))

export const verifyCommand = Command.make("verify", { ...globalOptions, json }, (opts) =>
  Effect.gen(function* () {
    const result = yield* (yield* EventLog).verify
    if (opts.json) {
      yield* Console.log(
        canonicalJson(
          result._tag === "Intact"
            ? { intact: true, count: result.count, head: result.head === null ? null : { seq: result.head.seq, hash: result.head.hash }, headFile: result.headFile !== null }
            : { intact: false, seq: result.seq, reason: result.reason, checked: result.checked }
        )
      )
      if (result._tag !== "Intact") return yield* new ExitCode({ code: 1 })
      return
    }
    if (result._tag === "Intact") {
      const head = result.head === null ? "the log is empty" : `head seq ${result.head.seq}, sha256 ${result.head.hash}`
      yield* Console.log(`verify: ok, ${result.count} events, chain intact (${head})`)
      if (result.headFile === null && result.count > 0) {
        yield* Console.error(
          "mitigator verify: warning: no head file beside the log, so a cut of its newest rows cannot be detected; the next append or status adopts the log's head"
        )
      }
      return
    }
    yield* Console.log(`verify: FAILED at seq ${result.seq}: ${result.reason} (${result.checked} events before it are intact)`)
    return yield* new ExitCode({ code: 1 })
  })
).pipe(
  Command.withDescription("Check the event log's hash chain and its head file; report the first altered, removed, reordered or cut-off row"),
  // verify reports a log that disagrees with its head file (exit 1) rather than refusing to open it.
  Command.provide((opts) => configuredLog(opts, false, { checkHead: false }))
)
