/**
 * An appliance that echoes the request in its error body (the emulators' `echoRequests`: each
 * credential in every form appliances and proxies echo it, then the URL, the headers and the
 * body) must not get the key or the token into anything mitigator writes: stderr, stdout, the
 * log file, any row of the event log, the log's bytes. Each command that talks to the appliance
 * is run against the echo; the key and token hold characters every encoding changes, so each
 * form is a different text to look for.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { classify } from "../../src/targets/cryptospike/wire.js"
import { classifyV2 } from "../../src/targets/loadmaster/wire.js"
import { REDACTED } from "../../src/targets/Redactor.js"
import type { RunResult } from "../support/cli.js"
import { adsLineWithUser, csWorkspace, seedUser, withCryptoSpike } from "../support/cryptospike.js"
import { adsLine } from "../support/fixtures.js"
import { lmWorkspace, withEmulator } from "../support/loadmaster.js"

// A blank, +, /, &, a quote, % and ?: every encoding changes them; base64 is padded and has + or /.
const LM_KEY = 'LmK3y +/&"%?~'
const CS_TOKEN = 'xapp-T0k +/&"%?~'

const b64 = (s: string) => Buffer.from(s).toString("base64")

/** Every form the issue names, by name. */
const formsOf = (secret: string, basicUser?: string): ReadonlyArray<readonly [string, string]> => [
  ["raw", secret],
  ["URL-encoded", encodeURIComponent(secret)],
  ["form-encoded (+)", new URLSearchParams({ k: secret }).toString().slice(2)],
  ["JSON-escaped", JSON.stringify(secret).slice(1, -1)],
  ["base64", b64(secret)],
  ["base64url", Buffer.from(secret).toString("base64url")],
  ...(basicUser === undefined ? [] : [["Basic user:password base64", b64(`${basicUser}:${secret}`)] as const])
]

/** Every text mitigator left: the runs' output, the log file, each event row (every column), the log's bytes. */
const everythingWritten = (runs: ReadonlyArray<RunResult>, logFile: string, db: string): Array<readonly [string, string]> => {
  const texts: Array<readonly [string, string]> = runs.map((r, i) => [`run ${i} output`, r.stdout + r.stderr] as const)
  texts.push(["the log file", fs.readFileSync(logFile, "utf8")])
  const sqlite = new Database(db, { readonly: true })
  try {
    for (const row of sqlite.prepare("SELECT * FROM events").all() as Array<Record<string, unknown>>) texts.push([`event ${String(row["seq"])}`, JSON.stringify(row)])
  } finally {
    sqlite.close()
  }
  for (const file of fs.readdirSync(path.dirname(db)).filter((f) => f.startsWith(path.basename(db)))) {
    texts.push([file, fs.readFileSync(path.join(path.dirname(db), file)).toString("latin1")])
  }
  return texts
}

const expectNoForm = (texts: ReadonlyArray<readonly [string, string]>, forms: ReadonlyArray<readonly [string, string]>) => {
  for (const [where, text] of texts) {
    for (const [form, value] of forms) expect(text.includes(value), `${where} holds the secret ${form}: ${value}`).toBe(false)
  }
}

describe("an appliance that echoes the request in its error body", () => {
  it("LoadMaster: the key in no form reaches stderr, the log file or the event log", () =>
    withEmulator(
      async (lm) => {
        const forms = formsOf(LM_KEY, "bal")
        // Given a LoadMaster that refuses every call echoing it, the key in every form
        const echo = await fetch(`${lm.url}/accessv2`, { method: "POST", body: JSON.stringify({ cmd: "aclcontrol", list: "block", apikey: LM_KEY }) })
        const answer = await echo.text()
        const echoed = (JSON.parse(answer) as { message: string }).message
        for (const [form, value] of forms) expect(echoed.includes(value), `the echo lacks the ${form} form`).toBe(true)
        // (and without redaction the error mitigator reports would quote the key)
        const unredacted = classifyV2(echo.status, answer)
        expect(!unredacted.ok && unredacted.error.message.includes(LM_KEY)).toBe(true)

        const ws = lmWorkspace(lm)
        const logFile = path.join(ws.dir, "mitigator.log")
        const runs: RunResult[] = []
        // When every command that talks to it runs: append applying at once, reconcile, plan, doctor
        runs.push(await ws.cmd(["append", "--instance", "fm1", "--log-file", logFile], { stdin: `${adsLine(1, "192.0.2.31")}\n` }))
        runs.push(await ws.reconcile(["--log-file", logFile]))
        runs.push(await ws.reconcile(["--log-format", "json", "--log-file", logFile]))
        runs.push(await ws.plan())
        runs.push(await ws.plan(["--json"]))
        runs.push(await ws.cmd(["doctor"]))
        expect(runs[1]!.code, runs[1]!.stdout + runs[1]!.stderr).toBe(1)
        expect(runs[3]!.code).toBe(1)
        expect(runs[5]!.code).toBe(1)

        // Then the refusals are reported and recorded, with the key taken out
        const failures = (await ws.events()).filter((e) => e.type === "TargetChangeFailed")
        expect(failures.length).toBeGreaterThan(0)
        for (const f of failures) expect(f.payload.message).toContain(`request rejected (apikey: ${REDACTED}`)
        expect(runs[1]!.stdout + runs[1]!.stderr).toContain(REDACTED)
        expect(fs.readFileSync(logFile, "utf8")).toContain(REDACTED)
        // and no form of the key is anywhere
        expectNoForm(everythingWritten(runs, logFile, ws.db), forms)
      },
      { apiKey: LM_KEY, faults: { echoRequests: true } }
    ), 120_000)

  it("CryptoSpike: the token in no form reaches stderr, the log file or the event log", () =>
    withCryptoSpike(
      async (cs) => {
        const forms = formsOf(CS_TOKEN)
        const echo = await fetch(`${cs.url}/api/v1/audit/users?page=0&size=1`, { headers: { "x-auth-token": CS_TOKEN } })
        const answer = await echo.text()
        const echoed = (JSON.parse(answer) as { message: string }).message
        for (const [form, value] of forms) expect(echoed.includes(value), `the echo lacks the ${form} form`).toBe(true)
        const unredacted = classify(echo.status, answer, { json: true })
        expect(!unredacted.ok && unredacted.error.message.includes(CS_TOKEN)).toBe(true)

        const ws = csWorkspace(cs)
        const logFile = path.join(ws.dir, "mitigator.log")
        const runs: RunResult[] = []
        runs.push(await ws.cmd(["append", "--instance", "fm1", "--log-file", logFile], { stdin: `${adsLineWithUser(1, "192.0.2.31", "CORP\\user1")}\n` }))
        runs.push(await ws.reconcile(["--log-file", logFile]))
        runs.push(await ws.cmd(["plan"]))
        runs.push(await ws.cmd(["doctor"]))
        expect(runs[1]!.code, runs[1]!.stdout + runs[1]!.stderr).toBe(1)
        expect(runs[2]!.code).toBe(1)
        expect(runs[3]!.code).toBe(1)

        const failures = (await ws.events()).filter((e) => e.type === "TargetChangeFailed")
        expect(failures.length).toBeGreaterThan(0)
        for (const f of failures) expect(f.payload.message).toContain(`request rejected (x-auth-token: ${REDACTED}`)
        expect(fs.readFileSync(logFile, "utf8")).toContain(REDACTED)
        expectNoForm(everythingWritten(runs, logFile, ws.db), forms)
      },
      { token: CS_TOKEN, seed: { users: [seedUser(1)] }, faults: { echoRequests: true } }
    ), 120_000)
})
