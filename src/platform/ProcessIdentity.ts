/**
 * Telling one process from another that later got the same pid: a pid alone names whatever
 * process has it *now*. On Linux a process is identified by its pid plus its start time (field 22
 * of /proc/<pid>/stat, in clock ticks since boot), within one boot (the kernel's boot id). Where
 * there is no /proc, these are null and only "is the pid alive" can be asked.
 */
import * as fs from "node:fs"
import * as os from "node:os"

/** Linux reports start times in USER_HZ ticks, 100 per second on every architecture Node runs on. */
const TICKS_PER_SECOND = 100

const readProc = (file: string): string | null => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return null
  }
}

/** This boot's id (changes at every reboot), or null without /proc. */
export const bootId = (): string | null => readProc("/proc/sys/kernel/random/boot_id")?.trim() || null

/**
 * When `pid` started, in clock ticks since boot (as text: it can exceed 2^53 in principle), or
 * null when that cannot be read (no such process, no /proc).
 */
export const startTicks = (pid: number): string | null => {
  const stat = readProc(`/proc/${pid}/stat`)
  if (stat === null) return null
  // Field 2 (the command name, in parentheses) may itself hold spaces and parentheses: count the
  // fields after its last ')', where field 3 begins.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const ticks = fields[22 - 3]
  return ticks !== undefined && /^\d+$/.test(ticks) ? ticks : null
}

/** When `pid` started, in ms since the epoch (to within a second), or null when unknown. */
export const startedAtMs = (pid: number): number | null => {
  const ticks = startTicks(pid)
  const btime = readProc("/proc/stat")?.match(/^btime (\d+)$/m)?.[1]
  return ticks === null || btime === undefined ? null : Number(btime) * 1000 + (Number(ticks) * 1000) / TICKS_PER_SECOND
}

/** Whether a process with this pid exists (one we may not signal counts). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Who this process is, for a lease: pid, start time, boot and host. */
export interface ProcessIdentity {
  readonly pid: number
  readonly startTicks: string | null
  readonly bootId: string | null
  readonly host: string
}

export const currentProcess = (): ProcessIdentity => ({
  pid: process.pid,
  startTicks: startTicks(process.pid),
  bootId: bootId(),
  host: os.hostname()
})
