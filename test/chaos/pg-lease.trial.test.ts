/**
 * One reconciler at a time on a log in PostgreSQL, with real processes on one LoadMaster emulator:
 * - two `reconcile --watch` take turns (passes never overlap: every block added once, no failure,
 *   the fencing tokens of the recorded changes never go back);
 * - `serve` (applying POSTed detections at once) and `reconcile --watch` take turns the same way;
 * - the holder killed mid-pass (SIGKILL): the other takes the lease over once it expired and
 *   converges;
 * - the holder paused past its lease (SIGSTOP), the other takes over and converges; woken up
 *   (SIGCONT), the old holder changes nothing on the appliance, records nothing, and says it lost
 *   the lease;
 * - PostgreSQL restarted during appends (every acknowledged append is in the log) and during a
 *   pass (the pass fails with a clear error, the next one converges).
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { LoadMasterEmulatorHandle } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { describe, expect, it } from "vitest"
import { jsonLines, runCli, type RunResult } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"
import { lmWorkspace, startCli, waitFor, withEmulator, type RunningCli } from "../support/loadmaster.js"
import { closedPort } from "../support/ports.js"
import { usePostgres } from "../support/usePostgres.js"

const server = usePostgres()

/** Generous: the machine is shared and loaded; these bound a hang, they time nothing. */
const LONG = 120_000

const isChange = (body: string) => /"(add|addvs|del|delvs)":"block"/.test(body)

/** A log in a new database, a config naming it, and the commands on it (the password in PGPASSFILE). */
const pgWorkspace = async (emulator: LoadMasterEmulatorHandle) => {
  const db = await server().createDatabase()
  const ws = lmWorkspace(emulator, { ttl: "1h", caps: { maxAddsPerPass: 10_000 }, database: db.url })
  const options = { cwd: ws.dir, env: db.env }
  const sourceOf = (i: number) => `10.77.${Math.floor(i / 250)}.${(i % 250) + 1}`
  /** Blocks decided (not applied: the watchers do it) for detections `from` … `from + count - 1`. */
  const append = (from: number, count: number): Promise<RunResult> =>
    runCli(["append", "--defer", "--instance", "fm1", "--config", ws.config], {
      ...options,
      stdin: Array.from({ length: count }, (_, i) => adsLine(from + i, sourceOf(from + i))).join("\n") + "\n"
    })
  const watch = (): RunningCli => startCli(["reconcile", "--watch", "--interval", "2s", "--config", ws.config], options)
  const events = async () => {
    const replay = await runCli(["replay", "--events", "--json", "--config", ws.config], options)
    expect(replay.code, replay.stderr).toBe(0)
    return jsonLines(replay.stdout)
  }
  /** The pid holding the lease row now (by the database's clock), if any. */
  const holder = (): number | undefined => {
    const row = server().admin(db.name, "SELECT pid FROM reconcile_lease WHERE holder IS NOT NULL AND expires_at > now()")[0]
    return row === undefined ? undefined : Number(row[0])
  }
  const listed = () => emulator.entries("global").map((e) => e.addr)
  const addresses = (from: number, count: number) => Array.from({ length: count }, (_, i) => `${sourceOf(from + i)}/32`)
  return { db, ws, options, append, watch, events, holder, listed, addresses }
}

/** Every address in `wanted` is on the LoadMaster exactly once (and nothing else is). */
const expectListedOnce = (listed: ReadonlyArray<string>, wanted: ReadonlyArray<string>) => {
  expect(new Set(listed).size, "each block once").toBe(listed.length)
  expect([...listed].sort()).toStrictEqual([...wanted].sort())
}

const output = (w: RunningCli) => w.stdout() + w.stderr()

const stop = async (...watchers: RunningCli[]) => {
  for (const w of watchers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGTERM")
  return Promise.all(watchers.map((w) => w.done))
}

describe("two reconcile --watch on one log in PostgreSQL", () => {
  it("take turns: every block added once, no change failed, the recorded changes' fencing tokens never go back; the holder killed mid-pass is replaced and the other converges", () =>
    withEmulator(async (emulator) => {
      const pg = await pgWorkspace(emulator)
      expect((await pg.append(0, 30)).code).toBe(0)
      const w1 = pg.watch()
      const w2 = pg.watch()
      try {
        await waitFor("both watchers to put the first 30 blocks on", () => pg.listed().length >= 30, LONG)
        expect((await pg.append(30, 30)).code).toBe(0)
        await waitFor("the next 30 blocks", () => pg.listed().length >= 60, LONG)
        // Both ran passes that held the lease (each says what its pass did).
        await waitFor("both watchers to have run a pass", () => /converged/.test(w1.stdout()) && /converged/.test(w2.stdout()), LONG)

        // Slow changes: a pass of 40 adds takes seconds. Killed while it holds the lease.
        emulator.setFaults({ latencyMs: 250 })
        const before = pg.listed().length
        expect((await pg.append(60, 40)).code).toBe(0)
        let killed: number | undefined
        await waitFor(
          "a pass to be under way (the lease held, some adds made)",
          () => {
            const pid = pg.holder()
            if (pid === undefined || pg.listed().length < before + 4) return false
            killed = pid
            return true
          },
          LONG
        )
        const victim = [w1, w2].find((w) => w.child.pid === killed)
        expect(victim, `the lease names pid ${killed}, one of the two watchers`).toBeDefined()
        const survivor = victim === w1 ? w2 : w1
        const killedAt = Date.now()
        victim!.child.kill("SIGKILL")
        await waitFor("the survivor to put every block on", () => pg.listed().length >= 100, LONG)
        const taken = (await pg.events()).find((e) => e.type === "LeaseTakenOver")
        expect(taken?.payload).toMatchObject({ lease: "postgresql:reconcile_lease/reconcile", reason: "expired", previous: { pid: killed }, pid: survivor.child.pid })
        // Measured, not asserted (a loaded machine): the interval is 2 s, the lease 2 s.
        console.log(`pg-lease trial: the lease was taken over ${Date.parse(taken!.recordedAt) - killedAt} ms after the holder was killed (interval 2000 ms)`)
        expect(output(survivor)).not.toMatch(/was lost while this pass ran/)
      } finally {
        await stop(w1, w2)
      }
      expectListedOnce(pg.listed(), pg.addresses(0, 100))
      const events = await pg.events()
      expect(events.filter((e) => e.type === "TargetChangeFailed"), "no change failed (two passes at once would add the same block twice)").toStrictEqual([])
      const added = events.filter((e) => e.type === "TargetChanged" && e.payload.op === "add")
      const adopted = events.filter((e) => e.type === "DriftObserved" && e.payload.kind === "adopted")
      // What the killed pass added but could not record is taken back (adopted), never added again.
      expect(new Set([...added, ...adopted].map((e) => e.payload.cidr)).size).toBe(100)
      expect(new Set(added.map((e) => e.payload.cidr)).size, "no block added twice").toBe(added.length)
      const fences = added.map((e) => e.payload.fence as number)
      expect(fences.every((f) => Number.isInteger(f) && f > 0), "each change carries its fencing token").toBe(true)
      expect(fences, "one pass after the other: the tokens never go back along the log").toStrictEqual([...fences].sort((a, b) => a - b))
      const verify = await runCli(["verify", "--config", pg.ws.config], pg.options)
      expect(verify.code, verify.stderr).toBe(0)
    }), 600_000)

  it("a holder paused past its lease (SIGSTOP) is taken over; woken up (SIGCONT) it changes nothing, records nothing, and says it lost the lease", () =>
    withEmulator(async (emulator) => {
      const pg = await pgWorkspace(emulator)
      emulator.setFaults({ latencyMs: 300 })
      expect((await pg.append(0, 40)).code).toBe(0)
      const w1 = pg.watch()
      let w2: RunningCli | undefined
      try {
        await waitFor("w1's pass to be under way", () => pg.holder() === w1.child.pid && pg.listed().length >= 4, LONG)
        w1.child.kill("SIGSTOP")
        w2 = pg.watch()
        await waitFor("w2 to take over and put every block on", () => pg.listed().length >= 40, LONG)
        const w2Pid = w2.child.pid
        await waitFor("w2 to hold the lease or to have released it converged", () => /converged/.test(w2!.stdout()), LONG)
        emulator.clearRequests()
        const events = await pg.events()
        const takeover = events.find((e) => e.type === "LeaseTakenOver")
        expect(takeover?.payload).toMatchObject({ reason: "expired", previous: { pid: w1.child.pid }, pid: w2Pid })

        w1.child.kill("SIGCONT")
        await waitFor("w1 to say it lost the lease", () => /was lost while this pass ran/.test(output(w1)), LONG)
        // Its next passes (the lease taken anew) find nothing to do: converged.
        const lostAt = output(w1).length
        await waitFor("w1 to run a pass after that", () => /converged/.test(output(w1).slice(lostAt)), LONG)
        expect(emulator.requests().filter((r) => isChange(r.body)), "no change on the appliance after the pause").toStrictEqual([])
        expect(output(w1)).toMatch(/mitigator reconcile: pass failed: the reconcile lease row reconcile .* was lost while this pass ran: (another holder took it over \(pid \d+(, which has released it since)?; fencing token \d+, this pass's was \d+\)|the log refused to record this pass's outcomes: its fencing token \d+ is stale)/)

        const after = await pg.events()
        const takeoverSeq = after.find((e) => e.type === "LeaseTakenOver")!.seq
        const token = after.find((e) => e.type === "LeaseTakenOver")!.payload.fencingToken as number
        // Nothing recorded with the old holder's token after the takeover.
        const stale = after.filter((e) => e.seq > takeoverSeq && typeof e.payload.fence === "number" && e.payload.fence < token)
        expect(stale).toStrictEqual([])
      } finally {
        await stop(w1, ...(w2 === undefined ? [] : [w2]))
      }
      expectListedOnce(pg.listed(), pg.addresses(0, 40))
      const events = await pg.events()
      expect(events.filter((e) => e.type === "TargetChangeFailed")).toStrictEqual([])
    }), 600_000)
})

describe("serve and reconcile --watch on one log in PostgreSQL", () => {
  it("take turns: what serve applies at once and what the passes apply is each added once, nothing fails, the tokens never go back", () =>
    withEmulator(async (emulator) => {
      const pg = await pgWorkspace(emulator)
      emulator.setFaults({ latencyMs: 40 })
      const token = `serve-${randomBytes(24).toString("hex")}`
      const tokenFile = path.join(pg.ws.dir, "serve.token")
      fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 })
      fs.chmodSync(tokenFile, 0o600)
      const port = await closedPort()
      const serve = startCli(["serve", "--config", pg.ws.config, "--listen", `127.0.0.1:${port}`, "--token-file", tokenFile, "--interval", "2s"], pg.options)
      const watcher = pg.watch()
      try {
        await waitFor("serve to listen", () => serve.stdout().includes("listening on") || serve.child.exitCode !== null, LONG)
        expect(output(serve)).toContain(`listening on http://127.0.0.1:${port}`)
        // Detections POSTed to serve (applied at once) and appended elsewhere (left to the passes), interleaved.
        for (let round = 0; round < 6; round++) {
          const from = round * 20
          const body = Array.from({ length: 10 }, (_, i) => adsLine(from + i, `10.77.${Math.floor((from + i) / 250)}.${((from + i) % 250) + 1}`)).join("\n") + "\n"
          const posted = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: "POST", body, headers: { authorization: `Bearer ${token}` } })
          expect(posted.status, await posted.text()).toBe(200)
          expect((await pg.append(from + 10, 10)).code).toBe(0)
        }
        await waitFor("every block on the LoadMaster", () => pg.listed().length >= 120, LONG)
        await waitFor("a pass to converge after that", () => /converged/.test(watcher.stdout()), LONG)
      } finally {
        await stop(serve, watcher)
      }
      expect(output(serve) + output(watcher)).not.toContain(token)
      expectListedOnce(pg.listed(), pg.addresses(0, 120))
      const events = await pg.events()
      expect(events.filter((e) => e.type === "TargetChangeFailed"), "no change failed (two at once would add the same block twice)").toStrictEqual([])
      const added = events.filter((e) => e.type === "TargetChanged" && e.payload.op === "add")
      expect(new Set(added.map((e) => e.payload.cidr)).size).toBe(added.length)
      expect(added.length).toBe(120)
      const fences = added.map((e) => e.payload.fence as number)
      expect(fences.every((f) => Number.isInteger(f) && f > 0)).toBe(true)
      expect(fences, "one holder after the other").toStrictEqual([...fences].sort((a, b) => a - b))
      // The changes were made over many turns of the lease (serve's immediate applies, its passes, the watcher's).
      expect(new Set(fences).size).toBeGreaterThan(1)
    }), 600_000)
})

describe("PostgreSQL restarted", () => {
  it("during appends: every acknowledged append is in the log; the others say why they failed; the chain is intact", () =>
    withEmulator(async (emulator) => {
      const pg = await pgWorkspace(emulator)
      expect((await pg.append(0, 1)).code).toBe(0)
      const runs: Array<{ readonly from: number; readonly run: RunResult }> = []
      let next = 1
      let restarting = true
      // Three appenders, one append after another, until the server is back and each ran once more.
      const lane = async () => {
        for (let after = 0; restarting || after < 1; ) {
          if (!restarting) after++
          const from = next
          next += 10
          runs.push({ from, run: await pg.append(from, 10) })
        }
      }
      const lanes = Promise.all([lane(), lane(), lane()])
      await waitFor("a few appends before the restart", () => runs.length >= 3, LONG)
      await server().restart(2_000)
      restarting = false
      await lanes

      const ok = runs.filter((r) => r.run.code === 0)
      const failed = runs.filter((r) => r.run.code !== 0)
      expect(ok.length, "appends before and after the restart succeeded").toBeGreaterThanOrEqual(6)
      expect(failed.length, "the appends while it was down failed").toBeGreaterThan(0)
      for (const f of failed) expect(f.run.stderr).toMatch(/PostgreSQL at postgres:\/\/mitigator@127\.0\.0\.1:\d+\/\w+/)
      const stored = new Set((await pg.events()).filter((e) => e.type === "FlowmonEventReceived").map((e) => Number(e.payload.eventId)))
      for (const { from } of ok) for (let id = from; id < from + 10; id++) expect(stored.has(id), `detection ${id} acknowledged`).toBe(true)
      const verify = await runCli(["verify", "--config", pg.ws.config], pg.options)
      expect(verify.code, verify.stderr).toBe(0)
    }), 600_000)

  it("during a pass: the pass fails with a clear error, the next one converges", () =>
    withEmulator(async (emulator) => {
      const pg = await pgWorkspace(emulator)
      emulator.setFaults({ latencyMs: 300 })
      expect((await pg.append(0, 40)).code).toBe(0)
      const w = pg.watch()
      try {
        await waitFor("a pass under way", () => pg.holder() === w.child.pid && pg.listed().length >= 4, LONG)
        await server().restart(3_000)
        await waitFor("the pass to fail", () => /pass failed/.test(output(w)), LONG)
        const failedAt = output(w).length
        await waitFor("a pass after it to converge", () => /converged/.test(output(w).slice(failedAt)), LONG)
        expect(output(w)).toMatch(/pass failed: .*(could not be confirmed as this holder's while this pass ran: (PostgreSQL did not answer|it could not be renewed)|lost the connection to PostgreSQL|cannot connect to PostgreSQL)/)
        console.log(`pg-lease trial: ${output(w).split("\n").find((line) => line.includes("pass failed"))}`)
        expect(w.child.exitCode, "the watcher goes on").toBeNull()
      } finally {
        await stop(w)
      }
      expectListedOnce(pg.listed(), pg.addresses(0, 40))
      const events = await pg.events()
      const recorded = events.filter((e) => (e.type === "TargetChanged" && e.payload.op === "add") || (e.type === "DriftObserved" && e.payload.kind === "adopted"))
      expect(new Set(recorded.map((e) => e.payload.cidr)).size, "every block on the LoadMaster is in the ledger").toBe(40)
    }), 600_000)
})
