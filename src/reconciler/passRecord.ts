/**
 * What the last reconcile pass did, kept in a small file beside the event log
 * (`<log>.reconcile.json`) rather than in the log: a pass a minute would add half a million
 * events a year that say nothing new. `status` reads it to show the last successful reconcile and
 * to warn when it is stale; `--metrics-file` renders it for Prometheus.
 */
import { writeFileAtomically } from "../platform/AtomicFile.js"
import { readRegularFile } from "../platform/RegularFile.js"

/** One target's figures at the last pass. */
export interface TargetFigures {
  /** blocks in force that belong there */
  readonly desired: number
  /** entries listed there (all of them, also those mitigator did not add); null: could not list */
  readonly actual: number | null
  /** changes the pass found necessary: missing entries, ended ones still there, lifted by hand */
  readonly drift: number
  readonly applied: number
  readonly failed: number
}

export interface PassRecord {
  readonly version: 1
  readonly lastPassAt: string
  readonly lastPassDurationMs: number
  readonly lastPassConverged: boolean
  /** the end of the last pass that converged; null: none yet */
  readonly lastSuccessAt: string | null
  /** the time between passes reconcile was told to expect (--interval; cron: its schedule) */
  readonly intervalMs: number
  readonly targets: Readonly<Record<string, TargetFigures>>
}

export const passRecordFile = (logFile: string): string => `${logFile}.reconcile.json`

const isRecord = (value: unknown): value is PassRecord => {
  const r = value as Partial<PassRecord> | null
  return (
    typeof r === "object" &&
    r !== null &&
    r.version === 1 &&
    typeof r.lastPassAt === "string" &&
    typeof r.lastPassDurationMs === "number" &&
    typeof r.lastPassConverged === "boolean" &&
    (r.lastSuccessAt === null || typeof r.lastSuccessAt === "string") &&
    typeof r.intervalMs === "number" &&
    typeof r.targets === "object" &&
    r.targets !== null
  )
}

/** The record beside `logFile`, or undefined when there is none (or it is unreadable). */
export const readPassRecord = (logFile: string): PassRecord | undefined => {
  try {
    // Never blocks: a named pipe in its place is no record (and must not hang `status`).
    const parsed: unknown = JSON.parse(readRegularFile(passRecordFile(logFile)).toString("utf8"))
    return isRecord(parsed) ? parsed : undefined
  } catch {
    return undefined
  }
}

/** The record after a pass that ended at `endedAt`; a pass that did not converge keeps the last success. */
export const nextPassRecord = (
  previous: PassRecord | undefined,
  pass: { readonly startedAt: number; readonly endedAt: number; readonly converged: boolean; readonly intervalMs: number; readonly targets: Readonly<Record<string, TargetFigures>> }
): PassRecord => ({
  version: 1,
  lastPassAt: new Date(pass.endedAt).toISOString(),
  lastPassDurationMs: pass.endedAt - pass.startedAt,
  lastPassConverged: pass.converged,
  lastSuccessAt: pass.converged ? new Date(pass.endedAt).toISOString() : (previous?.lastSuccessAt ?? null),
  intervalMs: pass.intervalMs,
  targets: pass.targets
})

export const writePassRecord = (logFile: string, record: PassRecord): void =>
  writeFileAtomically(passRecordFile(logFile), JSON.stringify(record, null, 2) + "\n", 0o640)
