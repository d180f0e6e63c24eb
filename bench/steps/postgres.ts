/**
 * The log on PostgreSQL beside the log on SQLite, in the same run, on the same machine: a
 * throwaway PostgreSQL server (test/support/postgres.ts) started durable (fsync,
 * synchronous_commit and full-page writes on, as a production server runs), against SQLite's WAL
 * with synchronous=FULL. Each comparison alternates the two, which goes first swapping each
 * round; the first round is a warm-up (it creates the schema, activates the policy).
 *
 * - ingest: N TSV detections through one stdin, `append --defer`, into a fresh log each round;
 * - time to block: `append` of one new detection, process start until exit, its block on a
 *   LoadMaster emulator over TLS by then (asserted), as the growth step measures it;
 * - concurrent appenders: three processes appending single-event transactions at once
 *   (bench/lib/concurrentAppend.ts), the events per second of all three.
 *
 * Informative: no target; the bench fails only when the work was not done.
 *   tsx bench/steps/postgres.ts [--quick]     (this step alone; needs dist/, `npm run build`)
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startPostgres, type PgDatabase, type PgServer } from "../../test/support/postgres.js"
import { concurrentAppends } from "../lib/concurrentAppend.js"
import { startBenchLoadMaster, type BenchLoadMaster } from "../lib/loadmaster.js"
import { removeLog } from "../lib/logs.js"
import { mitigatorArgs, runProcess, setScratch, type Sample } from "../lib/proc.js"
import { progress, stats, type Stats } from "../lib/stats.js"
import { tsvInput, tsvLine } from "../lib/tsv.js"

export interface PostgresSettings {
  readonly ingestEvents: number
  readonly ingestRuns: number
  readonly blockRuns: number
  readonly appenders: number
  readonly appendsEach: number
  readonly appendRuns: number
}

export const QUICK: PostgresSettings = { ingestEvents: 5_000, ingestRuns: 2, blockRuns: 3, appenders: 3, appendsEach: 100, appendRuns: 1 }
export const FULL: PostgresSettings = { ingestEvents: 100_000, ingestRuns: 3, blockRuns: 10, appenders: 3, appendsEach: 500, appendRuns: 3 }

/** Runs `sqlite` and `postgres` once per round, in alternating order; the first round uncounted. */
const alternate = async <A>(rounds: number, label: string, sqlite: (round: number) => Promise<A>, postgres: (round: number) => Promise<A>, show: (a: A) => string) => {
  const out = { sqlite: [] as A[], postgres: [] as A[] }
  for (let round = 0; round <= rounds; round++) {
    let s: A
    let p: A
    if (round % 2 === 0) {
      s = await sqlite(round)
      p = await postgres(round)
    } else {
      p = await postgres(round)
      s = await sqlite(round)
    }
    if (round === 0) continue
    out.sqlite.push(s)
    out.postgres.push(p)
    progress(`postgres: ${label}: round ${round}/${rounds}: SQLite ${show(s)}, PostgreSQL ${show(p)}`)
  }
  return out
}

/** The median of PostgreSQL over the median of SQLite. */
const versus = (postgres: Stats, sqlite: Stats) => postgres.median / sqlite.median

let nextDetection = 3_000_000 // above every other step's detections: a new source each time

export const postgres = async (dir: string, settings: PostgresSettings) => {
  progress("postgres: starting a durable PostgreSQL server (fsync on)")
  const server: PgServer = await startPostgres({ durable: true })
  const version = server.admin("postgres", "SHOW server_version")[0]?.[0] ?? "?"
  const emulators: BenchLoadMaster[] = []
  try {
    const pgRun = (db: PgDatabase, ...args: string[]) => (options: { stdin: Buffer | string }) =>
      runProcess(mitigatorArgs(...args, "--db", db.url), { ...options, env: db.env })

    // Ingest: a fresh log each round on both sides.
    const input = tsvInput(settings.ingestEvents)
    progress(`postgres: ingest of ${settings.ingestEvents.toLocaleString("en-US")} lines, ${settings.ingestRuns} rounds`)
    const ingest = await alternate(
      settings.ingestRuns,
      "ingest",
      async (round) => {
        const db = path.join(dir, `pg-step-ingest-${round}.db`)
        const sample = await runProcess(mitigatorArgs("append", "--defer", "--db", db, "--instance", "bench"), { stdin: input })
        removeLog(db)
        return sample
      },
      async () => pgRun(await server.createDatabase("ingest"), "append", "--defer", "--instance", "bench")({ stdin: input }),
      (s: Sample) => `${Math.round(s.ms)} ms`
    )

    // Time to block: one log per backend, the same rule, each its own emulator over TLS.
    const sqliteLm = await startBenchLoadMaster(dir, "pg-step-sqlite", { tls: true })
    emulators.push(sqliteLm)
    const pgLm = await startBenchLoadMaster(dir, "pg-step-postgres", { tls: true })
    emulators.push(pgLm)
    const sqliteDb = path.join(dir, "pg-step-block.db")
    const pgDb = await server.createDatabase("block")
    const timeToBlock = async (lm: BenchLoadMaster, db: string, env: Record<string, string> | undefined) => {
      const before = lm.emulator.entries("global").length
      const sample = await runProcess(mitigatorArgs("append", "--db", db, "--config", lm.config, "--instance", "bench"), {
        stdin: tsvLine(nextDetection++),
        ...(env === undefined ? {} : { env })
      })
      const after = lm.emulator.entries("global").length
      if (after !== before + 1) throw new Error(`postgres step: append exited but the block is not on the emulator (${before} → ${after} entries)`)
      return sample
    }
    progress(`postgres: time to block, ${settings.blockRuns} rounds`)
    const block = await alternate(
      settings.blockRuns,
      "time to block",
      () => timeToBlock(sqliteLm, sqliteDb, undefined),
      () => timeToBlock(pgLm, pgDb.url, pgDb.env),
      (s: Sample) => `${Math.round(s.ms)} ms`
    )

    // Concurrent appenders: a fresh log each round.
    progress(`postgres: ${settings.appenders} concurrent appenders x ${settings.appendsEach} single-event appends, ${settings.appendRuns} rounds`)
    const appenders = await alternate(
      settings.appendRuns,
      "concurrent appenders",
      (round) => {
        const db = path.join(dir, `pg-step-concurrent-${round}.db`)
        return concurrentAppends("sqlite", db, { writers: settings.appenders, appends: settings.appendsEach }).finally(() => removeLog(db))
      },
      async () => {
        const db = await server.createDatabase("concurrent")
        return concurrentAppends("pg-advisory", db.url, { writers: settings.appenders, appends: settings.appendsEach, passwordFile: db.passwordFile })
      },
      (perSecond: number) => `${Math.round(perSecond)} events/s`
    )

    const ms = (samples: ReadonlyArray<Sample>) => stats(samples.map((s) => s.ms))
    const ingestMs = { sqlite: ms(ingest.sqlite), postgres: ms(ingest.postgres) }
    const blockMs = { sqlite: ms(block.sqlite), postgres: ms(block.postgres) }
    const appendsPerSecond = { sqlite: stats(appenders.sqlite), postgres: stats(appenders.postgres) }
    return {
      what:
        `the log on PostgreSQL ${version} (a local server, durable: fsync, synchronous_commit and full_page_writes on) beside SQLite (WAL, synchronous=FULL), ` +
        "alternating, the first round uncounted",
      server: { version, durable: true },
      ingest: {
        events: settings.ingestEvents,
        sqliteMs: ingestMs.sqlite,
        postgresMs: ingestMs.postgres,
        eventsPerSecond: { sqlite: settings.ingestEvents / (ingestMs.sqlite.median / 1000), postgres: settings.ingestEvents / (ingestMs.postgres.median / 1000) },
        postgresVsSqlite: versus(ingestMs.postgres, ingestMs.sqlite)
      },
      timeToBlock: { sqliteMs: blockMs.sqlite, postgresMs: blockMs.postgres, postgresVsSqlite: versus(blockMs.postgres, blockMs.sqlite) },
      concurrentAppends: {
        writers: settings.appenders,
        appendsEach: settings.appendsEach,
        sqliteEventsPerSecond: appendsPerSecond.sqlite,
        postgresEventsPerSecond: appendsPerSecond.postgres,
        postgresVsSqlite: versus(appendsPerSecond.postgres, appendsPerSecond.sqlite)
      }
    }
  } finally {
    await Promise.all(emulators.map((lm) => lm.emulator.close()))
    server.stop()
  }
}

export type PostgresResult = Awaited<ReturnType<typeof postgres>>

// This step alone (not what `npm run bench` runs): prints its figures as JSON.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-bench-pg-"))
  setScratch(dir)
  postgres(dir, process.argv.includes("--quick") ? QUICK : FULL)
    .then((result) => console.log(JSON.stringify(result, null, 2)))
    .catch((e) => {
      console.error(e)
      process.exitCode = 1
    })
    .finally(() => fs.rmSync(dir, { recursive: true, force: true }))
}
