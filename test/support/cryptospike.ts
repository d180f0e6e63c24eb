/**
 * CLI tests against the CryptoSpike emulator: the emulator runs in the test process on loopback,
 * the CLI runs as real processes talking to it over HTTP. A workspace holds the event log, the
 * API token file (mode 600) and a config pointing at the emulator with a `cryptospike: user` rule.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { expect } from "vitest"
import {
  startCryptoSpikeEmulator,
  type CryptoSpikeEmulatorHandle,
  type CryptoSpikeEmulatorOptions
} from "../../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import { jsonLines, runCli, tempDir, type RunOptions, type RunResult } from "./cli.js"
import { virtualClock } from "./clock.js"

/** Starts an emulator, runs `body` with it, and closes it whatever happens. */
export const withCryptoSpike = async <A>(
  body: (emulator: CryptoSpikeEmulatorHandle) => Promise<A>,
  options: CryptoSpikeEmulatorOptions = {}
): Promise<A> => {
  const emulator = await startCryptoSpikeEmulator(options)
  try {
    return await body(emulator)
  } finally {
    await emulator.close()
  }
}

export interface CryptoSpikeConfigOptions {
  /** ttl of the rule's `cryptospike: user` action (default 1h) */
  readonly ttl?: string
  /** the rule matches IDS events (`product: ids`) instead of ADS SSHDICT */
  readonly ids?: boolean
  /** default false */
  readonly repairDrift?: boolean
  readonly lookback?: string
  readonly grace?: string
  /** the token file named in the config (default cs.token; null: none, the token comes from elsewhere) */
  readonly tokenFile?: string | null
}

/** The config: a `cryptospike` section pointing at `url`, then one rule blocking the user behind the source. */
export const cryptoSpikeYaml = (url: string, options: CryptoSpikeConfigOptions = {}): string =>
  [
    "cryptospike:",
    `  url: ${url}`,
    ...(options.tokenFile === null ? [] : [`  tokenFile: ${options.tokenFile ?? "cs.token"}`]),
    `  lookback: ${options.lookback ?? "30m"}`,
    `  grace: ${options.grace ?? "5m"}`,
    `  repairDrift: ${options.repairDrift === true ? "true" : "false"}`,
    "policy:",
    "  rules:",
    "    - name: ransomware",
    options.ids === true ? "      match: { product: ids }" : "      match: { methods: [SSHDICT] }",
    "      actions:",
    `        - { cryptospike: user, ttl: ${options.ttl ?? "1h"} }`,
    ""
  ].join("\n")

/** A seeded Windows user: `S-1-5-21-…-<n>` named `user<n>`. */
export const sid = (n: number) => `S-1-5-21-1004336348-1177238915-682003330-${1000 + n}`

export const seedUser = (n: number, extra: { readonly userName?: string; readonly blockedBy?: "cryptospike" | "admin" | "api"; readonly comment?: string } = {}) => ({
  userId: sid(n),
  userName: extra.userName ?? `CORP\\user${n}`,
  userPrincipalName: `user${n}@corp.example.test`,
  ...(extra.blockedBy === undefined ? {} : { blockedBy: extra.blockedBy }),
  ...(extra.comment === undefined ? {} : { comment: extra.comment })
})

/**
 * A workspace for `emulator`: temp dir, event log, token file (mode 600) and config. Every run
 * is checked not to print the token (nor any of `secrets`).
 */
export const csWorkspace = (emulator: CryptoSpikeEmulatorHandle, configOptions: CryptoSpikeConfigOptions = {}, token = emulator.token) => {
  const dir = tempDir("mitigator-cryptospike-")
  const db = path.join(dir, "events.db")
  const tokenFile = path.join(dir, configOptions.tokenFile ?? "cs.token")
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 })
  fs.chmodSync(tokenFile, 0o600)
  const secrets = [emulator.token, token]
  const writeConfig = (options: CryptoSpikeConfigOptions = configOptions, name = "mitigator-test.yaml"): string => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, cryptoSpikeYaml(emulator.url, options))
    return file
  }
  const config = writeConfig()
  const clock = virtualClock()
  const run = async (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<RunResult> => {
    const result = await runCli(args, { cwd: dir, ...options, env: clock.env(options.env) })
    for (const secret of secrets) {
      expect(result.stdout + result.stderr, `the token leaked in: ${args.join(" ")}`).not.toContain(secret)
    }
    return result
  }
  const cmd = (args: ReadonlyArray<string>, options: RunOptions & { readonly config?: string } = {}) =>
    run([...args, "--db", db, "--config", options.config ?? config], options)
  const append = (lines: ReadonlyArray<string>, options: RunOptions & { readonly config?: string } = {}) =>
    cmd(["append", "--defer", "--instance", "fm1"], { ...options, stdin: lines.join("\n") + "\n" })
  const reconcile = (extra: ReadonlyArray<string> = [], options: RunOptions & { readonly config?: string } = {}) =>
    cmd(["reconcile", ...extra], options)
  const events = async () => {
    const replay = await run(["replay", "--events", "--json", "--db", db])
    expect(replay.code, replay.stderr).toBe(0)
    return jsonLines(replay.stdout)
  }
  const status = async (): Promise<any> => {
    const result = await cmd(["status", "--json"])
    expect(result.code, result.stderr).toBe(0)
    return JSON.parse(result.stdout)
  }
  return { dir, db, tokenFile, config, writeConfig, run, cmd, append, reconcile, events, status, secrets, clock }
}

/** An ADS standard line (as `adsLine`) with field 15, the user identity, set. */
export const adsLineWithUser = (id: number | string, source: string, userIdentity: string, method = "SSHDICT") =>
  [
    id, "2025-11-03 15:13:05", "2025-11-03 15:12:40", method, "SSH attack", "Security issues", "Critical",
    "Attack from a single attacker has been detected.", "22", "6", source, " ", "198.51.100.40, 198.51.100.41", "LAN", userIdentity
  ].join("\t")

/** When `adsLine` events were detected. */
export const ADS_DETECTED_AT = "2025-11-03T15:13:05.000Z"
/** When `idsLine` events were first seen. */
export const IDS_DETECTED_AT = "2025-11-03T15:21:00.000Z"
