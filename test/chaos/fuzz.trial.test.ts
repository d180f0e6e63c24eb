/**
 * Bad input, generated: 10,000 malformed Flowmon lines through one `append` (wrong field counts,
 * broken JSON, invalid and edge-case addresses, lines over 1 MiB, binary, control characters and
 * ANSI escapes, SQL and shell text), with good lines between them, some carrying SQL, quotes and
 * shell metacharacters in their text; 2,000 mutated configuration files; 100 bad command lines.
 * Nothing crashes, every bad line is recorded with a reason, every good line is stored, nothing
 * from the input reaches a shell or SQL text, and the comments sent to the LoadMaster are
 * sanitised.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fs from "node:fs"
import * as path from "node:path"
import { loadConfigIn } from "../../src/config/loadConfig.js"
import { auditComment } from "../../src/targets/cryptospike/wire.js"
import { seededRandom } from "../support/crash.js"
import { adsJsonLine, adsLine } from "../support/fixtures.js"
import { runCli, tempDir } from "../support/cli.js"
import { lmWorkspace, withEmulator } from "../support/loadmaster.js"

const BAD = 10_000
const GOOD = 1_000

type Random = () => number
const pick = <A>(random: Random, items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!
const int = (random: Random, below: number) => Math.floor(random() * below)

/** Text an attacker would like to see executed somewhere; `dir` holds the canary files. */
const hostile = (dir: string) => [
  `'); DROP TABLE events; --`,
  `" OR 1=1 --`,
  `$(touch ${dir}/pwned-subshell)`,
  `\`touch ${dir}/pwned-backtick\``,
  `; touch ${dir}/pwned-semicolon`,
  `| touch ${dir}/pwned-pipe`,
  `%s%s%n{{7*7}}\${7*7}`,
  `<script>alert(1)</script>`,
  `C:\\Windows\\System32 "quoted" 'single'`,
  `ünïcødé ✓ 漢字 😀`
]

const BAD_ADDRESSES = ["256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "::::", "2001:db8::g1", "fe80::1%eth0", "1.2.3.4/33", "-1.2.3.4", "0x7f.0.0.1", "a".repeat(300), "192.0.2.031", "192.0.2.31/24"]

/** One malformed line (never empty, never only spaces, no LF inside); binary ones as bytes. */
const badLine = (random: Random, dir: string, n: number): string | Buffer => {
  const kind = int(random, 8)
  switch (kind) {
    case 0: {
      // wrong field count
      const valid = [14, 15, 17]
      let count = 1 + int(random, 30)
      while (valid.includes(count)) count = 1 + int(random, 30)
      return Array.from({ length: count }, (_, i) => (i === 0 ? `${500_000 + n}` : pick(random, ["x", "192.0.2.1", "2025-11-03 15:13:05", pick(random, hostile(dir))]))).join("\t")
    }
    case 1: {
      // broken JSON: cut short, or a wrong type
      const json = adsJsonLine(900_000 + n)
      return random() < 0.5 ? json.slice(0, 1 + int(random, json.length - 2)) : json.replace(/"source":"[^"]*"/, pick(random, ['"source":12', '"source":null', '"source":["192.0.2.1"]', '"source":{}']))
    }
    case 2: {
      // invalid or edge-case address
      return adsLine(500_000 + n, pick(random, BAD_ADDRESSES))
    }
    case 3: {
      // binary: any bytes but LF (as latin1 text, so every byte value occurs)
      const bytes = Array.from({ length: 1 + int(random, 200) }, () => {
        const b = int(random, 256)
        return b === 0x0a || b === 0x20 ? 0x00 : b
      })
      return Buffer.from(bytes)
    }
    case 4:
      // control characters and ANSI escapes inside an otherwise good line
      return adsLine(500_000 + n).replace("SSH attack", pick(random, ["\x1b[31mred\x1b[0m", "bell\x07", "nul\x00byte", "cr\rinside", "del\x7f", "\x9bcsi"]))
    case 5:
      // a 16-field line: a 17-field one whose empty last field was trimmed on the way
      return adsLine(500_000 + n).split("\t").concat(["T1110"]).join("\t")
    case 6:
      // a time that cannot be read
      return adsLine(500_000 + n).replace("2025-11-03 15:13:05", pick(random, ["8/28/2023 10:13", "2025-13-45 99:99:99", "yesterday", ""]))
    default:
      // hostile text where the layout is wrong
      return `${pick(random, hostile(dir))}\t${pick(random, hostile(dir))}`
  }
}

describe("fuzz: malformed Flowmon input", () => {
  it(`${BAD} bad lines among ${GOOD} good ones: each bad one recorded with a reason, each good one stored, no shell, no SQL, sanitised comments`, () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator)
      // One rule for every ADS detection, whatever its method: hostile method names decide blocks too.
      fs.writeFileSync(
        ws.config,
        [`loadmaster:`, `  url: ${emulator.url}`, `  apiKeyFile: lm.key`, `  rateLimit: 1000`, `policy:`, `  rules:`, `    - name: everything`, `      match: { product: ads }`, `      actions: [{ loadmaster: global, ttl: 1h }]`, `  caps: { maxAddsPerPass: 5000 }`, ``].join("\n")
      )
      const random = seededRandom(7)
      const lines: Array<string | Buffer> = []
      const badAt = new Set<number>()
      const goodIds: string[] = []
      let good = 0
      for (let n = 0; n < BAD; n++) {
        if (n % (BAD / GOOD) === 0 && good < GOOD) {
          const id = String(800_000 + good)
          const text = hostile(ws.dir)[good % hostile(ws.dir).length]!
          // Hostile text in the fields a person reads (a method or id like it is refused outright).
          const line = adsLine(id, `10.${good >> 8}.${good & 255}.1`).replace("SSH attack", `SSH attack ${text}`)
          lines.push(line)
          goodIds.push(id)
          good++
        }
        lines.push(badLine(random, ws.dir, n))
        badAt.add(lines.length)
      }
      // Three lines over 1 MiB.
      for (let k = 0; k < 3; k++) {
        lines.push(`${"A".repeat(1_100_000)}\t${k}`)
        badAt.add(lines.length)
      }
      const run = await ws.cmd(["append", "--defer", "--instance", "fuzz"], { stdin: Buffer.concat(lines.flatMap((l) => [typeof l === "string" ? Buffer.from(l, "utf8") : l, Buffer.from("\n")])) })
      expect(run.stderr).not.toMatch(/unexpected error|a bug/)
      expect(run.code, run.stderr.slice(-2000)).toBe(3)
      expect(run.stderr).toContain(`mitigator append: ${GOOD} stored, 0 duplicate, ${badAt.size} rejected, ${GOOD} blocks decided`)

      const events = await ws.events()
      const rejected = events.filter((e) => e.type === "InputRejected")
      expect(new Set(rejected.map((e) => e.payload.line))).toEqual(badAt)
      for (const e of rejected) {
        expect(e.payload.reason.length).toBeGreaterThan(10)
        // kept escaped: printable ASCII only, at most 4 KiB of the original bytes
        expect(e.payload.raw).toMatch(/^[\x20-\x7e]*$/)
      }
      expect(rejected.filter((e) => e.payload.truncated)).toHaveLength(3)
      const stored = events.filter((e) => e.type === "FlowmonEventReceived")
      expect(stored.map((e) => e.payload.eventId)).toEqual(goodIds)
      // SQL text is data: stored as it came, the table intact.
      expect(stored.some((e) => e.payload.description.includes(`'); DROP TABLE events; --`))).toBe(true)

      // Operators' names go into comments too: hostile ones as well.
      for (const [k, text] of hostile(ws.dir).entries()) {
        const block = await ws.cmd(["block", `203.0.113.${k + 1}`, "--ttl", "1h", "--reason", text, "--actor", text])
        expect(block.code, block.stderr).toBe(0)
      }
      const reconcile = await ws.reconcile()
      expect(reconcile.code, reconcile.stdout + reconcile.stderr).toBe(0)
      const entries = emulator.entries("global")
      expect(entries).toHaveLength(GOOD + hostile(ws.dir).length)
      for (const entry of entries) expect(entry.comment).toMatch(/^[A-Za-z0-9 ._-]{1,64}$/)
      expect(entries.filter((e) => / [0-9]+ op /.test(e.comment)).length).toBe(hostile(ws.dir).length)

      // CryptoSpike's audit comment carries the Flowmon text: one line per field whatever the text
      // holds, no other control characters.
      const audit = (text: string) =>
        auditComment({ eventId: "1", method: "SSHDICT", description: text, source: "192.0.2.1", targets: [text], dataFeed: text, perspective: text, until: "2026-11-22T00:00:00.000Z" })
      const shape = audit("plain").split("\n").length
      for (const text of [...hostile(ws.dir), "line\nbreak\r\n\ttab", "\x1b[2J\x1b[Hclear", "\u0000nul\u0085nel\u2028ls"]) {
        const comment = audit(text)
        expect(comment.split("\n"), JSON.stringify(text)).toHaveLength(shape)
        expect(comment, JSON.stringify(text)).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]/)
      }

      // Nothing reached a shell.
      expect(fs.readdirSync(ws.dir).filter((f) => f.startsWith("pwned"))).toEqual([])
      const verify = await runCli(["verify", "--db", ws.db])
      expect(verify.code).toBe(0)
    }), 240_000)
})

describe("fuzz: configuration files", () => {
  it("2,000 mutated configs: each is accepted or refused with a ConfigError naming the file, never a crash", async () => {
    const dir = tempDir()
    const example = fs.readFileSync(new URL("../../examples/mitigator.yaml", import.meta.url), "utf8")
    const random = seededRandom(11)
    const mutations: Array<(text: string) => string> = [
      (t) => { const i = int(random, t.length); return t.slice(0, i) + t.slice(i + 1 + int(random, 40)) },
      (t) => { const i = int(random, t.length); return t.slice(0, i) + pick(random, [":", "- ", "{", "}", "[", "]", "'", '"', "\t", "&a", "*a", "!!binary ", "? ", "|", ">", "#", "\x00", "\ufeff"]) + t.slice(i) },
      (t) => t.replace(/\d+[smhdw]\b/, pick(random, ["-1h", "0s", "1y", "h", "99999999999d", "1.5h", "NaN"])),
      (t) => t.replace(/\b(ads|ids)\b/, pick(random, ["ADS", "both", "", "null", "[ads]"])),
      (t) => t.replace(/\d+\.\d+\.\d+\.\d+(\/\d+)?/, pick(random, BAD_ADDRESSES)),
      (t) => t.split("\n").filter(() => random() > 0.1).join("\n"),
      (t) => t.split("\n").map((l) => (random() < 0.05 ? `  ${l}` : l)).join("\n"),
      (t) => `${t}\n${pick(random, ["colour: blue", "policy: 3", "loadmaster: {}", "database: [1]", "instance: ''", "timezone: Mars/Base"])}\n`,
      () => Buffer.from(Array.from({ length: int(random, 300) }, () => int(random, 256))).toString("latin1")
    ]
    let accepted = 0
    let refused = 0
    for (let n = 0; n < 2000; n++) {
      let text = example
      for (let k = 1 + int(random, 3); k > 0; k--) text = pick(random, mutations)(text)
      const file = path.join(dir, `config-${n}.yaml`)
      fs.writeFileSync(file, text, "latin1")
      const exit = await Effect.runPromiseExit(loadConfigIn(file, dir))
      if (Exit.isSuccess(exit)) accepted++
      else {
        // A failure, never a defect, with the file and a reason.
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail", `config ${n} crashed:\n${text.slice(0, 500)}`).toBe(true)
        const error = (exit.cause as { error: { _tag: string; message: string } }).error
        expect(error._tag).toBe("ConfigError")
        expect(error.message).toContain(file)
        refused++
      }
    }
    console.log(`config fuzz: ${accepted} accepted, ${refused} refused`)
    expect(refused).toBeGreaterThan(1000)
  }, 120_000)
})

describe("fuzz: command lines", () => {
  it("100 bad command lines: exit 1 with a message, never a crash, nothing written", async () => {
    const dir = tempDir()
    const db = path.join(dir, "events.db")
    const random = seededRandom(3)
    const commands = ["append", "status", "replay", "block", "unblock", "allow", "verify", "reconcile", "plan", "import", "doctor"]
    const junk = ["--ttl", "--reason", "--target", "--db", "--config", "--at", "--format", "--interval", "--instance", "--timezone", "--nope", "-x", "--", "=", "1.2.3.4/99", "256.0.0.1", "-1h", "loadmaster:vs:-1", "../../etc/passwd", "\u202e", "$(id)", "'", "%n", "", "10.0.0.0/8", "7d"]
    for (let n = 0; n < 100; n++) {
      const args = [pick(random, commands), ...Array.from({ length: 1 + int(random, 5) }, () => pick(random, junk))]
      // Every command line gets a log path that does not exist, so nothing can be written by accident.
      const run = await runCli([...args, "--db", db], { cwd: dir })
      const said = run.stdout + run.stderr
      // Neither the edge's bug report nor a stack frame (help's exit-code table may name "a bug").
      expect(said, `${JSON.stringify(args)}`).not.toMatch(/unexpected error|^\s+at \S.*:\d+:\d+\)?$/m)
      expect(run.code, `${JSON.stringify(args)}: ${said.slice(0, 300)}`).not.toBe(70)
      expect(run.code === 1 || run.code === 0 || run.code === 2 || run.code === 3, `${JSON.stringify(args)} exit ${run.code}`).toBe(true)
      if (run.code !== 0) expect(said.trim().length, JSON.stringify(args)).toBeGreaterThan(0)
    }
    expect(fs.readdirSync(dir).filter((f) => f.startsWith("pwned"))).toEqual([])
  }, 180_000)
})
