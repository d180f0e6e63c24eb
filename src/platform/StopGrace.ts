/**
 * How long a command may take to end after SIGTERM or SIGINT before bin.ts cuts it short (exit
 * 130). Most commands end at once when interrupted; `serve` finishes the batch it is writing and
 * the pass it is running first, within the 2 s systemd and operators expect.
 */
let graceMs = 800

export const stopGraceMs = (): number => graceMs

/** Lets this process take up to `ms` to end after a signal (never less than it had). */
export const allowStopGrace = (ms: number): void => {
  graceMs = Math.max(graceMs, ms)
}
