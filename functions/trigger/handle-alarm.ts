import { describePlan } from '../reconcile/describe';
import type { ControlPlane } from '../reconcile/engine';
import { planTransition, requestTransition, type TransitionOutcome } from '../reconcile/transition';
import { type AlarmVerdict, classifyAlarmEvent } from './alarm-event';

export type AlarmOutcome =
  | { readonly kind: 'ignored' | 'held'; readonly reason: string; readonly service?: string | undefined }
  | { readonly kind: 'planned'; readonly service: string; readonly plan: readonly string[] }
  | ({ readonly service: string } & TransitionOutcome);

/**
 * The alarm trigger: classify, then per service either ignore (with a logged reason), hold (an OK
 * never fails back by itself), plan only (dry-run and approve modes), or record the intent and act.
 */
export const handleAlarmEvent = async (cp: ControlPlane, raw: unknown): Promise<AlarmOutcome[]> => {
  const now = cp.clock.now();
  const verdicts = classifyAlarmEvent(raw, cp.config, now);
  return Promise.all(verdicts.map((verdict) => actOn(cp, verdict, now)));
};

const actOn = async (cp: ControlPlane, verdict: AlarmVerdict, now: Date): Promise<AlarmOutcome> => {
  if (verdict.kind === 'ignore') {
    cp.log.warn('event ignored', { reason: verdict.reason });
    return { kind: 'ignored', reason: verdict.reason };
  }
  const { service } = verdict;
  const source = `alarm:${verdict.alarmName}`;
  const at = now.toISOString();

  if (verdict.kind !== 'alarm') {
    const record = await cp.store.readService(service.name);
    const held = verdict.kind === 'recovered';
    const reason = held
      ? `${verdict.reason}. Failback is held until an operator runs: npx understudy failback ${service.name}`
      : `${verdict.reason}. Not enough data is no reason to move anything`;
    cp.reporter.report(
      {
        service: service.name,
        at,
        epoch: record.desired.epoch,
        source,
        kind: held ? 'held' : 'ignored',
        message: reason,
      },
      { notify: held },
    );
    return { kind: held ? 'held' : 'ignored', reason, service: service.name };
  }

  const request = {
    service: service.name,
    capabilities: verdict.capabilities,
    target: 'standby' as const,
    requestedBy: source,
    reason: verdict.reason,
    ignoreCooldown: false,
  };
  if (service.mode === 'auto') {
    return { service: service.name, ...(await requestTransition(cp, service, request)) };
  }

  const { decision, reports, epoch } = await planTransition(cp, service, request);
  const plan = describePlan(decision, reports);
  const ask =
    service.mode === 'approve'
      ? `Approval needed: npx understudy failover ${service.name}`
      : 'Mode is dry-run: nothing was changed';
  cp.reporter.report({
    service: service.name,
    at,
    epoch,
    source,
    kind: 'plan',
    message: `${verdict.reason}. ${ask}. Plan:\n${plan.map((l) => `• ${l}`).join('\n')}`,
  });
  return { kind: 'planned', service: service.name, plan };
};
