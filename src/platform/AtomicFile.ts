/**
 * Replacing a file's content all at once: readers (a Prometheus textfile collector, `status`)
 * see the old file or the new one, never half of one. Written beside the target, synced, renamed.
 */
import * as fs from "node:fs"
import * as path from "node:path"

export const writeFileAtomically = (file: string, content: string, mode = 0o644): void => {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  const fd = fs.openSync(temporary, "w", mode)
  try {
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
