/**
 * The password of a ~/.pgpass-style file (PGPASSFILE, else ~/.pgpass), as libpq reads it:
 * `host:port:database:user:password` lines, `*` matching anything, `\:` and `\\` escaped, the
 * first matching line wins; a file readable by group or others is ignored (libpq warns and does
 * the same). Read here rather than by `pg`, whose own lookup is deprecated and says so on stderr.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface PassFileKey {
  readonly host: string
  readonly port: number
  readonly database: string
  readonly user: string
}

/** The fields of one line, unescaped (null for a comment, a blank or a short line). */
const fields = (line: string): string[] | null => {
  if (line.startsWith("#") || line.trim() === "") return null
  const out: string[] = []
  let current = ""
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === "\\" && i + 1 < line.length) current += line[++i]
    else if (c === ":" && out.length < 4) {
      out.push(current)
      current = ""
    } else current += c
  }
  out.push(current)
  return out.length === 5 ? out : null
}

export const passFilePath = (env: NodeJS.ProcessEnv = process.env): string => env["PGPASSFILE"] ?? path.join(os.homedir(), ".pgpass")

/** The matching password, or undefined (no file, no line, or a file others may read). */
export const passwordFromPassFile = (key: PassFileKey, file: string = passFilePath()): string | undefined => {
  let text: string
  try {
    const stat = fs.statSync(file)
    if (!stat.isFile() || (stat.mode & 0o077) !== 0) return undefined
    text = fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
  const wanted = [key.host, String(key.port), key.database, key.user]
  for (const line of text.split(/\r?\n/)) {
    const f = fields(line)
    if (f !== null && wanted.every((value, i) => f[i] === "*" || f[i] === value)) return f[4]
  }
  return undefined
}
