/** The live LoadMaster client from the config and the key's sources (flag, then env, then file). */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { AppConfig, LoadMasterSettings } from "../config/loadConfig.js"
import { fencedLoadMaster } from "../reconciler/fenced.js"
import type { SecretSources } from "../targets/secrets.js"
import { besideConfig, credential, tlsBesideConfig, UsageError } from "./shared.js"


/** Where the API key may come from, in the order tried: --api-key, LOADMASTER_API_KEY, loadmaster.apiKeyFile. */
export const apiKeySources = (cfg: AppConfig, settings: LoadMasterSettings, apiKeyFlag: Option.Option<string>): SecretSources => ({
  what: "the LoadMaster API key",
  flag: Option.getOrUndefined(apiKeyFlag),
  flagName: "--api-key",
  env: "LOADMASTER_API_KEY",
  file: besideConfig(cfg, settings.apiKeyFile)
})

/**
 * `calls.retryRefused`: whether a refused connection is retried within a call (http.ts
 * retriesWithinCall): true for reconcile, false where a person or Flowmon waits for the answer.
 * No default: each command says which it is.
 */
export const liveLoadMaster = (cfg: AppConfig, apiKeyFlag: Option.Option<string>, calls: { readonly retryRefused: boolean }) =>
  Effect.gen(function* () {
    const settings = cfg.loadmaster
    if (settings === undefined) {
      return yield* new UsageError({ message: "the config has no `loadmaster` section: there is no LoadMaster to reconcile" })
    }
    const apiKey = yield* credential(apiKeySources(cfg, settings, apiKeyFlag))
    const tls = tlsBesideConfig(cfg, settings.tls)
    // Loaded on use: the HTTP client stack is not needed by the commands that do not talk to it.
    const { makeLiveLoadMaster } = yield* Effect.promise(() => import("../targets/loadmaster/LiveLoadMaster.js"))
    // Each change asks the reconcile lease it runs under first (fenced.ts).
    return fencedLoadMaster(
      yield* makeLiveLoadMaster({ url: settings.url, apiKey, api: settings.api, addressForm: settings.addressForm, rateLimit: settings.rateLimit, tls, retryRefused: calls.retryRefused })
    )
  })
