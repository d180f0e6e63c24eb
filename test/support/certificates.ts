/**
 * Self-signed certificates of the kinds appliances present, made with openssl (as the emulator
 * makes its own): with only a DNS name, or with no subjectAltName at all (the subject's CN only).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { tempDir } from "./cli.js"

export interface TestCertificate {
  readonly certPem: string
  readonly keyPem: string
  /** the PEM written to a file, for `tls.ca` */
  readonly caFile: string
}

/** A self-signed EC certificate for `subject` (`/CN=…`), with `san` as its subjectAltName, or none. */
export const makeCertificate = (subject: string, san?: string): TestCertificate => {
  const dir = tempDir("mitigator-cert-")
  const key = path.join(dir, "key.pem")
  const cert = path.join(dir, "cert.pem")
  execFileSync(
    "openssl",
    [
      "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
      "-keyout", key, "-out", cert, "-days", "2", "-subj", subject,
      ...(san === undefined ? [] : ["-addext", `subjectAltName=${san}`])
    ],
    { stdio: "pipe", timeout: 30_000 }
  )
  return { certPem: fs.readFileSync(cert, "utf8"), keyPem: fs.readFileSync(key, "utf8"), caFile: cert }
}
