"use strict"
/**
 * better-sqlite3 as the bundle loads it (build.ts points every `import "better-sqlite3"` here).
 * Flowmon starts `append` once per detection, so two costs of each start are avoided:
 * - its native addon is required by its path, which skips the `bindings` package's search
 *   through a dozen candidate paths on every open (about 13 ms);
 * - its JavaScript (lib/, a dozen small files) is inside the bundle, compiled with the bundle's
 *   code cache, instead of found, read and compiled one file at a time by Node's loader (about
 *   10 ms on the reference machine).
 * An addon that is not at that path (a debug build) is found the usual way, with the package as
 * installed.
 */
let addon
try {
  addon = require("better-sqlite3/build/Release/better_sqlite3.node")
} catch {
  addon = undefined
}

if (addon === undefined) {
  module.exports = require("better-sqlite3")
} else {
  const Database = require("better-sqlite3/lib/index.js")
  module.exports = new Proxy(Database, {
    construct: (target, [filename, options]) => new target(filename, { nativeBinding: addon, ...options })
  })
}
