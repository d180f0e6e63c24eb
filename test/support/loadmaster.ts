/**
 * CLI tests against the LoadMaster emulator: the emulator runs in the test process on loopback,
 * the CLI runs as real processes talking to it over HTTP. A workspace holds the event log, the
 * API key file (mode 600) and a config pointing at the emulator.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { expect } from "vitest"
import {
  startLoadMasterEmulator,
  type LoadMasterEmulatorHandle,
  type LoadMasterEmulatorOptions
} from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { BUNDLE, jsonLines, runCli, tempDir, type RunOptions, type RunResult } from "./cli.js"
import { virtualClock } from "./clock.js"
import { policyYaml, type PolicyOptions } from "./configs.js"

/** Starts an emulator, runs `body` with it, and closes it whatever happens. */
export const withEmulator = async <A>(
  body: (emulator: LoadMasterEmulatorHandle) => Promise<A>,
  options: LoadMasterEmulatorOptions = {}
): Promise<A> => {
  const emulator = await startLoadMasterEmulator(options)
  try {
    return await body(emulator)
  } finally {
    await emulator.close()
  }
}

export interface LoadMasterConfigOptions extends PolicyOptions {
  /** calls per second (default 1000: tests do not wait for pacing) */
  readonly rateLimit?: number
  /** `policy.caps`, e.g. { maxAddsPerPass: 1 } */
  readonly caps?: Readonly<Record<string, number>>
  /** leave the `loadmaster` section out */
  readonly noLoadMaster?: boolean
  /** `loadmaster.addressForm` (left out: the default) */
  readonly addressForm?: "cidr" | "bare"
  /** `loadmaster.api` (left out: the default) */
  readonly api?: "v2" | "v1"
}

/** A config: a `loadmaster` section pointing at `url` with the key in `keyFile`, then the policy. */
export const loadMasterYaml = (url: string, keyFile: string, options: LoadMasterConfigOptions = {}): string => {
  const head =
    options.noLoadMaster === true
      ? ""
      : [
          "loadmaster:",
          `  url: ${url}`,
          `  apiKeyFile: ${keyFile}`,
          `  rateLimit: ${options.rateLimit ?? 1000}`,
          ...(options.addressForm === undefined ? [] : [`  addressForm: ${options.addressForm}`]),
          ...(options.api === undefined ? [] : [`  api: ${options.api}`]),
          ""
        ].join("\n")
  const caps =
    options.caps === undefined
      ? ""
      : ["  caps:", ...Object.entries(options.caps).map(([k, v]) => `    ${k}: ${v}`), ""].join("\n")
  return head + policyYaml(options) + caps
}

/** A running CLI process (for --watch). */
export interface RunningCli {
  readonly child: ChildProcessWithoutNullStreams
  readonly stdout: () => string
  readonly stderr: () => string
  readonly done: Promise<RunResult & { readonly signal: NodeJS.Signals | null }>
}

export const startCli = (args: ReadonlyArray<string>, options: Omit<RunOptions, "stdin"> = {}): RunningCli => {
  const child = spawn(process.execPath, [BUNDLE, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...options.env },
    stdio: ["pipe", "pipe", "pipe"]
  })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on("data", (b: Buffer) => out.push(b))
  child.stderr.on("data", (b: Buffer) => err.push(b))
  child.stdin.on("error", () => {})
  child.stdin.end()
  const done = new Promise<RunResult & { readonly signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") })
    )
  })
  return {
    child,
    stdout: () => Buffer.concat(out).toString("utf8"),
    stderr: () => Buffer.concat(err).toString("utf8"),
    done
  }
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes (then fails naming `what`). */
export const waitFor = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * A temp directory with an event log path, an API key file for `emulator` (mode 600) and a config
 * (`mitigator-test.yaml`, rewritten by `writeConfig`). Every run is checked not to print the key.
 */
export const lmWorkspace = (emulator: LoadMasterEmulatorHandle, configOptions: LoadMasterConfigOptions = {}) => {
  const dir = tempDir("mitigator-reconcile-")
  const db = path.join(dir, "events.db")
  const keyFile = path.join(dir, "lm.key")
  fs.writeFileSync(keyFile, `${emulator.apiKey}\n`, { mode: 0o600 })
  fs.chmodSync(keyFile, 0o600)
  const writeConfig = (options: LoadMasterConfigOptions = configOptions, name = "mitigator-test.yaml"): string => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, loadMasterYaml(emulator.url, "lm.key", options))
    return file
  }
  const config = writeConfig()
  const outputs: string[] = []
  const clock = virtualClock()
  const run = async (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<RunResult> => {
    const result = await runCli(args, { cwd: dir, ...options, env: clock.env(options.env) })
    outputs.push(result.stdout, result.stderr)
    expect(result.stdout + result.stderr, `the API key leaked in: ${args.join(" ")}`).not.toContain(emulator.apiKey)
    return result
  }
  /** `args` with --db and --config (this workspace's, or `configFile`) */
  const cmd = (args: ReadonlyArray<string>, options: RunOptions & { readonly config?: string } = {}) =>
    run([...args, "--db", db, "--config", options.config ?? config], options)
  const reconcile = (extra: ReadonlyArray<string> = [], options: RunOptions & { readonly config?: string } = {}) =>
    cmd(["reconcile", ...extra], options)
  const plan = (extra: ReadonlyArray<string> = [], options: RunOptions & { readonly config?: string } = {}) =>
    cmd(["plan", ...extra], options)
  const events = async () => {
    const replay = await run(["replay", "--events", "--json", "--db", db])
    expect(replay.code).toBe(0)
    return jsonLines(replay.stdout)
  }
  return { dir, db, keyFile, config, writeConfig, run, cmd, reconcile, plan, events, outputs, clock }
}

/** Deletes a block-list entry the way an operator's script would: APIv2 over HTTP. */
export const deleteOnAppliance = async (
  emulator: LoadMasterEmulatorHandle,
  addr: string,
  scope: "global" | number = "global"
): Promise<void> => {
  const body =
    scope === "global"
      ? { cmd: "aclcontrol", apikey: emulator.apiKey, del: "block", addr }
      : { cmd: "aclcontrol", apikey: emulator.apiKey, delvs: "block", vs: String(scope), addr }
  const response = await fetch(`${emulator.url}/accessv2`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body)
  })
  const answer = (await response.json()) as { status?: string }
  expect(response.status, JSON.stringify(answer)).toBe(200)
  expect(answer.status).toBe("ok")
}

/** The addresses in a scope's block list, sorted. */
export const addrs = (emulator: LoadMasterEmulatorHandle, scope: "global" | number = "global"): string[] =>
  emulator
    .entries(scope)
    .map((e) => e.addr)
    .sort()
