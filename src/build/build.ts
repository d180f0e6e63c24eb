/**
 * `npm run build`: the CLI bundle (dist/mitigator-cli.cjs, better-sqlite3 external: it loads a
 * native addon), the launcher users run (dist/mitigator.cjs; dist/mitigator.mjs, the entry point of
 * earlier versions, runs it), and the V8 code cache the launcher
 * loads it with, produced by a real `append` so the hot path's functions are in it.
 */
import * as esbuild from "esbuild"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startLoadMasterEmulator } from "../emulators/loadmaster/LoadMasterEmulator.js"

/** Runs a process to its end (asynchronously: the emulator it talks to lives in this one). */
const run = (command: string, args: ReadonlyArray<string>, options: { readonly input: string; readonly env: NodeJS.ProcessEnv }) =>
  new Promise<{ readonly stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, stdio: ["pipe", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()))
    child.on("error", reject)
    child.on("close", (code) => (code === 0 ? resolve({ stderr }) : reject(new Error(`${command} ${args.join(" ")} exited ${code}:\n${stderr}`))))
    child.stdin.end(options.input)
  })

const root = fileURLToPath(new URL("../..", import.meta.url))
const dist = path.join(root, "dist")
fs.mkdirSync(dist, { recursive: true })
for (const stale of ["mitigator.cjs.cache", "mitigator-cli.cjs.cache"]) fs.rmSync(path.join(dist, stale), { force: true })

// Whitespace and syntax minified (a smaller file to read at every start); names kept, so a bug's stack trace still reads.
const common = { bundle: true, platform: "node", target: "node20", legalComments: "none", logLevel: "warning", minifyWhitespace: true, minifySyntax: true } as const

// better-sqlite3 is loaded through a shim (see better-sqlite3.cjs) that requires its native addon
// by its path (outside the bundle) and its JavaScript from the bundle; the package as installed
// (and `bindings`, which it uses only to search for an addon) stays outside, for the shim's fallback.
const betterSqlite3Shim = path.join(root, "src/build/better-sqlite3.cjs")
const betterSqlite3: esbuild.Plugin = {
  name: "better-sqlite3",
  setup: (build) => {
    build.onResolve({ filter: /^(better-sqlite3(\/.*)?|bindings)$/ }, (args) => {
      if (args.importer !== betterSqlite3Shim) return args.path === "better-sqlite3" ? { path: betterSqlite3Shim } : { path: args.path, external: true }
      return args.path === "better-sqlite3/lib/index.js" ? undefined : { path: args.path, external: true }
    })
  }
}

await esbuild.build({
  ...common,
  entryPoints: [path.join(root, "src/bin.ts")],
  format: "cjs",
  outfile: path.join(dist, "mitigator-cli.cjs"),
  plugins: [betterSqlite3]
})
// The launcher reads the bundle as Latin-1, which costs a fraction of UTF-8's decoding (about
// 15 ms of each start on the reference machine) and is the same text only while every byte is ASCII
// (esbuild's default: it escapes the rest). Its first line, bin.ts's `#!`, becomes a comment, so
// the launcher uses the text as it is read.
const cliBundle = path.join(dist, "mitigator-cli.cjs")
const cliBytes = fs.readFileSync(cliBundle)
const notAscii = cliBytes.findIndex((byte) => byte > 0x7f)
if (notAscii !== -1) throw new Error(`dist/mitigator-cli.cjs has a byte that is not ASCII at ${notAscii}: the launcher reads it as Latin-1`)
if (cliBytes[0] === 0x23 && cliBytes[1] === 0x21) fs.writeFileSync(cliBundle, Buffer.concat([Buffer.from("//"), cliBytes.subarray(2)]), { mode: 0o755 })
await esbuild.build({
  ...common,
  entryPoints: [path.join(root, "src/launch.ts")],
  format: "cjs",
  outfile: path.join(dist, "mitigator.cjs")
})
fs.chmodSync(path.join(dist, "mitigator.cjs"), 0o755)
// Where earlier versions were started: scripts and units that name it keep working.
fs.writeFileSync(path.join(dist, "mitigator.mjs"), '#!/usr/bin/env node\n// The entry point of earlier versions: dist/mitigator.cjs is faster to start.\nimport "./mitigator.cjs"\n', { mode: 0o755 })

// The code cache is made by the run Flowmon makes most: an `append` whose rule blocks the source,
// applied at once over TLS to a LoadMaster (the emulator), so the immediate apply's functions
// are compiled ahead too, not only the recording's.
// Without openssl (the emulator makes its certificate with it) the warm-up speaks plain HTTP:
// the cache then lacks only the TLS handshake's few functions.
const emulator = await startLoadMasterEmulator({ tls: true }).catch((e: unknown) => {
  console.warn(`build: warming the code cache over plain HTTP (no TLS emulator: ${e instanceof Error ? e.message : String(e)})`)
  return startLoadMasterEmulator({})
})
const warm = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-build-"))
try {
  const keyFile = path.join(warm, "lm.key")
  fs.writeFileSync(keyFile, emulator.apiKey, { mode: 0o600 })
  const config = path.join(warm, "mitigator.yaml")
  fs.writeFileSync(
    config,
    [
      `loadmaster: { url: "${emulator.url}", apiKeyFile: ${keyFile}${emulator.fingerprint === undefined ? "" : `, tls: { fingerprint: "sha256:${emulator.fingerprint}" }`} }`,
      "timezone: UTC",
      "policy:",
      "  rules:",
      "    - { name: brute-force, match: { methods: [SSHDICT] }, actions: [ { loadmaster: global, ttl: 1h } ] }"
    ].join("\n") + "\n"
  )
  const sample = [
    "1", "2025-11-03 15:13:05", "2025-11-03 15:12:40", "SSHDICT", "SSH attack", "Security issues", "High",
    "Attack from a single attacker has been detected.", "22", "6", "192.0.2.31", " ", "198.51.100.40", "LAN", " "
  ].join("\t")
  const { stderr } = await run(process.execPath, [path.join(dist, "mitigator.cjs"), "append", "--db", path.join(warm, "warm.db"), "--config", config, "--instance", "build"], {
    input: `${sample}\n`,
    env: { ...process.env, MITIGATOR_WRITE_CODE_CACHE: "1" }
  })
  if (emulator.entries({ kind: "global" }).length !== 1) throw new Error(`the warm-up append did not block on the emulator:\n${stderr}`)
} finally {
  await emulator.close()
  fs.rmSync(warm, { recursive: true, force: true })
}
if (!fs.existsSync(path.join(dist, "mitigator-cli.cjs.cache"))) throw new Error("the code cache was not written")
