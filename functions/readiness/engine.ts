import { type CapabilityName, type Config, capabilitiesOf, type ServiceConfig } from '../config/schema';
import { mapBounded } from '../core/bounded';
import type { Clock } from '../core/clock';
import type { Log } from '../core/log';
import { activeSite } from '../core/types';
import type { CapabilityContext, CapabilityModule } from '../engine/module';
import type { Reporter } from '../engine/reporter';
import type { ReadinessChange, StateStore } from '../state/store';
import {
  type CapabilityReadiness,
  notReady,
  type ReadinessFinding,
  type RequiredCall,
  skipped,
  verdictOf,
} from './finding';
import { errorLine, type SharedChecks } from './shared';

/** The part of a service the shared checks (the Slack secret) are recorded under. */
export const SHARED_PART = 'shared';

/** What the readiness engine runs on: a control plane's parts, and the shared checks. */
export interface ReadinessPlane {
  readonly config: Config;
  readonly modules: readonly CapabilityModule[];
  readonly store: Pick<StateStore, 'readService' | 'recordReadiness'>;
  readonly reporter: Reporter;
  readonly clock: Clock;
  readonly log: Log;
  /** What a module's readiness check is given (the container's clients, as `create` is). */
  readonly context: CapabilityContext;
  readonly shared: SharedChecks;
  /** Where each verdict is published as the `Readiness` metric (functions/readiness/metric.ts); absent: nowhere. */
  readonly metric?: ((verdicts: readonly PartReadiness[]) => void | Promise<void>) | undefined;
  /** The partition the control plane runs in (the IAM check's ARNs); default `aws`. */
  readonly partition?: string | undefined;
}

/** One part's readiness (a capability, or the shared checks) of one service, as evaluated now. */
export interface PartReadiness {
  readonly service: string;
  readonly part: string;
  readonly verdict: 'ready' | 'not-ready';
  readonly findings: readonly ReadinessFinding[];
  /** What recording it found; absent when not recorded (`record: false`). */
  readonly change?: ReadinessChange | undefined;
}

/** A capability's readiness, or why it could not be checked (that is not ready: nobody can tell). */
const capabilityReadiness = async (
  plane: ReadinessPlane,
  module: CapabilityModule,
  service: ServiceConfig,
  active: 'primary' | 'standby',
): Promise<CapabilityReadiness> => {
  if (!module.readiness) {
    return { findings: [skipped('failover', 'readiness', `${module.name} has no readiness check`)] };
  }
  try {
    return await module.readiness(plane.context, service, {
      active,
      account: plane.config.controlPlane.account,
      partition: plane.partition ?? 'aws',
    });
  } catch (error) {
    plane.log.warn('readiness check failed', {
      service: service.name,
      capability: module.name,
      error: String(error),
    });
    return { findings: [notReady('failover', 'observe', `could not be checked: ${errorLine(error)}`)] };
  }
};

/** The message people are told when a part's verdict changes. */
export const changeMessage = (part: PartReadiness): string => {
  const what = part.part === SHARED_PART ? 'the shared checks' : part.part;
  if (part.verdict === 'ready')
    return `${part.service}: ${what} ready again: a failover and a failback would work`;
  const reasons = part.findings
    .filter((f) => f.state === 'not-ready')
    .map((f) => `${f.direction} ${f.check}: ${f.reason}`);
  return `${part.service}: ${what} NOT READY: ${reasons.join('; ')}`;
};

/**
 * Evaluates readiness of each service (default: all): every configured capability's own check, the
 * IAM rights of its calls, and the shared Slack check. With `record` (the schedule and
 * `understudy check`), each part's verdict is stored, and a change is posted once: a part that
 * turns not ready, or ready again (a first check that finds it ready is not news). Never changes
 * anything in AWS.
 */
export const evaluateReadiness = async (
  plane: ReadinessPlane,
  services: readonly ServiceConfig[] = plane.config.services,
  options: {
    readonly record?: boolean;
    /** Services checked at once (their reads are independent); default 4. */
    readonly concurrency?: number;
  } = {},
): Promise<PartReadiness[]> => {
  const record = options.record ?? true;
  let slack: Promise<ReadinessFinding> | undefined;
  const sharedSlack = () => {
    slack ??= plane.shared
      .slack()
      .catch((error: unknown) =>
        notReady('failover', 'slack-secret', `could not be checked: ${errorLine(error)}`),
      );
    return slack;
  };

  const evaluateService = async (service: ServiceConfig): Promise<PartReadiness[]> => {
    const { desired } = await plane.store.readService(service.name);
    const names = capabilitiesOf(service, plane.modules);
    const parts: PartReadiness[] = await Promise.all(
      names.map(async (name: CapabilityName) => {
        const module = plane.modules.find((m) => m.name === name) as CapabilityModule;
        const readiness = await capabilityReadiness(plane, module, service, activeSite(desired, name));
        const calls: readonly RequiredCall[] = readiness.calls ?? [];
        let permissions: ReadinessFinding[] = [];
        try {
          permissions = await plane.shared.permissions(calls);
        } catch (error) {
          permissions = [skipped('failover', 'permissions', `could not be checked: ${errorLine(error)}`)];
        }
        const findings = [...readiness.findings, ...permissions];
        return { service: service.name, part: name as string, verdict: verdictOf(findings), findings };
      }),
    );
    const sharedFindings = [await sharedSlack()];
    parts.push({
      service: service.name,
      part: SHARED_PART,
      verdict: verdictOf(sharedFindings),
      findings: sharedFindings,
    });
    if (!record) return parts;

    const evaluated: PartReadiness[] = [];
    for (const part of parts) {
      const change = await plane.store.recordReadiness({
        ...part,
        checkedAt: plane.clock.now().toISOString(),
      });
      evaluated.push({ ...part, change });
      const news = change.kind === 'changed' && !(change.previous === undefined && part.verdict === 'ready');
      plane.log.info('readiness', {
        service: part.service,
        part: part.part,
        verdict: part.verdict,
        change: change.kind,
      });
      if (!news) continue;
      plane.reporter.report({
        service: part.service,
        at: plane.clock.now().toISOString(),
        kind: 'readiness',
        ...(part.part !== SHARED_PART && { capability: part.part as CapabilityName }),
        epoch: desired.epoch,
        message: changeMessage(part),
        source: 'readiness',
        details: { verdict: part.verdict, findings: part.findings },
      });
    }
    return evaluated;
  };

  const results = (await mapBounded(services, options.concurrency ?? 4, evaluateService)).flat();
  if (plane.metric) {
    try {
      await plane.metric(results);
    } catch (error) {
      plane.log.warn('readiness metric not published', { error: String(error) });
    }
  }
  return results;
};
