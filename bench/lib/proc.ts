/**
 * Running measured processes: how mitigator is started, how long a process took from spawn to
 * exit, and its peak RSS. Every figure in the bench is a whole process, because that is what
 * Flowmon (one `append` per detection), cron (`reconcile`) and an operator (`status`) pay.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../..", import.meta.url))

/**
 * The argv that starts the installed CLI with `args`. The ONE place that knows the entry point
 * (today `node dist/mitigator.cjs`, a launcher that loads the bundle with its code cache): when
 * it changes, every figure follows.
 */
export const mitigatorArgs = (...args: ReadonlyArray<string>): string[] => [process.execPath, path.join(root, "dist", "mitigator.cjs"), ...args]

/** A plain Node process running `script` (a floor, or `-e 0`): the same Node as mitigator's. */
export const nodeArgs = (...args: ReadonlyArray<string>): string[] => [process.execPath, ...args]

export interface Sample {
  readonly ms: number
  /** peak RSS in MiB; 0 when not asked for */
  readonly rssMiB: number
  readonly stdout: string
}

export interface RunOptions {
  readonly stdin?: string | Buffer
  /** measure peak RSS (adds a one-file CommonJS preload: use it for every run of a comparison, or none) */
  readonly rss?: boolean
  /** keep stdout (default: ignored, so a large `status --json` costs no pipe reading here) */
  readonly stdout?: boolean
  /** exit codes that count as success (default [0]) */
  readonly okCodes?: ReadonlyArray<number>
  /** added to the environment (PGPASSFILE for a log on PostgreSQL) */
  readonly env?: Readonly<Record<string, string>>
}

const hook = path.join(root, "bench", "lib", "rssHook.cjs")
let rssCounter = 0
let rssDir: string | undefined

/** Where the RSS hook's files go (the run's temporary folder). */
export const setScratch = (dir: string) => void (rssDir = dir)

const childEnv = (rssPrefix: string | undefined): NodeJS.ProcessEnv => {
  // Whatever NODE_OPTIONS the bench was started with is not what a deployment runs with.
  const { NODE_OPTIONS: _ignored, ...env } = process.env
  return rssPrefix === undefined ? env : { ...env, NODE_OPTIONS: `--require ${JSON.stringify(hook)}`, MITIGATOR_BENCH_RSS: rssPrefix }
}

/**
 * The peak RSS of the command: the sum of each of its Node processes' own peaks (one today; a
 * launcher that starts another Node process and waits for it holds both, so the sum is the
 * honest upper bound).
 */
const readPeak = (prefix: string): number => {
  const dir = path.dirname(prefix)
  const base = path.basename(prefix) + "."
  let peakKiB = 0
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith(base)) continue
    const file = path.join(dir, name)
    peakKiB += Number(fs.readFileSync(file, "utf8")) || 0
    fs.rmSync(file)
  }
  if (peakKiB === 0) throw new Error("no peak RSS reported by the measured process (did NODE_OPTIONS --require reach it?)")
  return peakKiB / 1024
}

/** Spawns `argv`, feeds `stdin`, and times it from spawn to exit; rejects on an unexpected exit code. */
export const runProcess = (argv: ReadonlyArray<string>, options: RunOptions = {}): Promise<Sample> =>
  new Promise((resolve, reject) => {
    if (options.rss === true && rssDir === undefined) throw new Error("setScratch first")
    const rssPrefix = options.rss === true ? path.join(rssDir!, `rss-${process.pid}-${++rssCounter}`) : undefined
    const started = process.hrtime.bigint()
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", options.stdout === true ? "pipe" : "ignore", "pipe"], env: { ...childEnv(rssPrefix), ...options.env } })
    let stderr = ""
    let stdout = ""
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()))
    child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()))
    child.on("error", reject)
    // A child that exits before reading all of stdin is reported by its exit code, not as EPIPE here.
    child.stdin!.on("error", () => undefined)
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (!(options.okCodes ?? [0]).includes(code ?? -1)) {
        return reject(new Error(`${argv.slice(1).join(" ")} exited ${code}: ${stderr.trim().slice(-2000)}`))
      }
      try {
        resolve({ ms, rssMiB: rssPrefix === undefined ? 0 : readPeak(rssPrefix), stdout })
      } catch (e) {
        reject(e)
      }
    })
    child.stdin!.end(options.stdin ?? "")
  })
