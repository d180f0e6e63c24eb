/**
 * `npm run package [-- --with-node] [--out DIR]`: one tarball to copy to a Flowmon appliance,
 * built from dist/ (run `npm run build` first; the npm script does):
 *
 *   mitigator-<version>/
 *     bin/mitigator            launcher (bin/node when present, else node on PATH)
 *     bin/node                 with --with-node: this machine's Node.js binary
 *     dist/                    the bundle and its code cache
 *     node_modules/            better-sqlite3's native addon and the two modules it loads
 *     deploy/                  the ADS custom script, the systemd unit, the cron line
 *     mitigator.yaml.example   README.md, docs/
 *
 * better-sqlite3 is a native addon compiled for this machine's Node ABI and glibc: build the
 * package on the same OS release and architecture as the appliance (or with the Node it ships).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))
const args = process.argv.slice(2)
const withNode = args.includes("--with-node")
const outIndex = args.indexOf("--out")
const out = path.resolve(outIndex === -1 ? path.join(root, "dist") : args[outIndex + 1] ?? "")
const { version } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }
const name = `mitigator-${version}`

const stage = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-package-"))
const top = path.join(stage, name)
const copy = (from: string, to: string) => fs.cpSync(path.join(root, from), path.join(top, to), { recursive: true, preserveTimestamps: true })

try {
  for (const file of ["mitigator.cjs", "mitigator.mjs", "mitigator-cli.cjs", "mitigator-cli.cjs.cache"]) {
    if (!fs.existsSync(path.join(root, "dist", file))) throw new Error(`dist/${file} is missing: run npm run build first`)
    copy(`dist/${file}`, `dist/${file}`)
  }
  // Only what better-sqlite3 loads at run time (not its 25 MB of SQLite sources and objects).
  const sqlite = "node_modules/better-sqlite3"
  for (const part of ["package.json", "LICENSE", "lib", "build/Release/better_sqlite3.node"]) copy(`${sqlite}/${part}`, `${sqlite}/${part}`)
  for (const dependency of ["bindings", "file-uri-to-path"]) copy(`node_modules/${dependency}`, `node_modules/${dependency}`)
  copy("deploy/mitigator", "bin/mitigator")
  for (const folder of ["flowmon", "systemd", "cron"]) copy(`deploy/${folder}`, `deploy/${folder}`)
  copy("examples/mitigator.yaml", "mitigator.yaml.example")
  copy("README.md", "README.md")
  copy("docs", "docs")
  copy("package.json", "package.json")
  if (withNode) {
    fs.copyFileSync(process.execPath, path.join(top, "bin/node"))
    fs.chmodSync(path.join(top, "bin/node"), 0o755)
  }
  fs.mkdirSync(out, { recursive: true })
  const tarball = path.join(out, `${name}-${process.platform}-${process.arch}${withNode ? "-with-node" : ""}.tar.gz`)
  execFileSync("tar", ["-czf", tarball, "--owner=0", "--group=0", "-C", stage, name])
  const size = (fs.statSync(tarball).size / 1024 / 1024).toFixed(1)
  console.log(`${tarball} (${size} MiB; Node ${process.version} ABI ${process.versions.modules}${withNode ? ", Node included" : ""})`)
} finally {
  fs.rmSync(stage, { recursive: true, force: true })
}
