/**
 * `append` of a corpus of real-world damage (cut lists, ellipses, stray separators, wrong
 * encodings): every detection is stored in full, the summary counts the warnings, and the exit
 * code is 0 (nothing was rejected). A real process, a real SQLite file.
 */
import { describe, expect, it } from "@effect/vitest"
import * as path from "node:path"
import { jsonLines, runCli, summaryLine, tempDir } from "../support/cli.js"
import { corpusInput, DAMAGED_CEF, DAMAGED_TSV, type DamagedLine } from "../support/damagedCorpus.js"

const warningsOf = (lines: ReadonlyArray<DamagedLine>) => lines.reduce((n, l) => n + l.warned.length, 0)

describe("append: damaged optional fields", () => {
  it.each([
    ["TSV", DAMAGED_TSV, "tsv"],
    ["CEF", DAMAGED_CEF, "cef"]
  ] as const)("stores every line of the %s corpus, with its warnings, and exits 0", async (_, corpus, format) => {
    const db = path.join(tempDir(), "events.db")
    const run = await runCli(["append", "--db", db, "--instance", "fm1", "--format", format], { stdin: corpusInput(corpus) })
    expect(run.code, run.stderr).toBe(0)
    const n = corpus.length
    expect(summaryLine(run)).toMatch(
      new RegExp(`^mitigator append: ${n} stored, 0 duplicate, 0 rejected, ${warningsOf(corpus)} field warnings \\(fields not read, kept raw; first: line 1: `)
    )

    const replay = await runCli(["replay", "--events", "--json", "--db", db])
    expect(replay.code, replay.stderr).toBe(0)
    const events = jsonLines(replay.stdout)
    expect(events.map((e) => e.type)).toEqual(corpus.map(() => "FlowmonEventReceived"))
    events.forEach((e, i) => {
      expect(e.payload.targets, corpus[i]!.name).toEqual(corpus[i]!.targets)
      expect(e.payload.warnings.map((w: { field: string }) => w.field).sort(), corpus[i]!.name).toEqual([...corpus[i]!.warned].sort())
    })
    // The stored rows still form a chain that verifies.
    const verify = await runCli(["verify", "--db", db])
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)

    // The same input again: duplicates, whose warnings are not counted twice.
    const again = await runCli(["append", "--db", db, "--instance", "fm1", "--format", format], { stdin: corpusInput(corpus) })
    expect(again.code, again.stderr).toBe(0)
    expect(summaryLine(again)).toBe(`mitigator append: 0 stored, ${n} duplicate, 0 rejected`)
  })
})
