/**
 * Help and command-line mistakes as an operator meets them (git, kubectl, cscli): plain text
 * when piped, a usage line per command with what each option takes, examples and exit codes,
 * "did you mean" with exit 1 on a typo, and the global options before or after the command.
 * Real processes running the bundle; real event logs in temp directories.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { commandNames } from "../../src/Cli.js"
import { BUNDLE, runCli, runProcess, tempDir } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"

const ESC = "\x1b"
/** @effect/cli's sentences about option types and optionality, which say nothing to an operator. */
const BOILERPLATE = [
  "A user-defined piece of text",
  "A true or false value",
  "This setting is optional",
  "One of the following:",
  "This option can be set from environment variables",
  "An integer.",
  "A floating point number",
  "An existing file"
]

/** The indented lines of a help section (`Commands:`), up to the next unindented line. */
const section = (text: string, title: string): Array<string> => {
  const lines = text.split("\n")
  const start = lines.indexOf(title)
  if (start < 0) return []
  const end = lines.findIndex((l, i) => i > start && l !== "" && !l.startsWith(" "))
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((l) => l !== "")
}

/** The command names a help's `Commands:` section lists. */
const listed = (text: string): Array<string> => section(text, "Commands:").flatMap((l) => (/^ {2}\S/.test(l) ? [l.trim().split(/\s+/)[0]!] : []))

/** Every command path: the top-level ones and the commands of groups (`emulate loadmaster`). */
const allPaths = async (): Promise<Array<Array<string>>> => {
  const paths: Array<Array<string>> = []
  for (const name of commandNames) {
    paths.push([name])
    const help = await runCli(["help", name])
    for (const child of listed(help.stdout)) paths.push([name, child])
  }
  return paths
}

const expectPlainHelp = (text: string) => {
  expect(text).not.toContain(ESC)
  for (const phrase of BOILERPLATE) expect(text).not.toContain(phrase)
}

describe("help, piped", () => {
  it("given --help or help piped, then the root help is plain text listing every command", async () => {
    for (const args of [["--help"], ["help"], ["-h"]]) {
      const run = await runCli(args)
      expect(run.code, args.join(" ")).toBe(0)
      expectPlainHelp(run.stdout)
      expect(listed(run.stdout)).toEqual([...commandNames])
      expect(run.stdout).toContain("mitigator [--config FILE] [--db FILE] [--log-level LEVEL] <command>")
    }
  })

  it("given each command's --help piped, then it is plain, its usage line names the command, and it has examples and exit codes", async () => {
    for (const commandPath of await allPaths()) {
      const run = await runCli([...commandPath, "--help"])
      const what = commandPath.join(" ")
      expect(run.code, what).toBe(0)
      expectPlainHelp(run.stdout)
      const usage = section(run.stdout, "Usage:")
      expect(usage[0], what).toMatch(new RegExp(`^ {2}mitigator ${what}( |$)`))
      expect(section(run.stdout, "Examples:").filter((l) => l.startsWith(`  mitigator ${commandPath[0]}`)).length, what).toBeGreaterThanOrEqual(2)
      const codes = section(run.stdout, "Exit codes:").map((l) => l.trim().split(/\s+/)[0])
      expect(codes, what).toContain("0")
      expect(codes, what).toContain("70")
    }
  })

  it("given append --help, then each option shows what it takes, and the usage line shows stdin", async () => {
    const run = await runCli(["append", "--help"])
    expect(run.stdout).toContain("[--db FILE]")
    expect(run.stdout).toContain("[--config FILE]")
    expect(run.stdout).toContain("[--defer]")
    expect(run.stdout).toContain("[--format auto|tsv|json|cef]")
    expect(run.stdout).toContain("< events")
    expect(run.stdout).not.toContain("$ append")
    expect(run.stdout).not.toMatch(/--db text/)
    // Its own exit codes, read from the command: 3 when lines were rejected.
    expect(section(run.stdout, "Exit codes:").some((l) => /^ {2}3 /.test(l))).toBe(true)
  })

  it("given plan and verify help, then their own exit codes are there (plan 0/2/1, verify 1 on a broken chain)", async () => {
    const plan = section((await runCli(["help", "plan"])).stdout, "Exit codes:").map((l) => l.trim().split(/\s+/)[0])
    expect(plan).toEqual(expect.arrayContaining(["0", "1", "2", "70", "130"]))
    const verify = section((await runCli(["help", "verify"])).stdout, "Exit codes:").join("\n")
    expect(verify).toMatch(/1 +broken/)
  })

  it("given help status, then it is the same as status --help", async () => {
    const help = await runCli(["help", "status"])
    const flag = await runCli(["status", "--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toBe(flag.stdout)
    expect(help.stdout).toContain("mitigator status [--db FILE] [--config FILE]")
  })

  it("given help for a command of a group, then it is that command's help", async () => {
    const run = await runCli(["help", "import", "lm-timeout"])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^ {2}mitigator import lm-timeout .*<FILE>/m)
  })
})

// `script` runs the command on a pseudo-terminal, as an operator's shell does.
const hasScript = fs.existsSync("/usr/bin/script")
const onTerminal = (args: string, env: Record<string, string> = {}) =>
  runProcess("/usr/bin/script", ["-qec", `${process.execPath} ${BUNDLE} ${args}`, "/dev/null"], { env: { TERM: "xterm", ...env } })

describe.skipIf(!hasScript)("help on a terminal", () => {
  it("given a terminal, then headings are bold; given NO_COLOR as well, then there is no escape sequence", async () => {
    const coloured = await onTerminal("help verify")
    expect(coloured.stdout).toContain(`${ESC}[1mUsage:`)
    const plain = await onTerminal("help verify", { NO_COLOR: "1" })
    expect(plain.stdout).toContain("Usage:")
    expect(plain.stdout).not.toContain(ESC)
  })
})

describe("mistakes on the command line", () => {
  it("given no command, then it lists the commands, one line each, and exits 1", async () => {
    const run = await runCli([])
    expect(run.code).toBe(1)
    expect(listed(run.stderr)).toEqual([...commandNames])
    expect(run.stderr).not.toContain(ESC)
  })

  it("given a misspelt command, then it names the one meant on stderr and exits 1", async () => {
    const run = await runCli(["reconcle"])
    expect(run.code).toBe(1)
    expect(run.stderr).toBe("mitigator: 'reconcle' is not a mitigator command. Did you mean 'reconcile'?\n")
    expect(run.stdout).toBe("")
  })

  it("given a group without one of its commands, then it says which it needs, shows the group's help and exits 1", async () => {
    const run = await runCli(["import", "--db", "x.db"])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^mitigator: 'mitigator import' needs one of its commands: 'lm-timeout'\.\n/)
    expect(run.stderr).toContain("mitigator import lm-timeout")
    expect(run.stdout).toBe("")
  })

  it("given an unquoted value with a space (half a secret left over), then the stray word is not repeated", async () => {
    const run = await runCli(["plan", "--api-key", "abc", "SECRETPART", "--db", path.join(tempDir(), "log.db")])
    expect(run.code).toBe(1)
    expect(run.stdout + run.stderr).not.toContain("SECRETPART")
    expect(run.stderr).toContain("it may be part of a secret")
  })

  it("given --log-level without a value, then it says so instead of reading the next option as one", async () => {
    const run = await runCli(["status", "--log-level", "--db", path.join(tempDir(), "log.db")])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("option '--log-level' of 'mitigator status' needs a value")
  })

  it("given a word that is no command at all, then it points to the help and exits 1", async () => {
    const run = await runCli(["frobnicate"])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("'frobnicate' is not a mitigator command")
    expect(run.stderr).toContain("mitigator help")
  })

  it("given a misspelt option, then it names the one meant and exits 1", async () => {
    const run = await runCli(["status", "--jsno"])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("unknown option '--jsno'")
    expect(run.stderr).toContain("Did you mean '--json'?")
  })

  it("given a misspelt option with its value joined, then the value is not repeated (it may be a secret)", async () => {
    const run = await runCli(["append", "--api-kye=s3cr3t-value"], { stdin: "" })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("Did you mean '--api-key'?")
    expect(run.stderr).not.toContain("s3cr3t-value")
  })

  it("given an option without its value at the end, then it says so and exits 1", async () => {
    const run = await runCli(["status", "--db"])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("'--db'")
    expect(run.stderr).toContain("needs a value")
  })

  it("given a missing required option or a bad value, then @effect/cli's message is plain text and it exits 1", async () => {
    const missing = await runCli(["block", "192.0.2.31", "--db", path.join(tempDir(), "log.db")])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("--ttl")
    expect(missing.stderr).not.toContain(ESC)
    const bad = await runCli(["append", "--format", "xml", "--db", path.join(tempDir(), "log.db")], { stdin: "" })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("auto, tsv, json, cef")
    expect(bad.stderr).not.toContain(ESC)
  })

  it("given --json before a command that has no JSON output, then it says so and exits 1", async () => {
    const run = await runCli(["--json", "demo"])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("--json (given before the command) is not an option of 'mitigator demo'")
    // ...and it does nothing else: no demo ran.
    expect(run.stdout).toBe("")
  })

  it("given an unknown option before the command, then it names the one meant and exits 1", async () => {
    const run = await runCli(["--dbb", "x.db", "status"])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("Did you mean '--db'?")
  })
})

describe("global options before or after the command", () => {
  /** status --json without its time stamp (asOf is the time of the run). */
  const stateOf = (stdout: string) => {
    const { asOf: _, ...rest } = JSON.parse(stdout) as Record<string, unknown>
    return rest
  }

  it("given --db before the command, then append and status use that log, as with --db after it", async () => {
    const dir = tempDir()
    const before = path.join(dir, "before.db")
    const after = path.join(dir, "after.db")
    const event = `${adsLine(1)}\n`
    expect((await runCli(["--db", before, "append", "--defer", "--instance", "fm1"], { stdin: event, cwd: dir })).code).toBe(0)
    expect((await runCli(["append", "--defer", "--instance", "fm1", "--db", after], { stdin: event, cwd: dir })).code).toBe(0)
    expect(fs.existsSync(before) && fs.existsSync(after)).toBe(true)
    expect(fs.existsSync(path.join(dir, "mitigator.db"))).toBe(false)

    const runs = await Promise.all([
      runCli(["--db", before, "status", "--json"], { cwd: dir }),
      runCli([`--db=${before}`, "--json", "status"], { cwd: dir }),
      runCli(["status", "--json", "--db", after], { cwd: dir })
    ])
    for (const run of runs) expect(run.code, run.stderr).toBe(0)
    expect(stateOf(runs[0].stdout)).toEqual(stateOf(runs[2].stdout))
    expect(stateOf(runs[1].stdout)).toEqual(stateOf(runs[2].stdout))
  })

  it("given --log-level before, after or inside the command's options, then it applies the same", async () => {
    const dir = tempDir()
    const db = path.join(dir, "log.db")
    const append = (args: ReadonlyArray<string>, id: number) => runCli(args, { stdin: `${adsLine(id)}\n`, cwd: dir })
    const loud = await append(["append", "--defer", "--db", db, "--instance", "fm1"], 1)
    expect(loud.code).toBe(0)
    expect(loud.stderr).toContain("1 stored")
    const placements = [
      ["--log-level", "error", "append", "--defer", "--db", db, "--instance", "fm1"],
      ["append", "--defer", "--db", db, "--instance", "fm1", "--log-level", "error"],
      ["append", "--log-level=error", "--defer", "--db", db, "--instance", "fm1"],
      ["--log-level=error", "--db", db, "append", "--defer", "--instance", "fm1"]
    ]
    for (const [i, args] of placements.entries()) {
      const run = await append(args, i + 2)
      expect(run.code, `${args.join(" ")}: ${run.stderr}`).toBe(0)
      expect(run.stderr, args.join(" ")).not.toContain("stored")
    }
    // Each was recorded all the same.
    const events = await runCli(["replay", "--events", "--json", "--db", db], { cwd: dir })
    expect(events.stdout.trim().split("\n").length).toBe(1 + placements.length)
  })

  it("given --completions after global options, then the script still names every command", async () => {
    const run = await runCli(["--db", "x.db", "--completions", "bash"])
    expect(run.code, run.stderr).toBe(0)
    for (const name of commandNames) expect(run.stdout).toContain(name)
  })

  it("given --version, then it prints the version and exits 0", async () => {
    const run = await runCli(["--version"])
    expect(run.code).toBe(0)
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })
})
