// Preloaded into every measured Node process (NODE_OPTIONS --require) to report its own peak RSS:
// Node cannot read a child's rusage. One file per pid, so a launcher that starts another Node
// process reports both and the bench keeps the larger. CommonJS: a preload must not add an ESM
// loader round-trip to the start-up being measured.
"use strict"
const out = process.env.MITIGATOR_BENCH_RSS
if (out) {
  process.on("exit", () => {
    try {
      require("node:fs").writeFileSync(`${out}.${process.pid}`, String(process.resourceUsage().maxRSS))
    } catch {
      // the figure is lost, not the run
    }
  })
}
