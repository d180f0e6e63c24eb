/** The command line put in the order @effect/cli reads it (src/CliArgs.ts): pure, no process. */
import { describe, expect, it } from "@effect/vitest"
import { badOption, liftGroupOptions, reorder, splitArgv } from "../../src/CliArgs.js"

const statusOptions = new Map([
  ["--db", true],
  ["--config", true],
  ["--json", false]
])

describe("global options before the command", () => {
  it("given --db x, --db=x and --json before the command, then they follow it, in their order", () => {
    const split = splitArgv(["--db", "x.db", "--json", "--config=m.yaml", "status", "--at", "now"])
    expect(split.command).toBe("status")
    expect(reorder(split, ["status"]).args).toEqual(["status", "--db", "x.db", "--json=true", "--config=m.yaml", "--at", "now"])
  })

  it("given --log-level anywhere, then it comes first, where @effect/cli reads it whatever follows", () => {
    const split = splitArgv(["append", "--defer", "--log-level", "error", "--db", "x.db"])
    expect(reorder(split, ["append"]).args).toEqual(["--log-level", "error", "append", "--defer", "--db", "x.db"])
    const joined = splitArgv(["--log-level=debug", "--db", "x.db", "append"])
    expect(reorder(joined, ["append"]).args).toEqual(["--log-level=debug", "append", "--db", "x.db"])
  })

  it("given a command of a group, then the global options follow the whole path", () => {
    const split = splitArgv(["--db", "x.db", "import", "lm-timeout", "old.db"])
    expect(reorder(split, ["import", "lm-timeout"]).args).toEqual(["import", "lm-timeout", "--db", "x.db", "old.db"])
  })

  it("given --json before a command that takes an argument, then the flag cannot take the argument as its value", () => {
    const split = splitArgv(["--json", "why", "false"])
    expect(reorder(split, ["why"]).args).toEqual(["why", "--json=true", "false"])
  })

  it("given global options between a group and its command, then they count as given before it", () => {
    const split = liftGroupOptions(splitArgv(["import", "--db", "x.db", "--json", "lm-timeout", "old.db"]))
    expect(split.rest[0]).toBe("lm-timeout")
    expect(reorder(split, ["import", "lm-timeout"]).args).toEqual(["import", "lm-timeout", "--db", "x.db", "--json=true", "old.db"])
  })

  it("given --log-level with no value before another option, then the option check says it needs a value", () => {
    const split = splitArgv(["status", "--log-level", "--config", "m.yaml"])
    const { options } = reorder(split, ["status"])
    expect(badOption(options, statusOptions)).toEqual({ name: "--log-level", problem: "no value" })
  })

  it("given an option before the command that is no global one, then it is named as unknown", () => {
    expect(splitArgv(["--dbb", "x.db", "status"]).unknown).toBe("--dbb")
  })

  it("given `--`, then what follows is left as it is", () => {
    const split = splitArgv(["block", "--reason", "r", "--", "--log-level"])
    expect(reorder(split, ["block"]).args).toEqual(["block", "--reason", "r", "--", "--log-level"])
  })
})

describe("options a command does not have", () => {
  it("given a misspelt option, then it is found; its value after = is not part of its name", () => {
    expect(badOption(["--jsno"], statusOptions)).toEqual({ name: "--jsno", problem: "unknown" })
    expect(badOption(["--dbb=secret"], statusOptions)).toEqual({ name: "--dbb", problem: "unknown" })
  })

  it("given an option's value that looks like an option, then it is a value", () => {
    expect(badOption(["--db", "--odd-file-name", "--json"], statusOptions)).toBeUndefined()
  })

  it("given an option that takes a value last, then its value is missing", () => {
    expect(badOption(["--json", "--db"], statusOptions)).toEqual({ name: "--db", problem: "no value" })
  })

  it("given @effect/cli's own options and anything after `--`, then nothing is unknown", () => {
    expect(badOption(["--log-level", "debug", "--help", "--", "--whatever"], statusOptions)).toBeUndefined()
  })
})
