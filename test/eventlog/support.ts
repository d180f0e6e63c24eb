/** Helpers for the event log tests: real SQLite files in throw-away directories, raw connections, events. */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import type { FlowmonEventReceived, InputRejected, NewEvent } from "../../src/domain/Events.js"

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** A fresh, empty temporary directory, removed when the test file is done. */
export const freshDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-eventlog-"))
  dirs.push(dir)
  return dir
}

/** A path to a log file that does not exist yet, in a fresh directory. */
export const freshDb = (): string => path.join(freshDir(), "events.db")

/** Runs `f` with a second, raw better-sqlite3 connection on the same file (closed afterwards). */
export const withRaw = <A>(filename: string, f: (raw: Database.Database) => A): A => {
  const raw = new Database(filename)
  try {
    return f(raw)
  } finally {
    raw.close()
  }
}

/** A raw connection that may edit history: the append-only triggers are dropped first. */
export const tamper = <A>(filename: string, f: (raw: Database.Database) => A): A =>
  withRaw(filename, (raw) => {
    raw.exec("DROP TRIGGER events_refuse_update; DROP TRIGGER events_refuse_delete;")
    return f(raw)
  })

export type RawRow = {
  readonly seq: number
  readonly recorded_at: string
  readonly type: string
  readonly payload: string
  readonly dedupe_key: string | null
  readonly hash: string
}

export const rawRows = (filename: string): RawRow[] =>
  withRaw(filename, (raw) => raw.prepare("SELECT * FROM events ORDER BY seq").all() as RawRow[])

export const rejectedPayload = (line: number, overrides: Partial<InputRejected> = {}): InputRejected => ({
  instance: "fm01",
  line,
  reason: `line ${line} is not a Flowmon event`,
  format: null,
  raw: `garbage ${line}`,
  rawBytes: 9,
  truncated: false,
  ...overrides
})

/** A small event; `dedupeKey` null unless given. */
export const rejected = (line: number, dedupeKey: string | null = null): NewEvent => ({
  type: "InputRejected",
  payload: rejectedPayload(line),
  dedupeKey
})

/** A detection with nested objects, arrays, nulls, non-ASCII text and characters JSON must escape. */
export const detection = (eventId: string): FlowmonEventReceived => ({
  product: "ids",
  instance: "fm-č-01",
  eventId,
  detectedAt: "2025-11-03T15:21:00.000Z",
  firstFlowAt: null,
  method: null,
  subtype: null,
  mitre: null,
  description: "Potential Corporate Privacy Violation — \"quoted\" \\ back\tslash\nnewline 🙂",
  perspective: null,
  priority: "HIGH",
  severity: "2",
  detail: "",
  ports: "443",
  protocol: "TCP",
  source: "192.0.2.50",
  sourceName: null,
  targets: ["198.51.100.7", "2001:db8::2"],
  dataFeed: null,
  userIdentity: "",
  signature: { id: "2024217", name: "ET POLICY example signature" },
  ids: {
    lastSeen: "2025-11-03T15:21:07.000Z",
    sourcePort: "51514",
    targetPort: "443",
    category: "Potential Corporate Privacy Violation",
    logSourceIp: "203.0.113.10",
    logSourceInterface: "eth2"
  },
  cef: null,
  format: "tsv14",
  raw: "line\twith\ttabs"
})
