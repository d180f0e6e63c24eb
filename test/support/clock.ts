/**
 * Time passing for real processes, without waiting for it: every process started with
 * `clockAhead(ms)` in its environment sees its wall clock `ms` ahead (test/support/clockShift.cjs,
 * preloaded). A workspace's `passTime` uses it so that "the block has expired" does not depend on
 * how fast the machine runs the steps before it. Keep a shift under a minute where an appliance
 * emulator answers with its own `Date`: reconcile holds removals when the two disagree by more.
 */
import { fileURLToPath } from "node:url"

const CLOCK_SHIFT = fileURLToPath(new URL("./clockShift.cjs", import.meta.url))

export const clockAhead = (ms: number): Record<string, string> =>
  ms === 0 ? {} : { NODE_OPTIONS: `--require ${CLOCK_SHIFT}`, MITIGATOR_TEST_CLOCK_SHIFT_MS: String(Math.round(ms)) }

/** A clock for a workspace's processes: starts at the real time, moved forward by `pass`. */
export const virtualClock = () => {
  let aheadMs = 0
  return {
    /** Time passes for every later process of the workspace. */
    pass: (ms: number) => {
      aheadMs += Math.max(0, ms)
    },
    /** Time passes until just after `iso` (by `marginMs`), measured on this process's real clock. */
    passUntilAfter: (iso: string, marginMs = 1000) => {
      aheadMs = Math.max(aheadMs, Date.parse(iso) + marginMs - Date.now())
    },
    now: () => new Date(Date.now() + aheadMs).toISOString(),
    env: (extra: Record<string, string> | undefined) => ({ ...clockAhead(aheadMs), ...extra })
  }
}
