/** `mitigator doctor`: each check a deployment needs, ✔ or ✖ with a fix, against the real emulators. */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startCryptoSpikeEmulator, type CryptoSpikeEmulatorOptions } from "../../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import { startLoadMasterEmulator, type LoadMasterEmulatorOptions } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { runCli, tempDir, type RunResult } from "../support/cli.js"

interface Setup {
  readonly lm?: LoadMasterEmulatorOptions
  /** write this instead of the emulator's key */
  readonly lmKey?: string
  /** point the LoadMaster section at this URL instead of the emulator */
  readonly lmUrl?: string
  readonly tokenMode?: number
  readonly extraYaml?: string
  /** entries already on the LoadMaster's global block list */
  readonly lmEntries?: ReadonlyArray<{ readonly addr: string; readonly comment: string }>
  readonly cs?: CryptoSpikeEmulatorOptions
  /** write this instead of the emulator's token */
  readonly csToken?: string
  /** the environment and extra arguments of the doctor run, given the emulators' real key and token */
  readonly env?: (real: Credentials) => Record<string, string>
  readonly args?: (real: Credentials) => ReadonlyArray<string>
}

interface Credentials {
  readonly apiKey: string
  readonly token: string
}

/** Both emulators, a log made by `append`, key files and a config; then `doctor`. */
const doctor = async (setup: Setup = {}): Promise<RunResult & { readonly dir: string; readonly out: string; readonly secrets: ReadonlyArray<string> }> => {
  const lm = await startLoadMasterEmulator(setup.lm ?? {})
  const cs = await startCryptoSpikeEmulator(setup.cs ?? {})
  for (const e of setup.lmEntries ?? []) lm.seed("global", e.addr, e.comment)
  try {
    const dir = tempDir("mitigator-doctor-")
    fs.writeFileSync(path.join(dir, "lm.key"), setup.lmKey ?? lm.apiKey, { mode: 0o600 })
    fs.writeFileSync(path.join(dir, "cs.token"), setup.csToken ?? cs.token, { mode: 0o600 })
    fs.chmodSync(path.join(dir, "cs.token"), setup.tokenMode ?? 0o600)
    const config = path.join(dir, "mitigator.yaml")
    fs.writeFileSync(
      config,
      [
        `loadmaster: { url: "${setup.lmUrl ?? lm.url}", apiKeyFile: lm.key, rateLimit: 1000 }`,
        `cryptospike: { url: "${cs.url}", tokenFile: cs.token }`,
        setup.extraYaml ?? "",
        ""
      ].join("\n")
    )
    const db = path.join(dir, "events.db")
    const made = await runCli(["append", "--defer", "--db", db, "--config", config], { cwd: dir, stdin: "" })
    expect(made.code, made.stderr).toBe(0)
    const real = { apiKey: lm.apiKey, token: cs.token }
    const run = await runCli(["doctor", "--db", db, "--config", config, ...(setup.args?.(real) ?? [])], { cwd: dir, env: setup.env?.(real) ?? {} })
    // doctor only reads: nothing was put on the appliance.
    expect(lm.entries({ kind: "global" })).toEqual(setup.lmEntries ?? [])
    return { ...run, dir, out: run.stdout + run.stderr, secrets: [lm.apiKey, cs.token, setup.lmKey ?? lm.apiKey, setup.csToken ?? cs.token] }
  } finally {
    await lm.close()
    await cs.close()
  }
}

const failed = (out: string) => out.split("\n").filter((l) => l.startsWith("✖"))

describe("mitigator doctor", () => {
  it("warns, without failing, where a list cannot prove that an entry or a block is still mitigator's", async () => {
    const blockedUser = { userId: "S-1-5-21-1-2-3-1001", userName: "CORP\\jdoe", userPrincipalName: "jdoe@corp.example", blockedBy: "cryptospike" as const }
    const entry = { addr: "192.0.2.31/32", comment: "mitigator fm1 12 ads SSHDICT" }
    const bare = await doctor({ lm: { listShape: "pier" }, lmEntries: [entry], cs: { blockInfo: "none", seed: { users: [blockedUser] } } })
    expect(bare.code, bare.out).toBe(0)
    expect(bare.out).toContain("! LoadMaster lists block entries without comments")
    expect(bare.out).toMatch(/note: .*administrator deleted and re-made by hand .* cannot be told apart/)
    expect(bare.out).toContain("! CryptoSpike lists blocked users without who blocked them")
    expect(bare.out).toMatch(/doctor: all [0-9]+ checks passed \(2 with a warning\)/)

    const told = await doctor({ lmEntries: [entry], cs: { seed: { users: [blockedUser] } } })
    expect(told.code, told.out).toBe(0)
    expect(told.out).toContain("✔ LoadMaster lists comments: every removal first checks that the entry still carries mitigator's marker")
    expect(told.out).toContain("✔ CryptoSpike tells who blocked each user")
    expect(told.out).not.toMatch(/^! /m)
  })

  it("passes every check against healthy emulators, and prints no credential", async () => {
    const run = await doctor()
    expect(run.code, run.out).toBe(0)
    expect(failed(run.out)).toEqual([])
    expect(run.out).toMatch(/✔ config .*mitigator\.yaml is valid/)
    expect(run.out).toMatch(/✔ event log .*events\.db is writable/)
    expect(run.out).toContain("✔ hash chain intact")
    expect(run.out).toContain("✔ LoadMaster reachable, key accepted")
    expect(run.out).toContain("✔ LoadMaster packet filter enabled")
    expect(run.out).toContain("✔ CryptoSpike reachable, token accepted")
    expect(run.out).toMatch(/doctor: all \d+ checks passed/)
    for (const secret of run.secrets) expect(run.out).not.toContain(secret)
  }, 30_000)

  it("checks this clock against the LoadMaster's Date: a day ahead fails the check, with what it means and the fix", async () => {
    const good = await doctor()
    expect(good.out).toMatch(/^✔ clock agrees with the LoadMaster's \(Date \S+Z\)$/m)

    const shift = fileURLToPath(new URL("../support/clockShift.cjs", import.meta.url))
    const ahead = await doctor({ env: () => ({ NODE_OPTIONS: `--require ${shift}`, MITIGATOR_TEST_CLOCK_SHIFT_MS: String(24 * 3_600_000) }) })
    expect(ahead.code, ahead.out).toBe(1)
    expect(failed(ahead.out)).toEqual([
      expect.stringMatching(/^✖ clock \S+Z is (?:1d 0h|23h \d+m) ahead of the LoadMaster's \(Date \S+Z\): reconcile removes nothing while they disagree/)
    ])
  }, 30_000)

  it("names a wrong LoadMaster key, with the fix", async () => {
    const run = await doctor({ lmKey: "not-the-key-0000" })
    expect(run.code).toBe(1)
    expect(failed(run.out)).toEqual([expect.stringContaining("✖ LoadMaster: credentials refused")])
    expect(run.out).toContain("fix: check the API key")
    expect(run.out).toContain("✔ CryptoSpike reachable")
    expect(run.out).not.toContain("not-the-key-0000")
  }, 30_000)

  it("says when the LoadMaster's API is switched off (HTTP 404)", async () => {
    const run = await doctor({ lm: { apiEnabled: false } })
    expect(run.code).toBe(1)
    expect(failed(run.out)).toEqual([expect.stringContaining("✖ LoadMaster: the API answers 404")])
    expect(run.out).toContain("Enable API Interface")
  }, 30_000)

  it("warns that blocks are not enforced while the packet filter is off", async () => {
    const run = await doctor({ lm: { packetFilter: { enabled: false, mutationsWhenOff: "succeed" } } })
    expect(run.code).toBe(1)
    expect(failed(run.out)).toEqual(["✖ LoadMaster packet filter is OFF: block lists are kept but not enforced"])
    expect(run.out).toContain("✔ LoadMaster reachable")
  }, 30_000)

  it("reports an unreachable appliance and still checks the rest", async () => {
    const run = await doctor({ lmUrl: "http://127.0.0.1:1" })
    expect(run.code).toBe(1)
    expect(failed(run.out)).toEqual([expect.stringContaining("✖ LoadMaster: unreachable")])
    expect(run.out).toContain("fix: check the URL, the network path and the firewall")
    expect(run.out).toContain("✔ CryptoSpike reachable")
  }, 60_000)

  it("names where each credential it used came from: the flag, else the environment, else the file; never the value", async () => {
    // Given key and token files only: the files.
    const files = await doctor()
    expect(files.code, files.out).toBe(0)
    expect(files.out).toContain(`✔ LoadMaster API key from file ${path.join(files.dir, "lm.key")}`)
    expect(files.out).toContain(`✔ CryptoSpike API token from file ${path.join(files.dir, "cs.token")}`)

    // Given wrong files and the right values in the environment: the environment wins (else the checks would fail).
    const env = await doctor({
      lmKey: "wrong-file-key-0001",
      csToken: "wrong-file-token-0001",
      env: (real) => ({ LOADMASTER_API_KEY: real.apiKey, CRYPTOSPIKE_API_TOKEN: real.token })
    })
    expect(env.code, env.out).toBe(0)
    expect(env.out).toContain("✔ LoadMaster API key from environment variable LOADMASTER_API_KEY")
    expect(env.out).toContain("✔ CryptoSpike API token from environment variable CRYPTOSPIKE_API_TOKEN")
    expect(env.out).toContain("✔ LoadMaster reachable, key accepted")
    expect(env.out).toContain("✔ CryptoSpike reachable, token accepted")

    // Given wrong files, a wrong environment and the right flags: the flags win, with a warning.
    const flags = await doctor({
      lmKey: "wrong-file-key-0002",
      csToken: "wrong-file-token-0002",
      env: () => ({ LOADMASTER_API_KEY: "wrong-env-key-0002", CRYPTOSPIKE_API_TOKEN: "wrong-env-token-0002" }),
      args: (real) => ["--api-key", real.apiKey, "--cs-token", real.token]
    })
    expect(flags.code, flags.out).toBe(0)
    expect(flags.out).toContain("! LoadMaster API key from flag --api-key\n    note: the process list shows it")
    expect(flags.out).toContain("! CryptoSpike API token from flag --cs-token\n    note: the process list shows it")
    expect(flags.out).toContain("✔ LoadMaster reachable, key accepted")

    for (const run of [files, env, flags]) {
      for (const secret of [...run.secrets, "wrong-env-key-0002", "wrong-env-token-0002"]) expect(run.out).not.toContain(secret)
    }
  }, 60_000)

  it("refuses a token file others can read, with the chmod to run", async () => {
    const run = await doctor({ tokenMode: 0o644 })
    expect(run.code).toBe(1)
    expect(failed(run.out)).toEqual([expect.stringMatching(/✖ CryptoSpike: .*cs\.token .*can be read by group or others.*chmod 600/)])
  }, 30_000)

  it("reports an invalid config as a failed check, not a crash", async () => {
    const dir = tempDir("mitigator-doctor-")
    const config = path.join(dir, "bad.yaml")
    fs.writeFileSync(config, "loadmaster: { url: 42 }\nsurprise: true\n")
    const run = await runCli(["doctor", "--config", config, "--db", path.join(dir, "none.db")], { cwd: dir })
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/^✖ config: /)
    expect(run.stdout).toContain("surprise")
    expect(run.stdout).toMatch(/doctor: 1 of 1 checks failed/)
  }, 30_000)
})
