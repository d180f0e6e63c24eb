/**
 * API keys and tokens. One precedence, the first present wins: the command-line flag (accepted
 * with a warning: the process list shows it), then the environment variable, then the file named
 * in the config (a regular file of at most 1 MiB, refused when group or others can read it). Kept
 * as Redacted values, so they cannot end up in logs, events or error messages by accident.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { FileRefused, readRegularFile } from "../platform/RegularFile.js"

export class SecretError extends Data.TaggedError("SecretError")<{ readonly message: string }> {}

export interface SecretSources {
  /** what the secret is, for messages ("the LoadMaster API key") */
  readonly what: string
  readonly flag?: string | undefined
  readonly flagName: string
  readonly env: string
  readonly file?: string | undefined
}

/** Where a secret came from: the flag's name, the variable's name, or the file's path; never the value. */
export type SecretSource =
  | { readonly kind: "flag"; readonly name: string }
  | { readonly kind: "env"; readonly name: string }
  | { readonly kind: "file"; readonly name: string }

export const describeSource = (source: SecretSource): string =>
  source.kind === "flag" ? `flag ${source.name}` : source.kind === "env" ? `environment variable ${source.name}` : `file ${source.name}`

/** Which source the precedence picks (flag, then environment, then file); undefined when none is given. */
export const pickSource = (sources: SecretSources): SecretSource | undefined => {
  if (sources.flag !== undefined && sources.flag !== "") return { kind: "flag", name: sources.flagName }
  const fromEnv = process.env[sources.env]
  if (fromEnv !== undefined && fromEnv !== "") return { kind: "env", name: sources.env }
  if (sources.file !== undefined) return { kind: "file", name: sources.file }
  return undefined
}

/** The secret and where it came from, by the precedence above. */
export const resolveSecretWithSource = (sources: SecretSources, warn: (message: string) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const source = pickSource(sources)
    switch (source?.kind) {
      case undefined:
        return yield* new SecretError({
          message: `no ${sources.what}: give ${sources.flagName} (visible in the process list), or set ${sources.env}, or a key file in the config`
        })
      case "flag":
        yield* warn(
          `${sources.flagName} puts ${sources.what} in the process list where other users can see it; prefer a key file (chmod 600) or ${sources.env}`
        )
        return { secret: Redacted.make(sources.flag!), source }
      case "env":
        return { secret: Redacted.make(process.env[sources.env]!), source }
      case "file":
        return { secret: yield* readSecretFile(source.name, sources.what), source }
    }
  })

/** Flag, then environment, then file; the first present wins. */
export const resolveSecret = (sources: SecretSources, warn: (message: string) => Effect.Effect<void>) =>
  Effect.map(resolveSecretWithSource(sources, warn), (found) => found.secret)

export const readSecretFile = (file: string, what: string) =>
  Effect.try({
    try: () => {
      // The mode is checked on the descriptor that is read: nothing can be swapped in between.
      const bytes = readRegularFile(file, {
        check: (stat) => {
          if ((stat.mode & 0o077) !== 0) {
            throw new SecretError({
              message: `${file} (${what}) can be read by group or others (mode ${(stat.mode & 0o777).toString(8)}): run chmod 600 ${file}`
            })
          }
        }
      })
      const value = bytes.toString("utf8").trim()
      if (value === "") throw new SecretError({ message: `${file} (${what}) is empty` })
      return Redacted.make(value)
    },
    catch: (e) =>
      e instanceof SecretError
        ? e
        : new SecretError({
            message: `cannot read ${what} from ${file}: ${e instanceof FileRefused ? e.detail.replace(/^cannot read: /, "") : e instanceof Error ? e.message : String(e)}`
          })
  })
