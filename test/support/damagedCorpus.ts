/**
 * A corpus of Flowmon lines whose optional fields are damaged the way real exports damage them:
 * lists cut off (mid-address, with "..." or "…"), stray separators, times cut short, text in
 * another encoding (Latin-1, Windows-1252), a method code cut short. Every line keeps a usable
 * id, detection time and source, so every line must be stored, each damaged field with a
 * warning. Documentation address ranges only.
 */

export interface DamagedLine {
  readonly name: string
  /** the line without its terminator: text, or bytes where it is not valid UTF-8 */
  readonly line: string | Uint8Array
  /** the fields that must carry a warning (in any order) */
  readonly warned: ReadonlyArray<string>
  /** the targets that must be kept */
  readonly targets: ReadonlyArray<string>
}

const latin1 = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "latin1"))

// ---- TSV -----------------------------------------------------------------------------------

const ADS: ReadonlyArray<string> = [
  "4711", "2025-11-03 15:13:05", "2025-11-03 15:12:40", "SSHDICT", "SSH attack", "Security issues", "Critical",
  "Attack from a single attacker has been detected.", "22", "6", "192.0.2.31", " ", "198.51.100.40, 198.51.100.41", "LAN", " "
]
const IDS: ReadonlyArray<string> = [
  "9001", "2025-11-03 15:21:00", "2025-11-03 15:21:07", "192.0.2.50", "51514", "198.51.100.7", "443", "TCP", "2024217",
  "ET POLICY example signature", "203.0.113.10", "eth2", "Potential Corporate Privacy Violation", "2"
]

/** `base` with fields replaced (0-based), the id set to `id`. */
const tsv = (base: ReadonlyArray<string>, id: number, changes: Record<number, string>): string =>
  base.map((f, i) => (i === 0 ? String(id) : (changes[i] ?? f))).join("\t")

export const DAMAGED_TSV: ReadonlyArray<DamagedLine> = [
  {
    name: "a target list cut in the middle of an address",
    line: tsv(ADS, 5001, { 12: "198.51.100.40, 198.51.100.41, 198.51.10" }),
    warned: ["targets"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "a target list ending in ', ...'",
    line: tsv(ADS, 5002, { 12: "198.51.100.40, 198.51.100.41, ..." }),
    warned: ["targets"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "an address cut by a '…' glued to it (198.51.100.4… is not kept: it may have been .41)",
    line: tsv(ADS, 5003, { 12: "198.51.100.40, 198.51.100.4…" }),
    warned: ["targets"],
    targets: ["198.51.100.40"]
  },
  {
    name: "an address before a ' ...' (not kept either)",
    line: tsv(ADS, 5004, { 12: "198.51.100.40, 198.51.100.4 ..." }),
    warned: ["targets"],
    targets: ["198.51.100.40"]
  },
  {
    name: "targets separated by ';'",
    line: tsv(ADS, 5005, { 12: "198.51.100.40; 198.51.100.41" }),
    warned: ["targets"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "targets separated by ' | ', with a stray trailing ';'",
    line: tsv(ADS, 5006, { 12: "198.51.100.40 | 198.51.100.41, ;" }),
    warned: ["targets"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "a first flow time cut short",
    line: tsv(ADS, 5007, { 2: "2025-11-03 15:1" }),
    warned: ["firstFlowAt"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "a method code cut short with '…'",
    line: tsv(ADS, 5008, { 3: "SSHDI…" }),
    warned: ["method"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "a user identity in Latin-1 (CORP\\Müller)",
    line: latin1(tsv(ADS, 5009, { 14: "CORP\\Müller" })),
    warned: ["userIdentity"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "a detail and captured source name in Windows-1252 (“quoted”, Škoda)",
    line: latin1(tsv(ADS, 5010, { 7: "Login as \x93admin\x94", 11: "\x8akoda-ws1" })),
    warned: ["detail", "sourceName"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "everything at once: a cut list, a cut time and a Latin-1 user",
    line: latin1(tsv(ADS, 5011, { 2: "2025-11-03 1", 12: "198.51.100.40, 198.51.100.41, 198.51.100...", 14: "jürgen" })),
    warned: ["firstFlowAt", "targets", "userIdentity"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "IDS: a destination list cut off and a lastSeen cut short",
    line: tsv(IDS, 9101, { 2: "2025-11-03 15:2", 5: "198.51.100.7, 198.51.1..." }),
    warned: ["ids.lastSeen", "targets"],
    targets: ["198.51.100.7"]
  },
  {
    name: "IDS: a signature name in Latin-1",
    line: latin1(tsv(IDS, 9102, { 9: "ET POLICY Zugriff auf gesperrte Domäne" })),
    warned: ["signature.name", "detail"],
    targets: ["198.51.100.7"]
  }
]

// ---- CEF (ADS 13.0 shape, spec §11) -----------------------------------------------------------

const CEF_HEAD = "Nov  3 15:13:04 fm01 ADS[2069]: CEF:0|Flowmon Networks|Flowmon ADS Ultimate|13.00.00"
const cef = (method: string, ext: string): string => `${CEF_HEAD}|${method}|SSH attack|10|${ext}`
const TAIL = "cs2=Default cs2Label=MethodInstanceName cn2=1 cn2Label=DataFeedID cn3=2 cn3Label=PerspectiveID"

export const DAMAGED_CEF: ReadonlyArray<DamagedLine> = [
  {
    name: "a cs4 target list cut off with '...'",
    line: cef("SCANS", `src=192.0.2.31 start=Nov 03 2025 15:13:04 msg=Port scan. cs4=198.51.100.40, 198.51.100.41, 198.51.100.4... cs4Label=dstIPv4list ${TAIL}`),
    warned: ["targets"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "a targetList inside msg cut off with '…' (ADS up to 11.0)",
    line: cef("SCANS", "src=192.0.2.32 start=Nov 03 2025 15:13:04 msg=Port scan detected. targetList: 198.51.100.40, 198.51.1…"),
    warned: ["targets"],
    targets: ["198.51.100.40"]
  },
  {
    name: "an IPv6 list (cs6) cut in the middle of an address",
    line: cef("SCANS", `c6a2=2001:db8::a1 c6a2Label=srcIPv6 start=Nov 03 2025 15:13:04 msg=Port scan. cs6=2001:db8::2, 2001:db8::3, 2001:db8: cs6Label=dstIPv6list ${TAIL}`),
    warned: ["targets"],
    targets: ["2001:db8::2", "2001:db8::3"]
  },
  {
    name: "a cs4 list separated by ';'",
    line: cef("SCANS", `src=192.0.2.33 start=Nov 03 2025 15:13:04 msg=Port scan. cs4=198.51.100.40;198.51.100.41 cs4Label=dstIPv4list ${TAIL}`),
    warned: ["targets"],
    targets: ["198.51.100.40", "198.51.100.41"]
  },
  {
    name: "a msg in Windows-1252 (“…” quotes)",
    line: latin1(cef("SSHDICT", `src=192.0.2.34 start=Nov 03 2025 15:13:04 msg=Login as \x93root\x94 dst=198.51.100.40 ${TAIL}`)),
    warned: ["detail"],
    targets: ["198.51.100.40"]
  },
  {
    name: "a suser in Latin-1",
    line: latin1(cef("SSHDICT", `src=192.0.2.35 start=Nov 03 2025 15:13:04 msg=Attack. suser=CORP\\Müller dst=198.51.100.40 ${TAIL}`)),
    warned: ["userIdentity"],
    targets: ["198.51.100.40"]
  },
  {
    name: "a method code cut short in the header",
    line: cef("SSHDI...", `src=192.0.2.36 start=Nov 03 2025 15:13:04 msg=Attack. dst=198.51.100.40 ${TAIL}`),
    warned: ["method"],
    targets: ["198.51.100.40"]
  }
]

export const lineBytes = (l: DamagedLine): Uint8Array => (typeof l.line === "string" ? new TextEncoder().encode(l.line) : l.line)

/** The lines as one input, LF-terminated. */
export const corpusInput = (lines: ReadonlyArray<DamagedLine>): Buffer =>
  Buffer.concat(lines.flatMap((l) => [Buffer.from(lineBytes(l)), Buffer.from("\n")]))
