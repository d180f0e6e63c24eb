/** The loaded configuration, its error, and what holds when there is no file. */
import * as Data from "effect/Data"
import { EMPTY_POLICY, type Policy } from "../domain/Policy.js"
import type { CryptoSpikeSettings, LoadMasterSettings, ServeSettings } from "./ConfigFile.js"

export type { CryptoSpikeSettings, LoadMasterSettings, ServeSettings, TlsSettings } from "./ConfigFile.js"

export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly reason: "missing" | "unreadable" | "syntax" | "invalid"
  /** the config file's path */
  readonly path: string
  /** starts with `config <path>: `; several problems: a header line, then one line each */
  readonly message: string
  /** the same problems one by one, with where they are when known (for `doctor`) */
  readonly problems?: ReadonlyArray<ConfigProblemAt>
}> {}

/** One problem of a config file: where (line, key) when known, and what. */
export interface ConfigProblemAt {
  readonly line?: number
  /** the key's path (`loadmaster.url`), when the problem is one key's */
  readonly key?: string
  /** the problem as the message lists it */
  readonly text: string
}

export interface AppConfig {
  /** absolute path of the file read; null when none */
  readonly source: string | null
  readonly database: string | undefined
  /** the PostgreSQL password's file (a postgres:// database), as written in the file */
  readonly databasePasswordFile?: string | undefined
  readonly instance: string | undefined
  readonly timezone: string | undefined
  readonly loadmaster: LoadMasterSettings | undefined
  readonly cryptospike: CryptoSpikeSettings | undefined
  /** EMPTY_POLICY when the file has no `policy:` */
  readonly policy: Policy
  /** `mitigator serve`'s settings; undefined when the file has no `serve:` */
  readonly serve?: ServeSettings | undefined
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

export const configError = (
  reason: ConfigError["reason"],
  source: string,
  problems: ReadonlyArray<string>,
  located?: ReadonlyArray<ConfigProblemAt>
): ConfigError => {
  const message =
    problems.length === 1
      ? `config ${source}: ${problems[0]}`
      : `config ${source}: ${problems.length} problems\n${problems.map((p) => `  ${p}`).join("\n")}`
  return new ConfigError({ reason, path: source, message, ...(located === undefined ? {} : { problems: located }) })
}

