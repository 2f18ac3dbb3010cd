import type { CapabilityName, Config, ServiceConfig } from '../config/schema';
import { alarmRegionOf, capabilitiesOf } from '../config/schema';
import { activeSite, type DesiredState } from '../core/types';
import type { ServiceRecord } from '../state/store';
import type { ControlPlane } from './engine';
import { requestTransition, type TransitionOutcome } from './transition';

/**
 * Opt-in automatic failback (`services[].autoFailback`). The decision is pure (no AWS SDK import);
 * the alarms' state is read through an injected AlarmStateReader (CloudWatch DescribeAlarms in the
 * Lambda, functions/runtime/control-plane.ts), and the move is an ordinary `requestTransition`: the
 * same conditional write as every trigger, so it cannot race an alarm into two transitions, and
 * every capability's readiness gates still apply (DNS refuses an unhealthy primary).
 */

/** Who asks, in the desired state, the audit log and Slack. */
export const AUTO_FAILBACK_SOURCE = 'policy:auto-failback';

/** One alarm as CloudWatch reports it now. */
export interface ObservedAlarm {
  readonly name: string;
  readonly region: string;
  /** OK, ALARM or INSUFFICIENT_DATA (anything else is treated as not OK). */
  readonly state: string;
  /** CloudWatch's StateUpdatedTimestamp: since when the alarm has been in `state`. */
  readonly stateUpdatedAt: Date | undefined;
}

/** Reads the current state of the named alarms in one Region; an alarm that does not exist is left out. */
export type AlarmStateReader = (
  region: string,
  names: readonly string[],
) => Promise<readonly ObservedAlarm[]>;

/**
 * A scheduled run's check of one service against its alarms' current state (missed alarms, automatic
 * failback): given the record the run has just read, it reads alarms only through `readAlarms`.
 */
export type ScheduledAlarmCheck<Outcome> = (
  cp: ControlPlane,
  service: ServiceConfig,
  record: ServiceRecord,
  readAlarms: AlarmStateReader,
  /** When `record` was read (a transition may start from it instead of reading again). */
  readAt?: Date,
) => Promise<Outcome>;

/** Alarm names by Region, each once: one DescribeAlarms per Region reads them. */
export const alarmNamesByRegion = (
  alarms: Iterable<{ readonly name: string; readonly region: string }>,
): Map<string, string[]> => {
  const byRegion = new Map<string, string[]>();
  for (const { name, region } of alarms) {
    const names = byRegion.get(region) ?? [];
    if (!names.includes(name)) names.push(name);
    byRegion.set(region, names);
  }
  return byRegion;
};

/** The current state of the alarms named by Region, the Regions read in parallel. */
export const observeAlarms = async (
  readAlarms: AlarmStateReader,
  byRegion: ReadonlyMap<string, readonly string[]>,
): Promise<ObservedAlarm[]> =>
  (await Promise.all([...byRegion].map(([region, names]) => readAlarms(region, names)))).flat();

export interface CapabilityFailback {
  readonly capability: CapabilityName;
  readonly failBack: boolean;
  readonly reason: string;
}

export interface AutoFailbackDecision {
  /** The capabilities to move back to the primary now (possibly none). */
  readonly move: readonly CapabilityName[];
  /** One decision per capability on the standby, with its reason. */
  readonly decisions: readonly CapabilityFailback[];
}

interface CoveringAlarm {
  readonly name: string;
  readonly region: string;
}

/** The configured alarms that move a capability (an alarm with no `capabilities` covers them all). */
export const coveringAlarms = (
  service: ServiceConfig,
  capability: CapabilityName,
  homeRegion: string,
): CoveringAlarm[] =>
  service.alarms
    .filter((alarm) => (alarm.capabilities ?? capabilitiesOf(service)).includes(capability))
    .map((alarm) => ({
      name: alarm.name,
      // An alarm lives in the control plane's Region unless it names its own.
      region: alarm.region ?? homeRegion,
    }));

/** The capabilities whose desired site is the standby: the only ones automatic failback considers. */
export const standbyCapabilities = (service: ServiceConfig, desired: DesiredState): CapabilityName[] =>
  capabilitiesOf(service).filter((c) => activeSite(desired, c) === 'standby');

const minutes = (n: number) => `${n} min`;

/**
 * Decides, for each capability on the standby, whether it fails back now. Yes only if the service
 * opted in (mode auto + autoFailback), the capability was not moved by an operator in the current
 * epoch, at least one alarm covers it, EVERY covering alarm is OK and has been OK for at least
 * `afterStableMinutes` (by its StateUpdatedTimestamp), and the capability's own cooldown, measured
 * from its last move as decideIntent measures it, has passed. A missing alarm, ALARM,
 * INSUFFICIENT_DATA or an unknown state time all mean no. Pure.
 */
export const decideAutoFailback = (
  service: ServiceConfig,
  desired: DesiredState,
  alarms: readonly ObservedAlarm[],
  now: Date,
  homeRegion: string,
): AutoFailbackDecision => {
  const policy = service.autoFailback;
  if (policy === undefined || service.mode !== 'auto') return { move: [], decisions: [] };
  const windowMs = policy.afterStableMinutes * 60_000;
  const observed = new Map(alarms.map((a) => [`${a.region}/${a.name}`, a]));

  const decide = (capability: CapabilityName): CapabilityFailback => {
    const no = (reason: string): CapabilityFailback => ({ capability, failBack: false, reason });
    const intent = desired.capabilities[capability];
    // An operator's failover is deliberate (maintenance, a drill): only an operator undoes it.
    if (intent?.epoch === desired.epoch && desired.requestedBy.startsWith('operator:')) {
      return no(
        `${capability} was moved to the standby by ${desired.requestedBy} (epoch ${desired.epoch}): failback stays explicit`,
      );
    }
    const covering = coveringAlarms(service, capability, homeRegion);
    if (covering.length === 0) {
      return no(`no configured alarm covers ${capability}: nothing says the primary is healthy`);
    }
    for (const { name, region } of covering) {
      const alarm = observed.get(`${region}/${name}`);
      if (alarm === undefined) return no(`alarm ${name} (${region}) was not found: its state is unknown`);
      if (alarm.state !== 'OK') return no(`alarm ${name} is ${alarm.state}, not OK`);
      const since = alarm.stateUpdatedAt?.getTime();
      if (since === undefined || Number.isNaN(since)) {
        return no(`alarm ${name} is OK, but CloudWatch does not say since when`);
      }
      if (now.getTime() - since < windowMs) {
        return no(
          `alarm ${name} has been OK since ${new Date(since).toISOString()}, less than ` +
            `${minutes(policy.afterStableMinutes)} (stable at ${new Date(since + windowMs).toISOString()})`,
        );
      }
    }
    if (intent !== undefined && service.cooldownMinutes > 0) {
      const until = Date.parse(intent.changedAt) + service.cooldownMinutes * 60_000;
      if (until > now.getTime()) {
        return no(
          `${capability} moved at ${intent.changedAt}; the cooldown of ${minutes(service.cooldownMinutes)} ` +
            `lasts until ${new Date(until).toISOString()}`,
        );
      }
    }
    const names = covering.map((a) => a.name).join(', ');
    return {
      capability,
      failBack: true,
      reason: `every alarm covering ${capability} (${names}) has been OK for at least ${minutes(policy.afterStableMinutes)}`,
    };
  };

  const decisions = standbyCapabilities(service, desired).map(decide);
  return { move: decisions.filter((d) => d.failBack).map((d) => d.capability), decisions };
};

/** The alarms to read for a service: those covering a capability on the standby, grouped by Region. */
export const alarmsToObserve = (
  service: ServiceConfig,
  desired: DesiredState,
  homeRegion: string,
): Map<string, string[]> =>
  alarmNamesByRegion(
    standbyCapabilities(service, desired).flatMap((capability) =>
      coveringAlarms(service, capability, homeRegion),
    ),
  );

/**
 * The scheduled run's automatic failback of one service, from the record it has just read. Reads
 * alarms only for a service that opted in and has something on the standby, so an idle run makes
 * no extra call and no write. Returns the transition's outcome, or undefined when nothing was asked.
 */
export const autoFailback: ScheduledAlarmCheck<TransitionOutcome | undefined> = async (
  cp,
  service,
  record,
  readAlarms,
) => {
  if (service.autoFailback === undefined || service.mode !== 'auto') return undefined;
  const homeRegion = cp.config.controlPlane.region;
  if (standbyCapabilities(service, record.desired).length === 0) return undefined;
  const observed = await observeAlarms(readAlarms, alarmsToObserve(service, record.desired, homeRegion));
  const decision = decideAutoFailback(service, record.desired, observed, cp.clock.now(), homeRegion);
  const held = decision.decisions.filter((d) => !d.failBack);
  if (held.length > 0) {
    cp.log.info('automatic failback not yet', {
      service: service.name,
      held: held.map((d) => `${d.capability}: ${d.reason}`),
    });
  }
  if (decision.move.length === 0) return undefined;
  const reasons = decision.decisions.filter((d) => d.failBack).map((d) => d.reason);
  return requestTransition(cp, service, {
    service: service.name,
    capabilities: decision.move,
    target: 'primary',
    requestedBy: AUTO_FAILBACK_SOURCE,
    reason: `automatic failback: ${reasons.join('; ')}`,
    ignoreCooldown: false,
  });
};

/**
 * One read of the alarms of every automatic service among `services`, on first use, shared by their
 * checks (missed alarms, automatic failback): a worker's batch costs one DescribeAlarms per 100
 * alarms and Region, not one per service (CloudWatch allows DescribeAlarms 9 times a second). A name
 * outside the batch's is read on its own.
 */
export const alarmStatesOfBatch = (
  read: AlarmStateReader,
  config: Pick<Config, 'controlPlane'>,
  services: readonly ServiceConfig[],
): AlarmStateReader => {
  const wanted = new Map<string, Set<string>>();
  for (const service of services) {
    if (service.mode !== 'auto') continue;
    for (const alarm of service.alarms) {
      const region = alarmRegionOf(config, alarm);
      wanted.set(region, (wanted.get(region) ?? new Set()).add(alarm.name));
    }
  }
  const byRegion = new Map<string, Promise<readonly ObservedAlarm[]>>();
  return async (region, names) => {
    const batch = wanted.get(region);
    if (!batch || names.some((n) => !batch.has(n))) return read(region, names);
    let observed = byRegion.get(region);
    if (!observed) {
      observed = read(region, [...batch]);
      byRegion.set(region, observed);
      // A failed read is not kept: the next service's check tries again.
      observed.catch(() => byRegion.delete(region));
    }
    return (await observed).filter((o) => names.includes(o.name));
  };
};
