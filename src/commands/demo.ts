/**
 * `mitigator demo`: the whole loop on embedded emulators, in a temporary directory. Both
 * appliances run in this process on loopback; every step is the real command line (`append`,
 * `status`, `reconcile`, `verify`, `replay`) run as a child process, so what it shows is what a
 * user gets. Short TTLs, so the unblocking is seen after a few seconds of real waiting.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { UsageError } from "./shared.js"

const keep = Options.boolean("keep").pipe(Options.withDescription("keep the temporary directory (log, config, keys) and print where it is"))
const stay = Options.boolean("stay").pipe(
  Options.withDescription("keep the directory and the emulators running after the demo, until Ctrl-C: try status, why, plan, block and reconcile against them")
)

const TTL_SECONDS = 5
const RANSOMWARE_USER = "S-1-5-21-3623811015-3361044348-30300820-1013"
const detected = "2025-11-03 15:13:05"
const firstFlow = "2025-11-03 15:12:40"

const tsv = (...fields: ReadonlyArray<string | number>) => fields.map((f) => (f === "" ? " " : String(f))).join("\t")

/** A realistic mix: every input layout, an allowlisted address, a ransomware-like source, a broken line. */
const events = [
  tsv(5001, detected, firstFlow, "SCANS", "Port scanning", "Security issues", "High", "Chaotic TCP SYN scan (targets: 10, port(s): 22).", "22", "6", "198.51.100.23", "", "192.0.2.10, 192.0.2.11", "LAN", ""),
  tsv(5002, detected, firstFlow, "SSHDICT", "TCPSYN", "T1110", "SSH attack", "Security issues", "Critical", "Attack from a single attacker has been detected.", "22", "6", "203.0.113.45", "", "192.0.2.20", "LAN", ""),
  tsv(9001, detected, "2025-11-03 15:13:09", "198.51.100.77", "51514", "192.0.2.30", "443", "TCP", "2024217", "ET TROJAN botnet C2 beacon", "203.0.113.10", "eth2", "A Network Trojan was detected", "1"),
  JSON.stringify({ id: 5003, timestamp: detected, type: "BLACKLIST", typeDesc: "Communication with blacklisted hosts", severity: "Critical", source: "198.51.100.88", targets: "192.0.2.40", detail: "Communication with a blacklisted host.", perspective: "Security issues", netFlowSource: "LAN", userIdentity: "" }),
  tsv(5004, detected, firstFlow, "SSHDICT", "SSH attack", "Security issues", "High", "Brute force from the monitoring subnet.", "22", "6", "10.0.5.9", "", "192.0.2.20", "LAN", ""),
  tsv(5005, detected, firstFlow, "DICTATTACK", "Dictionary attacks", "Security issues", "Critical", "Dictionary attack on file shares.", "445", "6", "192.0.2.66", "", "192.0.2.50", "LAN", "CORP\\jdoe"),
  "5006\t2025-11-03 15:20:00\tSCANS\tthis line was cut short"
]

const config = (lmUrl: string, csUrl: string) => `# written by mitigator demo
instance: demo
database: demo.db
loadmaster: { url: ${lmUrl}, apiKeyFile: loadmaster.key, rateLimit: 50 }
cryptospike: { url: ${csUrl}, tokenFile: cryptospike.token }
policy:
  rules:
    - name: brute-force
      match: { product: ads, methods: [SSHDICT, RDPDICT], minPriority: HIGH }
      actions: [ { loadmaster: global, ttl: ${TTL_SECONDS}s }, { loadmaster: { vs: 1 }, ttl: ${TTL_SECONDS}s } ]
    - name: scans
      match: { product: ads, methods: [SCANS] }
      actions: [ { loadmaster: global, ttl: ${TTL_SECONDS}s } ]
    - name: blacklist-and-botnets
      match: { methods: [BLACKLIST] }
      actions: [ { loadmaster: global, ttl: ${TTL_SECONDS}s } ]
    - name: ids-trojans
      match: { product: ids }
      actions: [ { loadmaster: global, ttl: ${TTL_SECONDS}s } ]
    - name: ransomware-like
      match: { product: ads, methods: [DICTATTACK] }
      actions: [ { loadmaster: global, ttl: ${TTL_SECONDS}s }, { cryptospike: user, ttl: ${TTL_SECONDS}s } ]
  allowlist: [ 10.0.0.0/8 ]
`

const ADMIN_COMMENT = "admin permanent ticket 99"

export const demoCommand = Command.make("demo", { keep, stay }, (opts) =>
  Effect.gen(function* () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-demo-"))
    // Asynchronous on purpose: the emulators live in this process and must keep answering.
    const cli = (args: ReadonlyArray<string>, input = "") =>
      Effect.async<{ readonly code: number | null; readonly out: string }>((resume) => {
        // The same program, as a child: the bundle (or tsx in development) with the same flags.
        const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args, "--db", "demo.db", "--config", "mitigator.yaml"], {
          cwd: dir,
          env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "" }
        })
        let out = ""
        child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")))
        child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")))
        child.on("error", (error) => resume(Effect.succeed({ code: null, out: `could not start: ${error.message}` })))
        child.on("close", (code) => resume(Effect.succeed({ code, out: out.trimEnd() })))
        child.stdin.end(input)
        return Effect.sync(() => child.kill())
      })
    const show = (title: string, text: string) => Console.log(`\n== ${title}\n${text.split("\n").map((l) => `   ${l}`).join("\n")}`)

    const { startLoadMasterEmulator } = yield* Effect.promise(() => import("../emulators/loadmaster/LoadMasterEmulator.js"))
    const { startCryptoSpikeEmulator } = yield* Effect.promise(() => import("../emulators/cryptospike/CryptoSpikeEmulator.js"))
    const lm = yield* Effect.acquireRelease(Effect.promise(() => startLoadMasterEmulator({})), (e) => Effect.promise(() => e.close()))
    const cs = yield* Effect.acquireRelease(
      Effect.promise(() =>
        startCryptoSpikeEmulator({
          seed: {
            users: [
              { userId: RANSOMWARE_USER, userName: "jdoe", userPrincipalName: "jdoe@corp.example" },
              { userId: "S-1-5-21-3623811015-3361044348-30300820-1099", userName: "mallory", userPrincipalName: "mallory@corp.example", blocked: true, blockedBy: "cryptospike" }
            ],
            fileActivity: [
              { userId: RANSOMWARE_USER, ip: "192.0.2.66", time: "2025-11-03T15:11:30Z", path: "/finance/q3.xlsx", action: "write" },
              { userId: RANSOMWARE_USER, ip: "192.0.2.66", time: "2025-11-03T15:12:10Z", path: "/finance/q3.xlsx.locked", action: "rename" }
            ]
          }
        })
      ),
      (e) => Effect.promise(() => e.close())
    )
    fs.writeFileSync(path.join(dir, "loadmaster.key"), lm.apiKey, { mode: 0o600 })
    fs.writeFileSync(path.join(dir, "cryptospike.token"), cs.token, { mode: 0o600 })
    fs.writeFileSync(path.join(dir, "mitigator.yaml"), config(lm.url, cs.url))

    yield* Console.log(
      `mitigator demo: a LoadMaster emulator on ${lm.url} and a CryptoSpike emulator on ${cs.url}, a log in ${dir}.\n` +
        `Blocks last ${TTL_SECONDS} s here, so the demo can show them expire.`
    )

    const append = yield* cli(["append", "--instance", "demo"], events.join("\n") + "\n")
    yield* show(
      "1. Flowmon hands `mitigator append` seven lines: TSV (15, 17, 14 fields), JSON, an allowlisted source, a ransomware-like source, a broken line",
      append.out
    )
    if (append.code !== 3) return yield* new UsageError({ message: `demo: append exited ${append.code}, expected 3 (one line is broken on purpose)` })

    const lmEntries = () =>
      [...lm.entries({ kind: "global" }).map((e) => `global  ${e.addr}  (${e.comment})`), ...lm.entries({ kind: "vs", index: 1 }).map((e) => `vs 1    ${e.addr}  (${e.comment})`)]
    const blockedUsers = () => cs.users().filter((u) => u.blocked).map((u) => `${u.userPrincipalName} blocked by ${u.blockedBy}`)
    yield* show("2. Blocked at once: the LoadMaster's block lists", lmEntries().join("\n") || "(empty)")
    yield* show("   and CryptoSpike's blocked users (mallory was blocked by CryptoSpike itself: never touched)", blockedUsers().join("\n"))
    yield* show("3. `mitigator status`: what should be blocked, until when, and why", (yield* cli(["status"])).out)

    yield* show("   `mitigator why 10.0.5.9`: detected, and why it was not blocked", (yield* cli(["why", "10.0.5.9"])).out)

    // Meanwhile an administrator deletes one of mitigator's entries and re-makes it by hand, for good.
    const remade = yield* Effect.promise(() =>
      fetch(`${lm.url}/accessv2`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ cmd: "aclcontrol", apikey: lm.apiKey, del: "block", addr: "203.0.113.45/32" })
      }).then((r) => r.ok)
    )
    if (remade) lm.seed({ kind: "global" }, "203.0.113.45/32", ADMIN_COMMENT)
    yield* show(
      `4. An administrator re-makes 203.0.113.45 on the global list by hand ("${ADMIN_COMMENT}"); waiting ${TTL_SECONDS + 1} s for the blocks to expire, then \`mitigator reconcile\``,
      "…"
    )
    yield* Effect.sleep(`${TTL_SECONDS + 1} seconds`)
    const reconcile = yield* cli(["reconcile"])
    yield* show("   reconcile", reconcile.out)
    yield* show(
      "   the LoadMaster's block lists now (what mitigator made is lifted; the administrator's entry is theirs: kept)",
      lmEntries().join("\n") || "(empty)"
    )
    yield* show("   CryptoSpike's blocked users now", blockedUsers().join("\n"))

    yield* show("   `mitigator why 203.0.113.45`: the whole story of one address", (yield* cli(["why", "203.0.113.45"])).out)

    const verify = yield* cli(["verify"])
    yield* show("5. `mitigator verify`: the log's hash chain", verify.out)
    const replay = (yield* cli(["replay", "--events"])).out.split("\n")
    yield* show(`6. \`mitigator replay --events\` (the first 14 of ${replay.length} events)`, replay.slice(0, 14).map((l) => l.split("\t").slice(2).join("  ")).join("\n"))

    const ok = reconcile.code === 0 && verify.code === 0
    const kept = opts.keep || opts.stay
    if (kept) yield* Console.log(`\nKept ${dir}: try \`cd ${dir} && mitigator status --config mitigator.yaml\`, or \`mitigator replay --at <time>\` there`)
    else fs.rmSync(dir, { recursive: true, force: true })
    yield* Console.log(ok ? "\nmitigator demo: done." : "\nmitigator demo: something did not go as expected (see above).")
    if (!ok) return yield* new UsageError({ message: "demo: reconcile or verify failed" })
    if (opts.stay) {
      yield* Console.log(
        `The emulators keep answering until Ctrl-C. In another terminal:\n` +
          `   cd ${dir}\n` +
          `   mitigator block 198.51.100.7 --ttl 1h --reason "a test" --config mitigator.yaml\n` +
          `   mitigator why 198.51.100.7 --config mitigator.yaml\n` +
          `   mitigator plan --config mitigator.yaml\n` +
          `   mitigator unblock 198.51.100.7 --reason "done" --config mitigator.yaml`
      )
      yield* Effect.never
    }
  }).pipe(Effect.scoped)
).pipe(Command.withDescription("The whole loop on embedded LoadMaster and CryptoSpike emulators, in a temporary directory"))
