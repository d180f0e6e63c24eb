/** Config files for CLI tests: small YAML policies written into a test's temp directory. */
import * as fs from "node:fs"
import * as path from "node:path"

export interface PolicyOptions {
  /** ttl of the rule's LoadMaster global action */
  readonly ttl?: string
  /** name of the (single) rule */
  readonly rule?: string
  /** ADS methods the rule matches (default: SSHDICT, the method of `adsLine`) */
  readonly methods?: ReadonlyArray<string>
  /** extra actions, as YAML flow mappings, e.g. `{ loadmaster: { vs: 3 }, ttl: 2h }` */
  readonly extraActions?: ReadonlyArray<string>
  readonly escalation?: { readonly window: string; readonly factor: number; readonly maxTtl: string }
  /** allowlist entries, as YAML scalars or flow mappings */
  readonly allowlist?: ReadonlyArray<string>
  /** top-level `database:` */
  readonly database?: string
}

/** A config with one rule on ADS detections of `methods`, blocking the source on LoadMaster's global list. */
export const policyYaml = (options: PolicyOptions = {}): string => {
  const lines: string[] = []
  if (options.database !== undefined) lines.push(`database: ${options.database}`)
  lines.push(
    "policy:",
    "  rules:",
    `    - name: ${options.rule ?? "brute-force"}`,
    "      match:",
    "        product: ads",
    `        methods: [${(options.methods ?? ["SSHDICT"]).join(", ")}]`,
    "      actions:",
    `        - { loadmaster: global, ttl: ${options.ttl ?? "1h"} }`,
    ...(options.extraActions ?? []).map((a) => `        - ${a}`)
  )
  if (options.escalation !== undefined) {
    const e = options.escalation
    lines.push("  escalation:", `    window: ${e.window}`, `    factor: ${e.factor}`, `    maxTtl: ${e.maxTtl}`)
  }
  if (options.allowlist !== undefined && options.allowlist.length > 0) {
    lines.push("  allowlist:", ...options.allowlist.map((entry) => `    - ${entry}`))
  }
  return lines.join("\n") + "\n"
}

/** Writes `yaml` to `dir/name` and returns the file's path. */
export const writeConfig = (dir: string, yaml: string, name = "mitigator-test.yaml"): string => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, yaml)
  return file
}

/** `iso` shifted by `ms` milliseconds, as UTC ISO. */
export const plusMs = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString()

export const MINUTE = 60_000
export const HOUR = 3_600_000

/** JSON with every object's keys sorted (what `canonicalJson` promises), to compare stable output against. */
export const sortedJson = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v
  )

/** An IPv4 CIDR as its first address (a 32-bit number) and size. */
export const ipv4Range = (cidr: string): { readonly start: number; readonly size: number } => {
  const [address, prefix] = cidr.split("/")
  const octets = (address ?? "").split(".").map(Number)
  const start = octets.reduce((n, o) => n * 256 + o, 0)
  const bits = Number(prefix ?? "32")
  return { start, size: 2 ** (32 - bits) }
}

export const ipv4Contains = (cidr: string, address: string): boolean => {
  const { start, size } = ipv4Range(cidr)
  const a = ipv4Range(`${address}/32`).start
  return a >= start && a < start + size
}
