"use strict"
/**
 * better-sqlite3 as the bundle loads it (build.ts points every `import "better-sqlite3"` here):
 * the same module, with its native addon required by its path, which skips the `bindings`
 * package's search through a dozen candidate paths on every open: about 13 ms of each start, and
 * Flowmon starts `append` once per detection. An addon that is not at that path (a debug build)
 * is found the usual way.
 */
const Database = require("better-sqlite3")

let addon
try {
  addon = require("better-sqlite3/build/Release/better_sqlite3.node")
} catch {
  addon = undefined
}

module.exports =
  addon === undefined
    ? Database
    : new Proxy(Database, {
        construct: (target, [filename, options]) => new target(filename, { nativeBinding: addon, ...options })
      })
