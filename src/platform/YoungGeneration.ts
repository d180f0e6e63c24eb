/**
 * Holds V8's young generation where it is, for an `append` fed a very large stdin. Its live heap
 * stays small (one batch at a time), but while a batch's objects outlive a scavenge V8 keeps
 * doubling the young generation, up to 3 x 16 MiB: most of the resident memory of a million
 * detections in one stdin (measured: 205 MiB peak, 144 MiB with growth held at 300k lines, for
 * ~10% more time). Set once a stdin proves large (a few batches), so a single detection's `append` (Flowmon's
 * case) changes no V8 flag: the code cache is checked against them.
 */
import * as v8 from "node:v8"

let held = false

export const holdYoungGeneration = (): void => {
  if (held) return
  held = true
  try {
    v8.setFlagsFromString("--semi-space-growth-factor=1")
  } catch {
    // not this V8: memory grows as it would have
  }
}
