/**
 * Taking over the blocks of Progress' `lm-block.py` / `lm-timeout.py` scripts. Their SQLite
 * table `data(ip, event, vsid, ttl)` holds one row per blocked address: the ADS event id, the
 * virtual service index (NULL: the global list) and the hours left (`lm-timeout.py` subtracts its
 * run interval from `ttl` and deletes the entry once `ttl` is at or under that interval).
 *
 * Each row becomes an operator block with the hours left, carrying a take-over claim: the entry
 * the legacy script put on the LoadMaster is adopted by the next reconcile that sees it (so it is
 * lifted when the block ends) instead of being added a second time. Pure: time is a parameter.
 */
import { parseCidr } from "./Cidr.js"
import { formatDuration, MAX_DURATION_MS, MAX_DURATION_TEXT } from "./Duration.js"
import type { NewEventOf } from "./Events.js"
import { quote, rejectedRaw } from "./SafeText.js"
import { instantAfter } from "./Time.js"

/** One row as SQLite returned it (the legacy schema declares types SQLite does not enforce). */
export interface LegacyRow {
  readonly rowid: number
  readonly ip: unknown
  readonly event: unknown
  readonly vsid: unknown
  readonly ttl: unknown
}

export const LEGACY_SOURCE = "lm-timeout.py"

const HOUR = 3_600_000

export interface LegacyImport {
  /** one BlockRequested per good row, one InputRejected per bad one, in row order */
  readonly events: ReadonlyArray<NewEventOf<"BlockRequested" | "InputRejected">>
}

const show = (value: unknown): string =>
  value === null ? "NULL" : typeof value === "string" ? quote(value) : typeof value === "object" ? "a blob" : String(value)

/** A whole number from an INTEGER column (SQLite may hand back text or a float for it). */
const wholeNumber = (value: unknown): number | undefined => {
  const n = typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : typeof value === "string" && /^\s*-?[0-9]{1,12}\s*$/.test(value) ? Number(value) : NaN
  return Number.isSafeInteger(n) ? n : undefined
}

type Checked =
  | { readonly ok: true; readonly target: string; readonly cidr: string; readonly event: string; readonly ttlHours: number }
  | { readonly ok: false; readonly reason: string }

const checkRow = (row: LegacyRow): Checked => {
  if (typeof row.ip !== "string") return { ok: false, reason: `ip is ${show(row.ip)}, not an address` }
  const cidr = parseCidr(row.ip)
  if (!cidr.ok) return { ok: false, reason: `ip: ${cidr.error}` }
  const event = typeof row.event === "string" || typeof row.event === "number" ? String(row.event) : undefined
  if (event === undefined) return { ok: false, reason: `event is ${show(row.event)}, not an event id` }
  let target = "loadmaster:global"
  if (row.vsid !== null) {
    const vs = wholeNumber(row.vsid)
    if (vs === undefined || vs < 0 || vs > 999_999_999) {
      return { ok: false, reason: `vsid is ${show(row.vsid)}: expected a virtual service index (a whole number) or NULL for the global list` }
    }
    target = `loadmaster:vs:${vs}`
  }
  const ttlHours = wholeNumber(row.ttl)
  if (ttlHours === undefined) return { ok: false, reason: `ttl is ${show(row.ttl)}: expected the hours left, a whole number` }
  if (ttlHours * HOUR > MAX_DURATION_MS) {
    return { ok: false, reason: `ttl is ${ttlHours} hours: longer than the ceiling of ${MAX_DURATION_TEXT} (${MAX_DURATION_MS / HOUR} hours)` }
  }
  return { ok: true, target, cidr: cidr.value.text, event, ttlHours }
}

/** The row as recorded in an InputRejected: its columns as JSON (bigints and blobs shown as text). */
const rawOf = (row: LegacyRow): Uint8Array =>
  new TextEncoder().encode(
    JSON.stringify({ ip: row.ip, event: row.event, vsid: row.vsid, ttl: row.ttl }, (_k, v: unknown) =>
      typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? `<blob of ${v.length} bytes>` : v
    )
  )

/**
 * The events that take over `rows` at `importedAt`. A row with no hours left is imported as
 * already ended: its take-over claim lets the next reconcile lift the legacy entry.
 */
export const importLegacyRows = (
  rows: Iterable<LegacyRow>,
  importedAt: string,
  options: { readonly database: string; readonly actor: string }
): LegacyImport => {
  const events: Array<NewEventOf<"BlockRequested" | "InputRejected">> = []
  for (const row of rows) {
    const checked = checkRow(row)
    if (!checked.ok) {
      const bytes = rawOf(row)
      const kept = rejectedRaw(bytes)
      events.push({
        type: "InputRejected",
        dedupeKey: null,
        payload: {
          instance: `${LEGACY_SOURCE} ${options.database}`,
          line: row.rowid,
          reason: `row ${row.rowid}: ${checked.reason}`,
          format: null,
          raw: kept.raw,
          rawBytes: bytes.length,
          truncated: kept.truncated
        }
      })
      continue
    }
    const left = Math.max(0, checked.ttlHours) * HOUR
    events.push({
      type: "BlockRequested",
      // The same row imported twice (the legacy table keeps one row per address) is recorded once.
      dedupeKey: `${LEGACY_SOURCE}:${checked.target}|${checked.cidr}|${checked.event}`,
      payload: {
        target: checked.target,
        subject: { kind: "ip", cidr: checked.cidr },
        until: instantAfter(Date.parse(importedAt), left),
        ttl: left === 0 ? "0s" : formatDuration(left),
        actor: options.actor,
        reason: `imported from ${LEGACY_SOURCE} (ADS event ${checked.event}, ${checked.ttlHours} h left)`,
        takeOver: { from: LEGACY_SOURCE, database: options.database, event: checked.event, ttlHours: checked.ttlHours }
      }
    })
  }
  return { events }
}
