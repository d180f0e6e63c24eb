/** How a `postgres://` URL is read: where to connect, and whether over verified TLS. */
import { describe, expect, it } from "vitest"
import { parsePgUrl } from "../../src/eventlog/PgConnection.js"

describe("a postgres:// URL", () => {
  it("goes over verified TLS to another host unless its sslmode says otherwise", () => {
    expect(parsePgUrl("postgres://mitigator@db.example:5433/log")).toMatchObject({ host: "db.example", port: 5433, database: "log", user: "mitigator", ssl: true })
    expect(parsePgUrl("postgres://mitigator@10.0.0.5/log?sslmode=verify-ca").ssl).toBe(true)
    expect(parsePgUrl("postgres://mitigator@db.example/log?sslmode=require").ssl).toEqual({ rejectUnauthorized: false })
    expect(parsePgUrl("postgres://mitigator@db.example/log?sslmode=disable").ssl).toBe(false)
  })

  it("speaks plain to this host: loopback, localhost or a unix socket", () => {
    expect(parsePgUrl("postgres://mitigator@127.0.0.1:5432/log").ssl).toBe(false)
    expect(parsePgUrl("postgresql://mitigator@localhost/log").ssl).toBe(false)
    expect(parsePgUrl("postgres://mitigator@[::1]/log")).toMatchObject({ host: "::1", ssl: false })
    expect(parsePgUrl("postgres://mitigator@localhost/log?host=/run/postgresql")).toMatchObject({ host: "/run/postgresql", ssl: false })
  })

  it("refuses a password in the URL, an unknown sslmode and a URL without a database, never printing the password", () => {
    expect(() => parsePgUrl("postgres://mitigator:s3cret-pw@db.example/log")).toThrow(/holds a password: refused/)
    try {
      parsePgUrl("postgres://mitigator:s3cret-pw@db.example/log")
    } catch (e) {
      expect(String(e)).not.toContain("s3cret-pw")
    }
    expect(() => parsePgUrl("postgres://mitigator@db.example/log?sslmode=sometimes")).toThrow(/unknown sslmode sometimes/)
    expect(() => parsePgUrl("postgres://mitigator@db.example/")).toThrow(/names no database/)
  })
})
