/**
 * Files replaced atomically (the head file, the pass record, the metrics file) are written
 * through a temporary file beside them. Whoever may write that directory (the account Flowmon
 * runs as) must not be able to make a run (a root one, say) overwrite another file through it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { writeFileAtomically, writePrivateFileAtomically } from "../../src/platform/AtomicFile.js"
import { tempDir } from "../support/cli.js"

describe("atomic file replacement", () => {
  it("given a symlink planted where a predictable temporary name would be, when a file is replaced, then the link's target is untouched", () => {
    const dir = tempDir("mitigator-atomic-")
    const victim = path.join(dir, "victim")
    fs.writeFileSync(victim, "not yours\n", { mode: 0o644 })
    const file = path.join(dir, "events.db.head")
    // The name the temporary file used to have: the target's name and this process's pid.
    fs.symlinkSync(victim, path.join(dir, `.events.db.head.${process.pid}.tmp`))

    writePrivateFileAtomically(file, "{\"seq\":1}\n")
    writeFileAtomically(path.join(dir, "metrics.prom"), "x 1\n")

    expect(fs.readFileSync(victim, "utf8")).toBe("not yours\n")
    expect(fs.statSync(victim).mode & 0o777).toBe(0o644)
    expect(fs.readFileSync(file, "utf8")).toBe("{\"seq\":1}\n")
    expect(fs.lstatSync(file).isFile()).toBe(true)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    // Nothing else is left behind but the planted link.
    expect(fs.readdirSync(dir).sort()).toEqual([".events.db.head." + process.pid + ".tmp", "events.db.head", "metrics.prom", "victim"].sort())
  })
})
