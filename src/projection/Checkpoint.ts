/**
 * The fold's state as text, and back: what a checkpoint holds. Pure. A restored state folds on
 * exactly as the state it was made from (a property test holds it to that), so a command folds
 * only the events after the newest checkpoint instead of the whole log.
 */
import { createHash } from "node:crypto"
import { allowEntryInForce, cidrOf } from "../domain/Decide.js"
import { foldCode, initialState, type ProjectionState } from "../domain/Project.js"
import { neverBlockRails } from "../domain/Rails.js"
import { readInstant } from "../domain/Time.js"
import { contains, parseCidr } from "../domain/Cidr.js"
import { PROJECTION_EVENT_TYPES } from "../eventlog/EventLog.js"

/** Raise by hand when the fold's meaning changes in code that the version below does not cover. */
const FOLD_REVISION = 4

type Entries<M> = M extends Map<infer K, infer V> ? Array<[K, V]> : never

interface Snapshot {
  readonly revision: number
  readonly policyHash: ProjectionState["policyHash"]
  readonly policyAllowlist: ProjectionState["policyAllowlist"]
  /** canonical CIDR text of each rail */
  readonly policyNeverBlock: ReadonlyArray<string>
  readonly operatorAllows: ProjectionState["operatorAllows"]
  readonly blocks: Array<[string, { readonly target: string; readonly cidr: string; readonly reasons: unknown }]>
  readonly pending: Entries<ProjectionState["pending"]>
  readonly owned: Entries<ProjectionState["owned"]>
  readonly takeOvers: Entries<ProjectionState["takeOvers"]>
  readonly resolutions: Entries<ProjectionState["resolutions"]>
  readonly ownedUsers: Entries<ProjectionState["ownedUsers"]>
  readonly heldByOthers: Entries<ProjectionState["heldByOthers"]>
  readonly waivedUntilSeq: Entries<ProjectionState["waivedUntilSeq"]>
  readonly lastRecordedAt: string
  readonly sinceSweep: number
}

export const serializeState = (state: ProjectionState): string => {
  const snapshot: Snapshot = {
    revision: FOLD_REVISION,
    policyHash: state.policyHash,
    policyAllowlist: state.policyAllowlist,
    policyNeverBlock: state.policyNeverBlock.map((r) => r.cidr.text),
    operatorAllows: state.operatorAllows,
    blocks: [...state.blocks].map(([key, e]) => [key, { target: e.target, cidr: e.cidr, reasons: e.reasons }]),
    pending: [...state.pending],
    owned: [...state.owned],
    takeOvers: [...state.takeOvers],
    resolutions: [...state.resolutions],
    ownedUsers: [...state.ownedUsers],
    heldByOthers: [...state.heldByOthers],
    waivedUntilSeq: [...state.waivedUntilSeq],
    lastRecordedAt: state.lastRecordedAt,
    sinceSweep: state.sinceSweep
  }
  return JSON.stringify(snapshot)
}

/**
 * The state a checkpoint holds; undefined when the text is not one this code wrote (or was
 * damaged): the caller then folds from scratch.
 */
export const restoreState = (text: string): ProjectionState | undefined => {
  try {
    return restore(JSON.parse(text) as Snapshot)
  } catch {
    return undefined
  }
}

const restore = (s: Snapshot): ProjectionState | undefined => {
  if (typeof s !== "object" || s === null || s.revision !== FOLD_REVISION) return undefined
  const state = initialState()
  state.policyHash = s.policyHash
  state.policyAllowlist = s.policyAllowlist
  state.policyNeverBlock = neverBlockRails(s.policyNeverBlock)
  state.operatorAllows = s.operatorAllows
  // cidrOf: a damaged CIDR fails the restore here (the fold starts over), not a later command.
  for (const [key, e] of s.blocks) state.blocks.set(key, { target: e.target, cidr: cidrOf(e.cidr).text, reasons: e.reasons as never })
  for (const [key, e] of s.pending) state.pending.set(key, e)
  for (const [key, e] of s.owned) state.owned.set(key, e)
  for (const [key, e] of s.takeOvers) state.takeOvers.set(key, e)
  for (const [key, e] of s.resolutions) state.resolutions.set(key, e)
  for (const [key, e] of s.ownedUsers) state.ownedUsers.set(key, e)
  for (const [key, e] of s.heldByOthers) state.heldByOthers.set(key, e)
  for (const [key, e] of s.waivedUntilSeq) state.waivedUntilSeq.set(key, e)
  state.lastRecordedAt = s.lastRecordedAt
  state.sinceSweep = s.sinceSweep
  return state
}

/**
 * The projection's version: changes whenever the fold's code (or the code it leans on, the
 * snapshot's, or the list of event types it reads) changes, so a checkpoint is used only by the
 * code that made it. Code deeper down (what these call) is not covered: FOLD_REVISION is for that.
 */
export const PROJECTION_VERSION = createHash("sha256")
  .update(
    [
      String(FOLD_REVISION),
      foldCode(),
      PROJECTION_EVENT_TYPES.join(","),
      ...[serializeState, restore, readInstant, neverBlockRails, cidrOf, parseCidr, contains, allowEntryInForce].map(String)
    ].join("\n")
  )
  .digest("hex")
  .slice(0, 16)
