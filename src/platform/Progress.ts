/**
 * Progress on long work (folding millions of events, a first convergence of thousands of
 * entries), shown on stderr only when stderr is a terminal: one line, redrawn in place, that
 * appears only once the work has taken longer than `delayMs` and is erased when it ends.
 * Commands that want it provide `ttyProgress`; without it, nothing is shown.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

export interface ProgressBar {
  readonly update: (done: number) => void
  readonly finish: () => void
}

export class ProgressReporter extends Context.Tag("mitigator/ProgressReporter")<
  ProgressReporter,
  {
    /** false when nothing would be shown (not a terminal): hot loops can skip counting */
    readonly active: boolean
    readonly start: (label: string, total?: number) => ProgressBar
  }
>() {}

const silent: ProgressBar = { update: () => {}, finish: () => {} }

/** A bar for `label`, or undefined when nothing would be shown (no reporter, or not a terminal). */
export const startProgress = (label: string, total?: number): Effect.Effect<ProgressBar | undefined> =>
  Effect.map(Effect.serviceOption(ProgressReporter), (reporter) =>
    Option.isSome(reporter) && reporter.value.active ? reporter.value.start(label, total) : undefined
  )

export interface TerminalLike {
  readonly isTTY?: boolean | undefined
  readonly write: (text: string) => unknown
}

const count = (n: number): string => n.toLocaleString("en-US")

/** Progress lines on `terminal` (a TTY only), after `delayMs`, redrawn at most every `everyMs`. */
export const terminalReporter = (
  terminal: TerminalLike,
  options: { readonly delayMs?: number; readonly everyMs?: number; readonly now?: () => number } = {}
) => ({
  active: terminal.isTTY === true,
  start: (label: string, total?: number): ProgressBar => {
    if (terminal.isTTY !== true) return silent
    const now = options.now ?? Date.now
    const started = now()
    let drawn = 0
    let shown = false
    return {
      update: (done) => {
        const t = now()
        if (t - started < (options.delayMs ?? 500) || t - drawn < (options.everyMs ?? 200)) return
        drawn = t
        shown = true
        const of = total === undefined ? "" : ` of ${count(total)} (${Math.floor((100 * done) / Math.max(1, total))}%)`
        const rate = Math.round((done * 1000) / Math.max(1, t - started))
        terminal.write(`\r\x1b[2K${label}: ${count(done)}${of}, ${count(rate)}/s`)
      },
      finish: () => {
        if (shown) terminal.write("\r\x1b[2K")
      }
    }
  }
})

export const ttyProgress = Layer.sync(ProgressReporter, () => terminalReporter(process.stderr))
