/**
 * JSON with object keys sorted at every level: the same value always gives the same text, so
 * payloads stored in the log, hashes over them and `replay` output are byte-for-byte repeatable.
 *
 * Payloads built by this code base list their keys in sorted order already; for those, one
 * walk confirms it and the native JSON.stringify does the rest (the ingest hot path).
 */
export const canonicalJson = (value: unknown): string => (isCanonical(value) ? JSON.stringify(value) : sortedJson(value))

/** True when JSON.stringify(value) is already canonical: sorted keys, nothing it would drop or change. */
const isCanonical = (value: unknown): boolean => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(value)
    case "object": {
      if (value === null) return true
      if (Array.isArray(value)) {
        for (const item of value) if (!isCanonical(item)) return false
        return true
      }
      if (Object.getPrototypeOf(value) !== Object.prototype || "toJSON" in value) return false
      let previous: string | undefined
      for (const key in value) {
        if (previous !== undefined && !(previous < key)) return false
        if (!isCanonical((value as Record<string, unknown>)[key])) return false
        previous = key
      }
      return true
    }
    default:
      return false
  }
}

const sortedJson = (value: unknown): string => {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value)
    // undefined, functions and symbols have no JSON form; NaN/Infinity would silently become null.
    if (text === undefined || (typeof value === "number" && !Number.isFinite(value))) {
      throw new TypeError(`value has no canonical JSON form: ${String(value)}`)
    }
    return text
  }
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(obj[k])}`).join(",")}}`
}
