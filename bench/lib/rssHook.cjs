// Preloaded into every measured Node process (NODE_OPTIONS --require) to report its own peak RSS:
// Node cannot read a child's rusage. CommonJS: a preload must not add an ESM loader round-trip
// to the start-up being measured. One file per pid, so a launcher that starts another Node
// process reports both.
//
// VmHWM, not process.resourceUsage().maxRSS: on Linux, maxRSS survives exec and starts from the
// high-water mark of the process that spawned it (the bench, with its emulators and generated
// logs: 400 MiB in the parent showed as 404 MiB in a `node -e 0` whose own peak was 40 MiB).
"use strict"
const out = process.env.MITIGATOR_BENCH_RSS
if (out) {
  process.on("exit", () => {
    const fs = require("node:fs")
    let kib
    try {
      kib = Number(/^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/self/status", "utf8"))[1])
    } catch {
      kib = process.resourceUsage().maxRSS // no /proc (not Linux): may include the parent's, see above
    }
    try {
      fs.writeFileSync(`${out}.${process.pid}`, String(kib))
    } catch {
      // the figure is lost, not the run
    }
  })
}
