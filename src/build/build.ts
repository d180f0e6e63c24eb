/**
 * `npm run build`: the CLI bundle (dist/mitigator.cjs, better-sqlite3 external: it loads a
 * native addon), the launcher users run (dist/mitigator.mjs), and the V8 code cache the launcher
 * loads it with, produced by a real `append` so the hot path's functions are in it.
 */
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))
const dist = path.join(root, "dist")
fs.mkdirSync(dist, { recursive: true })
for (const stale of ["mitigator.cjs.cache"]) fs.rmSync(path.join(dist, stale), { force: true })

const common = { bundle: true, platform: "node", target: "node20", legalComments: "none", logLevel: "warning" } as const

// better-sqlite3 stays outside the bundle (a native addon), loaded through a shim that requires
// the addon by its path (see better-sqlite3.cjs).
const betterSqlite3Shim = path.join(root, "src/build/better-sqlite3.cjs")
const betterSqlite3: esbuild.Plugin = {
  name: "better-sqlite3",
  setup: (build) => {
    build.onResolve({ filter: /^better-sqlite3(\/.*)?$/ }, (args) =>
      args.path === "better-sqlite3" && args.importer !== betterSqlite3Shim ? { path: betterSqlite3Shim } : { path: args.path, external: true }
    )
  }
}

await esbuild.build({
  ...common,
  entryPoints: [path.join(root, "src/bin.ts")],
  format: "cjs",
  outfile: path.join(dist, "mitigator.cjs"),
  plugins: [betterSqlite3]
})
await esbuild.build({
  ...common,
  entryPoints: [path.join(root, "src/launch.ts")],
  format: "esm",
  outfile: path.join(dist, "mitigator.mjs")
})
fs.chmodSync(path.join(dist, "mitigator.mjs"), 0o755)

const warm = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-build-"))
try {
  const sample = [
    "1", "2025-11-03 15:13:05", "2025-11-03 15:12:40", "SSHDICT", "SSH attack", "Security issues", "High",
    "Attack from a single attacker has been detected.", "22", "6", "192.0.2.31", " ", "198.51.100.40", "LAN", " "
  ].join("\t")
  execFileSync(process.execPath, [path.join(dist, "mitigator.mjs"), "append", "--defer", "--db", path.join(warm, "warm.db"), "--instance", "build"], {
    input: `${sample}\n`,
    env: { ...process.env, MITIGATOR_WRITE_CODE_CACHE: "1" },
    stdio: ["pipe", "ignore", "ignore"]
  })
} finally {
  fs.rmSync(warm, { recursive: true, force: true })
}
if (!fs.existsSync(path.join(dist, "mitigator.cjs.cache"))) throw new Error("the code cache was not written")
