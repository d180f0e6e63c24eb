/**
 * CryptoSpike at scale: block the users behind many addresses against an emulator holding a lot
 * of file activity (each user found through the activity of their address), then a second pass
 * that must find nothing to do. One run each, for the same reason as the LoadMaster converge.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { startCryptoSpikeEmulator } from "../../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import { requestUserBlocks, sourceAddress } from "../generateLog.js"
import * as Effect from "effect/Effect"
import { mitigatorArgs, runProcess } from "../lib/proc.js"
import { progress } from "../lib/stats.js"

const SEEN_AT = "2026-01-01T10:00:00.000Z"
const userOf = (i: number) => `S-1-5-21-1000-2000-3000-${10_000 + i}`

export const cryptospike = async (dir: string, users: number, activityRows: number) => {
  const rowsPerAddress = Math.floor(activityRows / users)
  progress(`CryptoSpike: resolve and block ${users.toLocaleString("en-US")} users (${(users * rowsPerAddress).toLocaleString("en-US")} activity rows), then a no-op pass`)
  const emulator = await startCryptoSpikeEmulator({
    seed: {
      users: Array.from({ length: users }, (_, i) => ({ userId: userOf(i), userName: `user${i}`, userPrincipalName: `user${i}@corp.example` })),
      fileActivity: Array.from({ length: users * rowsPerAddress }, (_, k) => {
        const i = k % users
        return { userId: userOf(i), ip: sourceAddress(i), time: new Date(Date.parse(SEEN_AT) - (k % 1500) * 1000).toISOString(), path: `/share/${k}`, action: "write" }
      })
    }
  })
  try {
    const token = path.join(dir, "cs.token")
    fs.writeFileSync(token, emulator.token, { mode: 0o600 })
    const config = path.join(dir, "cs.yaml")
    fs.writeFileSync(config, `cryptospike: { url: "${emulator.url}", tokenFile: "${token}" }\npolicy:\n  caps: { maxAddsPerPass: 100000, maxRemovesPerPass: 100000, maxActivePerTarget: 100000 }\n`)
    const db = path.join(dir, "users.db")
    await Effect.runPromise(requestUserBlocks(db, users, SEEN_AT))
    emulator.resetCounts()
    const first = await runProcess(mitigatorArgs("reconcile", "--db", db, "--config", config), { rss: true })
    const firstCalls = emulator.counts()
    emulator.resetCounts()
    const again = await runProcess(mitigatorArgs("reconcile", "--db", db, "--config", config), { rss: true })
    const againCalls = emulator.counts()
    const blocked = emulator.users().filter((u) => u.blocked).length
    if (blocked !== users) throw new Error(`CryptoSpike: ${blocked} of ${users} users blocked`)
    if ((againCalls["access"] ?? 0) !== 0) throw new Error(`CryptoSpike: the second pass made ${againCalls["access"]} block calls`)
    return {
      what: `resolve and block the users behind ${users} addresses (${users * rowsPerAddress} file-activity rows on the emulator), then again (no-op); one run each`,
      users,
      activityRows: users * rowsPerAddress,
      converge: { wallMs: first.ms, peakRssMiB: first.rssMiB, calls: firstCalls },
      noopPass: { wallMs: again.ms, peakRssMiB: again.rssMiB, calls: againCalls },
      target: `every user blocked; no-op pass: 0 block calls`
    }
  } finally {
    await emulator.close()
  }
}

export type CryptoSpikeResult = Awaited<ReturnType<typeof cryptospike>>
