/** Flowmon input lines for CLI tests (documentation address ranges only). */

/** An ADS standard (15-field) line; the empty user identity is written as " ", as ADS does. */
export const adsLine = (id: number | string, source = "192.0.2.31", method = "SSHDICT") =>
  [
    id, "2025-11-03 15:13:05", "2025-11-03 15:12:40", method, "SSH attack", "Security issues", "Critical",
    "Attack from a single attacker has been detected.", "22", "6", source, " ", "198.51.100.40, 198.51.100.41", "LAN", " "
  ].join("\t")

/** An ADS extended (17-field) line. */
export const adsExtendedLine = (id: number | string, source = "2001:db8::a1") =>
  [
    id, "2025-11-03 15:20:11", "2025-11-03 15:19:58", "SCANS", "TCPSYN", "T1046", "Port scanning", "Security issues",
    "High", "Chaotic TCP SYN scan.", "22", "6", source, "ws-042.example.test", "2001:db8::2, 2001:db8::3", "LAN",
    "jdoe@example.test"
  ].join("\t")

/** An IDS (14-field) line. */
export const idsLine = (id: number | string, source = "192.0.2.50") =>
  [
    id, "2025-11-03 15:21:00", "2025-11-03 15:21:07", source, "51514", "198.51.100.7", "443", "TCP", "2024217",
    "ET POLICY example signature", "203.0.113.10", "eth2", "Potential Corporate Privacy Violation", "2"
  ].join("\t")

export const adsJsonLine = (id: number) =>
  JSON.stringify({
    id,
    timestamp: "2025-11-03 15:25:00",
    type: "BLACKLIST",
    typeDesc: "Communication with blacklisted hosts",
    severity: "Critical",
    source: "192.0.2.77",
    targets: "198.51.100.40",
    detail: "Communication with a blacklisted host.",
    perspective: "Security issues",
    netFlowSource: "LAN",
    userIdentity: ""
  })

export const cefLine =
  "Nov  3 15:13:04 fm01 ADS[2069]: CEF:0|Flowmon Networks|Flowmon ADS Ultimate|13.00.00|SSHDICT|SSH attack|10|src=192.0.2.31 smac=02:00:00:00:00:01 start=Nov 03 2025 15:13:04 msg=Attack from a single attacker has been detected. dst=198.51.100.40 cs2=Default cs2Label=MethodInstanceName cn2=1 cn2Label=DataFeedID cn3=2 cn3Label=PerspectiveID"

/** The "never harm" trial's nine addresses (each was blocked as a detection), and the rail that protects each. */
export const RAIL_ADDRESSES: ReadonlyArray<readonly [address: string, protection: string]> = [
  ["0.0.0.0", "unspecified 0.0.0.0/8"],
  ["127.0.0.1", "loopback 127.0.0.0/8"],
  ["::", "unspecified ::/128"],
  ["::1", "loopback ::1/128"],
  ["224.0.0.1", "multicast 224.0.0.0/4"],
  ["ff02::1", "multicast ff00::/8"],
  ["169.254.169.254", "link-local 169.254.0.0/16"],
  ["fe80::1", "link-local fe80::/10"],
  ["255.255.255.255", "broadcast 255.255.255.255/32"]
]
