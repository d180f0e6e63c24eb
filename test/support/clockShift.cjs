"use strict"
/**
 * A wrong wall clock for one real process, as an NTP step or a VM restore leaves it: preloaded
 * with NODE_OPTIONS="--require …/clockShift.cjs", it moves `Date` (and so Effect's Clock) by
 * MITIGATOR_TEST_CLOCK_SHIFT_MS milliseconds. Monotonic clocks (performance.now, hrtime) are left
 * alone, as on a real host whose wall clock jumps.
 */
const shift = Number(process.env.MITIGATOR_TEST_CLOCK_SHIFT_MS ?? "0")
if (Number.isFinite(shift) && shift !== 0) {
  const RealDate = Date
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + shift)
      else super(...args)
    }
    static now() {
      return RealDate.now() + shift
    }
  }
  globalThis.Date = ShiftedDate
}
