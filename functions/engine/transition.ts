import { type CapabilityName, capabilitiesOf, type ServiceConfig } from '../config/schema';
import type { TransitionRequest } from '../core/types';
import { decideIntent } from '../state/intent';
import type { ServiceRecord } from '../state/store';
import { type CapabilityReport, type ControlPlane, reconcileService } from './engine';

export type TransitionOutcome =
  | {
      readonly kind: 'transitioned';
      readonly epoch: number;
      readonly changed: readonly CapabilityName[];
      readonly reports: readonly CapabilityReport[];
    }
  | { readonly kind: 'unchanged' | 'cooldown'; readonly epoch: number; readonly reason: string };

/**
 * Records an intent and starts converging it. The only write before acting is one conditional put
 * of the desired state; after it, the audit entry, the Slack message and the first step of every
 * changed capability run in parallel. A trigger that loses the race re-reads and sees the winner's
 * state, so duplicates end as "unchanged" and never act.
 */
export const requestTransition = async (
  cp: ControlPlane,
  service: ServiceConfig,
  request: TransitionRequest,
): Promise<TransitionOutcome> => {
  for (let attempt = 0; attempt < 5; attempt++) {
    const record = await cp.store.readService(service.name);
    const now = cp.clock.now();
    const decision = decideIntent(record.desired, request, service, now);
    const base = {
      service: service.name,
      at: now.toISOString(),
      epoch: record.desired.epoch,
      source: request.requestedBy,
    };
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
      return { kind: 'cooldown', epoch: record.desired.epoch, reason: decision.reason };
    }
    if (!(await cp.store.writeTransition(record.desired.epoch, decision.next))) continue;

    const next: ServiceRecord = { desired: decision.next, statuses: record.statuses };
    cp.reporter.report({
      ...base,
      epoch: decision.next.epoch,
      kind: 'decision',
      message: `${request.reason}: moving ${decision.changed.join(', ')} to the ${request.target} (epoch ${decision.next.epoch})`,
    });
    const reports = await reconcileService(cp, service, decision.changed, { record: next });
    return { kind: 'transitioned', epoch: decision.next.epoch, changed: decision.changed, reports };
  }
  // Five lost races in a row means a storm of concurrent triggers; the state is someone else's to set.
  const epoch = await cp.store.readEpoch(service.name);
  return { kind: 'unchanged', epoch, reason: 'other triggers kept changing the desired state; left to them' };
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
