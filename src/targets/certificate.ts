/**
 * What an operator needs to decide about an appliance's certificate that was not verified: its
 * SHA-256 fingerprint, subject and subjectAltNames, why it did not verify, and the config line
 * that pins it. Pure: the certificate comes from a handshake (tls.ts) or a Node error's `cert`.
 *
 * Why the name advice matters: Node checks an IP address only against the certificate's IP
 * subjectAltNames, and falls back to the subject's CN only for a DNS name and only when the
 * certificate has no DNS subjectAltName. An appliance certificate without a subjectAltName, reached
 * by IP, therefore fails however good the CA in `tls.ca` is; the way out is `tls.serverName` (a
 * DNS name it carries) or a pin.
 */
import * as net from "node:net"

/** The parts of a Node peer certificate (`tls.PeerCertificate`) read here. */
export interface CertificateLike {
  readonly subject?: Readonly<Record<string, string | ReadonlyArray<string> | undefined>> | null
  readonly subjectaltname?: string | undefined
  readonly fingerprint256?: string | undefined
}

export interface CertificateFacts {
  /** `AB:CD:…`, as `openssl x509 -fingerprint -sha256` prints it */
  readonly sha256: string
  /** `CN=lm1.corp.example, O=Example`, or "" when empty */
  readonly subject: string
  /** `DNS:lm1.corp.example`, `IP Address:10.0.0.5`…; empty: none */
  readonly subjectAltNames: ReadonlyArray<string>
}

const printableText = (text: string): string => text.replace(/[^\x20-\x7e]/g, "?")

export const certificateFacts = (cert: CertificateLike): CertificateFacts => {
  const subject = Object.entries(cert.subject ?? {})
    .flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${Array.isArray(v) ? v.join("+") : String(v)}`]))
    .join(", ")
  const altNames = cert.subjectaltname === undefined || cert.subjectaltname.trim() === "" ? [] : cert.subjectaltname.split(", ")
  return {
    sha256: (cert.fingerprint256 ?? "").toUpperCase(),
    subject: printableText(subject),
    subjectAltNames: altNames.map(printableText)
  }
}

/** One line: `sha256 AB:…, subject CN=…, subjectAltName DNS:…, IP Address:…` (or `no subjectAltName`). */
export const describeCertificate = (facts: CertificateFacts): string =>
  `sha256 ${facts.sha256}, subject ${facts.subject === "" ? "(empty)" : facts.subject}, ${facts.subjectAltNames.length === 0 ? "no subjectAltName" : `subjectAltName ${facts.subjectAltNames.join(", ")}`}`

/** The YAML line that pins this certificate under `<appliance>.tls` (the config accepts this form). */
export const pinLine = (facts: CertificateFacts): string => `fingerprint: "sha256:${facts.sha256}"`

/** The subject's CN, when it is a DNS name (a name `tls.serverName` can give). */
const commonNameIfDns = (facts: CertificateFacts): string | undefined => {
  const cn = /(?:^|, )CN=([^,]+)/.exec(facts.subject)?.[1]?.trim()
  return cn !== undefined && net.isIP(cn) === 0 && /^[A-Za-z0-9*](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(cn) && !cn.includes("*") ? cn : undefined
}

/** The DNS names the certificate carries (subjectAltName DNS entries, else a DNS-name CN). */
export const certificateDnsNames = (facts: CertificateFacts): ReadonlyArray<string> => {
  const dns = facts.subjectAltNames.filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4))
  if (dns.length > 0) return dns.filter((n) => !n.includes("*"))
  if (facts.subjectAltNames.length > 0) return []
  const cn = commonNameIfDns(facts)
  return cn === undefined ? [] : [cn]
}

/**
 * What to do when the certificate does not carry the name it was checked against (`checked`):
 * name one it carries in `tls.serverName`, or, when it carries none that can be given (no
 * subjectAltName and an IP address or nothing as CN), pin it.
 */
export const nameAdvice = (facts: CertificateFacts, checked: string, configKey: string): string => {
  const names = certificateDnsNames(facts)
  const carried = facts.subjectAltNames.length === 0 ? `it has no subjectAltName${facts.subject === "" ? "" : ` (subject ${facts.subject})`}` : `it names ${facts.subjectAltNames.join(", ")}`
  return names.length > 0
    ? `the certificate does not name ${checked} (${carried}): set ${configKey}.tls.serverName: ${names[0]} (a name it carries), or pin it with ${configKey}.tls.fingerprint`
    : `the certificate does not name ${checked} (${carried}), and no name it carries can be checked: pin it with ${configKey}.tls.fingerprint`
}
