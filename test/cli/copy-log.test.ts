/**
 * `mitigator copy-log`, as real processes on real SQLite files and a throwaway PostgreSQL: a log
 * goes SQLite → PostgreSQL → SQLite with every row byte for byte (seq, time, type, payload text,
 * dedupe key, hash) and its checkpoints, each copy verifies and reads the same (status, replay);
 * a non-empty target and a broken source are refused, with nothing written.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"
import { policyYaml, writeConfig } from "../support/configs.js"
import { adsLine } from "../support/fixtures.js"
import { usePostgres } from "../support/usePostgres.js"
import { rawRows, tamper, withRaw, type RawRow } from "../eventlog/support.js"

const server = usePostgres()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-copy-log-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** The rows as one text, each column delimited: what "byte for byte" compares. */
const digestOf = (rows: ReadonlyArray<RawRow>): string =>
  createHash("md5")
    .update(rows.map((r) => [r.seq, r.recorded_at, r.type, r.payload, r.dedupe_key ?? "-", r.hash].join("|")).join("\n"), "utf8")
    .digest("hex")

/** The same text, made by PostgreSQL from its own rows. */
const pgDigest = (database: string): string =>
  server().admin(
    database,
    "SELECT md5(string_agg(seq || '|' || recorded_at || '|' || type || '|' || payload || '|' || coalesce(dedupe_key, '-') || '|' || hash, E'\\n' ORDER BY seq)) FROM events"
  )[0]![0]!

const checkpointsOf = (file: string) => withRaw(file, (raw) => raw.prepare("SELECT * FROM checkpoints ORDER BY version, seq").all())

/** Enough detections for the projection to save a checkpoint when it folds them (CHECKPOINT_EVERY rows). */
const DETECTIONS = 5_200
const detections = Array.from({ length: DETECTIONS }, (_, i) => adsLine(10_000 + i, `198.51.100.${(i % 200) + 1}`)).join("\n") + "\n"

const json = (text: string) => JSON.parse(text) as Record<string, unknown>
const withoutAsOf = (text: string) => {
  const { asOf: _asOf, ...rest } = json(text)
  return rest
}

describe("copy-log", () => {
  it("copies a log SQLite → PostgreSQL → SQLite: identical rows and checkpoints, each copy verifies, status and replay agree", async () => {
    // Given a SQLite log with decisions, an operator's block and allow, and a saved checkpoint
    const config = writeConfig(dir, policyYaml({ ttl: "30d" }))
    const source = path.join(dir, "source.db")
    const appended = await runCli(["append", "--defer", "--db", source, "--config", config, "--instance", "fm01"], { stdin: detections })
    expect(appended.code, appended.stderr).toBe(0)
    expect((await runCli(["block", "203.0.113.0/24", "--ttl", "2h", "--reason", "by hand", "--defer", "--db", source, "--config", config])).code).toBe(0)
    expect((await runCli(["allow", "198.51.100.7", "--reason", "a partner", "--defer", "--db", source, "--config", config])).code).toBe(0)
    const status = await runCli(["status", "--json", "--db", source, "--config", config])
    expect(status.code, status.stderr).toBe(0)
    const sourceRows = rawRows(source)
    expect(sourceRows.length).toBeGreaterThan(10_000)
    expect(checkpointsOf(source).length).toBeGreaterThan(0)

    // When it is copied into an empty PostgreSQL database, in batches of 1,000 rows
    const db = await server().createDatabase()
    const toPg = await runCli(["copy-log", "--from", source, "--to", db.url, "--config", config, "--batch", "1000", "--json"], { env: db.env })
    expect(toPg.code, toPg.stderr).toBe(0)
    const last = sourceRows[sourceRows.length - 1]!
    expect(json(toPg.stdout)).toStrictEqual({
      from: source,
      to: db.url,
      events: sourceRows.length,
      checkpoints: checkpointsOf(source).length,
      head: { seq: last.seq, hash: last.hash },
      verified: true
    })
    // Then PostgreSQL holds every row as SQLite stores it, and the head row ends where the log does
    expect(pgDigest(db.name)).toBe(digestOf(sourceRows))
    expect(server().admin(db.name, "SELECT seq, hash FROM events_head")).toStrictEqual([[String(last.seq), last.hash]])
    expect(server().admin(db.name, "SELECT count(*) FROM checkpoints")).toStrictEqual([[String(checkpointsOf(source).length)]])

    // And back into a new SQLite file: the very rows and checkpoints of the original
    const back = path.join(dir, "back.db")
    const toSqlite = await runCli(["copy-log", "--from", db.url, "--to", back, "--batch", "777"], { env: db.env })
    expect(toSqlite.code, toSqlite.stderr).toBe(0)
    expect(toSqlite.stdout).toMatch(new RegExp(`^copy-log: copied ${sourceRows.length} events and \\d+ checkpoints from .* to ${back}; both verified \\(head seq ${last.seq}, sha256 ${last.hash}\\)`))
    expect(rawRows(back)).toStrictEqual(sourceRows)
    expect(checkpointsOf(back)).toStrictEqual(checkpointsOf(source))

    // And each verifies with the same head, and reads the same
    const at = new Date().toISOString()
    const reads = []
    for (const log of [source, db.url, back]) {
      const verify = await runCli(["verify", "--db", log, "--config", config], { env: db.env })
      expect(verify.code, verify.stderr).toBe(0)
      expect(verify.stdout).toContain(`verify: ok, ${sourceRows.length} events, chain intact (head seq ${last.seq}, sha256 ${last.hash})`)
      const replay = await runCli(["replay", "--at", at, "--json", "--db", log, "--config", config], { env: db.env })
      expect(replay.code, replay.stderr).toBe(0)
      const now = await runCli(["status", "--json", "--db", log, "--config", config], { env: db.env })
      expect(now.code, now.stderr).toBe(0)
      reads.push({ replay: json(replay.stdout), status: withoutAsOf(now.stdout) })
    }
    expect((reads[0]!.status["ipBlocks"] as unknown[]).length).toBeGreaterThan(100)
    expect(reads[1]).toStrictEqual(reads[0])
    expect(reads[2]).toStrictEqual(reads[0])
    expect(reads[0]!.status).toStrictEqual(withoutAsOf(status.stdout))
  }, 240_000)

  it("copies SQLite → SQLite and PostgreSQL → PostgreSQL, an empty log included", async () => {
    const source = path.join(dir, "small.db")
    const lines = [1, 2, 3, 4, 5].map((id) => adsLine(id)).join("\n") + "\n"
    expect((await runCli(["append", "--db", source, "--instance", "fm01"], { stdin: lines })).code).toBe(0)
    const copy = path.join(dir, "small-copy.db")
    const plain = await runCli(["copy-log", "--from", source, "--to", copy, "--batch", "2"])
    expect(plain.code, plain.stderr).toBe(0)
    expect(rawRows(copy)).toStrictEqual(rawRows(source))
    expect(fs.statSync(copy).mode & 0o777).toBe(0o600)

    const first = await server().createDatabase()
    const second = await server().createDatabase()
    const env = first.env // one pgpass file serves the whole server
    expect((await runCli(["copy-log", "--from", copy, "--to", first.url, "--batch", "2"], { env })).code).toBe(0)
    const pgToPg = await runCli(["copy-log", "--from", first.url, "--to", second.url, "--batch", "3"], { env })
    expect(pgToPg.code, pgToPg.stderr).toBe(0)
    expect(pgDigest(second.name)).toBe(digestOf(rawRows(source)))

    // An empty log copies into an empty log, which then takes appends like any other
    const empty = await server().createDatabase()
    expect((await runCli(["append", "--db", empty.url, "--instance", "fm01"], { stdin: "", env })).code).toBe(0)
    const emptyCopy = path.join(dir, "empty-copy.db")
    const copied = await runCli(["copy-log", "--from", empty.url, "--to", emptyCopy, "--json"], { env })
    expect(copied.code, copied.stderr).toBe(0)
    expect(json(copied.stdout)).toMatchObject({ events: 0, checkpoints: 0, head: null, verified: true })
    expect((await runCli(["append", "--db", emptyCopy, "--instance", "fm01"], { stdin: lines })).code).toBe(0)
    expect((await runCli(["verify", "--db", emptyCopy])).code).toBe(0)
  }, 120_000)

  it("refuses a target that is not empty (SQLite or PostgreSQL): exit 1, nothing written", async () => {
    const source = path.join(dir, "refused-source.db")
    expect((await runCli(["append", "--db", source, "--instance", "fm01"], { stdin: `${adsLine(1)}\n${adsLine(2)}\n` })).code).toBe(0)
    const target = path.join(dir, "refused-target.db")
    expect((await runCli(["append", "--db", target, "--instance", "fm02"], { stdin: `${adsLine(9)}\n` })).code).toBe(0)
    const before = rawRows(target)

    const intoSqlite = await runCli(["copy-log", "--from", source, "--to", target])
    expect(intoSqlite.code).toBe(1)
    expect(intoSqlite.stderr).toContain(`the target log ${target} is not empty (1 events, 0 checkpoints): copy-log copies only into an empty log`)
    expect(intoSqlite.stdout).toBe("")
    expect(rawRows(target)).toStrictEqual(before)

    const db = await server().createDatabase()
    expect((await runCli(["copy-log", "--from", target, "--to", db.url], { env: db.env })).code).toBe(0)
    const intoPg = await runCli(["copy-log", "--from", source, "--to", db.url, "--json"], { env: db.env })
    expect(intoPg.code).toBe(1)
    expect(intoPg.stderr).toMatch(/the target log postgres:\/\/mitigator@127\.0\.0\.1:\d+\/\w+ is not empty \(1 events, 0 checkpoints\)/)
    expect(pgDigest(db.name)).toBe(digestOf(before))

    const same = await runCli(["copy-log", "--from", source, "--to", source])
    expect(same.code).toBe(1)
    expect(same.stderr).toMatch(/name the same log/)
  }, 120_000)

  it("refuses a source whose chain is broken, naming the row, and creates no target", async () => {
    const source = path.join(dir, "broken.db")
    expect((await runCli(["append", "--db", source, "--instance", "fm01"], { stdin: `${adsLine(1)}\n${adsLine(2)}\n${adsLine(3)}\n` })).code).toBe(0)
    tamper(source, (raw) => raw.prepare("UPDATE events SET payload = replace(payload, '192.0.2.31', '192.0.2.32') WHERE seq = 2").run())

    const target = path.join(dir, "never.db")
    const refused = await runCli(["copy-log", "--from", source, "--to", target])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(`the source log ${source} fails its hash-chain check at seq 2: row 2 does not match its hash`)
    expect(refused.stderr).toContain("Nothing copied")
    expect(fs.existsSync(target)).toBe(false)

    const db = await server().createDatabase()
    const intoPg = await runCli(["copy-log", "--from", source, "--to", db.url], { env: db.env })
    expect(intoPg.code).toBe(1)
    expect(intoPg.stderr).toContain("fails its hash-chain check at seq 2")
    expect(server().admin(db.name, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).toStrictEqual([["0"]])
  }, 120_000)
})
