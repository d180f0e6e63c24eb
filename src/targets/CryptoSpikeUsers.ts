/**
 * The CryptoSpike port: finding the Windows user behind an address, and blocking / unblocking
 * users. Implementations: the live REST client, and tests' clients pointed at the emulator.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

/** A storage user as CryptoSpike lists it. */
export interface StorageUser {
  /** for Windows users the account SID */
  readonly userId: string
  readonly userIdType: string
  readonly userName: string
  readonly userPrincipalName: string
  readonly blocked: boolean
  /**
   * Who holds the user's current block, as far as the list says (`blockUnblockInfo`: the block's
   * comment and the CryptoSpike rules that matched); null where the list carries no such thing.
   */
  readonly block: BlockInfo | null
}

/** The current block of a user, as CryptoSpike lists it. */
export interface BlockInfo {
  readonly comment: string
  /** the CryptoSpike detection rules behind a block CryptoSpike made itself (empty for a block by hand or by the API) */
  readonly ruleMatches: ReadonlyArray<string>
}

/** One row of file activity (only what resolution needs). */
export interface FileActivity {
  /** the user the row belongs to (the row's `userId`, else its `id`) */
  readonly userId: string
  /** the names the row gives, "" when none (only `id` is attested for these rows) */
  readonly userName: string
  readonly userPrincipalName: string
}

/**
 * What went wrong talking to CryptoSpike. `retryable` is true only for transient trouble
 * (connection, timeout, 5xx, 429); never for 401/403, a refused request, an answer over the
 * size cap (`too-large`) or one that cannot be read (`protocol`).
 */
export class CryptoSpikeError extends Data.TaggedError("CryptoSpikeError")<{
  readonly reason: "transport" | "timeout" | "auth" | "rejected" | "server" | "protocol" | "too-large"
  readonly message: string
  readonly status?: number
  readonly retryable: boolean
  /** the host refused the connection: retryable; within the call only where nobody waits (http.ts retriesWithinCall) */
  readonly refused?: true
}> {}

export interface CryptoSpikeUsersService {
  /** Every file-activity row from `ip` between `from` and `to` (UTC ISO), every page. */
  readonly fileActivity: (ip: string, from: string, to: string) => Effect.Effect<ReadonlyArray<FileActivity>, CryptoSpikeError>
  /** Users CryptoSpike's (fuzzy) search finds for `name` (blocked ones included), every page. */
  readonly searchUsers: (name: string) => Effect.Effect<ReadonlyArray<StorageUser>, CryptoSpikeError>
  /** Every blocked user, every page (CryptoSpike's own blocks and administrators' too). */
  readonly blockedUsers: Effect.Effect<ReadonlyArray<StorageUser>, CryptoSpikeError>
  readonly block: (userId: string, comment: string) => Effect.Effect<void, CryptoSpikeError>
  readonly unblock: (userId: string) => Effect.Effect<void, CryptoSpikeError>
  /**
   * The appliance's clock: the `Date` header of its newest answer (UTC ISO, whole seconds), or
   * undefined before the first answer or when it sends none. A clock to check this one against.
   */
  readonly applianceTime: Effect.Effect<string | undefined>
}

export class CryptoSpikeUsers extends Context.Tag("mitigator/CryptoSpikeUsers")<CryptoSpikeUsers, CryptoSpikeUsersService>() {}
