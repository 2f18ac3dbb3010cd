import { randomUUID } from 'node:crypto';
import type { ServiceConfig } from '../config/schema';
import { SupersededError } from '../core/errors';
import type { Lease, LeaseHolder } from '../state/store';
import type { ControlPlane } from './engine';

/**
 * One writer per service. Every run that would change anything for a service (an AWS call, a status
 * write) first takes the service's lease: an item in the state table taken with a conditional write
 * (free, expired, or already ours), carrying the owner and a fencing token that grows by one with
 * every acquisition. It lasts longer than any holder can live: a Lambda function is killed at its
 * timeout (60 s), the lease lasts 90 s, and the fence renews it for a longer-lived holder (the CLI).
 *
 * A run that cannot take the lease does nothing for that service; it says so at debug level and
 * asks the holder for one more round (`markLeaseWanted`). The holder releases only if nobody asked;
 * otherwise it re-reads the service and reconciles all of it again. So a trigger that wrote a new
 * intent while the service was busy is never left without a run: either it takes the lease, or the
 * holder sees its request when it lets go (the request is recorded before the holder's release can
 * succeed, and an unconditional give-up keeps it for the next holder).
 */

/** How long a lease lasts: longer than a Lambda function of the control plane can live (60 s). */
export const LEASE_MS = 90_000;

/** The fence renews a lease with less than this left, so a slow holder never acts on an expiring one. */
export const LEASE_RENEW_BELOW_MS = 45_000;

/** Rounds one holder runs for others before it lets go and leaves the rest to the schedule. */
export const MAX_LEASE_ROUNDS = 4;

type LeaseControlPlane = Pick<ControlPlane, 'store' | 'clock' | 'log' | 'deadline' | 'newId' | 'runName'>;

export interface LeaseRound {
  /** 0 for the run's own work; later rounds are for runs that asked meanwhile. */
  readonly index: number;
  /** Someone asked for the service while it was held: reconcile all of it, from a fresh read. */
  readonly wanted: boolean;
}

export type Leased<T> =
  | { readonly kind: 'held'; readonly results: readonly T[]; readonly lease: Lease }
  | { readonly kind: 'busy'; readonly holder: LeaseHolder | undefined };

/** A new owner name for one run's lease: the function (or command) that runs, and a unique id. */
export const leaseOwner = (cp: Pick<ControlPlane, 'newId' | 'runName'>) =>
  `${cp.runName ?? 'run'}/${(cp.newId ?? randomUUID)()}`;

const pastDeadline = (cp: LeaseControlPlane) =>
  cp.deadline !== undefined && cp.clock.now().getTime() >= cp.deadline.getTime();

/**
 * Runs `work` holding the service's lease, then one more round for every request made meanwhile (at
 * most MAX_LEASE_ROUNDS in all, and none past the run's deadline). Busy: the holder was asked.
 */
export const withServiceLease = async <T>(
  cp: LeaseControlPlane,
  service: ServiceConfig,
  work: (lease: Lease, round: LeaseRound) => Promise<T>,
  /** A lease this run already took (with its transition, `writeTransitionLeased`): not taken again. */
  taken?: Lease,
): Promise<Leased<T>> => {
  const owner = taken?.owner ?? leaseOwner(cp);
  let grant: { readonly lease: Lease; readonly wanted: boolean } | undefined = taken && {
    lease: taken,
    wanted: false,
  };
  let holder: LeaseHolder | undefined;
  // Taken, or the holder asked; a lease freed between the two is tried again (a few times at most).
  for (let attempt = 0; attempt < 3 && grant === undefined; attempt++) {
    grant = await cp.store.acquireLease(service.name, owner, cp.clock.now(), LEASE_MS);
    if (grant) break;
    holder = await cp.store.markLeaseWanted(service.name, owner, cp.clock.now());
    if (holder) break;
  }
  if (!grant) {
    cp.log.debug('service busy: another run holds it and will take this up', {
      service: service.name,
      holder: holder?.owner,
      token: holder?.token,
      until: holder ? new Date(holder.until).toISOString() : undefined,
    });
    return { kind: 'busy', holder };
  }

  let lease = grant.lease;
  let wanted = grant.wanted;
  const results: T[] = [];
  let released = false;
  try {
    for (let index = 0; ; index++) {
      results.push(await work(lease, { index, wanted }));
      const last = index + 1 >= MAX_LEASE_ROUNDS || pastDeadline(cp);
      const outcome = await cp.store.releaseLease(
        lease,
        cp.clock.now(),
        last ? {} : { renewForMs: LEASE_MS },
      );
      if (outcome.kind !== 'wanted') {
        released = true;
        if (outcome.kind === 'lost') {
          cp.log.warn('the service lease was lost before release (it expired and was taken)', {
            service: service.name,
            token: lease.token,
          });
        }
        break;
      }
      lease = outcome.lease;
      wanted = true;
      cp.log.debug('another run asked for the service while this run held it: one more round', {
        service: service.name,
        token: lease.token,
      });
    }
  } finally {
    if (!released) {
      // The work threw: give the service back now rather than at expiry; a request stays recorded.
      await cp.store.releaseLease(lease, cp.clock.now()).catch((error: unknown) => {
        cp.log.warn('could not release the service lease; it expires by itself', {
          service: service.name,
          error: String(error),
        });
      });
    }
  }
  return { kind: 'held', results, lease };
};

/**
 * How long the transaction that wrote an epoch and took the lease with it stands in for a fence read:
 * its committed conditions proved, as a read would, that the epoch was current and the lease this
 * run's. A read is no fresher by the time its call reaches AWS; past this, the fence is read again.
 * Far below the lease's life, so the lease part of the proof cannot have run out meanwhile.
 */
export const FENCE_PROOF_MS = 1_000;

/**
 * Proof that an epoch was current and a lease this run's, at `at` (clock ms, taken before the
 * transaction that proved it was sent): what `writeTransitionLeased` committed.
 */
export interface FenceProof {
  readonly epoch: number;
  readonly token: number;
  readonly at: number;
}

/** One action plan's fence: a proof, when it has a fresh one, serves one check; otherwise it reads. */
export interface PlanFence {
  /** Passes or throws SupersededError; answers the proof's time when a proof served, else undefined. */
  check(): Promise<number | undefined>;
  /** A write that proved the fence as it committed (a fenced intent): offered to the next check. */
  prove(proof: FenceProof): void;
}

/**
 * A fence that takes a proof once, for the first check made within FENCE_PROOF_MS of it, and reads
 * for every other check: the first call after an alarm's transition, or after a fenced intent,
 * leaves without a round trip of its own.
 */
export const planFence = (
  cp: Pick<ControlPlane, 'store' | 'clock'>,
  lease: Lease,
  epoch: number,
  proof: FenceProof | undefined,
): PlanFence => {
  let unused = proof;
  return {
    prove: (next) => {
      unused = next;
    },
    check: async () => {
      const offered = unused;
      unused = undefined;
      const fresh =
        offered !== undefined &&
        offered.epoch === epoch &&
        offered.token === lease.token &&
        cp.clock.now().getTime() - offered.at <= FENCE_PROOF_MS;
      if (fresh) return offered.at;
      await checkFence(cp, lease, epoch);
      return undefined;
    },
  };
};

/**
 * The fence of one action: its epoch is still the desired one and its run still holds the lease
 * (renewing it when little is left). One consistent read; throws SupersededError otherwise.
 */
export const checkFence = async (
  cp: Pick<ControlPlane, 'store' | 'clock'>,
  lease: Lease,
  epoch: number,
): Promise<void> => {
  const fence = await cp.store.readFence(lease.service);
  if (fence.epoch !== epoch) {
    throw new SupersededError(
      `plan for epoch ${epoch} dropped: the desired state is now at epoch ${fence.epoch}`,
    );
  }
  const held = fence.lease;
  if (held?.owner !== lease.owner || held.token !== lease.token) {
    throw new SupersededError(
      `plan for epoch ${epoch} dropped: this run no longer holds ${lease.service} (lease token ${lease.token}; ` +
        `now ${held ? `token ${held.token}` : 'nobody'})`,
    );
  }
  const now = cp.clock.now();
  if (held.until - now.getTime() < LEASE_RENEW_BELOW_MS) {
    // Still ours (same token: nobody took it, so nobody acted meanwhile); extend it before acting.
    const renewed = await cp.store.renewLease(lease, now, LEASE_MS);
    if (!renewed) {
      throw new SupersededError(
        `plan for epoch ${epoch} dropped: the lease on ${lease.service} could not be renewed (token ${lease.token})`,
      );
    }
    // The renewal was a round trip of its own: the epoch may have moved on meanwhile. Read again
    // (the lease now has its full duration left, so this does not renew again).
    await checkFence(cp, lease, epoch);
  }
};
