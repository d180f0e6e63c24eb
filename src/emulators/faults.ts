/**
 * The network faults both emulators inject before a call runs: a delay on every call, a longer
 * one on some, a connection reset, a 503. Each emulator answers the 503 in its own shape.
 */

export interface NetworkFaults {
  /** delay before every answer (and before a reset or 503) */
  readonly latencyMs?: number | undefined
  /** 0..1 and ms: the share of calls delayed by `spikeMs` (default 500) on top of `latencyMs` */
  readonly spikeRate?: number | undefined
  readonly spikeMs?: number | undefined
  /** 0..1: the share of calls whose connection is destroyed without an answer */
  readonly resetRate?: number | undefined
  /** 0..1: the share of calls answered 503 */
  readonly failRate?: number | undefined
}

const unitInterval = (name: string, value: number | undefined): void => {
  if (value !== undefined && !(value >= 0 && value <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${value}`)
}

const notNegative = (name: string, value: number | undefined): void => {
  if (value !== undefined && !(value >= 0)) throw new RangeError(`${name} must be 0 or more`)
}

/** Refuses rates outside 0..1 and negative delays (`extraRates`: an emulator's own rates). */
export const checkFaults = (faults: NetworkFaults, extraRates: Readonly<Record<string, number | undefined>> = {}): void => {
  for (const [name, rate] of Object.entries({ failRate: faults.failRate, resetRate: faults.resetRate, spikeRate: faults.spikeRate, ...extraRates })) {
    unitInterval(`faults.${name}`, rate)
  }
  notNegative("faults.latencyMs", faults.latencyMs)
  notNegative("faults.spikeMs", faults.spikeMs)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const happens = (rate: number | undefined, random: () => number): boolean => rate !== undefined && rate > 0 && random() < rate

/** Waits as the faults say, then: "reset" (drop the connection), "fail" (answer 503), or nothing. */
export const networkFault = async (faults: NetworkFaults, random: () => number): Promise<"reset" | "fail" | undefined> => {
  if (faults.latencyMs !== undefined && faults.latencyMs > 0) await sleep(faults.latencyMs)
  if (happens(faults.spikeRate, random)) await sleep(faults.spikeMs ?? 500)
  if (happens(faults.resetRate, random)) return "reset"
  if (happens(faults.failRate, random)) return "fail"
  return undefined
}

/** Whether a call that ran loses its answer (`lostAnswerRate`). */
export const answerLost = (rate: number | undefined, random: () => number): boolean => happens(rate, random)
