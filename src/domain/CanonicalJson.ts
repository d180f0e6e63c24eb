/**
 * JSON with object keys sorted at every level: the same value always gives the same text, so
 * payloads stored in the log, hashes over them and `replay` output are byte-for-byte repeatable.
 */
export const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value)
    // undefined, functions and symbols have no JSON form; NaN/Infinity would silently become null.
    if (text === undefined || (typeof value === "number" && !Number.isFinite(value))) {
      throw new TypeError(`value has no canonical JSON form: ${String(value)}`)
    }
    return text
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`
}
