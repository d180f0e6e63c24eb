/**
 * What `serve` knows about itself, for /healthz and /metrics: counters since start, the last
 * reconcile pass, the last write to the log. Plain mutable state owned by one process.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { renderMetrics } from "../reconciler/metrics.js"
import type { PassRecord } from "../reconciler/passRecord.js"

/** applied: mitigator added it; present: it was there already; not_done: left to the next pass; not_recorded: applied, its outcome not written to the log */
export type ApplyResult = "applied" | "present" | "failed" | "not_done" | "not_recorded"

export class ServeState {
  readonly events = { stored: 0, duplicate: 0, rejected: 0 }
  warnings = 0
  decisions = 0
  readonly requests = new Map<number, number>()
  readonly applies = new Map<string, number>()
  /** adds and users waiting for the immediate apply */
  queueDepth = 0
  /** when the last event was stored (ms), or undefined */
  lastStoredAt: number | undefined
  /** the last write to the log failed with this (cleared by the next that succeeds) */
  lastWriteError: string | undefined
  lastPass: PassRecord | undefined

  constructor(
    readonly logFile: string,
    readonly startedAt: number,
    /** the reconcile interval; undefined when there is nothing to reconcile */
    readonly intervalMs: number | undefined,
    /** a SQLite log file whose writability health checks; false for a log on PostgreSQL (its failed writes show in lastWriteError) */
    readonly logIsFile = true
  ) {}

  answered(status: number): void {
    this.requests.set(status, (this.requests.get(status) ?? 0) + 1)
  }

  applied(target: string, result: ApplyResult, count: number): void {
    if (count === 0) return
    const key = `${target}|${result}`
    this.applies.set(key, (this.applies.get(key) ?? 0) + count)
  }

  /** 200 when the log can be written and passes come as often as they should; else 503 and why. */
  health(nowMs: number): { readonly ok: boolean; readonly reasons: ReadonlyArray<string>; readonly lastPassAt: string | null } {
    const reasons: string[] = []
    if (this.logIsFile) try {
      fs.accessSync(this.logFile, fs.constants.W_OK)
      // SQLite writes its journal beside the log.
      fs.accessSync(path.dirname(this.logFile), fs.constants.W_OK)
    } catch (e) {
      reasons.push(`the event log ${this.logFile} cannot be written: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
    }
    if (this.lastWriteError !== undefined) reasons.push(`the last write to the event log failed: ${this.lastWriteError}`)
    if (this.intervalMs !== undefined) {
      const since = this.lastPass === undefined ? this.startedAt : Math.max(this.startedAt, Date.parse(this.lastPass.lastPassAt))
      if (nowMs - since > 3 * this.intervalMs) {
        reasons.push(
          this.lastPass === undefined
            ? `no reconcile pass has ended since the start, ${Math.round((nowMs - since) / 1000)} s ago (interval ${this.intervalMs / 1000} s)`
            : `the last reconcile pass ended ${Math.round((nowMs - since) / 1000)} s ago (more than 3 intervals of ${this.intervalMs / 1000} s)`
        )
      }
    }
    return { ok: reasons.length === 0, reasons, lastPassAt: this.lastPass?.lastPassAt ?? null }
  }

  /** Prometheus text: serve's own counters, then the last pass's figures (as `reconcile --metrics-file` writes them). */
  metrics(nowMs: number): string {
    const families: Array<{ name: string; type: "counter" | "gauge"; help: string; samples: Array<[string, number]> }> = [
      {
        name: "mitigator_serve_events_total",
        type: "counter",
        help: "Flowmon lines received by POST /v1/events, by outcome.",
        samples: Object.entries(this.events).map(([outcome, n]) => [`{outcome="${outcome}"}`, n])
      },
      { name: "mitigator_serve_field_warnings_total", type: "counter", help: "Optional fields not read (kept raw) in stored detections.", samples: [["", this.warnings]] },
      { name: "mitigator_serve_decisions_total", type: "counter", help: "Blocks decided for the stored detections.", samples: [["", this.decisions]] },
      {
        name: "mitigator_serve_requests_total",
        type: "counter",
        help: "Answers to POST /v1/events, by status code.",
        samples: [...this.requests.entries()].sort(([a], [b]) => a - b).map(([code, n]) => [`{code="${code}"}`, n])
      },
      {
        name: "mitigator_serve_applies_total",
        type: "counter",
        help: "Changes of the immediate apply, by target and result (present: already on the list; not_done: left to the next pass; not_recorded: made, but its outcome not written to the log).",
        samples: [...this.applies.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, n]) => {
          const [target, result] = key.split("|")
          return [`{target="${target}",result="${result}"}`, n]
        })
      },
      { name: "mitigator_serve_apply_queue_depth", type: "gauge", help: "Blocks and users waiting for the immediate apply.", samples: [["", this.queueDepth]] },
      {
        name: "mitigator_serve_last_detection_age_seconds",
        type: "gauge",
        help: "Seconds since the last detection was stored; absent until one has.",
        samples: this.lastStoredAt === undefined ? [] : [["", (nowMs - this.lastStoredAt) / 1000]]
      },
      {
        name: "mitigator_last_pass_age_seconds",
        type: "gauge",
        help: "Seconds since the last reconcile pass ended; absent until one has.",
        samples: this.lastPass === undefined ? [] : [["", (nowMs - Date.parse(this.lastPass.lastPassAt)) / 1000]]
      }
    ]
    const own = families
      .filter((f) => f.samples.length > 0)
      .map((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.samples.map(([l, v]) => `${f.name}${l} ${v}`)].join("\n"))
      .join("\n")
    return `${own}\n${this.lastPass === undefined ? "" : renderMetrics(this.lastPass)}`
  }
}
