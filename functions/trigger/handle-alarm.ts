import { operatorCommand } from '../core/operator-command';
import { activeSite, type TransitionRequest } from '../core/types';
import { describePlan } from '../engine/describe';
import type { ControlPlane } from '../engine/engine';
import {
  lateCapabilities,
  lateReason,
  planTransition,
  requestTransition,
  type TransitionOutcome,
} from '../engine/transition';
import {
  type AlarmVerdict,
  alarmStateChangeSchema,
  classifyAlarmEvent,
  type ServiceAlarmVerdict,
} from './alarm-event';

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
  const observedAt = alarmStateTime(raw) ?? now.toISOString();
  return Promise.all(verdicts.map((verdict) => actOn(cp, verdict, now, observedAt)));
};

/**
 * When the alarm entered the state an event reports (detail.state.timestamp, else the envelope's
 * time), as ISO: what the event's evidence is as old as. Undefined for an event that is no alarm.
 */
export const alarmStateTime = (raw: unknown): string | undefined => {
  const parsed = alarmStateChangeSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  for (const candidate of [parsed.data.detail.state.timestamp, parsed.data.time]) {
    // CloudWatch writes +0000 offsets; normalised so every time compares as ISO UTC.
    const ms =
      candidate === undefined ? Number.NaN : Date.parse(candidate.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  return undefined;
};

/**
 * What an ALARM asks of the desired state. A per-server alarm moves nothing: it amends the intent on
 * the primary with one more server to replace (the capability's planner does the swap), so the same
 * alarm twice is unchanged.
 */
export const alarmRequest = (
  cp: Pick<ControlPlane, 'modules'>,
  verdict: ServiceAlarmVerdict,
  observedAt: string,
): TransitionRequest => {
  const { service } = verdict;
  const source = `alarm:${verdict.alarmName}`;
  const behaviour = (capability: string) => cp.modules.find((m) => m.name === capability)?.alarms;
  const perServerParam = verdict.capabilities.map((c) => behaviour(c)?.perServer?.param).find(Boolean);
  return verdict.instanceId && perServerParam
    ? {
        service: service.name,
        capabilities: verdict.capabilities,
        target: 'primary',
        requestedBy: source,
        reason: `${verdict.reason}; replace server ${verdict.instanceId} with a spare`,
        ignoreCooldown: false,
        amend: true,
        params: { [perServerParam]: [verdict.instanceId] },
        observedAt,
      }
    : {
        service: service.name,
        capabilities: verdict.capabilities,
        target: 'standby',
        requestedBy: source,
        reason: verdict.reason,
        // A move that costs no traffic and loses nothing (holding mail at the backup MX) is never held
        // by the cooldown: a sick primary must not be sent mail because it recovered once.
        ignoreCooldown: verdict.capabilities.every((c) => behaviour(c)?.cooldownExempt === true),
        observedAt,
      };
};

const actOn = async (
  cp: ControlPlane,
  verdict: AlarmVerdict,
  now: Date,
  observedAt: string,
): Promise<AlarmOutcome> => {
  if (verdict.kind === 'ignore') {
    cp.log.warn('event ignored', { reason: verdict.reason });
    return { kind: 'ignored', reason: verdict.reason };
  }
  const { service } = verdict;
  const source = `alarm:${verdict.alarmName}`;
  const at = now.toISOString();

  const behaviour = (capability: string) => cp.modules.find((m) => m.name === capability)?.alarms;
  // A capability whose move costs no traffic (mail: handing held mail back) goes back on OK by itself,
  // without a cooldown (delivery still waits for the primary to answer); the rest stays held.
  const movesBack =
    verdict.kind === 'recovered'
      ? verdict.capabilities.filter((c) => behaviour(c)?.onOk === 'move-back')
      : [];
  if (movesBack.length > 0 && service.mode === 'auto') {
    const outcome = await requestTransition(cp, service, {
      service: service.name,
      capabilities: movesBack,
      target: 'primary',
      requestedBy: source,
      reason: `${verdict.reason}: move ${movesBack.join(', ')} back to the primary`,
      ignoreCooldown: true,
      observedAt,
    });
    if (movesBack.length === verdict.capabilities.length) return { service: service.name, ...outcome };
  }
  if (verdict.kind !== 'alarm') {
    const record = await cp.store.readService(service.name);
    const ignored = (reason: string): AlarmOutcome => {
      cp.reporter.report(
        { service: service.name, at, epoch: record.desired.epoch, source, kind: 'ignored', message: reason },
        { notify: false },
      );
      return { kind: 'ignored', reason, service: service.name };
    };
    if (verdict.kind !== 'recovered')
      return ignored(`${verdict.reason}. Not enough data is no reason to move anything`);
    // "Held" is news only while something is on the standby, and only once per state change of the
    // alarm (EventBridge delivers at least once): a late, repeated or idle OK stays in the audit log.
    const late = lateCapabilities(record.desired, { capabilities: verdict.capabilities, observedAt });
    if (late.length === verdict.capabilities.length) {
      return ignored(`${verdict.reason}: ignored, ${lateReason(record.desired, late, observedAt)}`);
    }
    const movedBack = service.mode === 'auto' ? movesBack : [];
    const held = verdict.capabilities.filter(
      (c) => !late.includes(c) && !movedBack.includes(c) && activeSite(record.desired, c) === 'standby',
    );
    if (held.length === 0) {
      return ignored(`${verdict.reason}: nothing this alarm covers is on the standby, so nothing is held`);
    }
    if (!(await cp.store.claimNotice(service.name, `held:${verdict.alarmName}`, observedAt))) {
      return ignored(`${verdict.reason}: already told for this state change (at ${observedAt})`);
    }
    const reason = service.autoFailback
      ? `${verdict.reason}. Failback follows by itself once every alarm covering the standby has been OK ` +
        `for ${service.autoFailback.afterStableMinutes} min (or now: ${operatorCommand('failback', service.name)})`
      : `${verdict.reason}. Failback is held until an operator runs: ${operatorCommand('failback', service.name)}`;
    cp.reporter.report(
      {
        service: service.name,
        at,
        epoch: record.desired.epoch,
        source,
        kind: 'held',
        message: reason,
        details: { alarmStateAt: observedAt, held },
      },
      { notify: true },
    );
    return { kind: 'held', reason, service: service.name };
  }

  const request = alarmRequest(cp, verdict, observedAt);
  if (service.mode === 'auto') {
    return { service: service.name, ...(await requestTransition(cp, service, request)) };
  }

  const { decision, reports, epoch } = await planTransition(cp, service, request);
  const plan = describePlan(decision, reports);
  const ask =
    service.mode !== 'approve'
      ? 'Mode is dry-run: nothing was changed'
      : verdict.instanceId
        ? `Approval needed: ${operatorCommand('replace', service.name, verdict.instanceId)}`
        : `Approval needed: ${operatorCommand('failover', service.name)}`;
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
