/** Flowmon ADS detections in its 15-column TSV layout, as `append` reads them on stdin. */

const BASE = Date.UTC(2025, 10, 3, 8, 0, 0)
const flowmonTime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace("T", " ")

/**
 * The i-th detection. Every one differs (id, times, source 10.x.y.z), so no cache or repetition
 * flatters the figures; a third are scans, the rest SSH brute force.
 */
export const tsvLine = (i: number) =>
  [
    i, flowmonTime(BASE + i * 1000), flowmonTime(BASE + i * 1000 - 25_000), i % 3 === 0 ? "SCANS" : "SSHDICT", "SSH attack", "Security issues",
    "High", "Attack from a single attacker has been detected. This attack was unsuccessful.", "22", "6",
    `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, " ", "198.51.100.40, 198.51.100.41", "LAN", " "
  ].join("\t")

/** `count` lines from the `first`-th, newline-terminated, as one stdin. */
export const tsvInput = (count: number, first = 0) =>
  Buffer.from(Array.from({ length: count }, (_, i) => tsvLine(first + i)).join("\n") + "\n")
