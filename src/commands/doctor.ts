/**
 * `mitigator doctor`: every check a deployment needs, each ✔ or ✖ with a one-line fix; exit 0
 * when all pass, 1 otherwise. It reads and lists, and never changes the log or an appliance.
 */
import * as Command from "@effect/cli/Command"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as path from "node:path"
import { loadConfig, type AppConfig } from "../config/loadConfig.js"
import { EventLog } from "../eventlog/EventLog.js"
import * as SqliteEventLog from "../eventlog/SqliteEventLog.js"
import { skewInWords } from "../domain/Duration.js"
import { clockSkew } from "../domain/Time.js"
import type { CryptoSpikeError } from "../targets/CryptoSpikeUsers.js"
import type { TlsSettings } from "../config/ConfigFile.js"
import { describeCertificate, pinLine } from "../targets/certificate.js"
import type { LoadMasterError } from "../targets/LoadMasterAcl.js"
import { listedHostForm } from "../targets/loadmaster/wire.js"
import { describeSource, pickSource, type SecretSources } from "../targets/secrets.js"
import { liveCryptoSpike, tokenOption, tokenSources } from "./cryptospike.js"
import { apiKeyOption, apiKeySources, liveLoadMaster } from "./loadmaster.js"
import { ExitCode, globalOptions, logPath, tlsBesideConfig } from "./shared.js"

type Check = {
  readonly ok: boolean
  readonly what: string
  readonly fix?: string
  readonly note?: string
  /** more lines, shown under `what` (`certificate: …`) */
  readonly details?: ReadonlyArray<string>
}
const pass = (what: string): Check => ({ ok: true, what })
const fail = (what: string, fix: string): Check => ({ ok: false, what, fix })
/** Works, with a limit the operator should know about (not a failure). */
const warn = (what: string, note: string): Check => ({ ok: true, what, note })

/** How far the clock may lag the log's newest event before it counts as wrong. */
const CLOCK_SLACK_MS = 60_000

const checkLog = (file: string) =>
  Effect.gen(function* () {
    const checks: Check[] = []
    if (!fs.existsSync(file)) return [fail(`event log ${file} does not exist`, "check --db / the config's `database`; `mitigator append` creates it")]
    const dir = path.dirname(path.resolve(file))
    try {
      fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK)
      // SQLite writes its journal beside the file.
      fs.accessSync(dir, fs.constants.W_OK)
      checks.push(pass(`event log ${file} is writable`))
    } catch (e) {
      checks.push(fail(`event log ${file} is not writable (${e instanceof Error ? e.message : String(e)})`, `give the user that runs mitigator write access to ${file} and ${dir}`))
    }
    const opened = yield* Effect.either(
      Effect.gen(function* () {
        const log = yield* EventLog
        const verified = yield* log.verify
        const newest = verified._tag === "Intact" && verified.head !== null ? (yield* log.read({ afterSeq: verified.head.seq - 1, limit: 1 }))[0] : undefined
        return { verified, newest }
        // Not refused when the head file disagrees: verify reports it below, as a failed check.
      }).pipe(Effect.provide(SqliteEventLog.layer({ filename: file, create: false, checkHead: false })))
    )
    if (opened._tag === "Left") {
      checks.push(fail(`event log cannot be opened: ${opened.left.message}`, "restore it from a backup, or point --db at the right file"))
      return checks
    }
    checks.push(pass("event log schema is current (migrated)"))
    const { verified, newest } = opened.right
    if (verified._tag === "Intact" && verified.headFile === null && verified.count > 0) {
      checks.push(warn(`hash chain intact (${verified.count} events), no head file beside the log`, "the next append or status adopts the log's head; until then a cut of the newest rows would go unnoticed"))
    } else if (verified._tag === "Intact") checks.push(pass(`hash chain intact (${verified.count} events), head file matches`))
    else checks.push(fail(`hash chain broken at seq ${verified.seq}: ${verified.reason}`, "the log was altered: keep a copy for the audit and run `mitigator verify`"))
    const now = yield* Clock.currentTimeMillis
    if (newest !== undefined && Date.parse(newest.recordedAt) - now > CLOCK_SLACK_MS) {
      checks.push(fail(`clock is behind the log: its newest event was recorded at ${newest.recordedAt}, now is ${new Date(now).toISOString()}`, "fix the system clock (NTP): expiries are computed from it"))
    } else {
      checks.push(pass(`clock ${new Date(now).toISOString()} is not behind the log`))
    }
    return checks
  })

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"])

const tlsNote = (url: string, insecure: boolean): Check =>
  !url.startsWith("https:")
    ? LOOPBACK.has(new URL(url).hostname)
      ? pass(`${url}: plain HTTP, on loopback only`)
      : fail(`${url} is plain HTTP: the credentials travel unencrypted`, "use an https:// URL")
    : insecure
      ? fail(`${url}: TLS certificate NOT verified (tls.insecure)`, "set tls.ca or tls.fingerprint instead of insecure")
      : pass(`${url}: TLS certificate verified`)

/** How long doctor waits for an appliance's TLS handshake. */
const HANDSHAKE_TIMEOUT_MS = 10_000

/**
 * The certificate an https appliance presents, checked as the clients check it. When it does not
 * verify: what it is (fingerprint, subject, subjectAltNames) and the exact line that pins it, so
 * the operator can compare the fingerprint with the appliance's and paste the line; undefined for
 * plain http, `insecure`, or an appliance that cannot be reached (the list check says so).
 */
const certificateCheck = (name: string, configKey: string, url: string, settings: TlsSettings, tlsBeside: TlsSettings) =>
  Effect.gen(function* () {
    const parsed = new URL(url)
    if (parsed.protocol !== "https:" || settings.insecure) return undefined
    const { inspectCertificate } = yield* Effect.promise(() => import("../targets/tls.js"))
    const inspected = yield* Effect.either(inspectCertificate(parsed, tlsBeside, HANDSHAKE_TIMEOUT_MS, configKey))
    if (inspected._tag === "Left") {
      return inspected.left.reason === "transport" || inspected.left.reason === "timeout" ? undefined : fail(`${name} TLS: ${inspected.left.message}`, `fix ${configKey}.tls`)
    }
    const { certificate, problem, advice } = inspected.right
    const details = [`certificate: ${describeCertificate(certificate)}`]
    if (problem === undefined) return { ...pass(`${name} certificate verified${settings.fingerprint !== undefined ? " (pinned)" : settings.serverName !== undefined ? ` as ${settings.serverName}` : ""}`), details }
    const replacing = settings.fingerprint !== undefined ? "in place of the fingerprint there" : settings.ca !== undefined ? "in place of ca" : ""
    const pin = `to trust exactly this certificate, check its fingerprint against the appliance's (its WUI or \`openssl x509 -fingerprint -sha256\` there), then put this line under ${configKey}.tls${replacing === "" ? "" : `, ${replacing}`}:\n        ${pinLine(certificate)}`
    return { ...fail(`${name} certificate NOT verified: ${problem}`, advice === undefined ? pin : `${advice}; or ${pin}`), details }
  })

const targetFailure = (what: string, e: LoadMasterError | CryptoSpikeError, credential: string): Check => {
  switch (e.reason) {
    case "auth":
      return fail(`${what}: credentials refused (${e.message})`, `check ${credential}`)
    case "api-disabled":
      return fail(`${what}: the API answers 404 (${e.message})`, "enable the LoadMaster's API interface (Certificates & Security → Remote Access → Enable API Interface)")
    case "transport":
    case "timeout":
      return fail(`${what}: unreachable (${e.message})`, "check the URL, the network path and the firewall")
    default:
      return fail(`${what}: ${e.message}`, "see the message; `mitigator replay --events` shows earlier failures")
  }
}

/**
 * Ownership is checked at removal by the entry's comment; a list form without comments leaves
 * only the ledger, which cannot tell mitigator's entry from one an administrator re-made.
 */
const commentCheck = (entries: ReadonlyArray<{ readonly comment: string | null }>): Check =>
  entries.length === 0
    ? pass("LoadMaster block list is empty: whether it lists comments (which prove an entry is still mitigator's) shows once it has entries")
    : entries.some((e) => e.comment === null)
      ? warn(
          "LoadMaster lists block entries without comments: before a removal mitigator cannot see whether an entry is still its own",
          "it falls back to its ledger, so an entry an administrator deleted and re-made by hand with the same address cannot be told apart and would be removed at expiry; use the API form that lists comments (loadmaster.api) if the firmware has one"
        )
      : pass("LoadMaster lists comments: every removal first checks that the entry still carries mitigator's marker")

/**
 * Where a credential in use came from (the same precedence the clients use: flag, environment,
 * file), never its value; a flag works but is warned about.
 */
const credentialSource = (name: string, sources: SecretSources): Check => {
  const source = pickSource(sources)!
  const what = `${name} from ${describeSource(source)}`
  return source.kind === "flag"
    ? warn(what, `the process list shows it to every user of this machine: prefer ${sources.env} or a key file (chmod 600)`)
    : pass(what)
}

/** This clock against the LoadMaster's (its Date header): a reconcile pass removes nothing while they disagree. */
const applianceClockCheck = (now: string, applianceTime: string | undefined): Check => {
  if (applianceTime === undefined) {
    return warn("LoadMaster sends no Date header: this clock cannot be checked against it", "keep NTP running here: expiries are counted from this clock")
  }
  const skew = clockSkew(now, applianceTime)
  if (skew === undefined) return pass(`clock agrees with the LoadMaster's (Date ${applianceTime})`)
  return fail(
    `clock ${now} is ${skewInWords(skew.behindMs)} the LoadMaster's (Date ${applianceTime}): reconcile removes nothing while they disagree`,
    "fix the clock that is wrong (NTP on this host, or on the LoadMaster)"
  )
}

/**
 * Which form the appliance lists single hosts in, beside the form mitigator adds them in: either
 * is read (and removed as listed), so this is for the operator choosing `addressForm`.
 */
const addressFormCheck = (configured: "cidr" | "bare", entries: ReadonlyArray<{ readonly cidr: string; readonly listed: string }>): Check => {
  const sent = configured === "cidr" ? "with their prefix (203.0.113.9/32; loadmaster.addressForm: cidr)" : "bare (203.0.113.9; loadmaster.addressForm: bare)"
  const echoed = listedHostForm(entries)
  const listed =
    echoed === undefined
      ? "it lists no single host yet, so the form it echoes shows once it does"
      : echoed === "mixed"
        ? "it lists single hosts in both forms (203.0.113.9 and 203.0.113.9/32)"
        : echoed === "cidr"
          ? "it lists single hosts with their prefix (203.0.113.9/32)"
          : "it lists single hosts bare (203.0.113.9)"
  return pass(`LoadMaster address form: mitigator adds single hosts ${sent}; ${listed}; both forms are read`)
}

const checkLoadMaster = (cfg: AppConfig, apiKey: Option.Option<string>) =>
  Effect.gen(function* () {
    const settings = cfg.loadmaster!
    const checks: Check[] = []
    // First: a certificate that does not verify would otherwise read as refused credentials.
    const certificate = yield* certificateCheck("LoadMaster", "loadmaster", settings.url, settings.tls, tlsBesideConfig(cfg, settings.tls))
    if (certificate !== undefined && !certificate.ok) return [certificate]
    const client = yield* Effect.either(liveLoadMaster(cfg, apiKey))
    if (client._tag === "Left") return [fail(`LoadMaster: ${client.left.message}`, "set loadmaster.apiKeyFile (mode 600) or LOADMASTER_API_KEY")]
    const lm = client.right
    checks.push(credentialSource("LoadMaster API key", apiKeySources(cfg, settings, apiKey)))
    const listed = yield* Effect.either(lm.list({ kind: "global" }))
    if (listed._tag === "Left") return [...checks, targetFailure("LoadMaster", listed.left, "the API key (--api-key, else LOADMASTER_API_KEY, else loadmaster.apiKeyFile)")]
    checks.push(pass(`LoadMaster reachable, key accepted, global block list readable (${listed.right.length} entries)`))
    checks.push(commentCheck(listed.right))
    checks.push(addressFormCheck(settings.addressForm, listed.right))
    checks.push(tlsNote(settings.url, settings.tls.insecure))
    if (certificate !== undefined) checks.push(certificate)
    const filter = yield* Effect.either(lm.packetFilterEnabled)
    if (filter._tag === "Left") checks.push(targetFailure("LoadMaster packet filter state", filter.left, "the API key"))
    else if (filter.right) checks.push(pass("LoadMaster packet filter enabled (aclcontrol.isenabled)"))
    else checks.push(fail("LoadMaster packet filter is OFF: block lists are kept but not enforced", "enable it under System Configuration → Network Setup → Packet Routing Filter"))
    checks.push(applianceClockCheck(new Date(yield* Clock.currentTimeMillis).toISOString(), yield* lm.applianceTime))
    return checks
  })

const checkCryptoSpike = (cfg: AppConfig, token: Option.Option<string>) =>
  Effect.gen(function* () {
    const settings = cfg.cryptospike!
    const certificate = yield* certificateCheck("CryptoSpike", "cryptospike", settings.url, settings.tls, tlsBesideConfig(cfg, settings.tls))
    if (certificate !== undefined && !certificate.ok) return [certificate]
    const client = yield* Effect.either(liveCryptoSpike(cfg, token))
    if (client._tag === "Left") return [fail(`CryptoSpike: ${client.left.message}`, "set cryptospike.tokenFile (mode 600) or CRYPTOSPIKE_API_TOKEN")]
    const source = credentialSource("CryptoSpike API token", tokenSources(cfg, settings, token))
    const listed = yield* Effect.either(client.right.blockedUsers)
    if (listed._tag === "Left") return [source, targetFailure("CryptoSpike", listed.left, "the token (--cs-token, else CRYPTOSPIKE_API_TOKEN, else cryptospike.tokenFile)")]
    const users = listed.right
    const holders =
      users.length === 0
        ? pass("CryptoSpike has no blocked users: whether it tells who blocked a user (which proves a block is still mitigator's) shows once it has one")
        : users.some((u) => u.block === null)
          ? warn(
              "CryptoSpike lists blocked users without who blocked them (no blockUnblockInfo): before an unblock mitigator cannot see whether the block is still its own",
              "it falls back to its ledger, so a user CryptoSpike or an administrator blocked again after mitigator would be unblocked at mitigator's expiry"
            )
          : pass("CryptoSpike tells who blocked each user: every unblock first checks that the block is still mitigator's")
    return [
      source,
      pass(`CryptoSpike reachable, token accepted, blocked users readable (${users.length} blocked)`),
      holders,
      tlsNote(settings.url, settings.tls.insecure),
      ...(certificate === undefined ? [] : [certificate])
    ]
  })

export const doctorCommand = Command.make("doctor", { ...globalOptions, apiKey: apiKeyOption, csToken: tokenOption }, (opts) =>
  Effect.gen(function* () {
    const checks: Check[] = []
    const loaded = yield* Effect.either(loadConfig(Option.getOrUndefined(opts.config), undefined))
    if (loaded._tag === "Left") {
      checks.push(fail(`config: ${loaded.left.message}`, "fix the file; every problem is listed above"))
    } else {
      const cfg = loaded.right
      checks.push(pass(cfg.source === null ? "no config file: built-in defaults (nothing is decided or blocked)" : `config ${cfg.source} is valid`))
      checks.push(...(yield* checkLog(logPath(opts, cfg))))
      if (cfg.loadmaster === undefined && cfg.cryptospike === undefined) {
        checks.push(fail("no target configured", "add a `loadmaster` and/or `cryptospike` section to the config"))
      }
      if (cfg.loadmaster !== undefined) checks.push(...(yield* checkLoadMaster(cfg, opts.apiKey)))
      if (cfg.cryptospike !== undefined) checks.push(...(yield* checkCryptoSpike(cfg, opts.csToken)))
    }
    for (const c of checks) {
      const details = (c.details ?? []).map((d) => `\n    ${d}`).join("")
      yield* Console.log(!c.ok ? `✖ ${c.what}${details}\n    fix: ${c.fix}` : c.note !== undefined ? `! ${c.what}${details}\n    note: ${c.note}` : `✔ ${c.what}${details}`)
    }
    const failed = checks.filter((c) => !c.ok).length
    const warned = checks.filter((c) => c.ok && c.note !== undefined).length
    const warnings = warned === 0 ? "" : ` (${warned} with a warning)`
    yield* Console.log(failed === 0 ? `doctor: all ${checks.length} checks passed${warnings}` : `doctor: ${failed} of ${checks.length} checks failed${warnings}`)
    if (failed > 0) return yield* new ExitCode({ code: 1 })
  }).pipe(Effect.scoped)
).pipe(Command.withDescription("Check the config, the event log, and each configured appliance (reachable, credentials, permissions, packet filter); change nothing"))
