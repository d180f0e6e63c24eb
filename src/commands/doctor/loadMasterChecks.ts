/**
 * The LoadMaster: its API key, a TCP connection, TLS, then (with a key and a trusted transport)
 * its block list, the forms it lists in, its packet filter and its clock. Each API call is made
 * once: doctor reports what the appliance does now, and a failure that a retry might mend (5xx,
 * 429) is reported as it is, to run doctor again.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { AppConfig } from "../../config/loadConfig.js"
import { clockSkew } from "../../domain/Time.js"
import { skewInWords } from "../../domain/Duration.js"
import type { LoadMasterError } from "../../targets/LoadMasterAcl.js"
import { listedHostForm } from "../../targets/loadmaster/wire.js"
import { describeSource, type SecretSources } from "../../targets/secrets.js"
import { apiKeySources } from "../loadmaster.js"
import { tlsBesideConfig } from "../shared.js"
import { credentialCheck, refusedCredentialFix, transportCheck, type Appliance, type Resolved } from "./applianceChecks.js"
import { fail, pass, warn, type Check } from "./Check.js"
import { probe, unreachableCheck, unreachableFromMessage } from "./reach.js"

const LOADMASTER: Appliance = {
  name: "LoadMaster",
  key: "loadmaster",
  credential: "API key",
  fileKey: "apiKeyFile",
  makeCredential: "the LoadMaster makes one under System Configuration > System Administration > User Management > Modify (the API user) > Generate New APIKey"
}

const ENABLE_API = "Certificates & Security > Remote Access > Enable API Interface (older firmware: System Configuration > Miscellaneous Options > Remote Access)"

/** What the web interface serves: where `loadmaster.url` must point. */
const SERVES = "the address and port of the LoadMaster's web interface, where its API is (https://<address>[:port])"

/** The LoadMaster answers on the management address chosen there only. */
const LISTENS_ON = "that the LoadMaster allows web administrative access on that address (Certificates & Security > Remote Access > Allow Web Administrative Access, Using)"

/** A failed API call as a check: what happened and the fix for that cause. */
const apiFailure = (e: LoadMasterError, url: URL, api: "v1" | "v2", resolved: Resolved, sources: SecretSources): Check => {
  const name = "loadmaster.api"
  switch (e.reason) {
    case "auth":
      return fail(
        name,
        `LoadMaster refused the API key from ${describeSource(resolved.source)}${e.status === undefined ? "" : ` (HTTP ${e.status})`}`,
        refusedCredentialFix(LOADMASTER, resolved.source, sources),
        [`its answer: ${e.message}`]
      )
    case "api-disabled":
      return fail(
        name,
        `LoadMaster: the API answers 404 at ${api === "v2" ? "/accessv2 (APIv2)" : "/access (APIv1)"}`,
        api === "v2"
          ? `enable the API: ${ENABLE_API}; if it is enabled, this firmware predates the JSON API (7.2.52): set loadmaster.api: v1`
          : `enable the API: ${ENABLE_API}`
      )
    case "transport": {
      const why = unreachableFromMessage(e.message)
      return why.code === "ECONNRESET"
        ? fail(name, `LoadMaster at ${url.host}: connection reset (ECONNRESET)`, `something at ${url.host} accepts connections and drops them: check that loadmaster.url is ${SERVES}, with http:// or https:// as it serves`)
        : unreachableCheck(name, "LoadMaster", "loadmaster", url, why, SERVES, LISTENS_ON)
    }
    case "timeout":
      return fail(name, `LoadMaster: ${e.message}`, `it accepted the connection and did not answer: check that loadmaster.url is ${SERVES}; if it is, the LoadMaster is overloaded: run doctor again later`)
    case "rate-limited":
      return fail(name, `LoadMaster: ${e.message}`, "another client is calling the LoadMaster's API too often (it drops clients over 30 calls in 3 s): find it, then run doctor again")
    case "server":
      return fail(name, `LoadMaster: ${e.message}`, "the LoadMaster failed the call: see its system log, then run doctor again")
    case "rejected":
      return fail(name, `LoadMaster refused to list the global block list: ${e.message}`, "the LoadMaster's own words above say why; when they are about permissions, give the key's user the rights it lacks (System Configuration > System Administration > User Management > Modify)")
    case "protocol":
    case "too-large":
      return fail(name, `LoadMaster: ${e.message}`, `the answer is not a LoadMaster's: check that loadmaster.url is ${SERVES} (not a proxy or another service) and loadmaster.api (v2, or v1 for firmware before 7.2.52)`)
  }
}

/**
 * Ownership is checked at removal by the entry's comment; a list form without comments leaves
 * only the ledger, which cannot tell mitigator's entry from one an administrator re-made.
 */
const commentCheck = (entries: ReadonlyArray<{ readonly comment: string | null }>): Check =>
  entries.length === 0
    ? pass("loadmaster.comments", "LoadMaster block list is empty: whether it lists comments (which prove an entry is still mitigator's) shows once it has entries")
    : entries.some((e) => e.comment === null)
      ? warn(
          "loadmaster.comments",
          "LoadMaster lists block entries without comments: before a removal mitigator cannot see whether an entry is still its own",
          "it falls back to its ledger, so an entry an administrator deleted and re-made by hand with the same address cannot be told apart and would be removed at expiry; use the API form that lists comments (loadmaster.api) if the firmware has one"
        )
      : pass("loadmaster.comments", "LoadMaster lists comments: every removal first checks that the entry still carries mitigator's marker")

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
  return pass("loadmaster.addressForm", `LoadMaster address form: mitigator adds single hosts ${sent}; ${listed}; both forms are read`)
}

/** This clock against the LoadMaster's (its Date header): a reconcile pass removes nothing while they disagree. */
const applianceClockCheck = (now: string, applianceTime: string | undefined): Check => {
  if (applianceTime === undefined) {
    return warn("loadmaster.clock", "LoadMaster sends no Date header: this clock cannot be checked against it", "keep NTP running here: expiries are counted from this clock")
  }
  const skew = clockSkew(now, applianceTime)
  if (skew === undefined) return pass("loadmaster.clock", `clock agrees with the LoadMaster's (Date ${applianceTime})`)
  return fail(
    "loadmaster.clock",
    `clock ${now} is ${skewInWords(skew.behindMs)} the LoadMaster's (Date ${applianceTime}): reconcile removes nothing while they disagree`,
    "fix the clock that is wrong (NTP on this host, or on the LoadMaster)"
  )
}

export const loadMasterChecks = (cfg: AppConfig, apiKeyFlag: Option.Option<string>, whoAmI: string) =>
  Effect.gen(function* () {
    const settings = cfg.loadmaster!
    const url = new URL(settings.url)
    const tls = tlsBesideConfig(cfg, settings.tls)
    const sources = apiKeySources(cfg, settings, apiKeyFlag)
    // The local check first: it needs no network, and a missing key leaves the rest to run.
    const { check: credential, resolved } = yield* credentialCheck(LOADMASTER, sources, whoAmI)
    const checks: Check[] = [credential]
    const unreachable = yield* probe(url)
    if (unreachable !== undefined) return [...checks, unreachableCheck("loadmaster.api", "LoadMaster", "loadmaster", url, unreachable, SERVES, LISTENS_ON)]
    // Before the key is sent: a certificate that does not verify would otherwise read as a refused key.
    const transport = yield* transportCheck(LOADMASTER, url, tls)
    checks.push(transport.check)
    if (!transport.trusted || resolved === undefined) return checks
    const { makeLiveLoadMaster } = yield* Effect.promise(() => import("../../targets/loadmaster/LiveLoadMaster.js"))
    const made = yield* Effect.either(
      makeLiveLoadMaster({ url: settings.url, apiKey: resolved.secret, api: settings.api, addressForm: settings.addressForm, rateLimit: settings.rateLimit, tls, retries: 0 })
    )
    if (made._tag === "Left") return [...checks, apiFailure(made.left, url, settings.api, resolved, sources)]
    const lm = made.right
    const listed = yield* Effect.either(lm.list({ kind: "global" }))
    if (listed._tag === "Left") return [...checks, apiFailure(listed.left, url, settings.api, resolved, sources)]
    checks.push(pass("loadmaster.api", `LoadMaster reachable, key accepted, global block list readable (${listed.right.length} entries)`))
    checks.push(commentCheck(listed.right))
    checks.push(addressFormCheck(settings.addressForm, listed.right))
    const filter = yield* Effect.either(lm.packetFilterEnabled)
    if (filter._tag === "Left") checks.push({ ...apiFailure(filter.left, url, settings.api, resolved, sources), name: "loadmaster.packetFilter" })
    else if (filter.right) checks.push(pass("loadmaster.packetFilter", "LoadMaster packet filter enabled (aclcontrol.isenabled)"))
    else
      checks.push(
        fail(
          "loadmaster.packetFilter",
          "LoadMaster packet filter is OFF: block lists are kept but not enforced",
          "enable it under System Configuration > Network Setup > Packet Routing Filter"
        )
      )
    checks.push(applianceClockCheck(new Date(yield* Clock.currentTimeMillis).toISOString(), yield* lm.applianceTime))
    return checks
  })
