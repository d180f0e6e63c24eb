/**
 * Reading a file the user named (the config, a key or token file, a CA bundle) whole, and only
 * when it is a regular file of bounded size.
 *
 * A FIFO, `/dev/zero`, a terminal or a socket given by mistake would otherwise hang the command
 * or fill its memory; and a plain `open` of a FIFO blocks the whole thread until a writer comes,
 * so not even SIGTERM's handler could run. So the file is opened with O_NONBLOCK (which makes
 * no difference to a regular file) and judged by `fstat` on that very descriptor: nothing can be
 * swapped in between a check and the read.
 */
import * as fs from "node:fs"

/** The largest file read whole: far above any config, key or CA bundle, far below trouble. */
export const MAX_FILE_BYTES = 1024 * 1024

export class FileRefused extends Error {
  constructor(
    readonly reason: "missing" | "not-regular" | "too-large" | "unreadable",
    /** why, without the path: "cannot read: it is a named pipe (FIFO), not a regular file" */
    readonly detail: string
  ) {
    super(detail)
  }
}

const kindOf = (stat: fs.Stats): string =>
  stat.isFIFO()
    ? "a named pipe (FIFO)"
    : stat.isCharacterDevice()
      ? "a character device"
      : stat.isBlockDevice()
        ? "a block device"
        : stat.isSocket()
          ? "a socket"
          : stat.isDirectory()
            ? "a directory"
            : "an unusual kind of file"

const errnoCode = (e: unknown): string | undefined =>
  typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined

const describe = (e: unknown): FileRefused => {
  switch (errnoCode(e)) {
    case "ENOENT":
      return new FileRefused("missing", "no such file")
    case "EACCES":
    case "EPERM":
      return new FileRefused("unreadable", "cannot read: permission denied")
    case "ENXIO":
      // open(2) says this of a socket, or of a device with nothing behind it
      return new FileRefused("not-regular", "cannot read: it is a socket or a device, not a regular file")
    case "ELOOP":
      return new FileRefused("unreadable", "cannot read: too many symbolic links")
    default:
      return new FileRefused("unreadable", `cannot read: ${e instanceof Error ? e.message : String(e)}`)
  }
}

const notRegular = (stat: fs.Stats): FileRefused =>
  new FileRefused("not-regular", stat.isDirectory() ? "cannot read: it is a directory" : `cannot read: it is ${kindOf(stat)}, not a regular file`)

/** Opens `file` without ever blocking, and refuses anything but a regular file; returns the descriptor and its stat. */
const openRegular = (file: string): { readonly fd: number; readonly stat: fs.Stats } => {
  let fd: number
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY)
  } catch (e) {
    throw describe(e)
  }
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) throw notRegular(stat)
    return { fd, stat }
  } catch (e) {
    fs.closeSync(fd)
    throw e instanceof FileRefused ? e : describe(e)
  }
}

const limit = (maxBytes: number): string => (maxBytes === MAX_FILE_BYTES ? "1 MiB" : `${maxBytes} bytes`)

/** `size` when the file says how large it is; else it turned out larger while being read. */
const tooLarge = (size: number | undefined, maxBytes: number): FileRefused =>
  new FileRefused(
    "too-large",
    size === undefined ? `too large: more than the ${limit(maxBytes)} limit` : `too large: ${size} bytes, more than the ${limit(maxBytes)} limit`
  )

/**
 * The whole content of `file`, which must be a regular file of at most `maxBytes`; with `check`,
 * the descriptor's stat is shown first (a key file's mode). Throws FileRefused.
 */
export const readRegularFile = (file: string, options: { readonly maxBytes?: number; readonly check?: (stat: fs.Stats) => void } = {}): Buffer => {
  const maxBytes = options.maxBytes ?? MAX_FILE_BYTES
  const { fd, stat } = openRegular(file)
  try {
    options.check?.(stat)
    if (stat.size > maxBytes) throw tooLarge(stat.size, maxBytes)
    // Read up to one byte past the limit: a file that grows while it is read, or one whose size
    // the kernel does not know (/proc), is still held to it.
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1 - total))
      const n = fs.readSync(fd, chunk, 0, chunk.length, null)
      if (n === 0) break
      chunks.push(chunk.subarray(0, n))
      total += n
      if (total > maxBytes) throw tooLarge(undefined, maxBytes)
    }
    return Buffer.concat(chunks, total)
  } catch (e) {
    throw e instanceof FileRefused || !(e instanceof Error && errnoCode(e) !== undefined) ? e : describe(e)
  } finally {
    fs.closeSync(fd)
  }
}

/** Throws FileRefused unless `file` is a regular file (for files another library opens by name: a database). */
export const checkRegularFile = (file: string): void => {
  fs.closeSync(openRegular(file).fd)
}
