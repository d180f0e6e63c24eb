/**
 * LoadMaster at scale: reconcile many operator blocks onto an empty emulator (plain HTTP, so the
 * figure is mitigator's work and the emulator's, not TLS set-up), then a second pass that must
 * find nothing to do. One run each: a converge is minutes at full size, and its call counts are
 * the point more than its wall time.
 */
import * as path from "node:path"
import { addBlocks } from "../lib/logs.js"
import { startBenchLoadMaster, mutations } from "../lib/loadmaster.js"
import { mitigatorArgs, runProcess } from "../lib/proc.js"
import { progress } from "../lib/stats.js"

export const converge = async (dir: string, blocks: number) => {
  progress(`LoadMaster: reconcile ${blocks.toLocaleString("en-US")} blocks from empty, then a no-op pass`)
  const db = path.join(dir, "converge.db")
  await addBlocks(db, blocks)
  const lm = await startBenchLoadMaster(dir, "converge", { tls: false })
  try {
    lm.emulator.resetCounts()
    const first = await runProcess(mitigatorArgs("reconcile", "--db", db, "--config", lm.config, "--concurrency", "16"), { rss: true })
    const firstCalls = lm.emulator.counts()
    const listed = lm.emulator.entries("global").length
    if (listed !== blocks) throw new Error(`LoadMaster converge: ${listed} of ${blocks} blocks on the emulator`)
    lm.emulator.resetCounts()
    const again = await runProcess(mitigatorArgs("reconcile", "--db", db, "--config", lm.config), { rss: true })
    const againCalls = lm.emulator.counts()
    if (mutations(againCalls) !== 0) throw new Error(`LoadMaster: the second pass made ${mutations(againCalls)} changes (${JSON.stringify(againCalls)})`)
    return {
      what: `reconcile ${blocks} operator blocks onto an empty LoadMaster emulator (HTTP, concurrency 16), then again (no-op); one run each`,
      blocks,
      converge: { wallMs: first.ms, peakRssMiB: first.rssMiB, mutations: mutations(firstCalls), calls: firstCalls },
      noopPass: { wallMs: again.ms, peakRssMiB: again.rssMiB, mutations: 0, calls: againCalls },
      target: `converge: exactly ${blocks} mutations; no-op pass: 0 mutations, list calls only`
    }
  } finally {
    await lm.emulator.close()
  }
}

export type ConvergeResult = Awaited<ReturnType<typeof converge>>
