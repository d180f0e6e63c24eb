/**
 * The LoadMaster access-list port: what reconcile needs from a Kemp LoadMaster, and nothing more.
 * Implementations: the live APIv2/APIv1 client, and tests' clients pointed at the emulator.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

/** Which block list: the global one, or one virtual service's (by its numeric Index). */
export type AclScope = { readonly kind: "global" } | { readonly kind: "vs"; readonly index: number }

export const GLOBAL_SCOPE: AclScope = { kind: "global" }

/** The scope of a policy target ("loadmaster:global", "loadmaster:vs:3"); undefined for other targets. */
export const scopeOfTarget = (target: string): AclScope | undefined => {
  if (target === "loadmaster:global") return GLOBAL_SCOPE
  const m = /^loadmaster:vs:([0-9]{1,9})$/.exec(target)
  return m === null ? undefined : { kind: "vs", index: Number(m[1]) }
}

export const targetOfScope = (scope: AclScope): string =>
  scope.kind === "global" ? "loadmaster:global" : `loadmaster:vs:${scope.index}`

/** One entry of a block list, as the appliance reports it. */
export interface AclEntry {
  /** canonical CIDR (a host is /32 or /128), for comparing with the desired state */
  readonly cidr: string
  /** the address exactly as listed: deletes must send it back unchanged */
  readonly listed: string
  /** null where the appliance's list form carries no comments (bare addresses) */
  readonly comment: string | null
}

export interface VirtualService {
  readonly index: number
  readonly address: string
  readonly port: string
  readonly protocol: string
  readonly nickname: string
}

/**
 * What went wrong talking to the appliance. `retryable` is true only for transient trouble
 * (connection, timeout, 5xx, 429, rate-limit drops); never for 401/403, 404 (API disabled), 422,
 * an answer over the size cap (`too-large`) or one that cannot be read (`protocol`).
 */
export class LoadMasterError extends Data.TaggedError("LoadMasterError")<{
  readonly reason: "transport" | "timeout" | "auth" | "api-disabled" | "rejected" | "rate-limited" | "server" | "protocol" | "too-large"
  readonly message: string
  readonly status?: number
  readonly retryable: boolean
  /** the host refused the connection: retryable; within the call only where nobody waits (http.ts retriesWithinCall) */
  readonly refused?: true
}> {}

export interface LoadMasterAclService {
  readonly list: (scope: AclScope) => Effect.Effect<ReadonlyArray<AclEntry>, LoadMasterError>
  /**
   * Adds `cidr` (canonical) with a comment; a host is sent in the configured address form (`/32`,
   * `/128`, or bare). Succeeds with the address exactly as sent.
   */
  readonly add: (scope: AclScope, cidr: string, comment: string) => Effect.Effect<string, LoadMasterError>
  /** Removes an entry, sending its address exactly as it was listed. */
  readonly remove: (scope: AclScope, entry: AclEntry) => Effect.Effect<void, LoadMasterError>
  readonly listVirtualServices: Effect.Effect<ReadonlyArray<VirtualService>, LoadMasterError>
  /** ACLs are enforced only while the packet routing filter is on. */
  readonly packetFilterEnabled: Effect.Effect<boolean, LoadMasterError>
  /**
   * The appliance's clock: the `Date` header of its newest answer (UTC ISO, whole seconds), or
   * undefined before the first answer or when it sends none. A clock to check this one against.
   */
  readonly applianceTime: Effect.Effect<string | undefined>
}

export class LoadMasterAcl extends Context.Tag("mitigator/LoadMasterAcl")<LoadMasterAcl, LoadMasterAclService>() {}
