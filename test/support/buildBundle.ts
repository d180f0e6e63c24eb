/** Builds dist/ once before the suite: CLI tests run the bundle users get. */
import { execFileSync } from "node:child_process"

export default function setup(): void {
  execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" })
}
