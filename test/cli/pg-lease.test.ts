/**
 * `reconcile` on a log in PostgreSQL takes the lease row in the database, not a file: a row held
 * by a process on another host is respected until it expires by the SERVER's clock (a host clock a
 * day ahead does not end it), then taken over with a higher fencing token, which the takeover and
 * the changes carry.
 */
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { jsonLines, runCli } from "../support/cli.js"
import { clockAhead } from "../support/clock.js"
import { adsLine } from "../support/fixtures.js"
import { addrs, lmWorkspace, withEmulator } from "../support/loadmaster.js"
import { usePostgres } from "../support/usePostgres.js"

const server = usePostgres()
const DAY_MS = 24 * 3600_000

describe("the reconcile lease of a log in PostgreSQL, from the command line", () => {
  it("waits for a row another host holds, whatever this host's clock says, and takes it over once the server's clock says it expired", () =>
    withEmulator(
      async (emulator) => {
        const db = await server().createDatabase()
        const ws = lmWorkspace(emulator, { database: db.url })
        const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}, stdin = "") =>
          runCli([...args, "--config", ws.config], { cwd: ws.dir, env: { ...db.env, ...env }, stdin })
        expect((await run(["append", "--defer", "--instance", "fm1"], {}, `${adsLine(1, "198.51.100.7")}\n`)).code).toBe(0)
        // Given a lease row held by a process on another host, for another hour by the server's clock
        server().admin(
          db.name,
          "INSERT INTO reconcile_lease (name, holder, host, pid, fencing_token, acquired_at, expires_at) VALUES ('reconcile', 'other-host/4242/x', 'other-host', 4242, 5, now(), now() + interval '1 hour')"
        )

        // When reconcile runs on a host whose clock is a day ahead, it waits, and gives up naming the holder
        const waited = await run(["reconcile", "--lock-wait", "1s"], clockAhead(DAY_MS))
        expect(waited.code).toBe(1)
        expect(waited.stderr).toMatch(/another reconcile \(pid 4242 on other-host\) is running on this event log; it holds the reconcile lease row reconcile \(table reconcile_lease in postgres:\/\/mitigator@127\.0\.0\.1:\d+\/\w+\)/)
        expect(addrs(emulator)).toStrictEqual([])

        // Once the row has expired by the server's clock, the next reconcile takes it over
        server().admin(db.name, "UPDATE reconcile_lease SET expires_at = now() - interval '1 second'")
        const took = await run(["reconcile"])
        expect(took.code, took.stderr).toBe(0)
        expect(took.stdout + took.stderr).toMatch(/took over the reconcile lease row reconcile .*\(fencing token 6\): pid 4242 on other-host held it until \S+ without renewing it/)
        expect(addrs(emulator)).toStrictEqual(["198.51.100.7/32"])

        const replay = await run(["replay", "--events", "--json"])
        const events = jsonLines(replay.stdout)
        expect(events.find((e) => e.type === "LeaseTakenOver")?.payload).toMatchObject({
          lease: "postgresql:reconcile_lease/reconcile",
          reason: "expired",
          previous: { pid: 4242, host: "other-host" },
          fencingToken: 6
        })
        expect(events.filter((e) => e.type === "TargetChanged").map((e) => [e.payload.cidr, e.payload.fence])).toStrictEqual([["198.51.100.7/32", 6]])
        // Released when the pass ended; no lease file anywhere beside the config.
        expect(server().admin(db.name, "SELECT holder IS NULL, fencing_token FROM reconcile_lease")).toStrictEqual([["t", "6"]])
        expect(fs.readdirSync(ws.dir).filter((f) => f.endsWith(".lock"))).toStrictEqual([])
      },
      { sendDate: false }
    ))
})
