/** `mitigator emulate loadmaster` as a user runs it: a real process, stopped with SIGTERM. */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { BUNDLE, tempDir } from "../support/cli.js"

describe("mitigator emulate loadmaster", () => {
  it("prints its URL and API key first, serves the API, and saves its state on SIGTERM", async () => {
    const state = path.join(tempDir(), "lm-state.json")
    const child = spawn(process.execPath, [BUNDLE, "emulate", "loadmaster", "--port", "0", "--api-key", "test-key", "--state", state], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
    const firstLine = await new Promise<string>((resolve, reject) => {
      let out = ""
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString()
        if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")))
      })
      child.on("error", reject)
      setTimeout(() => reject(new Error(`no first line; stdout so far: ${out}`)), 10_000)
    })
    const m = /^loadmaster emulator listening on (http:\/\/\S+) api-key (\S+)/.exec(firstLine)
    expect(m).not.toBeNull()
    const [, url, key] = m!
    expect(key).toBe("test-key")

    const call = (body: object) =>
      fetch(`${url}/accessv2`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ apikey: key, ...body }) })
    expect((await call({ cmd: "aclcontrol", add: "block", addr: "192.0.2.31/32", comment: "seeded" })).status).toBe(200)
    const listed = await (await call({ cmd: "aclcontrol", list: "block" })).json()
    expect(JSON.stringify(listed)).toContain("192.0.2.31/32")

    child.kill("SIGTERM")
    expect(await exited).toBe(0)
    expect(fs.readFileSync(state, "utf8")).toContain("192.0.2.31/32")
  })

  it("takes a firmware profile from its flags: bare hosts, comment limits, strict parameters, the old list shape", async () => {
    const child = spawn(
      process.execPath,
      [BUNDLE, "emulate", "loadmaster", "--port", "0", "--api-key", "test-key", "--host-form", "bare", "--comment-max", "20", "--comment-charset", "plain", "--strict-params", "--list-shape", "old"],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
    try {
      const firstLine = await new Promise<string>((resolve, reject) => {
        let out = ""
        child.stdout.on("data", (b: Buffer) => {
          out += b.toString()
          if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")))
        })
        child.on("error", reject)
        setTimeout(() => reject(new Error(`no first line; stdout so far: ${out}`)), 10_000)
      })
      const url = /listening on (http:\/\/\S+)/.exec(firstLine)![1]!
      const call = async (body: object) => {
        const res = await fetch(`${url}/accessv2`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ apikey: "test-key", ...body }) })
        return (await res.json()) as { message?: string; status: string }
      }
      expect((await call({ cmd: "aclcontrol", add: "block", addr: "192.0.2.31/32", comment: "x" })).message).toBe("Invalid address")
      expect((await call({ cmd: "aclcontrol", add: "block", addr: "192.0.2.31", comment: "ADS ID 9001 - SSHDICT" })).message).toBe("Invalid comment")
      expect((await call({ cmd: "aclcontrol", add: "block", addr: "192.0.2.31", comment: "x", extra: "1" })).message).toBe("Unknown parameter: extra")
      expect((await call({ cmd: "aclcontrol", add: "block", addr: "192.0.2.31", comment: "ADS ID 9001 SSHDICT" })).status).toBe("ok")
      expect(await call({ cmd: "aclcontrol", list: "block" })).toEqual({ code: 200, Blacklist: { addr: ["192.0.2.31"] }, status: "ok" })
    } finally {
      child.kill("SIGTERM")
      expect(await exited).toBe(0)
    }
  })
})
