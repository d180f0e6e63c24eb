import { afterAll, beforeAll } from "vitest"
import { startPostgres, type PgServer } from "./postgres.js"

/** One server for the test file: started before its first test, stopped after its last. */
export const usePostgres = (): (() => PgServer) => {
  let server: PgServer | undefined
  beforeAll(async () => {
    server = await startPostgres()
  }, 120_000)
  afterAll(() => server?.stop())
  return () => {
    if (server === undefined) throw new Error("the PostgreSQL server did not start (see beforeAll)")
    return server
  }
}
