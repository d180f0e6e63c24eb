/**
 * LoadMaster emulators for the bench, each with the config file that points mitigator at it:
 * loopback, a fresh self-signed certificate pinned by fingerprint when `tls` (as a deployment
 * pins an appliance's own certificate), and caps and a rate limit high enough that the bench
 * measures mitigator, not its brakes.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { startLoadMasterEmulator, type LoadMasterEmulatorHandle } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"

export interface BenchLoadMaster {
  readonly emulator: LoadMasterEmulatorHandle
  readonly config: string
  /** the API key's file (mode 600), for a client other than mitigator */
  readonly keyFile: string
}

/** One rule that blocks every detection tsvLine makes (SSHDICT and SCANS) on the global list. */
const RULES = ["  rules:", "    - { name: brute-force, match: { methods: [SSHDICT, SCANS] }, actions: [ { loadmaster: global, ttl: 6h } ] }"]

export const startBenchLoadMaster = async (dir: string, name: string, options: { readonly tls: boolean }): Promise<BenchLoadMaster> => {
  const emulator = await startLoadMasterEmulator({ tls: options.tls })
  const keyFile = path.join(dir, `${name}.key`)
  fs.writeFileSync(keyFile, emulator.apiKey, { mode: 0o600 })
  const tls = options.tls ? `, tls: { fingerprint: "sha256:${emulator.fingerprint!}" }` : ""
  const config = path.join(dir, `${name}.yaml`)
  fs.writeFileSync(
    config,
    [
      `loadmaster: { url: "${emulator.url}", apiKeyFile: "${keyFile}", rateLimit: 100000${tls} }`,
      "policy:",
      ...RULES,
      "  caps: { maxAddsPerPass: 100000, maxRemovesPerPass: 100000, maxActivePerTarget: 100000 }"
    ].join("\n") + "\n"
  )
  return { emulator, config, keyFile }
}

/** Calls that change a list (what a no-op pass must not make). */
export const mutations = (counts: Record<string, number>) => (counts["add"] ?? 0) + (counts["addvs"] ?? 0) + (counts["del"] ?? 0) + (counts["delvs"] ?? 0)
