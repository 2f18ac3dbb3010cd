import { alarmRegionOf, type CapabilityName, capabilitiesOf, type ServiceConfig } from '../config/schema';
import { activeSite, type DesiredState, type TransitionRequest } from '../core/types';
import {
  alarmNamesByRegion,
  type ObservedAlarm,
  observeAlarms,
  type ScheduledAlarmCheck,
} from '../engine/auto-failback';
import type { ControlPlane } from '../engine/engine';
import { lateCapabilities, requestTransition, type TransitionOutcome } from '../engine/transition';
import { decideIntent } from '../state/intent';
import { alarmRequest } from './handle-alarm';

/**
 * The scheduled run's safety net for alarm events that were never acted on: the alarm function is
 * edge-triggered (one EventBridge event per state change), and an event can be lost to it: dropped
 * after `maxEventAgeSeconds` while the function was throttled (a Region-wide storm queues hundreds),
 * dead-lettered after its retries, or sent while the control plane was being deployed. Each
 * scheduled run reads the current state of an automatic service's service-wide alarms (read once
 * per worker batch, functions/engine/fan-out.ts) and, for an alarm in ALARM whose capabilities are
 * still on the primary, asks for the same transition the event would have asked for, with the
 * alarm's own state-change time as evidence: to the desired state it is one more delivery of that
 * event (duplicates and late deliveries are already harmless: the write is conditional on the epoch,
 * and evidence older than the last change never undoes it). A service that an operator failed back
 * while its alarm stayed in ALARM stays back; a cooldown is respected without a message every run.
 */

/** An alarm in ALARM whose move has not happened, and the request that makes it. */
export interface MissedAlarm {
  readonly alarmName: string;
  readonly request: TransitionRequest;
}

/** The service-wide alarms of an automatic service, by Region: what a scheduled run reads. */
export const alarmsToWatch = (
  config: Pick<ControlPlane['config'], 'controlPlane'>,
  service: ServiceConfig,
): Map<string, string[]> =>
  service.mode !== 'auto'
    ? new Map()
    : alarmNamesByRegion(
        service.alarms
          .filter((alarm) => alarm.scope === 'service')
          .map((alarm) => ({ name: alarm.name, region: alarmRegionOf(config, alarm) })),
      );

/**
 * The alarms in ALARM whose transition the desired state does not hold yet and would accept now.
 * Pure: `observed` is CloudWatch's answer, `desired` the record just read.
 */
export const missedAlarms = (
  cp: Pick<ControlPlane, 'modules' | 'config'>,
  service: ServiceConfig,
  desired: DesiredState,
  observed: readonly ObservedAlarm[],
  now: Date,
): MissedAlarm[] => {
  if (service.mode !== 'auto') return [];
  const missed: MissedAlarm[] = [];
  for (const alarm of service.alarms) {
    if (alarm.scope !== 'service') continue;
    const region = alarmRegionOf(cp.config, alarm);
    const state = observed.find((o) => o.name === alarm.name && o.region === region);
    if (state?.state !== 'ALARM' || state.stateUpdatedAt === undefined) continue;
    const observedAt = state.stateUpdatedAt.toISOString();
    const capabilities = (alarm.capabilities ?? capabilitiesOf(service, cp.modules)) as CapabilityName[];
    const onPrimary = capabilities.filter((c) => activeSite(desired, c) !== 'standby');
    const late = lateCapabilities(desired, { capabilities: onPrimary, observedAt });
    const timely = onPrimary.filter((c) => !late.includes(c));
    if (timely.length === 0) continue;
    const request = alarmRequest(
      cp,
      {
        kind: 'alarm',
        service,
        capabilities: timely,
        alarmName: alarm.name,
        reason: `alarm ${alarm.name} is ALARM since ${observedAt} (caught up by the scheduled run: its state change was not acted on)`,
      },
      observedAt,
    );
    if (decideIntent(desired, request, service, now).kind !== 'transition') continue;
    missed.push({ alarmName: alarm.name, request });
  }
  return missed;
};

/**
 * Acts on the missed alarms of one service, from the record just read: reads only when nothing was
 * missed (an idle run writes nothing). Returns the outcomes of the transitions asked for.
 */
export const catchUpMissedAlarms: ScheduledAlarmCheck<TransitionOutcome[]> = async (
  cp,
  service,
  record,
  readAlarms,
  readAt,
) => {
  const toRead = alarmsToWatch(cp.config, service);
  if (toRead.size === 0) return [];
  const observed = await observeAlarms(readAlarms, toRead);
  const outcomes: TransitionOutcome[] = [];
  for (const { alarmName, request } of missedAlarms(cp, service, record.desired, observed, cp.clock.now())) {
    cp.log.warn('alarm in ALARM was not acted on; the scheduled run asks for its transition', {
      service: service.name,
      alarm: alarmName,
      since: request.observedAt,
    });
    // The first transition starts from the record just read; a later one reads what the first left.
    const known = outcomes.length === 0 && readAt ? { record, readAt } : undefined;
    outcomes.push(await requestTransition(cp, service, request, known));
  }
  return outcomes;
};
