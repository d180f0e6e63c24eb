/**
 * API keys and tokens: from a file (refused when group or others can read it), an environment
 * variable, or a command-line flag (accepted with a warning: the process list shows it). Kept
 * as Redacted values, so they cannot end up in logs, events or error messages by accident.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"

export class SecretError extends Data.TaggedError("SecretError")<{ readonly message: string }> {}

export interface SecretSources {
  /** what the secret is, for messages ("the LoadMaster API key") */
  readonly what: string
  readonly flag?: string | undefined
  readonly flagName: string
  readonly env: string
  readonly file?: string | undefined
}

/** Flag, then environment, then file; the first present wins. */
export const resolveSecret = (sources: SecretSources, warn: (message: string) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    if (sources.flag !== undefined && sources.flag !== "") {
      yield* warn(
        `${sources.flagName} puts ${sources.what} in the process list where other users can see it; prefer a key file (chmod 600) or ${sources.env}`
      )
      return Redacted.make(sources.flag)
    }
    const fromEnv = process.env[sources.env]
    if (fromEnv !== undefined && fromEnv !== "") return Redacted.make(fromEnv)
    if (sources.file === undefined) {
      return yield* new SecretError({
        message: `no ${sources.what}: set a key file in the config, or ${sources.env}, or ${sources.flagName}`
      })
    }
    return yield* readSecretFile(sources.file, sources.what)
  })

export const readSecretFile = (file: string, what: string) =>
  Effect.try({
    try: () => {
      const stat = fs.statSync(file)
      if ((stat.mode & 0o077) !== 0) {
        throw new SecretError({
          message: `${file} (${what}) can be read by group or others (mode ${(stat.mode & 0o777).toString(8)}): run chmod 600 ${file}`
        })
      }
      const value = fs.readFileSync(file, "utf8").trim()
      if (value === "") throw new SecretError({ message: `${file} (${what}) is empty` })
      return Redacted.make(value)
    },
    catch: (e) =>
      e instanceof SecretError
        ? e
        : new SecretError({ message: `cannot read ${what} from ${file}: ${e instanceof Error ? e.message : String(e)}` })
  })
