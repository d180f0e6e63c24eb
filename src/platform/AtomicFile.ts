/**
 * Replacing a file's content all at once: readers (a Prometheus textfile collector, `status`)
 * see the old file or the new one, never half of one. Written beside the target, synced, renamed.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

interface Owner {
  readonly uid: number
  readonly gid: number
}

/**
 * A temporary file beside `file` that this call created itself: a fresh random name, created
 * exclusively and never through a symlink. A name anyone could guess (the pid) and an open that
 * follows links let whoever may write the directory plant a link there, and have a root run
 * overwrite, chmod and chown the file it points to.
 */
const createTemporary = (file: string, mode: number): { readonly name: string; readonly fd: number } => {
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants
  for (let attempt = 0; ; attempt++) {
    const name = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomBytes(8).toString("hex")}.tmp`)
    try {
      return { name, fd: fs.openSync(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode) }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 5) throw e
    }
  }
}

const replace = (file: string, content: string, mode: number, exact: boolean, owner?: Owner): void => {
  const { name: temporary, fd } = createTemporary(file, mode)
  try {
    // The mode given to open is cut by the umask.
    if (exact) fs.fchmodSync(fd, mode)
    if (owner !== undefined) fs.fchownSync(fd, owner.uid, owner.gid)
    fs.writeSync(fd, content)
    fs.fsyncSync(fd)
  } catch (e) {
    fs.closeSync(fd)
    fs.rmSync(temporary, { force: true })
    throw e
  }
  fs.closeSync(fd)
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
