/**
 * What the LoadMaster is sent as an entry's comment, for an ADS and an IDS detection, as the
 * emulator received it (issue 18): at most 64 characters of [A-Za-z0-9 ._-], carrying the
 * instance, the deciding event's seq, the product and (for ADS) the method.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { adsLine, idsLine } from "../support/fixtures.js"
import { lmWorkspace, withEmulator } from "../support/loadmaster.js"

const BOTH_PRODUCTS = [
  "policy:",
  "  rules:",
  "    - name: ads",
  "      match: { product: ads, methods: [SSHDICT] }",
  "      actions:",
  "        - { loadmaster: global, ttl: 1h }",
  "    - name: ids",
  "      match: { product: ids }",
  "      actions:",
  "        - { loadmaster: global, ttl: 1h }",
  ""
].join("\n")

describe("LoadMaster comments on the wire", () => {
  it("given an ADS and an IDS detection, when they are applied at once, then each entry's comment names the instance, the decision's seq, the product (and the ADS method) within 64 plain characters", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const head = fs.readFileSync(w.config, "utf8").split("policy:")[0]!
      const config = path.join(w.dir, "both.yaml")
      fs.writeFileSync(config, head + BOTH_PRODUCTS)

      for (const line of [adsLine(9001, "203.0.113.9"), idsLine(9002, "203.0.113.10")]) {
        const run = await w.cmd(["append", "--instance", "fm1"], { stdin: `${line}\n`, config })
        expect(run.code, run.stderr).toBe(0)
      }
      const decided = (await w.events()).filter((e) => e.type === "BlockDecided")
      const seqOf = (source: string) => decided.find((e) => e.payload.cause.source === source)!.seq
      const comments = Object.fromEntries(emulator.entries("global").map((e) => [e.addr, e.comment]))
      expect(comments).toEqual({
        "203.0.113.9/32": `mitigator fm1 ${seqOf("203.0.113.9")} ads SSHDICT`,
        "203.0.113.10/32": `mitigator fm1 ${seqOf("203.0.113.10")} ids`
      })
      for (const comment of Object.values(comments)) expect(comment).toMatch(/^[A-Za-z0-9 ._-]{1,64}$/)
    })
  })
})
