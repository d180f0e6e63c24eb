/**
 * Reading the config file: one YAML file (JSON is YAML too), given explicitly (`--config` or
 * MITIGATOR_CONFIG: it must exist) or `./mitigator.yaml` when that exists. Every problem is
 * reported, one line each, starting with the file's path.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { contentHash, readCachedConfig, writeCachedConfig } from "./ConfigCache.js"
import { isPair, isScalar, LineCounter, parseDocument, visit, type Document, type YAMLError } from "yaml"
import { EMPTY_POLICY, type Policy } from "../domain/Policy.js"
import {
  decodeConfigFile,
  formatProblem,
  type ConfigFile,
  type ConfigProblem,
  type CryptoSpikeSettings,
  type LoadMasterSettings
} from "./ConfigFile.js"

export type { CryptoSpikeSettings, LoadMasterSettings, TlsSettings } from "./ConfigFile.js"

export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly reason: "missing" | "unreadable" | "syntax" | "invalid"
  /** the config file's path */
  readonly path: string
  /** starts with `config <path>: `; several problems: a header line, then one line each */
  readonly message: string
}> {}

export interface AppConfig {
  /** absolute path of the file read; null when none */
  readonly source: string | null
  readonly database: string | undefined
  readonly instance: string | undefined
  readonly timezone: string | undefined
  readonly loadmaster: LoadMasterSettings | undefined
  readonly cryptospike: CryptoSpikeSettings | undefined
  /** EMPTY_POLICY when the file has no `policy:` */
  readonly policy: Policy
}

/** No file: everything comes from the command line and the defaults. */
export const NO_CONFIG: AppConfig = {
  source: null,
  database: undefined,
  instance: undefined,
  timezone: undefined,
  loadmaster: undefined,
  cryptospike: undefined,
  policy: EMPTY_POLICY
}

/** Read when no path is given, relative to the working directory. */
export const DEFAULT_CONFIG_FILE = "mitigator.yaml"

const configError = (
  reason: ConfigError["reason"],
  source: string,
  problems: ReadonlyArray<string>
): ConfigError => {
  const message =
    problems.length === 1
      ? `config ${source}: ${problems[0]}`
      : `config ${source}: ${problems.length} problems\n${problems.map((p) => `  ${p}`).join("\n")}`
  return new ConfigError({ reason, path: source, message })
}

/** The key text a duplicate-key error points at. */
const keyAt = (doc: Document, offset: number): string | undefined => {
  let found: string | undefined
  visit(doc, {
    Pair: (_, pair) => {
      if (isPair(pair) && isScalar(pair.key) && pair.key.range?.[0] === offset) {
        found = String(pair.key.value)
        return visit.BREAK
      }
      return undefined
    }
  })
  return found
}

const syntaxProblem = (doc: Document, lines: LineCounter, error: YAMLError): string => {
  const { line, col } = lines.linePos(error.pos[0])
  let message = error.message
  if (error.code === "DUPLICATE_KEY") {
    const key = keyAt(doc, error.pos[0])
    message = key === undefined ? "duplicate key" : `duplicate key ${JSON.stringify(key)}`
  } else if (error.code === "MULTIPLE_DOCS") {
    message = "a second YAML document (a config file holds one)"
  }
  return `line ${line}, column ${col}: ${message}`
}

/** The offset of the first alias without an anchor before it (toJS refuses those). */
const unresolvedAliasAt = (doc: Document): number | undefined => {
  let found: number | undefined
  visit(doc, {
    Alias: (_, alias) => {
      if (alias.resolve(doc) === undefined && alias.range) {
        found = alias.range[0]
        return visit.BREAK
      }
      return undefined
    }
  })
  return found
}

/** Where in the file a path points (the nearest existing ancestor), to list problems in file order. */
const offsetOf = (doc: Document, path: ReadonlyArray<PropertyKey>): number => {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as Array<unknown>, true)
    if (node !== null && typeof node === "object" && "range" in node) {
      const range = (node as { range?: [number, number, number] | null }).range
      if (Array.isArray(range)) return range[0]
    }
  }
  return 0
}

const toAppConfig = (source: string, file: ConfigFile): AppConfig => ({
  source,
  database: file.database,
  instance: file.instance,
  timezone: file.timezone,
  loadmaster: file.loadmaster,
  cryptospike: file.cryptospike,
  policy: file.policy ?? EMPTY_POLICY
})

/** Parses and validates the text of a config file (pure; `source` names it in messages). */
export const parseConfigText = (text: string, source: string): Either.Either<AppConfig, ConfigError> => {
  const lines = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines })
  const yamlErrors = [...doc.errors, ...doc.warnings]
  if (yamlErrors.length > 0) {
    return Either.left(configError("syntax", source, yamlErrors.map((e) => syntaxProblem(doc, lines, e))))
  }
  let raw: unknown
  try {
    raw = doc.toJS({ maxAliasCount: 100 })
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    const at = unresolvedAliasAt(doc)
    if (at === undefined) return Either.left(configError("syntax", source, [message]))
    const { line, col } = lines.linePos(at)
    return Either.left(configError("syntax", source, [`line ${line}, column ${col}: ${message}`]))
  }
  const decoded = decodeConfigFile(raw)
  if (Either.isRight(decoded)) return Either.right(toAppConfig(source, decoded.right))
  const ordered = decoded.left
    .map((problem, i): [ConfigProblem, number, number] => [problem, offsetOf(doc, problem.path), i])
    .sort((a, b) => a[1] - b[1] || a[2] - b[2])
    .map(([problem]) => formatProblem(problem))
  return Either.left(configError("invalid", source, ordered))
}

const errnoCode = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined

const describeReadError = (e: unknown): string => {
  switch (errnoCode(e)) {
    case "EISDIR":
      return "cannot read: it is a directory"
    case "EACCES":
    case "EPERM":
      return "cannot read: permission denied"
    default:
      return `cannot read: ${e instanceof Error ? e.message : String(e)}`
  }
}

/** Reads `file`; undefined when it does not exist. */
const readIfExists = (file: string): Effect.Effect<Uint8Array | undefined, ConfigError> =>
  Effect.try({
    try: () => {
      try {
        return fs.readFileSync(file) as Uint8Array
      } catch (e) {
        if (errnoCode(e) === "ENOENT") return undefined
        throw e
      }
    },
    catch: (e) => configError("unreadable", file, [describeReadError(e)])
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
      if (cacheFile === undefined) return Either.flatMap(decodeUtf8(bytes, file), (text) => parseConfigText(text, file))
      const sha256 = contentHash(bytes)
      const cached = readCachedConfig(cacheFile, file, sha256)
      if (cached !== undefined) return Effect.succeed(cached)
      return Either.flatMap(decodeUtf8(bytes, file), (text) => parseConfigText(text, file)).pipe(
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
