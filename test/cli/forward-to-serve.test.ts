/**
 * End to end, as deployed: Flowmon's side (deploy/flowmon/mitigator-forward.sh under `dash`, with
 * the real curl) posting to a real `mitigator serve`, which blocks on the LoadMaster emulator.
 * While serve is down the forwarder spools; once it is back, the spool is delivered in order, once.
 */
import { describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { runProcess } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"
import { addrs, lmWorkspace, startCli, waitFor, withEmulator, type RunningCli } from "../support/loadmaster.js"
import { closedPort } from "../support/ports.js"

const SCRIPT = fileURLToPath(new URL("../../deploy/flowmon/mitigator-forward.sh", import.meta.url))
const TOKEN = `e2e-${randomBytes(20).toString("hex")}`

describe("the Flowmon forwarder and mitigator serve together", () => {
  it("given serve is down, the detections wait in the spool; given it is back, they are stored once, in order, and blocked", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const tokenFile = path.join(w.dir, "serve.token")
      fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 })
      fs.chmodSync(tokenFile, 0o600)
      const spool = path.join(w.dir, "spool")
      const port = await closedPort()
      const url = `http://127.0.0.1:${port}`
      const forward = (ids: ReadonlyArray<number>) =>
        runProcess("dash", [SCRIPT], {
          stdin: ids.map((id) => `${adsLine(id, `192.0.2.${id}`)}\n`).join(""),
          env: { MITIGATOR_URL: url, MITIGATOR_TOKEN_FILE: tokenFile, MITIGATOR_SPOOL: spool }
        })

      // Given serve is down: ADS is not held up, the lines wait.
      for (const ids of [[11], [12, 13]]) {
        const run = await forward(ids)
        expect(run.code, run.stderr).toBe(0)
      }
      expect(fs.readdirSync(spool).filter((n) => n.endsWith(".events"))).toHaveLength(2)

      // When serve is back and the next detection comes in:
      let server: RunningCli | undefined
      try {
        server = startCli(["serve", "--db", w.db, "--config", w.config, "--listen", `127.0.0.1:${port}`, "--token-file", tokenFile], { cwd: w.dir })
        await waitFor("serve to listen", () => server!.stdout().includes("listening on") || server!.child.exitCode !== null, 30_000)
        const run = await forward([14])
        expect(run.code, run.stderr).toBe(0)

        // Then every detection is stored once, the spooled ones first, in the order they came.
        const ids = (await w.events()).filter((e) => e.type === "FlowmonEventReceived").map((e) => String(e.payload.eventId))
        expect(ids).toEqual(["11", "12", "13", "14"])
        expect(fs.readdirSync(spool).filter((n) => n.endsWith(".events"))).toEqual([])
        // ...and blocked on the LoadMaster (applied at once by serve, without the client waiting).
        await waitFor("the four blocks on the LoadMaster", () => addrs(emulator).length === 4, 30_000)
        expect(addrs(emulator)).toEqual(["192.0.2.11/32", "192.0.2.12/32", "192.0.2.13/32", "192.0.2.14/32"])
        expect(server.stdout() + server.stderr()).not.toContain(TOKEN)
      } finally {
        server?.child.kill("SIGTERM")
        await server?.done
      }
    })
  }, 120_000)
})
