/**
 * A throwaway PostgreSQL server for the tests: initdb on a temp dir, pg_ctl start on a free port
 * (TCP on 127.0.0.1 only, its unix socket inside the temp dir), stopped and removed after.
 *
 * What a production site has, not a developer's superuser: the log is opened by the role
 * `mitigator`, LOGIN with a password (scram-sha-256 over TCP), no superuser, no CREATEDB; it owns
 * the databases the tests create for it. The tests' own administration (CREATE DATABASE, editing a
 * row behind the log's back) goes over the unix socket as the superuser `postgres` (trust).
 *
 * Run as root, the server runs as the `postgres` system user (initdb refuses root); as anyone
 * else, as that user. Missing binaries FAIL the test with what to install: never skipped.
 * One server per test file (usePostgres.ts), a database per test; free of vitest, so a bench can start one too.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { closedPort } from "./ports.js"

export const PG_ROLE = "mitigator"

export interface PgDatabase {
  readonly name: string
  /** postgres://mitigator@127.0.0.1:PORT/NAME: no password in it */
  readonly url: string
  /** a file holding the role's password alone (the config's databasePasswordFile) */
  readonly passwordFile: string
  /** a ~/.pgpass-style file for this server (PGPASSFILE), mode 0600 */
  readonly pgpassFile: string
  /** env for a mitigator process that finds its password in PGPASSFILE */
  readonly env: Record<string, string>
}

export interface PgServer {
  readonly port: number
  readonly dir: string
  readonly password: string
  /** a new empty database owned by `mitigator` */
  readonly createDatabase: (prefix?: string) => Promise<PgDatabase>
  /**
   * Runs SQL as the superuser in `database` (behind the log's back: tamper with rows, inspect):
   * the rows of the last statement, each as its columns' text (psql's unaligned output).
   */
  readonly admin: (database: string, text: string) => ReadonlyArray<ReadonlyArray<string>>
  /**
   * Restarts the server on the same port: stopped "fast" (every session is ended, what was
   * committed stays), down for `downMs`, started again, as an upgrade or a failover would do it;
   * resolves once it accepts connections. The test's own processes go on meanwhile.
   */
  readonly restart: (downMs?: number) => Promise<void>
  readonly stop: () => void
}

/** The server binaries: Debian's postgresql package, whatever its major version. */
export const pgBinDir = (): string => {
  const root = "/usr/lib/postgresql"
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : []
  const fromPath = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" }).stdout.trim()
  const dir = versions[0] !== undefined ? path.join(root, versions[0], "bin") : fromPath !== "" ? path.dirname(fromPath) : undefined
  if (dir === undefined) {
    throw new Error(
      "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb, no initdb on PATH): " +
        "the PostgreSQL tests need them: apt-get install -y postgresql (.ci/run does this)"
    )
  }
  return dir
}

/** Who runs the server: root hands it to the `postgres` system user (initdb refuses root). */
const serverUser = (): { uid: number; gid: number } | undefined => {
  if (process.getuid?.() !== 0) return undefined
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim())
  try {
    return { uid: id("-u"), gid: id("-g") }
  } catch {
    throw new Error("running as root, the PostgreSQL tests need the `postgres` system user to run the server (apt-get install -y postgresql creates it)")
  }
}

const run = (bin: string, args: ReadonlyArray<string>, user: { uid: number; gid: number } | undefined, cwd: string): void => {
  const result = spawnSync(bin, args, { encoding: "utf8", cwd, ...(user ?? {}), env: { PATH: process.env["PATH"] ?? "", LC_ALL: "C" } })
  if (result.status !== 0) {
    throw new Error(`${path.basename(bin)} ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}`)
  }
}

const writePrivate = (file: string, text: string): void => {
  fs.writeFileSync(file, text, { mode: 0o600 })
  fs.chmodSync(file, 0o600)
}

export interface StartOptions {
  /**
   * Durable as a production server is (fsync, synchronous_commit and full-page writes on, the
   * defaults): what the bench compares with SQLite's synchronous=FULL. The tests turn them off.
   */
  readonly durable?: boolean
}

export const startPostgres = async (options: StartOptions = {}): Promise<PgServer> => {
  const bin = pgBinDir()
  const user = serverUser()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-pg-"))
  const data = path.join(dir, "data")
  const clientDir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-pg-client-"))
  if (user !== undefined) fs.chownSync(dir, user.uid, user.gid)
  fs.chmodSync(dir, 0o700)
  const password = randomBytes(18).toString("base64url")
  let port = 0
  let started = false
  let settings: string[] = []
  const stop = () => {
    if (started) {
      started = false
      spawnSync(path.join(bin, "pg_ctl"), ["stop", "-D", data, "-m", "immediate", "-w"], { cwd: dir, ...(user ?? {}), stdio: "ignore" })
    }
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(clientDir, { recursive: true, force: true })
  }
  process.once("exit", stop)
  try {
    run(path.join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], user, dir)
    // The superuser over the socket (tests' administration); everyone over TCP with a password.
    fs.writeFileSync(
      path.join(data, "pg_hba.conf"),
      "local all postgres trust\nhost all postgres 127.0.0.1/32 reject\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )
    // Durability is not what these tests are about (the crash trials restart it on purpose).
    const volatile = options.durable === true ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    settings = ["-c listen_addresses=127.0.0.1", `-k ${dir}`, ...volatile, "-c max_connections=200"]
    for (let attempt = 0; ; attempt++) {
      port = await closedPort()
      try {
        run(path.join(bin, "pg_ctl"), ["start", "-D", data, "-w", "-t", "60", "-l", path.join(dir, "server.log"), "-o", `-p ${port} ${settings.join(" ")}`], user, dir)
        started = true
        break
      } catch (e) {
        if (attempt >= 2) throw e // a port taken between closedPort and the start: another one
      }
    }
  } catch (e) {
    stop()
    throw e
  }

  const admin: PgServer["admin"] = (database, text) => {
    const result = spawnSync(
      path.join(bin, "psql"),
      ["-h", dir, "-p", String(port), "-U", "postgres", "-d", database, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", text],
      { encoding: "utf8", env: { PATH: process.env["PATH"] ?? "", LC_ALL: "C" } }
    )
    if (result.status !== 0) throw new Error(`psql: ${text}: ${result.stderr}`)
    return result.stdout.split("\n").filter((line) => line !== "").map((line) => line.split("\t"))
  }
  admin("postgres", `CREATE ROLE ${PG_ROLE} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEDB NOCREATEROLE`)

  let databases = 0
  const createDatabase: PgServer["createDatabase"] = async (prefix = "log") => {
    const name = `${prefix}_${++databases}_${randomBytes(3).toString("hex")}`
    admin("postgres", `CREATE DATABASE ${name} OWNER ${PG_ROLE}`)
    const passwordFile = path.join(clientDir, `${name}.password`)
    writePrivate(passwordFile, `${password}\n`)
    const pgpassFile = path.join(clientDir, `${name}.pgpass`)
    writePrivate(pgpassFile, `127.0.0.1:${port}:*:${PG_ROLE}:${password}\n`)
    return {
      name,
      url: `postgres://${PG_ROLE}@127.0.0.1:${port}/${name}`,
      passwordFile,
      pgpassFile,
      env: { PGPASSFILE: pgpassFile }
    }
  }

  // Asynchronous (unlike `run`): the test's own processes go on meanwhile (appends, passes).
  const pgCtl = (args: ReadonlyArray<string>) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(path.join(bin, "pg_ctl"), args, { cwd: dir, ...(user ?? {}), env: { PATH: process.env["PATH"] ?? "", LC_ALL: "C" }, stdio: ["ignore", "ignore", "pipe"] })
      let stderr = ""
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")))
      child.on("error", reject)
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${args[0]} failed (${code}): ${stderr}`))))
    })
  const restart: PgServer["restart"] = async (downMs = 0) => {
    await pgCtl(["stop", "-D", data, "-m", "fast", "-w", "-t", "60"])
    await new Promise((resolve) => setTimeout(resolve, downMs))
    await pgCtl(["start", "-D", data, "-w", "-t", "60", "-l", path.join(dir, "server.log"), "-o", `-p ${port} ${settings.join(" ")}`])
  }

  return { port, dir, password, createDatabase, admin, restart, stop }
}
