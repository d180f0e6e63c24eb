/**
 * The appliance clients as a lease holder uses them: each change (a LoadMaster add or remove, a
 * CryptoSpike block or unblock) first asks the lease held by the pass it runs in (HeldLease, in
 * the fiber's context) whether it is still this holder's. A holder paused past its lease, that
 * wakes up after another took it over, fails its pass there (LockError "lease-lost") instead of
 * making the change. Outside a lease (a plan, a dry run) nothing is asked.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CryptoSpikeUsersService } from "../targets/CryptoSpikeUsers.js"
import type { LoadMasterAclService } from "../targets/LoadMasterAcl.js"
import { HeldLease } from "./Lease.js"

/** Returns while the lease this fiber runs under (if any) is still its holder's. */
export const leaseGuard: Effect.Effect<void> = Effect.flatMap(Effect.serviceOption(HeldLease), (held) =>
  Option.isSome(held) ? held.value.guard : Effect.void
)

export const fencedLoadMaster = (lm: LoadMasterAclService): LoadMasterAclService => ({
  ...lm,
  add: (scope, cidr, comment) => Effect.zipRight(leaseGuard, lm.add(scope, cidr, comment)),
  remove: (scope, entry) => Effect.zipRight(leaseGuard, lm.remove(scope, entry))
})

export const fencedCryptoSpike = (cs: CryptoSpikeUsersService): CryptoSpikeUsersService => ({
  ...cs,
  block: (userId, comment) => Effect.zipRight(leaseGuard, cs.block(userId, comment)),
  unblock: (userId) => Effect.zipRight(leaseGuard, cs.unblock(userId))
})
