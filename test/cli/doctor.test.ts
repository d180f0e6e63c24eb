/** `mitigator doctor`: each check a deployment needs, ✔ or ✖ with a fix, against the real emulators. */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startCryptoSpikeEmulator, type CryptoSpikeEmulatorOptions } from "../../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import { startLoadMasterEmulator, type LoadMasterEmulatorOptions } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { makeCertificate } from "../support/certificates.js"
import { runCli, tempDir, type RunResult } from "../support/cli.js"

interface Setup {
  readonly lm?: LoadMasterEmulatorOptions
  /** write this instead of the emulator's key */
  readonly lmKey?: string
  /** point the LoadMaster section at this URL instead of the emulator */
  readonly lmUrl?: string
  /** more keys of the LoadMaster section (`, addressForm: bare`) */
  readonly lmKeys?: string
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
  /** a fresh install: no `append` before doctor, so there is no log yet */
  readonly fresh?: boolean
  /** where the log is, relative to the temp dir (default events.db) */
  readonly db?: string
  /** no loadmaster.apiKeyFile in the config */
  readonly noLmKeyFile?: boolean
  /** before doctor runs, given the temp dir (permissions, owners) */
  readonly prepare?: (dir: string) => void
  /** run doctor as this user and group */
  readonly as?: { readonly uid: number; readonly gid: number }
  /** run doctor a second time, against the same emulators and files, with these arguments added */
  readonly again?: ReadonlyArray<string>
}

interface Credentials {
  readonly apiKey: string
  readonly token: string
}

/** Both emulators, a log made by `append`, key files and a config; then `doctor`. */
const doctor = async (
  setup: Setup = {}
): Promise<RunResult & { readonly second: RunResult | undefined; readonly dir: string; readonly db: string; readonly out: string; readonly lmRequests: number; readonly secrets: ReadonlyArray<string> }> => {
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
        `loadmaster: { url: "${setup.lmUrl ?? lm.url}"${setup.noLmKeyFile ? "" : ", apiKeyFile: lm.key"}, rateLimit: 1000${setup.lmKeys ?? ""} }`,
        `cryptospike: { url: "${cs.url}", tokenFile: cs.token }`,
        setup.extraYaml ?? "",
        ""
      ].join("\n")
    )
    const db = path.join(dir, setup.db ?? "events.db")
    if (setup.fresh !== true) {
      const made = await runCli(["append", "--defer", "--db", db, "--config", config], { cwd: dir, stdin: "" })
      expect(made.code, made.stderr).toBe(0)
    }
    setup.prepare?.(dir)
    const real = { apiKey: lm.apiKey, token: cs.token }
    const run = await runCli(["doctor", "--db", db, "--config", config, ...(setup.args?.(real) ?? [])], { cwd: dir, env: setup.env?.(real) ?? {}, ...(setup.as ?? {}) })
    const second = setup.again === undefined ? undefined : await runCli(["doctor", "--db", db, "--config", config, ...setup.again], { cwd: dir })
    // doctor only reads: nothing was put on the appliance.
    expect(lm.entries({ kind: "global" })).toEqual(setup.lmEntries ?? [])
    return { ...run, second, dir, db, out: run.stdout + run.stderr, lmRequests: lm.requests().length, secrets: [lm.apiKey, cs.token, setup.lmKey ?? lm.apiKey, setup.csToken ?? cs.token] }
  } finally {
    await lm.close()
    await cs.close()
  }
}

const failed = (out: string) => out.split("\n").filter((l) => l.startsWith("✖"))

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A line with its ISO times blanked (two runs differ in them). */
const timeless = (line: string): string => line.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "<time>")

/** A port nothing listens on: one the OS just gave out and that was closed again. */
const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/**
 * A port that accepts TCP connections and resets each one as soon as it sends a request, counting
 * the requests (a connection that sends nothing, as a reachability probe, is not a request).
 */
const connectionDropper = (): Promise<{ readonly port: number; readonly requests: () => number; readonly close: () => Promise<void> }> =>
  new Promise((resolve, reject) => {
    let requests = 0
    const server = net.createServer((socket) => {
      socket.on("error", () => {})
      socket.once("data", () => {
        requests++
        socket.resetAndDestroy()
      })
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () =>
      resolve({ port: (server.address() as net.AddressInfo).port, requests: () => requests, close: () => new Promise((done) => server.close(() => done())) })
    )
  })

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

  it("names a refused credential's source and the fix for that source, never its value", async () => {
    // Given a wrong LoadMaster key in the key file
    const file = await doctor({ lmKey: "not-the-key-0000" })
    expect(file.code).toBe(1)
    const keyFile = path.join(file.dir, "lm.key")
    expect(failed(file.out)).toEqual([`✖ LoadMaster refused the API key from file ${keyFile} (HTTP 401)`])
    expect(file.out).toContain(`fix: put a valid API key in ${keyFile} (loadmaster.apiKeyFile; the LoadMaster makes one under`)
    expect(file.out).toContain("✔ CryptoSpike reachable")

    // Given a wrong CryptoSpike token in the environment (over a right token file)
    const env = await doctor({ env: () => ({ CRYPTOSPIKE_API_TOKEN: "not-the-token-0000" }) })
    expect(env.code).toBe(1)
    expect(failed(env.out)).toEqual(["✖ CryptoSpike refused the API token from environment variable CRYPTOSPIKE_API_TOKEN (HTTP 401)"])
    expect(env.out).toContain("fix: set CRYPTOSPIKE_API_TOKEN to a valid API token (CryptoSpike makes one under Settings > System > API Tokens), or unset it to use cryptospike.tokenFile")
    expect(env.out).toContain("✔ LoadMaster reachable")

    for (const run of [file, env]) for (const secret of [...run.secrets, "not-the-key-0000", "not-the-token-0000"]) expect(run.out).not.toContain(secret)
  }, 60_000)

  it("runs its other checks without a credential: the missing one fails with where to put it", async () => {
    const run = await doctor({ noLmKeyFile: true })
    expect(run.code, run.out).toBe(1)
    expect(failed(run.out)).toEqual(["✖ no LoadMaster API key: none of --api-key, LOADMASTER_API_KEY or loadmaster.apiKeyFile is set"])
    expect(run.out).toContain("fix: put the API key in a file only mitigator's user can read (chmod 600) and name it in loadmaster.apiKeyFile, or set LOADMASTER_API_KEY")
    // The checks that need no key still ran, and nothing was asked of the LoadMaster's API.
    expect(run.out).toContain("✔ hash chain intact")
    expect(run.out).toMatch(/^✔ LoadMaster at http:\/\/127\.0\.0\.1:\d+: plain HTTP, on loopback only$/m)
    expect(run.out).toContain("✔ CryptoSpike reachable, token accepted")
    expect(run.lmRequests).toBe(0)
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

  it("reports a closed port as connection refused, with the address and the fix, and still checks the rest", async () => {
    const port = await closedPort()
    const run = await doctor({ lmUrl: `http://127.0.0.1:${port}` })
    expect(run.code).toBe(1)
    expect(failed(run.out)).toEqual([`✖ LoadMaster at 127.0.0.1:${port}: connection refused (ECONNREFUSED)`])
    expect(run.out).toContain(`fix: nothing listens on port ${port} of 127.0.0.1: check that loadmaster.url is the address and port of the LoadMaster's web interface`)
    expect(run.out).toContain("Allow Web Administrative Access")
    expect(run.out).toContain("✔ CryptoSpike reachable")
  }, 60_000)

  it("tries an appliance that drops every connection once, without the clients' retries", async () => {
    // Given a port that accepts TCP connections and resets each one at its request, counting them
    const dropper = await connectionDropper()
    try {
      const run = await doctor({ lmUrl: `http://127.0.0.1:${dropper.port}` })
      expect(run.code).toBe(1)
      expect(failed(run.out)).toEqual([`✖ LoadMaster at 127.0.0.1:${dropper.port}: connection reset (ECONNRESET)`])
      expect(run.out).toContain("fix: something at 127.0.0.1:")
      // Then the request was sent once: no retry (the clients retry a reset four more times, for reconcile's sake)
      expect(dropper.requests()).toBe(1)
    } finally {
      await dropper.close()
    }
  }, 60_000)

  it("passes on a fresh install before any event: the log will be created by the first append, and doctor does not create it", async () => {
    const run = await doctor({ fresh: true })
    expect(run.code, run.out).toBe(0)
    expect(run.out).toContain(`✔ no event log yet at ${run.db}: will be created at the first append`)
    expect(run.out).toMatch(/^✔ clock \S+Z: no event in the log yet to compare it with$/m)
    expect(failed(run.out)).toEqual([])
    expect(fs.readdirSync(run.dir).filter((f) => f.startsWith("events.db"))).toEqual([])
  }, 30_000)

  it("fails before any event when this user cannot create the log where it is configured, naming the directory", async () => {
    // Root writes through permissions: then doctor runs as `nobody`, owning the config and key files.
    const asRoot = process.getuid?.() === 0
    const nobody = { uid: 65534, gid: 65534 }
    const run = await doctor({
      fresh: true,
      db: "logs/events.db",
      prepare: (dir) => {
        fs.mkdirSync(path.join(dir, "logs"))
        if (asRoot) {
          fs.chmodSync(dir, 0o755)
          for (const f of ["lm.key", "cs.token", "mitigator.yaml"]) fs.chownSync(path.join(dir, f), nobody.uid, nobody.gid)
        } else fs.chmodSync(path.join(dir, "logs"), 0o555)
      },
      ...(asRoot ? { as: nobody } : {})
    })
    const logs = path.join(run.dir, "logs")
    expect(run.code, run.out).toBe(1)
    expect(failed(run.out)).toEqual([expect.stringMatching(new RegExp(`^✖ no event log yet at ${escape(run.db)}, and this user \\(\\S+\\) cannot create it: ${escape(logs)} is not writable \\(EACCES\\)$`))])
    expect(run.out).toContain(`fix: give the user that runs mitigator write access to ${logs} (chown or chmod), or point --db / MITIGATOR_DB at a directory it can write`)
    expect(run.out).toContain("✔ LoadMaster reachable")
    fs.chmodSync(logs, 0o755)
  }, 30_000)

  it("--json: one object with every check the text shows, in the same order, and the same exit code", async () => {
    const names = [
      "config", "log", "log.schema", "log.chain", "clock.log",
      "loadmaster.credential", "loadmaster.tls", "loadmaster.api", "loadmaster.comments", "loadmaster.addressForm", "loadmaster.packetFilter", "loadmaster.clock",
      "cryptospike.credential", "cryptospike.tls", "cryptospike.api", "cryptospike.blockInfo"
    ]
    for (const lm of [{}, { packetFilter: { enabled: false, mutationsWhenOff: "succeed" as const } }]) {
      const text = await doctor({ lm, again: ["--json"] })
      const json = text.second!
      expect(json.code).toBe(text.code)
      const report = JSON.parse(json.stdout) as { ok: boolean; checks: Array<{ name: string; status: string; detail: string; fix?: string }> }
      expect(report.ok).toBe(json.code === 0)
      expect(report.checks.map((c) => c.name)).toEqual(names)
      // The same checks as the text, line for line (times aside).
      const mark = { pass: "✔", warn: "!", fail: "✖" } as Record<string, string>
      const textLines = text.stdout.split("\n").filter((l) => /^[✔!✖] /.test(l)).map(timeless)
      expect(report.checks.map((c) => timeless(`${mark[c.status]} ${c.detail.split("\n")[0]}`))).toEqual(textLines)
      for (const c of report.checks) expect(c.status === "fail").toBe(c.fix !== undefined)
    }
    const off = await doctor({ lm: { packetFilter: { enabled: false, mutationsWhenOff: "succeed" } }, args: () => ["--json"] })
    expect(off.code).toBe(1)
    const check = (JSON.parse(off.stdout) as { checks: Array<{ name: string; status: string; fix?: string }> }).checks.find((c) => c.name === "loadmaster.packetFilter")
    expect(check).toEqual(expect.objectContaining({ status: "fail", fix: "enable it under System Configuration > Network Setup > Packet Routing Filter" }))
  }, 120_000)

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
    expect(failed(run.out)).toEqual([expect.stringMatching(/^✖ CryptoSpike API token: .*cs\.token .*can be read by group or others/)])
    expect(run.out).toContain(`fix: chmod 600 ${path.join(run.dir, "cs.token")}`)
  }, 30_000)

  it("shows the single-host form the LoadMaster echoes beside the form mitigator adds in", async () => {
    const bare = await doctor({ lmKeys: ", addressForm: bare", lmEntries: [{ addr: "192.0.2.31", comment: "mitigator fm1 12 ads SSHDICT" }] })
    expect(bare.code, bare.out).toBe(0)
    expect(bare.out).toContain("✔ LoadMaster address form: mitigator adds single hosts bare (203.0.113.9; loadmaster.addressForm: bare); it lists single hosts bare (203.0.113.9); both forms are read")
    const prefixed = await doctor({ lmEntries: [{ addr: "192.0.2.31/32", comment: "mitigator fm1 12 ads SSHDICT" }, { addr: "198.51.100.0/24", comment: "x" }] })
    expect(prefixed.out).toContain("✔ LoadMaster address form: mitigator adds single hosts with their prefix (203.0.113.9/32; loadmaster.addressForm: cidr); it lists single hosts with their prefix (203.0.113.9/32)")
    const empty = await doctor()
    expect(empty.out).toContain("it lists no single host yet, so the form it echoes shows once it does")
  }, 60_000)

  it("shows the certificate it was presented and the line that pins it when verification fails; that line pasted in passes", async () => {
    // Given an HTTPS LoadMaster at 127.0.0.1 whose certificate has no subjectAltName, and its certificate as tls.ca
    const certificate = makeCertificate("/CN=127.0.0.1")
    const lm = await startLoadMasterEmulator({ tls: true, tlsCert: certificate.certPem, tlsKey: certificate.keyPem })
    try {
      const dir = tempDir("mitigator-doctor-")
      fs.writeFileSync(path.join(dir, "lm.key"), lm.apiKey, { mode: 0o600 })
      fs.copyFileSync(certificate.caFile, path.join(dir, "lm-ca.pem"))
      const config = path.join(dir, "mitigator.yaml")
      const db = path.join(dir, "events.db")
      const section = (tlsLines: string) => `loadmaster:\n  url: "${lm.url}"\n  apiKeyFile: lm.key\n  rateLimit: 1000\n  tls:\n    ${tlsLines}\n`
      fs.writeFileSync(config, section("ca: lm-ca.pem"))
      expect((await runCli(["append", "--defer", "--db", db, "--config", config], { cwd: dir, stdin: "" })).code).toBe(0)

      // When doctor runs, then it fails that check, showing the certificate and the pin line
      const run = await runCli(["doctor", "--db", db, "--config", config], { cwd: dir })
      const out = run.stdout + run.stderr
      expect(run.code, out).toBe(1)
      expect(failed(out)).toEqual(["✖ LoadMaster certificate NOT verified: IP: 127.0.0.1 is not in the cert's list"])
      expect(out).toContain(`\n    certificate: sha256 ${lm.fingerprint}, subject CN=127.0.0.1, no subjectAltName\n`)
      expect(out).toContain("fix: the certificate does not name 127.0.0.1 (it has no subjectAltName (subject CN=127.0.0.1)), and no name it carries can be checked: pin it with loadmaster.tls.fingerprint")
      expect(out).toContain(`put this line under loadmaster.tls, in place of ca:\n        fingerprint: "sha256:${lm.fingerprint}"\n`)
      // (the credentials are not blamed for it, and nothing was asked of the API)
      expect(out).not.toContain("credentials refused")
      expect(lm.requests()).toEqual([])

      // When the printed line is pasted in place of ca, then doctor passes, the certificate pinned
      const line = /^ {8}(fingerprint: "sha256:[0-9A-F:]+")$/m.exec(out)![1]!
      fs.writeFileSync(config, section(line))
      const pinned = await runCli(["doctor", "--db", db, "--config", config], { cwd: dir })
      expect(pinned.code, pinned.stdout + pinned.stderr).toBe(0)
      expect(pinned.stdout).toContain(`✔ LoadMaster certificate verified (pinned)\n    certificate: sha256 ${lm.fingerprint}, subject CN=127.0.0.1, no subjectAltName`)
      for (const o of [out, pinned.stdout + pinned.stderr]) expect(o).not.toContain(lm.apiKey)
    } finally {
      await lm.close()
    }
  }, 60_000)

  it("the same for CryptoSpike: a self-signed certificate checked against the system's CAs is shown with its pin line under cryptospike.tls", async () => {
    const run = await doctor({ cs: { tls: true } })
    // The fingerprint is read back from the pin line (the LoadMaster test above compares it with the emulator's).
    const fingerprint = /^ {8}fingerprint: "sha256:([0-9A-F:]+)"$/m.exec(run.out)?.[1] ?? ""
    expect(run.code, run.out).toBe(1)
    expect(failed(run.out)).toEqual(["✖ CryptoSpike certificate NOT verified: a self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT) (checked against the system's CAs)"])
    expect(run.out).toContain(`    certificate: sha256 ${fingerprint}, subject CN=`)
    expect(run.out).toContain("fix: for a certificate your own CA signed, set cryptospike.tls.ca to that CA's certificate (a PEM file); or to trust exactly this certificate")
    expect(run.out).toContain(`then put this line under cryptospike.tls:\n        fingerprint: "sha256:${fingerprint}"`)
    expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    expect(run.out).toContain("✔ LoadMaster reachable")
  }, 30_000)

  it("reports an invalid config as a failed check, not a crash", async () => {
    const dir = tempDir("mitigator-doctor-")
    const config = path.join(dir, "bad.yaml")
    fs.writeFileSync(config, "loadmaster: { url: 42 }\nsurprise: true\n")
    const run = await runCli(["doctor", "--config", config, "--db", path.join(dir, "none.db")], { cwd: dir })
    expect(run.code).toBe(1)
    // Then each problem is a failed check at its file:line, with its key
    expect(failed(run.stdout)).toEqual([`✖ config ${config}:1: loadmaster.url: expected an http:// or https:// URL`, `✖ config ${config}:2: surprise: unknown key`])
    expect(run.stdout).toContain(`fix: remove surprise at ${config}:2, or correct its spelling`)
    expect(run.stdout).toMatch(/doctor: 2 of 2 checks failed/)
  }, 30_000)
})
