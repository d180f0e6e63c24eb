/**
 * One line of plain words per recorded event: what an auditor scans for in `replay --events`,
 * and what `why` and `status` say about an event. Pure. Payloads are read defensively (an event
 * recorded by an older build may lack a field added since): a missing field reads as "-", never
 * as a crash or as raw JSON.
 */
import type { EventType } from "./Events.js"

type Payload = Record<string, unknown>

const str = (v: unknown): string => (v === undefined || v === null ? "-" : typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v))
const obj = (v: unknown): Payload => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Payload) : {})
const list = (v: unknown): ReadonlyArray<unknown> => (Array.isArray(v) ? v : [])

/** A CryptoSpike user for a person: `jdoe@corp.example (S-1-5-…)`, the id alone when it has no name. */
export const userText = (user: object): string => {
  const u = user as Payload
  const name = (typeof u["userPrincipalName"] === "string" ? u["userPrincipalName"] : "") || (typeof u["userName"] === "string" ? u["userName"] : "")
  return name === "" ? str(u["userId"]) : `${name} (${str(u["userId"])})`
}

/** What a block applies to: `192.0.2.31/32`, or `the user behind 192.0.2.31`. */
export const subjectText = (subject: unknown): string => {
  const s = obj(subject)
  return s["kind"] === "ip" ? str(s["cidr"]) : `the user behind ${str(s["ip"])}`
}

/** The summary of each event type, by type: `summaryOf` falls back for types this build does not know. */
export const SUMMARIES: { readonly [T in EventType]: (p: Payload) => string } = {
  FlowmonEventReceived: (p) => {
    const targets = list(p["targets"]).map(str)
    const shown = targets.length === 0 ? "" : ` -> ${targets[0]}${targets.length > 1 ? ` (+${targets.length - 1})` : ""}`
    const kind = p["product"] === "ids" ? `IDS ${str(p["description"])}` : str(p["method"])
    const unread = list(p["warnings"]).map((w) => str(obj(w)["field"]))
    const user = typeof p["userIdentity"] === "string" && p["userIdentity"] !== "" ? ` user ${p["userIdentity"]}` : ""
    return `${str(p["product"])} ${str(p["instance"])}#${str(p["eventId"])} ${kind} ${str(p["priority"])} ${str(p["source"])}${shown}${user} [${str(p["format"])}]${unread.length === 0 ? "" : ` (not read: ${unread.join(", ")})`}`
  },
  InputRejected: (p) => `line ${str(p["line"])}: ${str(p["reason"])}`,
  PolicyActivated: (p) => {
    const policy = obj(p["policy"])
    const never = list(policy["neverBlock"]).length
    return `policy ${str(p["hash"]).slice(0, 12)} from ${str(p["source"])}: ${list(policy["rules"]).length} rules, ${list(policy["allowlist"]).length} allowlist entries${never > 0 ? `, ${never} neverBlock entries` : ""}`
  },
  BlockDecided: (p) =>
    `${subjectText(p["subject"])} on ${str(p["target"])} for ${str(p["ttl"])} until ${str(p["until"])} (rule ${str(p["rule"])}, offence ${str(p["offence"])}, cause seq ${str(obj(p["cause"])["seq"])})`,
  BlockWithheld: (p) => {
    const cause = obj(p["cause"])
    return `not blocked: protected (${str(p["protection"])}): ${str(cause["source"])} on ${list(p["targets"]).map(str).join(", ")} (rule ${str(p["rule"])}, cause seq ${str(cause["seq"])})`
  },
  BlockRequested: (p) => {
    const takeOver = p["takeOver"] === undefined ? "" : `, taken over from ${str(obj(p["takeOver"])["from"])}`
    return `${subjectText(p["subject"])} on ${str(p["target"])} for ${str(p["ttl"])} until ${str(p["until"])} (by ${str(p["actor"])}: ${str(p["reason"])}${takeOver})`
  },
  UnblockRequested: (p) => `${str(p["cidr"])} on ${p["target"] === null ? "every target" : str(p["target"])} (by ${str(p["actor"])}: ${str(p["reason"])})`,
  AllowRequested: (p) => `${str(p["cidr"])} ${p["until"] === null ? "for good" : `until ${str(p["until"])}`} (by ${str(p["actor"])}: ${str(p["reason"])})`,
  TargetChanged: (p) =>
    p["op"] === "add"
      ? `added ${str(p["cidr"])} to ${str(p["target"])}${p["causeSeq"] === null || p["causeSeq"] === undefined ? "" : ` (for seq ${str(p["causeSeq"])})`}`
      : `removed ${str(p["cidr"])} from ${str(p["target"])}`,
  TargetChangeFailed: (p) => {
    const what = p["op"] === "list" ? `could not list ${str(p["target"])}` : `could not ${str(p["op"])} ${str(p["cidr"])} ${p["op"] === "add" ? "to" : "from"} ${str(p["target"])}`
    return `${what} (${str(p["errorClass"])}: ${str(p["reason"])}): ${str(p["message"])}; retried next pass`
  },
  DriftObserved: (p) =>
    p["kind"] === "missing"
      ? `${str(p["cidr"])} is no longer on ${str(p["target"])} (removed by hand?)${p["repair"] === true ? "; put back while it is wanted" : ""}`
      : `${str(p["cidr"])} found on ${str(p["target"])} with mitigator's marker${p["comment"] === undefined ? "" : ` ("${str(p["comment"])}")`}: adopted`,
  OwnershipLost: (p) =>
    `${p["cidr"] === null ? `user ${str(p["userId"])}` : str(p["cidr"])} on ${str(p["target"])} is held by ${str(p["holder"])} now${typeof p["comment"] === "string" && p["comment"] !== "" ? ` (comment "${p["comment"]}")` : ""}: mitigator will not remove it`,
  PlanRefused: (p) => `plan not applied: ${str(p["reason"])} (${str(p["adds"])} to add, ${str(p["removes"])} to remove; --force applies it)`,
  UserResolved: (p) => `the user behind ${str(p["ip"])} (seen ${str(p["at"])}) is ${userText(p)}, found by ${str(p["via"])}`,
  UserResolutionFailed: (p) => {
    const matches = Array.isArray(p["matches"]) ? p["matches"].map((m) => userText(obj(m))) : list(p["candidates"]).map(str)
    const named = typeof p["searched"] === "string" ? ` named ${p["searched"]}` : ""
    return `the user behind ${str(p["ip"])} (seen ${str(p["at"])}) is not resolved: ${p["reason"] === "ambiguous" ? `ambiguous${named} (${matches.join(", ")})` : `no user found${named}`}`
  },
  UserBlockChanged: (p) =>
    `${p["op"] === "block" ? "blocked" : "unblocked"} user ${str(p["userId"])} on cryptospike${p["op"] === "block" && p["causeSeq"] !== null && p["causeSeq"] !== undefined ? ` (for seq ${str(p["causeSeq"])})` : ""}`,
  UserBlockLifted: (p) =>
    `user ${str(p["userId"])} is no longer blocked on cryptospike (lifted by someone else)${p["repair"] === true ? "; blocked again while it is wanted" : "; left lifted until a new detection"}`,
  ClockSkewObserved: (p) =>
    `this run's clock (${str(p["clock"])}) was ${Math.round(Math.abs(Number(p["behindMs"])) / 1000)}s ${Number(p["behindMs"]) < 0 ? "ahead of" : "behind"} ${p["against"] === "log" ? "the newest event" : `the ${str(p["against"])}'s clock`} (${str(p["reference"])})`,
  LeaseTakenOver: (p) => {
    const previous = p["previous"] === null ? null : obj(p["previous"])
    return `${str(p["lease"])} taken by pid ${str(p["pid"])} from ${previous === null ? "an unreadable lease" : `pid ${str(previous["pid"])}`} (${str(p["reason"])})`
  },
  CheckpointSaved: (p) => `checkpoint of the projection (version ${str(p["version"])}) after seq ${str(p["seq"])}, state sha256 ${str(p["stateSha256"]).slice(0, 12)}`
}

/** The summary of one event; an event type this build does not know reads as its type and JSON. */
export const summaryOf = (type: string, payload: unknown): string =>
  Object.hasOwn(SUMMARIES, type) ? SUMMARIES[type as EventType](obj(payload)) : `(unknown event type) ${JSON.stringify(payload)}`
