/** Showing the desired state to a person. */
import { timeLeft as left } from "../domain/Duration.js"
import type { DesiredState, Reason } from "../domain/Project.js"

const why = (r: Reason): string =>
  r.kind === "decision"
    ? `${r.cause.method ?? "IDS"} from ${r.cause.product} ${r.cause.instance}#${r.cause.eventId}, rule ${r.rule}, offence ${r.offence} [seq ${r.seq}]`
    : `operator ${r.actor}: ${r.reason} [seq ${r.seq}]`

const MAX_HELD_SHOWN = 20

/** A CryptoSpike user for a person: `jdoe@corp.example (S-1-5-…)`, the id alone when it has no name. */
const userText = (u: { readonly userId: string; readonly userName: string; readonly userPrincipalName: string }): string => {
  const name = u.userPrincipalName !== "" ? u.userPrincipalName : u.userName
  return name === "" ? u.userId : `${name} (${u.userId})`
}

/** A plain-text view: every block in force, its expiry and why; then what is held back, and counts. */
export const renderState = (state: DesiredState): string => {
  const lines: string[] = []
  lines.push(`Desired state at ${state.asOf} (policy ${state.policyHash === null ? "none recorded" : state.policyHash.slice(0, 12)})`)
  if (state.ipBlocks.length === 0) lines.push("  no address blocks in force")
  for (const b of state.ipBlocks) {
    lines.push(`  ${b.target}  ${b.cidr}  until ${b.until} (${left(b.until, state.asOf)})${b.splitFrom === null ? "" : `  part of ${b.splitFrom} around an allowlisted address`}`)
    for (const r of b.reasons) lines.push(`      ${why(r)}`)
  }
  if (state.userBlocks.length > 0) {
    lines.push("Users blocked on CryptoSpike:")
    for (const u of state.userBlocks) {
      lines.push(`  ${userText(u)}  until ${u.until} (${left(u.until, state.asOf)})  behind ${u.seenAt.map((s) => s.ip).join(", ")}`)
      for (const r of u.reasons) lines.push(`      ${why(r)}`)
    }
  }
  if (state.pendingUserBlocks.length > 0) {
    lines.push("Waiting for the user behind an address to be resolved on CryptoSpike:")
    for (const u of state.pendingUserBlocks) {
      const f = u.failure
      const named = f?.searched === undefined ? "" : ` named ${f.searched}`
      const failure =
        f === null
          ? ""
          : f.reason === "ambiguous"
            ? `  not resolved: ambiguous${named} (${f.matches === undefined ? f.candidates.join(", ") : f.matches.map(userText).join(", ")})`
            : `  not resolved: no user found${named}`
      lines.push(`  ${u.ip} (seen ${u.at}${u.userIdentity === "" ? "" : `, Flowmon user ${u.userIdentity}`})  until ${u.until}${failure}`)
      for (const r of u.reasons) lines.push(`      ${why(r)}`)
    }
  }
  if (state.suppressed.length > 0) {
    lines.push("Not blocked because the allowlist contains them, or they are protected:")
    for (const s of state.suppressed) {
      const by = s.allowedBy
      lines.push(
        by.source === "protected"
          ? `  ${s.target}  ${s.cidr}  (protected: ${by.protection ?? by.cidr})`
          : `  ${s.target}  ${s.cidr}  (allowlist ${by.source} ${by.cidr}${by.until === null ? "" : ` until ${by.until}`})`
      )
    }
  }
  if (state.heldByOthers.length > 0) {
    lines.push("Made by mitigator, held by someone else now (mitigator will not remove them):")
    for (const h of state.heldByOthers.slice(0, MAX_HELD_SHOWN)) {
      lines.push(`  ${h.target}  ${h.entry}  by ${h.holder}${h.comment === "" ? "" : `, comment "${h.comment}"`} [seq ${h.seq}]`)
    }
    if (state.heldByOthers.length > MAX_HELD_SHOWN) lines.push(`  … ${state.heldByOthers.length - MAX_HELD_SHOWN} more (status --json)`)
  }
  const counts = Object.entries(state.counts).sort(([a], [b]) => (a < b ? -1 : 1))
  lines.push(`Counts: ${counts.length === 0 ? "none" : counts.map(([target, n]) => `${target} ${n}`).join(", ")}`)
  return lines.join("\n")
}
