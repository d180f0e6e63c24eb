/**
 * `append`'s fast path (src/commands/appendArgs.ts) reads a command line exactly as @effect/cli
 * reads it with append's own options (appendCommand.ts), or leaves it to @effect/cli: given the
 * same arguments and environment, the two readings side by side.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fastAppendOptions } from "../../src/commands/appendArgs.js"
import { appendOptions } from "../../src/commands/appendCommand.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "append-args-"))
const db = path.join(dir, "m.db")
const config = path.join(dir, "mitigator.yaml")
const logFile = path.join(dir, "append.log")

type Env = Record<string, string>

/** What @effect/cli hands `append`'s handler for these arguments and environment (undefined: it refused them). */
const readByEffectCli = (args: ReadonlyArray<string>, env: Env) =>
  Effect.gen(function* () {
    let read: unknown
    const append = Command.make("append", appendOptions, (opts) => Effect.sync(() => void (read = opts)))
    const root = Command.make("mitigator").pipe(Command.withSubcommands([append]))
    yield* Command.run(root, { name: "mitigator", version: "test" })(["node", "mitigator", "append", ...args]).pipe(Effect.ignore)
    return read
  }).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.provide(NodeContext.layer),
    Effect.provide(Logger.remove(Logger.defaultLogger))
  )

describe("append's fast path reads a command line as @effect/cli does", () => {
  const usual: ReadonlyArray<readonly [string, ReadonlyArray<string>, Env]> = [
    ["Flowmon's usual line", ["--defer", "--db", db, "--instance", "fm1"], {}],
    ["a config and an instance with dots, hyphens and underscores", ["--db", db, "--config", config, "--instance", "fm-1.x_y"], {}],
    ["everything from the environment", [], { MITIGATOR_DB: db, MITIGATOR_CONFIG: config, MITIGATOR_INSTANCE: "fm2", MITIGATOR_TIMEZONE: "Europe/Prague", MITIGATOR_LOG_FORMAT: "json" }],
    ["every option", ["--timezone", "Europe/Prague", "--format", "tsv", "--apply-timeout", "90s", "--json", "--log-format", "logfmt", "--log-file", logFile, "--api-key", "k", "--cs-token", "t"], {}],
    ["an option over its environment variable", ["--db", path.join(dir, "other.db"), "--instance", "fm3"], { MITIGATOR_DB: db, MITIGATOR_INSTANCE: "fm4" }],
    ["the log file from the environment", ["--apply-timeout", "1m"], { MITIGATOR_LOG_FILE: logFile }],
    ["nothing at all", [], {}]
  ]
  for (const [what, args, env] of usual) {
    it.effect(`given ${what}, then the fast path reads it, and reads what @effect/cli reads`, () =>
      Effect.gen(function* () {
        const fast = fastAppendOptions(args, env)
        expect(fast).toBeDefined()
        expect(fast).toEqual(yield* readByEffectCli(args, env))
      })
    )
  }

  const left: ReadonlyArray<readonly [string, ReadonlyArray<string>, Env]> = [
    ["help", ["--help"], {}],
    ["an option written --name=value", [`--db=${db}`], {}],
    ["a flag twice", ["--defer", "--defer"], {}],
    ["an option twice", ["--db", db, "--db", db], {}],
    ["an option without its value", ["--db"], {}],
    ["an empty value", ["--db", ""], {}],
    ["a value that starts with a dash", ["--instance", "-x"], {}],
    ["a bad instance name", ["--instance", "fm 1"], {}],
    ["a bad instance name in the environment", [], { MITIGATOR_INSTANCE: "fm/1" }],
    ["an empty environment variable", [], { MITIGATOR_DB: "" }],
    ["an unknown zone", ["--timezone", "Mars/Olympus"], {}],
    ["an unknown input format", ["--format", "xml"], {}],
    ["a duration it cannot read", ["--apply-timeout", "soon"], {}],
    ["an unknown log format", ["--log-format", "yaml"], {}],
    ["@effect/cli's own --log-level", ["--log-level", "debug"], {}],
    ["a word that is no option", ["events.tsv"], {}],
    ["an unknown option", ["--dbb", db], {}],
    ["a log file that cannot be written", ["--log-file", path.join(dir, "missing", "x.log")], {}]
  ]
  for (const [what, args, env] of left) {
    it(`given ${what}, then the fast path leaves it to @effect/cli`, () => {
      expect(fastAppendOptions(args, env)).toBeUndefined()
    })
  }

  it.effect("given a line the fast path leaves to @effect/cli, then @effect/cli refuses it or reads something else", () =>
    Effect.gen(function* () {
      // The refusals are @effect/cli's to word; what it reads from the rest is its own business.
      expect(yield* readByEffectCli(["--instance", "fm 1"], {})).toBeUndefined()
      expect(yield* readByEffectCli(["--timezone", "Mars/Olympus"], {})).toBeUndefined()
    })
  )
})
