import { randomUUID } from 'node:crypto';
import { type CapabilityName, capabilitiesOf, type ServiceConfig } from '../config/schema';
import { ENGINE_METRICS } from '../core/metrics';
import type { DesiredState, TransitionRequest } from '../core/types';
import { recoveryObjectives } from '../report/objectives';
import { decideIntent } from '../state/intent';
import type { Lease, LeasedTransition, ServiceRecord } from '../state/store';
import {
  type Assessment,
  assessCapability,
  type CapabilityReport,
  type ControlPlane,
  reconcileService,
} from './engine';
import { type FenceProof, LEASE_MS, leaseOwner } from './lease';

export type TransitionOutcome =
  | {
      readonly kind: 'transitioned';
      readonly epoch: number;
      readonly changed: readonly CapabilityName[];
      readonly reports: readonly CapabilityReport[];
    }
  | { readonly kind: 'unchanged' | 'cooldown'; readonly epoch: number; readonly reason: string };

/**
 * The capabilities of a request that a late event must leave alone: those whose intent last changed
 * on evidence observed after the request's own (`TransitionRequest.observedAt`). An alarm's ALARM or
 * OK delivered late or again never undoes a move made after it, such as an operator's failback or
 * mail handed back on a later OK. Pure.
 */
export const lateCapabilities = (
  desired: DesiredState,
  request: Pick<TransitionRequest, 'capabilities' | 'observedAt'>,
): CapabilityName[] => {
  if (request.observedAt === undefined) return [];
  const observed = Date.parse(request.observedAt);
  return request.capabilities.filter((c) => {
    const intent = desired.capabilities[c];
    return intent !== undefined && Date.parse(intent.evidenceAt ?? intent.changedAt) > observed;
  });
};

/** Why a late event is ignored, naming the newer change it would undo. */
export const lateReason = (
  desired: DesiredState,
  late: readonly CapabilityName[],
  observedAt: string,
): string =>
  `observed at ${observedAt}, before the last change of ${late
    .map((c) => {
      const intent = desired.capabilities[c];
      return `${c} (to the ${intent?.active}, on evidence of ${intent?.evidenceAt ?? intent?.changedAt})`;
    })
    .join(', ')}: a late or repeated event never undoes a later change`;

/**
 * Records an intent and starts converging it. The only write before acting is one conditional put
 * of the desired state; after it, the audit entry, the Slack message and the first step of every
 * changed capability. A trigger that loses the race re-reads and sees the winner's state, so
 * duplicates end as "unchanged" and never act. A write whose answer was lost is read back: the
 * request id stored with the state says whether it was this request's.
 */
export const requestTransition = async (
  cp: ControlPlane,
  service: ServiceConfig,
  request: TransitionRequest,
  /**
   * The record the caller has just read (a scheduled run's), for the first attempt: the write is
   * conditional on what it saw, so a record that has moved on since only loses the race, and the
   * next attempt reads again.
   */
  known?: { readonly record: ServiceRecord; readonly readAt: Date },
): Promise<TransitionOutcome> => {
  const requestId = request.requestId ?? (cp.newId ?? randomUUID)();
  for (let attempt = 0; attempt < 5; attempt++) {
    const first = attempt === 0 ? known : undefined;
    const readAt = first?.readAt ?? cp.clock.now();
    const record = first?.record ?? (await cp.store.readService(service.name));
    const now = cp.clock.now();
    const base = {
      service: service.name,
      at: now.toISOString(),
      epoch: record.desired.epoch,
      source: request.requestedBy,
    };
    const late = lateCapabilities(record.desired, request);
    if (late.length > 0 && late.length === request.capabilities.length && request.observedAt !== undefined) {
      const reason = lateReason(record.desired, late, request.observedAt);
      cp.reporter.report(
        { ...base, kind: 'ignored', message: `${request.reason}: ignored, ${reason}` },
        { notify: false },
      );
      return { kind: 'unchanged', epoch: record.desired.epoch, reason };
    }
    const timely: TransitionRequest = {
      ...request,
      capabilities: request.capabilities.filter((c) => !late.includes(c)),
    };
    const decision = decideIntent(record.desired, timely, service, now);
    if (decision.kind === 'unchanged') {
      cp.reporter.report(
        { ...base, kind: 'ignored', message: `${request.reason}: ignored, ${decision.reason}` },
        { notify: false },
      );
      return { kind: 'unchanged', epoch: record.desired.epoch, reason: decision.reason };
    }
    if (decision.kind === 'cooldown') {
      cp.reporter.report({
        ...base,
        kind: 'refused',
        message: `${request.reason}: refused, ${decision.reason}`,
      });
      for (const c of timely.capabilities) cp.metrics?.count(ENGINE_METRICS.refusals, c);
      return { kind: 'cooldown', epoch: record.desired.epoch, reason: decision.reason };
    }
    const next = stamped(decision.next, decision.changed, request.observedAt ?? now.toISOString(), requestId);
    const written = await writeIntent(cp, service, record, readAt, next, decision.changed);
    if (written.kind === 'lost') continue;

    cp.reporter.report({
      ...base,
      epoch: next.epoch,
      kind: 'decision',
      message:
        `${request.reason}: moving ${decision.changed.join(', ')} to the ${request.target} (epoch ${next.epoch})` +
        (late.length > 0 ? `; ${lateReason(record.desired, late, request.observedAt ?? '')}` : ''),
      // What the audit log alone must tell to measure this transition later (functions/report/).
      details: {
        evidenceAt: request.observedAt ?? now.toISOString(),
        // The transition's own time: what its one recovery notice is claimed with (report/recovery.ts).
        requestedAt: next.requestedAt,
        capabilities: decision.changed,
        target: request.target,
        mode: service.mode,
        ...recoveryObjectives(service),
      },
    });
    for (const c of decision.changed) cp.metrics?.count(ENGINE_METRICS.transitions, c);
    const reports = await reconcileService(cp, service, decision.changed, {
      record: { ...record, desired: next },
      recordReadAt: readAt,
      ...(written.kind === 'leased' && { leased: written }),
    });
    return { kind: 'transitioned', epoch: next.epoch, changed: decision.changed, reports };
  }
  // Five lost races in a row means a storm of concurrent triggers; the state is someone else's to set.
  const epoch = await cp.store.readEpoch(service.name);
  return { kind: 'unchanged', epoch, reason: 'other triggers kept changing the desired state; left to them' };
};

/** The next state with this request's id and, on every capability it changes, the evidence time. */
const stamped = (
  next: DesiredState,
  changed: readonly CapabilityName[],
  evidenceAt: string,
  requestId: string,
): DesiredState => {
  const capabilities = { ...next.capabilities };
  for (const c of changed) {
    const intent = capabilities[c];
    if (intent) capabilities[c] = { ...intent, evidenceAt };
  }
  return { ...next, capabilities, requestId };
};

type WrittenIntent =
  | { readonly kind: 'lost' }
  | { readonly kind: 'written' }
  | {
      readonly kind: 'leased';
      readonly lease: Lease;
      readonly assessed: ReadonlyMap<CapabilityName, Assessment>;
      /** Undefined when the transaction's answer was lost and the state read back instead. */
      readonly proof: FenceProof | undefined;
    };

/**
 * Writes the intent. When the service's lease was free at the read, it is taken in the same
 * transaction, and the changed capabilities are observed and planned beside that write (reads only,
 * dropped if the write loses): the first action then waits for one round trip after the read, not for
 * a write, a lease and the observations one after another. Otherwise (held, or asked for), the
 * transition is written alone and the holder is asked for a round as before.
 */
const writeIntent = async (
  cp: ControlPlane,
  service: ServiceConfig,
  record: ServiceRecord,
  readAt: Date,
  next: DesiredState,
  changed: readonly CapabilityName[],
): Promise<WrittenIntent> => {
  const alone = async (): Promise<WrittenIntent> =>
    (await writeOwn(cp, record.desired.epoch, next)) ? { kind: 'written' } : { kind: 'lost' };
  const seen = record.lease;
  const free = seen === undefined || seen.until <= readAt.getTime();
  if (!free || service.mode === 'dry-run') return alone();
  const owner = leaseOwner(cp);
  const nextRecord: ServiceRecord = { ...record, desired: next };
  const [outcome, assessed] = await Promise.all([
    writeLeased(cp, record, next, owner),
    Promise.all(
      changed.map(async (c) => [c, await assessCapability(cp, service, nextRecord, c)] as const),
    ).then((entries) => new Map(entries)),
  ]);
  if (outcome.kind === 'stale') return { kind: 'lost' };
  if (outcome.kind === 'busy') return alone();
  if (outcome.kind === 'written') return { kind: 'written' };
  return { kind: 'leased', lease: outcome.lease, assessed, proof: outcome.proof };
};

/**
 * The transaction of intent and lease. When its answer never came (after the SDK's retries, which
 * reuse its idempotency token), the state is read back: this request's id there means the intent
 * landed, and this owner on the lease that the lease did too.
 */
const writeLeased = async (
  cp: ControlPlane,
  record: ServiceRecord,
  next: DesiredState,
  owner: string,
): Promise<
  (LeasedTransition & { readonly proof?: FenceProof | undefined }) | { readonly kind: 'written' }
> => {
  const now = cp.clock.now();
  try {
    const outcome = await cp.store.writeTransitionLeased(record.desired.epoch, next, {
      owner,
      seen: record.lease,
      now,
      durationMs: LEASE_MS,
    });
    if (outcome.kind !== 'leased') return outcome;
    // Committed: at `now` (before it was sent, so on the safe side) the epoch was ours and the lease too.
    return { ...outcome, proof: { epoch: next.epoch, token: outcome.lease.token, at: now.getTime() } };
  } catch (error) {
    const after = await cp.store.readService(next.service);
    if (after.desired.requestId !== next.requestId || after.desired.epoch !== next.epoch) throw error;
    cp.log.info("the transition answered with an error, but the state is this request's: acting on it", {
      service: next.service,
      epoch: next.epoch,
      error: String(error),
    });
    const held = after.lease;
    return held?.owner === owner
      ? { kind: 'leased', lease: { service: next.service, owner, token: held.token } }
      : { kind: 'written' };
  }
};

/**
 * The conditional write of a transition. When its answer never came (the call failed after retries,
 * so the write may or may not have landed), the state is read back: this request's id there means
 * it landed. Anything else is thrown as it was.
 */
const writeOwn = async (cp: ControlPlane, expectedEpoch: number, next: DesiredState): Promise<boolean> => {
  try {
    return await cp.store.writeTransition(expectedEpoch, next);
  } catch (error) {
    const after = await cp.store.readService(next.service);
    if (after.desired.requestId === next.requestId && after.desired.epoch === next.epoch) {
      cp.log.info(
        "the transition write answered with an error, but the state is this request's: acting on it",
        {
          service: next.service,
          epoch: next.epoch,
          error: String(error),
        },
      );
      return true;
    }
    throw error;
  }
};

/** What a transition would do, without writing anything: the desired-state write and every AWS call. */
export const planTransition = async (
  cp: ControlPlane,
  service: ServiceConfig,
  request: TransitionRequest,
): Promise<{ decision: ReturnType<typeof decideIntent>; reports: CapabilityReport[]; epoch: number }> => {
  const record = await cp.store.readService(service.name);
  const decision = decideIntent(record.desired, request, service, cp.clock.now());
  const desired = decision.kind === 'transition' ? decision.next : record.desired;
  const capabilities =
    request.capabilities.length > 0 ? request.capabilities : capabilitiesOf(service, cp.modules);
  const reports = await reconcileService(cp, service, capabilities, {
    dryRun: true,
    record: { desired, statuses: record.statuses },
  });
  return { decision, reports, epoch: record.desired.epoch };
};
