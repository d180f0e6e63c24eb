/**
 * The appliances' own addresses as never-block rails: the hosts of loadmaster.url and
 * cryptospike.url, resolved when a command that decides starts. A name that cannot be resolved is
 * a warning, never a stop.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { appliancesOf, applianceRails, needsLookup } from "../../src/commands/appliances.js"
import { NO_CONFIG, type AppConfig } from "../../src/config/loadConfig.js"

const withUrls = (lm: string | undefined, cs: string | undefined): AppConfig => ({
  ...NO_CONFIG,
  source: "/etc/mitigator.yaml",
  loadmaster: lm === undefined ? undefined : ({ url: lm } as AppConfig["loadmaster"]),
  cryptospike: cs === undefined ? undefined : ({ url: cs } as AppConfig["cryptospike"])
})

describe("appliance rails", () => {
  it("given address literals, then no lookup is needed and each is a rail named after its appliance", async () => {
    const cfg = withUrls("https://198.51.100.7:8443", "https://[2001:DB8::C5]/api")
    expect(appliancesOf(cfg)).toEqual([
      { name: "loadmaster", host: "198.51.100.7" },
      { name: "cryptospike", host: "2001:db8::c5" }
    ])
    expect(needsLookup(cfg)).toBe(false)
    const { rails, warnings } = await Effect.runPromise(applianceRails(cfg))
    expect(rails.map((r) => [r.cidr.text, r.label])).toEqual([
      ["198.51.100.7/32", "appliance loadmaster 198.51.100.7"],
      ["2001:db8::c5/128", "appliance cryptospike 2001:db8::c5"]
    ])
    expect(warnings).toEqual([])
  })

  it("given a name, then every address it resolves to is a rail, named with the host", async () => {
    const cfg = withUrls("https://localhost", undefined)
    expect(needsLookup(cfg)).toBe(true)
    const { rails, warnings } = await Effect.runPromise(applianceRails(cfg))
    expect(warnings).toEqual([])
    expect(rails.length).toBeGreaterThan(0)
    for (const r of rails) expect(r.label).toMatch(/^appliance loadmaster localhost \((127\.0\.0\.1|::1)\)$/)
  })

  it("given a name that does not resolve, then it is a warning and the other appliance still counts", async () => {
    const cfg = withUrls("https://lm.invalid", "https://192.0.2.9")
    const { rails, warnings } = await Effect.runPromise(applianceRails(cfg, 3000))
    expect(rails.map((r) => r.label)).toEqual(["appliance cryptospike 192.0.2.9"])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^could not resolve the loadmaster host lm\.invalid \(.+\): its own address is not protected from blocks this time$/)
  })

  it("given no appliances, then there are no rails", async () => {
    expect(await Effect.runPromise(applianceRails(NO_CONFIG))).toEqual({ rails: [], warnings: [] })
  })
})
