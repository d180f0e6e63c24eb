/** The last pass as Prometheus text exposition (for node_exporter's textfile collector and alike). */
import type { PassRecord, TargetFigures } from "./passRecord.js"

const label = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

const seconds = (iso: string): string => String(Date.parse(iso) / 1000)

interface Family {
  readonly name: string
  readonly help: string
  readonly samples: ReadonlyArray<readonly [labels: string, value: string]>
}

const perTarget = (record: PassRecord, name: string, help: string, pick: (f: TargetFigures) => number | null): Family => ({
  name,
  help,
  samples: Object.entries(record.targets)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .flatMap(([target, figures]) => {
      const value = pick(figures)
      return value === null ? [] : [[`{target="${label(target)}"}`, String(value)] as const]
    })
})

export const renderMetrics = (record: PassRecord): string => {
  const families: Family[] = [
    perTarget(record, "mitigator_desired_entries", "Blocks in force that belong on the target.", (f) => f.desired),
    perTarget(record, "mitigator_actual_entries", "Entries listed on the target at the last pass, including those mitigator did not add.", (f) => f.actual),
    perTarget(record, "mitigator_drift_entries", "Changes the last pass found necessary on the target.", (f) => f.drift),
    perTarget(record, "mitigator_applied_changes", "Changes the last pass made on the target.", (f) => f.applied),
    perTarget(record, "mitigator_failed_changes", "Changes or list calls that failed in the last pass (retried next pass).", (f) => f.failed),
    { name: "mitigator_last_pass_converged", help: "1 when the last pass left every target as desired.", samples: [["", record.lastPassConverged ? "1" : "0"]] },
    { name: "mitigator_last_pass_timestamp_seconds", help: "When the last pass ended (Unix time).", samples: [["", seconds(record.lastPassAt)]] },
    { name: "mitigator_last_pass_duration_seconds", help: "How long the last pass took.", samples: [["", String(record.lastPassDurationMs / 1000)]] },
    {
      name: "mitigator_last_success_timestamp_seconds",
      help: "When the last pass that converged ended (Unix time); absent until one has.",
      samples: record.lastSuccessAt === null ? [] : [["", seconds(record.lastSuccessAt)]]
    },
    { name: "mitigator_reconcile_interval_seconds", help: "The time expected between passes.", samples: [["", String(record.intervalMs / 1000)]] }
  ]
  return families
    .filter((f) => f.samples.length > 0)
    .map((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`, ...f.samples.map(([l, v]) => `${f.name}${l} ${v}`)].join("\n"))
    .join("\n") + "\n"
}
