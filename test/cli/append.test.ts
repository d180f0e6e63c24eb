/**
 * `mitigator append`, `replay --events` and `verify` as Flowmon and an operator use them:
 * real processes running the bundle, a real SQLite file in a temp directory.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import pkg from "../../package.json" with { type: "json" }
import { jsonLines, runCli, summaryLine, tempDir } from "../support/cli.js"
import { adsExtendedLine, adsJsonLine, adsLine, cefLine, idsLine } from "../support/fixtures.js"

const newDb = () => path.join(tempDir(), "events.db")

describe("append", () => {
  it("records every layout in one run, exits 0 and prints one summary line", async () => {
    const db = newDb()
    const input = [adsLine(4711), adsExtendedLine(4712), idsLine(9001), adsJsonLine(4713), cefLine].join("\n") + "\n"
    const run = await runCli(["append", "--db", db, "--instance", "fm1"], { stdin: input })
    expect(run.code).toBe(0)
    // Without a config file it says that nothing will be decided, then sums up.
    expect(run.stderr.trim().split("\n")).toEqual([
      "mitigator append: no config file (--config, MITIGATOR_CONFIG or ./mitigator.yaml): events are recorded, no blocks are decided",
      "mitigator append: 5 stored, 0 duplicate, 0 rejected"
    ])

    const replay = await runCli(["replay", "--events", "--json", "--db", db])
    expect(replay.code).toBe(0)
    const events = jsonLines(replay.stdout)
    expect(events.map((e) => [e.seq, e.type, e.payload.format, e.payload.eventId.slice(0, 4)])).toEqual([
      [1, "FlowmonEventReceived", "tsv15", "4711"],
      [2, "FlowmonEventReceived", "tsv17", "4712"],
      [3, "FlowmonEventReceived", "tsv14", "9001"],
      [4, "FlowmonEventReceived", "json", "4713"],
      [5, "FlowmonEventReceived", "cef", "cef-"]
    ])
    expect(Object.keys(events[0]!)).toEqual(["seq", "recordedAt", "type", "payload"])
    expect(events[0]!.recordedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(events[1]!.payload).toMatchObject({ source: "2001:db8::a1", userIdentity: "jdoe@example.test", subtype: "TCPSYN" })
  })

  it("records bad lines as InputRejected beside the good ones and exits 3", async () => {
    const db = newDb()
    const sixteen = adsExtendedLine(5000).split("\t").slice(0, 16).join("\t")
    const input = [adsLine(1), "this is not an event", "", adsLine(2, "192.0.2.999"), sixteen, adsLine(3)].join("\n")
    const run = await runCli(["append", "--db", db, "--instance", "fm1"], { stdin: input })
    expect(run.code).toBe(3)
    expect(run.stderr).toContain("mitigator append: 2 stored, 0 duplicate, 3 rejected (first: line 2: ")

    const events = jsonLines((await runCli(["replay", "--events", "--json", "--db", db])).stdout)
    expect(events.map((e) => e.type)).toEqual([
      "FlowmonEventReceived",
      "InputRejected",
      "InputRejected",
      "InputRejected",
      "FlowmonEventReceived"
    ])
    const rejected = events.filter((e) => e.type === "InputRejected").map((e) => e.payload)
    expect(rejected.map((p) => p.line)).toEqual([2, 4, 5])
    expect(rejected[0]!.reason).toMatch(/got 1/)
    expect(rejected[1]!.reason).toMatch(/source IP.*192\.0\.2\.999.*over 255/)
    expect(rejected[2]!.reason).toMatch(/got 16.*trimmed/)
    expect(rejected[0]!.raw).toBe("this is not an event")
  })

  it("treats the same Flowmon event delivered twice as one fact", async () => {
    const db = newDb()
    const input = `${adsLine(10)}\n${idsLine(10)}\n`
    expect((await runCli(["append", "--db", db, "--instance", "fm1"], { stdin: input })).code).toBe(0)
    const again = await runCli(["append", "--db", db, "--instance", "fm1"], { stdin: input + adsLine(11) })
    expect(again.code).toBe(0)
    expect(summaryLine(again)).toBe("mitigator append: 1 stored, 2 duplicate, 0 rejected")
    // Another appliance with the same event ids is a different fact.
    const other = await runCli(["append", "--db", db, "--instance", "fm2"], { stdin: input })
    expect(summaryLine(other)).toBe("mitigator append: 2 stored, 0 duplicate, 0 rejected")
    const keys = jsonLines((await runCli(["replay", "--events", "--json", "--db", db])).stdout).map(
      (e) => `${e.payload.product}:${e.payload.instance}:${e.payload.eventId}`
    )
    expect(keys).toEqual(["ads:fm1:10", "ids:fm1:10", "ads:fm1:11", "ads:fm2:10", "ids:fm2:10"])
  })

  it("takes its options as name/value pairs, the way Flowmon passes script parameters", async () => {
    const dir = tempDir()
    const run = await runCli(
      ["append", "--db", "flowmon.db", "--defer", "1", "--instance", "fm-collector-1", "--timezone", "Europe/Prague", "--format", "tsv"],
      { stdin: adsLine(77), cwd: dir }
    )
    expect(run.code).toBe(0)
    const [event] = jsonLines((await runCli(["replay", "--events", "--json", "--db", path.join(dir, "flowmon.db")])).stdout)
    // 15:13:05 in Prague in November is 14:13:05 UTC.
    expect(event!.payload).toMatchObject({ instance: "fm-collector-1", detectedAt: "2025-11-03T14:13:05.000Z" })
  })

  it("finds the log through MITIGATOR_DB, and defaults to ./mitigator.db", async () => {
    const dir = tempDir()
    const viaEnv = path.join(dir, "from-env.db")
    expect((await runCli(["append", "--instance", "fm1"], { stdin: adsLine(1), env: { MITIGATOR_DB: viaEnv } })).code).toBe(0)
    expect(fs.existsSync(viaEnv)).toBe(true)
    expect((await runCli(["append", "--instance", "fm1"], { stdin: adsLine(1), cwd: dir })).code).toBe(0)
    expect(fs.existsSync(path.join(dir, "mitigator.db"))).toBe(true)
  })

  it("exits 1 with a clear message when the log cannot be written, and records nothing", async () => {
    const dir = tempDir()
    const missing = await runCli(["append", "--db", path.join(dir, "no-such-dir", "x.db")], { stdin: adsLine(1) })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/directory .*no-such-dir does not exist/)

    const notADatabase = path.join(dir, "notes.db")
    fs.writeFileSync(notADatabase, "these are my notes, not a database".repeat(100))
    const garbage = await runCli(["append", "--db", notADatabase], { stdin: adsLine(1) })
    expect(garbage.code).toBe(1)
    expect(garbage.stderr).toMatch(/not a database/)
    expect(fs.readFileSync(notADatabase, "utf8")).toMatch(/^these are my notes/)
  })

  it("refuses an unknown time zone or a bad instance name before reading anything", async () => {
    const db = newDb()
    const zone = await runCli(["append", "--db", db, "--timezone", "Mars/Olympus"], { stdin: adsLine(1) })
    expect(zone.code).toBe(1)
    expect(zone.stdout + zone.stderr).toContain("--timezone: unknown time zone 'Mars/Olympus'")
    const instance = await runCli(["append", "--db", db, "--instance", "a b"], { stdin: adsLine(1) })
    expect(instance.code).toBe(1)
    expect(instance.stdout + instance.stderr).toContain("--instance 'a b' must be")
    const logFile = await runCli(["append", "--db", db, "--log-file", path.join(db, "..", "missing", "x.log")], { stdin: adsLine(1) })
    expect(logFile.code).toBe(1)
    expect(logFile.stdout + logFile.stderr).toMatch(/--log-file .*ENOENT/)
    expect(fs.existsSync(db)).toBe(false)
  })

  it("writes per-line details and its summary to --log-file in logfmt; --log-format json structures stderr", async () => {
    const dir = tempDir()
    const logFile = path.join(dir, "append.log")
    const run = await runCli(["append", "--db", path.join(dir, "e.db"), "--instance", "fm1", "--log-file", logFile], {
      stdin: `${adsLine(1)}\nnonsense\n${adsLine(1)}\n`
    })
    expect(run.code).toBe(3)
    // The terminal still gets the plain lines.
    expect(summaryLine(run)).toMatch(/^mitigator append: 1 stored, 1 duplicate, 1 rejected \(first: line 2: /)
    const lines = fs.readFileSync(logFile, "utf8").trim().split("\n")
    expect(lines).toHaveLength(5)
    expect(lines[0]).toMatch(/^time=\S+ level=warn msg="mitigator append: no config file /)
    expect(lines[1]).toMatch(/^time=\S+ level=info msg=stored line=1 seq=1 key=ads:fm1:1$/)
    expect(lines[2]).toMatch(/^time=\S+ level=warn msg=rejected line=2 seq=2 reason="expected 14 .*"$/)
    expect(lines[3]).toMatch(/^time=\S+ level=info msg=duplicate line=3 seq=1 key=ads:fm1:1$/)
    expect(lines[4]).toMatch(/^time=\S+ level=warn msg="mitigator append: 1 stored, 1 duplicate, 1 rejected .*" decided=0 duplicate=1 rejected=1 stored=1$/)

    const asJson = await runCli(["append", "--db", path.join(dir, "e.db"), "--instance", "fm1", "--log-format", "json", "--log-file", logFile], {
      stdin: `${adsLine(2)}\n`
    })
    expect(asJson.code).toBe(0)
    const records = asJson.stderr.trim().split("\n").map((l) => JSON.parse(l))
    expect(records.map((r) => r.level)).toEqual(["warn", "info"])
    expect(records[1]).toMatchObject({ msg: "mitigator append: 1 stored, 0 duplicate, 0 rejected", stored: 1, duplicate: 0, rejected: 0, decided: 0 })
    expect(Date.parse(records[1].time)).not.toBeNaN()
    // The file follows the format asked for.
    const tail = fs.readFileSync(logFile, "utf8").trim().split("\n").slice(5).map((l) => JSON.parse(l))
    expect(tail.map((r) => r.msg)).toEqual([records[0].msg, "stored", records[1].msg])
  })

  it("accepts CRLF line ends and an empty input", async () => {
    const db = newDb()
    const crlf = await runCli(["append", "--db", db], { stdin: `${adsLine(1)}\r\n${adsLine(2)}\r\n` })
    expect(summaryLine(crlf)).toBe("mitigator append: 2 stored, 0 duplicate, 0 rejected")
    const empty = await runCli(["append", "--db", db], { stdin: "" })
    expect(empty.code).toBe(0)
    expect(summaryLine(empty)).toBe("mitigator append: 0 stored, 0 duplicate, 0 rejected")
  })
})

describe("replay --events", () => {
  it("prints one readable line per event", async () => {
    const db = newDb()
    await runCli(["append", "--db", db, "--instance", "fm1"], { stdin: `${adsLine(4711)}\n${idsLine(9001)}\nbroken\n` })
    const run = await runCli(["replay", "--events", "--db", db])
    expect(run.code).toBe(0)
    const lines = run.stdout.trim().split("\n").map((l) => l.split("\t"))
    expect(lines.map((l) => [l[0], l[2], l[3]])).toEqual([
      ["1", "FlowmonEventReceived", "ads fm1#4711 SSHDICT CRITICAL 192.0.2.31 -> 198.51.100.40 (+1) [tsv15]"],
      ["2", "FlowmonEventReceived", "ids fm1#9001 IDS Potential Corporate Privacy Violation - 192.0.2.50 -> 198.51.100.7 [tsv14]"],
      ["3", "InputRejected", "line 3: expected 14 (IDS), 15 (ADS) or 17 (ADS extended) tab-separated fields, got 1 (no TAB found: not a tab-separated line)"]
    ])
  })

  it("--at cuts the log at a time", async () => {
    const db = newDb()
    await runCli(["append", "--db", db], { stdin: adsLine(1) })
    const [first] = jsonLines((await runCli(["replay", "--events", "--json", "--db", db])).stdout)
    await new Promise((r) => setTimeout(r, 20))
    await runCli(["append", "--db", db], { stdin: adsLine(2) })
    const cut = jsonLines((await runCli(["replay", "--events", "--json", "--at", first!.recordedAt, "--db", db])).stdout)
    expect(cut.map((e) => e.seq)).toEqual([1])
    const before = await runCli(["replay", "--events", "--at", "2000-01-01 00:00:00", "--db", db])
    expect(before.stdout).toBe("")
    const bad = await runCli(["replay", "--events", "--at", "yesterday", "--db", db])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("--at:")
  })

  it("refuses to run on a log that does not exist, without creating it", async () => {
    const db = newDb()
    const run = await runCli(["replay", "--events", "--db", db])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`no event log at ${db}`)
    expect(fs.existsSync(db)).toBe(false)
  })
})

describe("verify", () => {
  const tamperable = async () => {
    const db = newDb()
    const lines = Array.from({ length: 6 }, (_, i) => adsLine(100 + i)).join("\n")
    expect((await runCli(["append", "--db", db], { stdin: lines })).code).toBe(0)
    const raw = new Database(db)
    raw.exec("DROP TRIGGER events_refuse_update; DROP TRIGGER events_refuse_delete;")
    return { db, raw }
  }

  it("reports an intact chain with the event count", async () => {
    const { db, raw } = await tamperable()
    raw.close()
    const run = await runCli(["verify", "--db", db])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^verify: ok, 6 events, chain intact \(head seq 6, sha256 [0-9a-f]{64}\)\n$/)
  })

  it("exits 1 naming the first row that was altered", async () => {
    const { db, raw } = await tamperable()
    raw.prepare("UPDATE events SET payload = replace(payload, '192.0.2.31', '192.0.2.32') WHERE seq = 4").run()
    raw.close()
    const run = await runCli(["verify", "--db", db])
    expect(run.code).toBe(1)
    expect(run.stdout).toContain("verify: FAILED at seq 4:")
    expect(run.stdout).toContain("3 events before it are intact")
  })

  it("exits 1 naming the row that was removed", async () => {
    const { db, raw } = await tamperable()
    raw.prepare("DELETE FROM events WHERE seq = 2").run()
    raw.close()
    const run = await runCli(["verify", "--db", db])
    expect(run.code).toBe(1)
    expect(run.stdout).toContain("verify: FAILED at seq 2: row 2 is missing")
  })

  it("exits 1 when two rows were swapped", async () => {
    const { db, raw } = await tamperable()
    const rows = raw.prepare("SELECT seq, payload, dedupe_key FROM events WHERE seq IN (3, 5) ORDER BY seq").all() as Array<{
      seq: number
      payload: string
      dedupe_key: string
    }>
    const update = raw.prepare("UPDATE events SET payload = ?, dedupe_key = ? WHERE seq = ?")
    raw.transaction(() => {
      update.run(rows[1]!.payload, "tmp", 3)
      update.run(rows[0]!.payload, rows[0]!.dedupe_key, 5)
      update.run(rows[1]!.payload, rows[1]!.dedupe_key, 3)
    })()
    raw.close()
    const run = await runCli(["verify", "--db", db])
    expect(run.code).toBe(1)
    expect(run.stdout).toContain("verify: FAILED at seq 3:")
  })

  it("the log itself refuses UPDATE and DELETE", async () => {
    const db = newDb()
    await runCli(["append", "--db", db], { stdin: adsLine(1) })
    const raw = new Database(db)
    expect(() => raw.prepare("UPDATE events SET type = 'x'").run()).toThrow(/append-only: UPDATE refused/)
    expect(() => raw.prepare("DELETE FROM events").run()).toThrow(/append-only: DELETE refused/)
    raw.close()
  })
})

describe("the command line", () => {
  it("prints its version", async () => {
    const run = await runCli(["--version"])
    expect(run.code).toBe(0)
    expect(run.stdout.trim()).toBe(pkg.version)
  })

  it("explains an unknown option and exits 1", async () => {
    const run = await runCli(["append", "--no-such-option", "1"])
    expect(run.code).toBe(1)
    expect(run.stdout + run.stderr).toContain("--no-such-option")
  })

  it("offers shell completions", async () => {
    const run = await runCli(["--completions", "bash"])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain("mitigator")
    expect(run.stdout).toContain("append")
  })
})
