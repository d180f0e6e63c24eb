/**
 * A LoadMaster with a self-signed certificate, pinned by its sha256 in the config: the pin is
 * checked in the handshake of each connection, before any request (and its API key) is written,
 * so a detection's `append` costs the appliance one TLS handshake, not two.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import { adsLine } from "../support/fixtures.js"
import { lmWorkspace, withEmulator } from "../support/loadmaster.js"

/** The default policy: SSHDICT detections (adsLine's) blocked globally for an hour. */
const RULE = { ttl: "1h" }

/** The workspace's config with `loadmaster.tls.fingerprint` set to `pin`. */
const pinned = (config: string, pin: string) => {
  const yaml = fs.readFileSync(config, "utf8")
  fs.writeFileSync(config, yaml.replace(/^loadmaster:\n/m, `loadmaster:\n  tls: { fingerprint: "sha256:${pin}" }\n`))
}

describe("a pinned LoadMaster certificate", () => {
  it("given the appliance's own pin, when append blocks a detection, then the block is there after one TLS handshake", () =>
    withEmulator(
      async (emulator) => {
        const ws = lmWorkspace(emulator, RULE)
        pinned(ws.config, emulator.fingerprint!)
        const run = await ws.cmd(["append", "--instance", "fm1"], { stdin: adsLine(1, "198.51.100.7") + "\n" })
        expect(run.code, run.stderr).toBe(0)
        expect(emulator.entries("global").map((e) => e.addr)).toEqual(["198.51.100.7/32"])
        expect(emulator.tlsHandshakes()).toBe(1)
      },
      { tls: true }
    ))

  it("given the pin of another certificate, when append decides a block, then nothing reaches the appliance and the error names both fingerprints", () =>
    withEmulator(
      async (emulator) => {
        const ws = lmWorkspace(emulator, RULE)
        const other = "ab".repeat(32)
        pinned(ws.config, other)
        const run = await ws.cmd(["append", "--instance", "fm1"], { stdin: adsLine(2, "198.51.100.8") + "\n" })
        // Recorded and decided; the apply is left to the next reconcile.
        expect(run.code, run.stderr).toBe(0)
        expect(run.stderr).toContain(`not the pinned ${other}: refusing to connect`)
        const presented = emulator.fingerprint!.replaceAll(":", "").toLowerCase()
        expect(run.stderr).toContain(`has sha256 fingerprint ${presented}`)
        expect(emulator.counts()).toEqual({})
        expect(emulator.entries("global")).toEqual([])
        const reconcile = await ws.reconcile()
        // The pass fails on the list, saying why, and changes nothing.
        expect(reconcile.code).toBe(1)
        expect(reconcile.stdout).toContain(`cannot list: the certificate of 127.0.0.1:${emulator.port} has sha256 fingerprint ${presented}, not the pinned ${other}: refusing to connect`)
        expect(emulator.counts()).toEqual({})
      },
      { tls: true }
    ))
})
