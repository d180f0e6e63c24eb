/**
 * The validated config, kept beside the event log so that a cold start (Flowmon starts `append`
 * once per detection) does not parse YAML and validate it again (~25 ms with a cold JIT).
 *
 * An entry is used only for the same mitigator version, the same config file and exactly the
 * same bytes (sha256), so it is never stale. It lives in the log's directory: whoever can write
 * there can already alter the log itself, so the cache adds no new way in.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import pkg from "../../package.json" with { type: "json" }
import { MAX_FILE_BYTES, readRegularFile } from "../platform/RegularFile.js"
import type { AppConfig } from "./AppConfig.js"

// Bump when the normalised form of the config changes without a version change.
const FORMAT = 3

interface CacheEntry {
  readonly format: number
  readonly version: string
  readonly source: string
  readonly sha256: string
  readonly config: AppConfig
}

export const contentHash = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** The cached config for this file and content, if there is one. */
export const readCachedConfig = (cacheFile: string, source: string, sha256: string): AppConfig | undefined => {
  try {
    // Read like any file beside the log: something else put there (a FIFO) must not hang a start.
    const entry = JSON.parse(readRegularFile(cacheFile, { maxBytes: 16 * MAX_FILE_BYTES }).toString("utf8")) as Partial<CacheEntry>
    return entry.format === FORMAT && entry.version === pkg.version && entry.source === source && entry.sha256 === sha256
      ? (entry.config as AppConfig)
      : undefined
  } catch {
    return undefined
  }
}

/** Best effort: a cache that cannot be written only costs the next start some time. */
export const writeCachedConfig = (cacheFile: string, sha256: string, config: AppConfig): void => {
  if (config.source === null) return
  const entry: CacheEntry = { format: FORMAT, version: pkg.version, source: config.source, sha256, config }
  const temporary = `${cacheFile}.${process.pid}.tmp`
  try {
    fs.writeFileSync(temporary, JSON.stringify(entry), { mode: 0o600 })
    fs.renameSync(temporary, cacheFile)
  } catch {
    fs.rmSync(temporary, { force: true })
  }
}
