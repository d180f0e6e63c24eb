/**
 * Reading the config file: one YAML file (JSON is YAML too), given explicitly (`--config` or
 * MITIGATOR_CONFIG: it must exist) or `./mitigator.yaml` when that exists; a regular file of at
 * most 1 MiB. Every problem is reported, one line each, starting with the file's path.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as nodePath from "node:path"
import { FileRefused, readRegularFile } from "../platform/RegularFile.js"
import { configError, DEFAULT_CONFIG_FILE, NO_CONFIG, type AppConfig, type ConfigError } from "./AppConfig.js"
import { contentHash, readCachedConfig, writeCachedConfig } from "./ConfigCache.js"

export { ConfigError, DEFAULT_CONFIG_FILE, NO_CONFIG } from "./AppConfig.js"
export type { AppConfig, CryptoSpikeSettings, LoadMasterSettings, TlsSettings } from "./AppConfig.js"

/** The parser, loaded on first use (see parseConfig.ts). */
const parse = (text: string, source: string) =>
  Effect.flatMap(
    Effect.promise(() => import("./parseConfig.js")),
    (m) => m.parseConfigText(text, source)
  )

/**
 * Reads `file`; undefined when it does not exist. Anything but a regular file of at most 1 MiB
 * is refused at once (a FIFO or /dev/zero would hang the command or fill its memory).
 */
const readIfExists = (file: string): Effect.Effect<Uint8Array | undefined, ConfigError> =>
  Effect.try({
    try: () => {
      try {
        return readRegularFile(file) as Uint8Array
      } catch (e) {
        if (e instanceof FileRefused && e.reason === "missing") return undefined
        throw e
      }
    },
    catch: (e) => configError("unreadable", file, [e instanceof FileRefused ? e.detail : `cannot read: ${String(e)}`])
  })

const decodeUtf8 = (bytes: Uint8Array, source: string): Either.Either<string, ConfigError> => {
  try {
    return Either.right(new TextDecoder("utf-8", { fatal: true }).decode(bytes))
  } catch {
    return Either.left(configError("syntax", source, ["not valid UTF-8 text"]))
  }
}

/**
 * Loads the config: `explicitPath` (resolved against `cwd`) must exist; without one,
 * `cwd/mitigator.yaml` is read if it exists, else there is no config (NO_CONFIG).
 */
export const loadConfigIn = (
  explicitPath: string | undefined,
  cwd: string,
  cacheFile?: string
): Effect.Effect<AppConfig, ConfigError> => {
  const file = nodePath.resolve(cwd, explicitPath ?? DEFAULT_CONFIG_FILE)
  return readIfExists(file).pipe(
    Effect.flatMap((bytes) => {
      if (bytes === undefined) {
        return explicitPath === undefined
          ? Effect.succeed(NO_CONFIG)
          : Effect.fail(configError("missing", file, ["no such file"]))
      }
      if (cacheFile === undefined) return Effect.flatMap(decodeUtf8(bytes, file), (text) => parse(text, file))
      const sha256 = contentHash(bytes)
      const cached = readCachedConfig(cacheFile, file, sha256)
      if (cached !== undefined) return Effect.succeed(cached)
      return Effect.flatMap(decodeUtf8(bytes, file), (text) => parse(text, file)).pipe(
        Effect.tap((config) => Effect.sync(() => writeCachedConfig(cacheFile, sha256, config)))
      )
    })
  )
}

/**
 * `loadConfigIn` relative to the process's working directory; with `cacheFile`, a config
 * validated before (same version, file and bytes) is taken from there (see ConfigCache.ts).
 */
export const loadConfig = (explicitPath: string | undefined, cacheFile?: string): Effect.Effect<AppConfig, ConfigError> =>
  Effect.suspend(() => loadConfigIn(explicitPath, process.cwd(), cacheFile))
