/**
 * Several writer processes appending single-event transactions to one log at once (what Flowmon
 * does: each detection its own transaction), on SQLite or PostgreSQL (for PostgreSQL, either way
 * of taking the head: the head row FOR UPDATE, or the advisory lock). Writers open the log first,
 * then all start at one instant; the figure is all events over the wall time from that instant to
 * the last writer's end. Used by bench/steps/postgres.ts and bench/concurrentAppend.ts.
 *
 * The writers are this file run again (`node --import tsx bench/lib/concurrentAppend.ts --writer …`).
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import { EventLog } from "../../src/eventlog/EventLog.js"
import * as PgEventLog from "../../src/eventlog/PgEventLog.js"
import * as SqliteEventLog from "../../src/eventlog/SqliteEventLog.js"
import { root } from "./proc.js"

export type WriterKind = "sqlite" | "pg-row" | "pg-advisory"

/** Time the writers have to start and open the log before the common start. */
const START_DELAY_MS = 3000

const self = fileURLToPath(import.meta.url)

/** One writer: opens the log, waits for `startAt`, appends `appends` single events, prints when it ended. */
const writer = async (kind: WriterKind, target: string, id: string, appends: number, startAt: number) => {
  const layer =
    kind === "sqlite"
      ? SqliteEventLog.layer({ filename: target, create: true })
      : PgEventLog.layer({ url: target, passwordFile: process.env["PW_FILE"], create: true, headLock: kind === "pg-advisory" ? "advisory" : "row" })
  await Effect.runPromise(
    Effect.gen(function* () {
      const log = yield* EventLog
      yield* Effect.sleep(Math.max(0, startAt - Date.now()))
      for (let i = 0; i < appends; i++) {
        yield* log.append([
          { type: "InputRejected", dedupeKey: `w${id}-${i}`, payload: { instance: "bench", line: i, reason: "bench", format: null, raw: "x".repeat(600), rawBytes: 600, truncated: false } }
        ])
      }
      console.log(Date.now())
    }).pipe(Effect.provide(layer))
  )
}

/**
 * `writers` processes of `appends` single-event appends each into `target` (a SQLite file or a
 * postgres:// URL, its password file in `passwordFile`): events per second, all writers together.
 */
export const concurrentAppends = (kind: WriterKind, target: string, options: { readonly writers: number; readonly appends: number; readonly passwordFile?: string }) =>
  new Promise<number>((resolve, reject) => {
    const startAt = Date.now() + START_DELAY_MS
    const ends: number[] = []
    let left = options.writers
    for (let w = 0; w < options.writers; w++) {
      const child = spawn(process.execPath, ["--import", "tsx", self, "--writer", kind, target, String(w), String(options.appends), String(startAt)], {
        cwd: root,
        env: { ...process.env, ...(options.passwordFile === undefined ? {} : { PW_FILE: options.passwordFile }) },
        stdio: ["ignore", "pipe", "inherit"]
      })
      let out = ""
      child.stdout.on("data", (b: Buffer) => (out += b.toString()))
      child.on("error", reject)
      child.on("close", (code) => {
        if (code !== 0) return reject(new Error(`${kind} writer exited ${code}`))
        ends.push(Number(out.trim()))
        if (--left === 0) resolve((options.writers * options.appends) / ((Math.max(...ends) - startAt) / 1000))
      })
    }
  })

if (process.argv[1] === self && process.argv[2] === "--writer") {
  const [kind, target, id, appends, startAt] = process.argv.slice(3) as [WriterKind, string, string, string, string]
  await writer(kind, target, id, Number(appends), Number(startAt))
  process.exit(0)
}
