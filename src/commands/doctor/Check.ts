/**
 * One line of `mitigator doctor`: a named check that passed, passed with something to know
 * (warn), or failed with the one fix that works; and the two ways it is printed (text, JSON).
 */

export type Status = "pass" | "warn" | "fail"

export interface Check {
  /** stable, for scripts: `log`, `loadmaster.api`, … */
  readonly name: string
  readonly status: Status
  /** what was found */
  readonly detail: string
  /** fail: the change that makes it pass */
  readonly fix?: string
  /** warn: what the limit means, and what lifts it when something can */
  readonly note?: string
  /** more lines under the detail (`certificate: sha256 …`) */
  readonly more?: ReadonlyArray<string>
}

export const pass = (name: string, detail: string, more?: ReadonlyArray<string>): Check => ({ name, status: "pass", detail, ...(more === undefined ? {} : { more }) })
export const warn = (name: string, detail: string, note: string): Check => ({ name, status: "warn", detail, note })
export const fail = (name: string, detail: string, fix: string, more?: ReadonlyArray<string>): Check => ({
  name,
  status: "fail",
  detail,
  fix,
  ...(more === undefined ? {} : { more })
})

const MARK: Record<Status, string> = { pass: "✔", warn: "!", fail: "✖" }

export const renderText = (checks: ReadonlyArray<Check>): string => {
  const lines = checks.map((c) => {
    const more = (c.more ?? []).map((m) => `\n    ${m}`).join("")
    const after = c.status === "fail" ? `\n    fix: ${c.fix}` : c.status === "warn" ? `\n    note: ${c.note}` : ""
    return `${MARK[c.status]} ${c.detail}${more}${after}`
  })
  return [...lines, summary(checks)].join("\n")
}

const summary = (checks: ReadonlyArray<Check>): string => {
  const failed = checks.filter((c) => c.status === "fail").length
  const warned = checks.filter((c) => c.status === "warn").length
  const warnings = warned === 0 ? "" : ` (${warned} with a warning)`
  return failed === 0 ? `doctor: all ${checks.length} checks passed${warnings}` : `doctor: ${failed} of ${checks.length} checks failed${warnings}`
}

/** `{ ok, checks: [{ name, status, detail, fix?, note? }] }`, in the order the checks ran; the extra lines join the detail. */
export const renderJson = (checks: ReadonlyArray<Check>): string =>
  JSON.stringify({
    ok: isOk(checks),
    checks: checks.map((c) => ({
      name: c.name,
      status: c.status,
      detail: [c.detail, ...(c.more ?? [])].join("\n"),
      ...(c.fix === undefined ? {} : { fix: c.fix }),
      ...(c.note === undefined ? {} : { note: c.note })
    }))
  })

export const isOk = (checks: ReadonlyArray<Check>): boolean => checks.every((c) => c.status !== "fail")
