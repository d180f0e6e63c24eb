/**
 * Replacing a file's content all at once: readers (a Prometheus textfile collector, `status`)
 * see the old file or the new one, never half of one. Written beside the target, synced, renamed.
 */
import * as fs from "node:fs"
import * as path from "node:path"

interface Owner {
  readonly uid: number
  readonly gid: number
}

const replace = (file: string, content: string, mode: number, exact: boolean, owner?: Owner): void => {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  const fd = fs.openSync(temporary, "w", mode)
  try {
    // The mode given to open is cut by the umask and ignored for a file left over by a crash.
    if (exact) fs.fchmodSync(fd, mode)
    if (owner !== undefined) fs.fchownSync(fd, owner.uid, owner.gid)
    fs.writeSync(fd, content)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    fs.renameSync(temporary, file)
  } catch (e) {
    fs.rmSync(temporary, { force: true })
    throw e
  }
}

/** Created with `mode`, less what the umask takes away. */
export const writeFileAtomically = (file: string, content: string, mode = 0o644): void => replace(file, content, mode, false)

/**
 * Mode 0600, whatever the umask: for files only mitigator's user may read or write. Run as root,
 * the file goes to `owner` (as SQLite gives a root process's -wal and -shm files to the
 * database's owner), so a root `reconcile` does not lock the user's `append` out of it.
 */
export const writePrivateFileAtomically = (file: string, content: string, owner?: Owner): void =>
  replace(file, content, 0o600, true, owner !== undefined && process.geteuid?.() === 0 ? owner : undefined)
