/**
 * What `emulate loadmaster` and `emulate cryptospike` share: the listening and fault options,
 * writing the self-signed certificate out, and serving until SIGTERM/SIGINT.
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { parseDuration } from "../domain/Duration.js"
import { UsageError } from "./shared.js"

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

export const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** `250ms`, or a duration as elsewhere (`2s`, `1m`); `0`/`0ms` is no latency. */
export const parseLatency = (text: string): { ok: true; value: number } | { ok: false; error: string } => {
  const t = text.trim()
  const ms = /^([0-9]{1,9})(ms)?$/.exec(t)
  if (ms !== null && (ms[2] === "ms" || ms[1] === "0")) return { ok: true, value: Number(ms[1]) }
  const parsed = parseDuration(t)
  return parsed.ok ? parsed : { ok: false, error: `'${text}': expected a duration like "250ms", "2s" or "1m"` }
}

export const port = Options.integer("port").pipe(
  Options.withDescription("TCP port to listen on (0: any free port)"),
  Options.mapEffect((n) => (n >= 0 && n <= 65535 ? Effect.succeed(n) : Effect.fail(invalid(`--port ${n}: expected 0 to 65535`))))
)

export const host = Options.text("host").pipe(
  Options.withDescription("address to listen on (default 127.0.0.1: loopback only)"),
  Options.withDefault("127.0.0.1")
)

export const tls = Options.boolean("tls").pipe(
  Options.withDescription("serve HTTPS with a fresh self-signed certificate (made with openssl); prints its SHA-256 fingerprint")
)

export const certOut = Options.text("cert-out").pipe(
  Options.withDescription("with --tls: write the certificate (PEM) to this file, for clients that take a CA bundle"),
  Options.optional
)

export const failRate = Options.float("fail-rate").pipe(
  Options.withDescription("share of calls (0 to 1) answered 503"),
  Options.mapEffect((r) => (r >= 0 && r <= 1 ? Effect.succeed(r) : Effect.fail(invalid(`--fail-rate ${r}: expected 0 to 1`)))),
  Options.optional
)

export const latency = Options.text("latency").pipe(
  Options.withDescription('delay before every answer, e.g. "250ms" or "2s"'),
  Options.mapEffect((text) => {
    const parsed = parseLatency(text)
    return parsed.ok ? Effect.succeed(parsed.value) : Effect.fail(invalid(`--latency ${parsed.error}`))
  }),
  Options.optional
)

/** With --tls and --cert-out, the certificate the emulator made, for clients that take a CA bundle. */
export const writeCertificate = (certOutPath: Option.Option<string>, pem: string | undefined, fail: (text: string) => UsageError) => {
  const file = Option.getOrUndefined(certOutPath)
  return file === undefined || pem === undefined
    ? Effect.void
    : Effect.try({ try: () => fs.writeFileSync(file, pem), catch: (e) => fail(`--cert-out: ${message(e)}`) })
}

/**
 * Serves until SIGTERM or SIGINT. `onSignal` runs as the signal arrives: runMain interrupts the
 * command's fiber on the same signal, so a flag set later could be missed by the finalizer.
 */
export const untilStopSignal = (onSignal: () => void) =>
  Effect.async<void>((resume) => {
    const stop = () => {
      onSignal()
      resume(Effect.void)
    }
    process.once("SIGTERM", stop)
    process.once("SIGINT", stop)
    return Effect.sync(() => {
      process.off("SIGTERM", stop)
      process.off("SIGINT", stop)
    })
  })
