/** The live CryptoSpike client from the config and the token's sources (flag, then env, then file). */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AppConfig, CryptoSpikeSettings } from "../config/loadConfig.js"
import { fencedCryptoSpike } from "../reconciler/fenced.js"
import type { SecretSources } from "../targets/secrets.js"
import { besideConfig, credential, tlsBesideConfig, UsageError } from "./shared.js"


/** Where the token may come from, in the order tried: --cs-token, CRYPTOSPIKE_API_TOKEN, cryptospike.tokenFile. */
export const tokenSources = (cfg: AppConfig, settings: CryptoSpikeSettings, tokenFlag: Option.Option<string>): SecretSources => ({
  what: "the CryptoSpike API token",
  flag: Option.getOrUndefined(tokenFlag),
  flagName: "--cs-token",
  env: "CRYPTOSPIKE_API_TOKEN",
  file: besideConfig(cfg, settings.tokenFile)
})

/** `calls.retryRefused`: as for liveLoadMaster (loadmaster.ts): true for reconcile, false where someone waits. */
export const liveCryptoSpike = (cfg: AppConfig, tokenFlag: Option.Option<string>, calls: { readonly retryRefused: boolean }) =>
  Effect.gen(function* () {
    const settings = cfg.cryptospike
    if (settings === undefined) {
      return yield* new UsageError({ message: "the config has no `cryptospike` section: there is no CryptoSpike to talk to" })
    }
    const token = yield* credential(tokenSources(cfg, settings, tokenFlag))
    const tls = tlsBesideConfig(cfg, settings.tls)
    // Loaded on use, like the LoadMaster client.
    const { makeLiveCryptoSpike } = yield* Effect.promise(() => import("../targets/cryptospike/LiveCryptoSpike.js"))
    // Each change asks the reconcile lease it runs under first (fenced.ts).
    return fencedCryptoSpike(yield* makeLiveCryptoSpike({
      url: settings.url,
      auth: { kind: "token", token },
      tls,
      unblockState: settings.unblock.userAccessState,
      // CryptoSpike documents no limit; 50 calls/s keeps long paging runs from hammering it.
      rateLimit: 50,
      retryRefused: calls.retryRefused
    }))
  })
