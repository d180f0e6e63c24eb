/**
 * CryptoSpike: its API token, a TCP connection, TLS, then (with a token and a trusted transport)
 * its blocked users and whether it tells who blocked them. Each API call is made once, as for the
 * LoadMaster.
 */
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { AppConfig } from "../../config/loadConfig.js"
import type { CryptoSpikeError } from "../../targets/CryptoSpikeUsers.js"
import { describeSource, type SecretSources } from "../../targets/secrets.js"
import { tokenSources } from "../cryptospike.js"
import { tlsBesideConfig } from "../shared.js"
import { credentialCheck, refusedCredentialFix, transportCheck, type Appliance, type Resolved } from "./applianceChecks.js"
import { fail, pass, warn, type Check } from "./Check.js"
import { probe, unreachableCheck, unreachableFromMessage } from "./reach.js"

const CRYPTOSPIKE: Appliance = {
  name: "CryptoSpike",
  key: "cryptospike",
  credential: "API token",
  fileKey: "tokenFile",
  makeCredential: "CryptoSpike makes one under Settings > System > API Tokens"
}

const SERVES = "the address and port of CryptoSpike (https://<address>[:port]; its REST API is under /api/v1 there)"

const apiFailure = (e: CryptoSpikeError, url: URL, resolved: Resolved, sources: SecretSources): Check => {
  const name = "cryptospike.api"
  switch (e.reason) {
    case "auth":
      return fail(
        name,
        `CryptoSpike refused the API token from ${describeSource(resolved.source)}${e.status === undefined ? "" : ` (HTTP ${e.status})`}`,
        e.status === 403
          ? "give the token's user StorageUser READ/MODIFY and FileActivity READ in CryptoSpike, or use a token of a user who has them"
          : refusedCredentialFix(CRYPTOSPIKE, resolved.source, sources),
        [`its answer: ${e.message}`]
      )
    case "transport": {
      const why = unreachableFromMessage(e.message)
      return why.code === "ECONNRESET"
        ? fail(name, `CryptoSpike at ${url.host}: connection reset (ECONNRESET)`, `something at ${url.host} accepts connections and drops them: check that cryptospike.url is ${SERVES}, with http:// or https:// as it serves`)
        : unreachableCheck(name, "CryptoSpike", "cryptospike", url, why, SERVES)
    }
    case "timeout":
      return fail(name, `CryptoSpike: ${e.message}`, `it accepted the connection and did not answer: check that cryptospike.url is ${SERVES}; if it is, CryptoSpike is overloaded: run doctor again later`)
    case "server":
      return fail(name, `CryptoSpike: ${e.message}`, "CryptoSpike failed the call: see its logs, then run doctor again")
    case "rejected":
      return fail(name, `CryptoSpike: ${e.message}`, `check that cryptospike.url is ${SERVES}`)
    case "protocol":
    case "too-large":
      return fail(name, `CryptoSpike: ${e.message}`, `the answer is not CryptoSpike's: check that cryptospike.url is ${SERVES} (not a proxy or another service)`)
  }
}

export const cryptoSpikeChecks = (cfg: AppConfig, tokenFlag: Option.Option<string>, whoAmI: string) =>
  Effect.gen(function* () {
    const settings = cfg.cryptospike!
    const url = new URL(settings.url)
    const tls = tlsBesideConfig(cfg, settings.tls)
    const sources = tokenSources(cfg, settings, tokenFlag)
    const { check: credential, resolved } = yield* credentialCheck(CRYPTOSPIKE, sources, whoAmI)
    const checks: Check[] = [credential]
    const unreachable = yield* probe(url)
    if (unreachable !== undefined) return [...checks, unreachableCheck("cryptospike.api", "CryptoSpike", "cryptospike", url, unreachable, SERVES)]
    const transport = yield* transportCheck(CRYPTOSPIKE, url, tls)
    checks.push(transport.check)
    if (!transport.trusted || resolved === undefined) return checks
    const { makeLiveCryptoSpike } = yield* Effect.promise(() => import("../../targets/cryptospike/LiveCryptoSpike.js"))
    const made = yield* Effect.either(
      makeLiveCryptoSpike({ url: settings.url, auth: { kind: "token", token: resolved.secret }, tls, unblockState: settings.unblock.userAccessState, rateLimit: 50, retries: 0 })
    )
    if (made._tag === "Left") return [...checks, apiFailure(made.left, url, resolved, sources)]
    const listed = yield* Effect.either(made.right.blockedUsers)
    if (listed._tag === "Left") return [...checks, apiFailure(listed.left, url, resolved, sources)]
    const users = listed.right
    checks.push(pass("cryptospike.api", `CryptoSpike reachable, token accepted, blocked users readable (${users.length} blocked)`))
    checks.push(
      users.length === 0
        ? pass("cryptospike.blockInfo", "CryptoSpike has no blocked users: whether it tells who blocked a user (which proves a block is still mitigator's) shows once it has one")
        : users.some((u) => u.block === null)
          ? warn(
              "cryptospike.blockInfo",
              "CryptoSpike lists blocked users without who blocked them (no blockUnblockInfo): before an unblock mitigator cannot see whether the block is still its own",
              "it falls back to its ledger, so a user CryptoSpike or an administrator blocked again after mitigator would be unblocked at mitigator's expiry"
            )
          : pass("cryptospike.blockInfo", "CryptoSpike tells who blocked each user: every unblock first checks that the block is still mitigator's")
    )
    return checks
  })
