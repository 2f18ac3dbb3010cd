import type { Site } from '../../core/types';
import { type CapabilityPlan, intended, type PlanInput, type PlannedAction } from '../../engine/capability';
import { type ComputeConfig, QUARANTINE_TAG, REPLACE_PARAM } from './config';

/**
 * The compute planner: which servers should be in the target groups, what the load balancer and EC2
 * report, and the next safe step. Pure (no AWS SDK, not even its types); every safety rule of compute
 * failover lives here.
 *
 * Desired membership, from the desired state:
 * - the compute intent on the **standby**: the whole standby set serves, the primaries are out
 *   (a service-level alarm, or an operator's failover);
 * - on the **primary** with no `replace` param: the primaries serve, as configured (also what a
 *   failback restores);
 * - on the **primary** with `replace: [ids]`: per-server replacement. Each listed primary is taken out
 *   and one spare standby takes its place, 1:1. A per-server alarm *amends* the intent (see
 *   TransitionRequest.amend): a new failed server is a new epoch, the same server again changes nothing.
 *
 * Steps, one per run where AWS must be waited for: start stopped members, register running ones,
 * wait until the load balancer reports them healthy, and only then deregister the leaving targets,
 * tag them `understudy:quarantined=<epoch>` (never terminate), and wait for them to drain.
 *
 * Never all-off: a target is deregistered only if its group keeps at least minHealthyTargets healthy
 * targets and the tier's intended size in healthy servers of its own without it (planGroup). So a
 * spare that never becomes healthy leaves the old server in service, and the plan refuses, saying
 * which servers and why (no counts, so a refusal that persists is reported once).
 */

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export interface ObservedInstance {
  readonly id: string;
  readonly state: InstanceState;
  readonly tags: Readonly<Record<string, string>>;
}

/** ELBv2 target health states (TargetHealthStateEnum), as strings. */
export type TargetState =
  | 'initial'
  | 'healthy'
  | 'unhealthy'
  | 'unhealthy.draining'
  | 'unused'
  | 'draining'
  | 'unavailable';

export interface ObservedTarget {
  readonly id: string;
  readonly state: TargetState;
}

export interface ComputeObserved {
  /** Primary instance ids, resolved from the config's selector (sorted). */
  readonly primaries: readonly string[];
  /** Standby instance ids: the selector's, plus the standby Auto Scaling group's InService ones (sorted). */
  readonly standbys: readonly string[];
  /** Every primary and standby EC2 knows; an id missing here does not exist (any more). */
  readonly instances: Readonly<Record<string, ObservedInstance>>;
  /** Targets registered in each configured group (draining ones included), by target group ARN. */
  readonly groups: Readonly<Record<string, readonly ObservedTarget[]>>;
  readonly autoScaling?:
    | { readonly name: string; readonly desiredCapacity: number; readonly instanceIds: readonly string[] }
    | undefined;
}

interface Action<Api extends string, P extends Readonly<Record<string, unknown>>> extends PlannedAction {
  readonly capability: 'compute';
  readonly api: Api;
  readonly params: P;
}

export type Target = { readonly Id: string; readonly Port?: number };

export type ComputeAction =
  | Action<'ec2:StartInstances' | 'ec2:StopInstances', { readonly InstanceIds: readonly string[] }>
  | Action<
      'elasticloadbalancing:RegisterTargets' | 'elasticloadbalancing:DeregisterTargets',
      { readonly TargetGroupArn: string; readonly Targets: readonly Target[] }
    >
  | Action<
      'ec2:CreateTags',
      { readonly Resources: readonly string[]; readonly Tags: readonly { Key: string; Value: string }[] }
    >
  | Action<
      'ec2:DeleteTags',
      { readonly Resources: readonly string[]; readonly Tags: readonly { Key: string }[] }
    >
  | Action<
      'autoscaling:SetDesiredCapacity',
      {
        readonly AutoScalingGroupName: string;
        readonly DesiredCapacity: number;
        readonly HonorCooldown: false;
      }
    >;

/** The servers a per-server alarm asked to replace, from the intent's params (sorted, unique). */
export const replacedOf = (params: Readonly<Record<string, unknown>> | undefined): string[] => {
  const value = params?.[REPLACE_PARAM];
  return Array.isArray(value)
    ? [...new Set(value.filter((v): v is string => typeof v === 'string'))].sort()
    : [];
};

/** The pending key under which the start of one instance is recorded as intended (once per epoch). */
export const startKey = (id: string): string => `start:${id}`;

/** A short, stable name for a target group in messages: its name part. */
export const groupName = (arn: string): string => arn.split('/')[1] ?? arn;

const isDraining = (state: TargetState) => state === 'draining' || state === 'unhealthy.draining';
const UNUSABLE: ReadonlySet<InstanceState> = new Set(['shutting-down', 'terminated']);

export interface Membership {
  /** Who should be registered in every group. */
  readonly desired: readonly string[];
  /** Healthy targets of this tier's own servers each group must keep: the tier's intended size. */
  readonly tierSize: number;
  /** Servers taken out for cause: tagged quarantined once they are out of every group. */
  readonly quarantine: readonly string[];
  /** Reasons the tier is short of its intended size (no spare, terminated member...), stable wording. */
  readonly shortfall: readonly string[];
  /** What this membership means, for messages. */
  readonly summary: string;
}

/**
 * Spares in order of preference, so a replacement stays put across runs and a spare that turned
 * unhealthy gives way to another: healthy in every group, then registered and still in its first
 * checks, then running, starting, stopped; unhealthy last.
 */
const rankSpares = (candidates: readonly string[], observed: ComputeObserved, groups: readonly string[]) => {
  const score = (id: string): number => {
    const states = groups.map(
      (g) => observed.groups[g]?.find((t) => t.id === id && !isDraining(t.state))?.state,
    );
    if (states.some((s) => s === 'unhealthy' || s === 'unavailable' || s === 'unused')) return 6;
    if (states.every((s) => s === 'healthy')) return 0;
    if (states.every((s) => s === 'healthy' || s === 'initial')) return 1;
    const state = observed.instances[id]?.state;
    return state === 'running' ? 2 : state === 'pending' ? 3 : 4;
  };
  return [...candidates].sort((a, b) => score(a) - score(b) || a.localeCompare(b));
};

/** Who should serve, for the desired site and the servers asked to be replaced. Pure. */
export const membershipFor = (
  compute: ComputeConfig,
  target: Site,
  replaced: readonly string[],
  observed: ComputeObserved,
): Membership => {
  const primaries = [...observed.primaries].sort();
  const isPrimary = new Set(primaries);
  const standbys = [...observed.standbys].filter((id) => !isPrimary.has(id)).sort();
  const usable = (id: string) => {
    const instance = observed.instances[id];
    return instance !== undefined && !UNUSABLE.has(instance.state);
  };
  const quarantined = (id: string) => observed.instances[id]?.tags[QUARANTINE_TAG] !== undefined;

  if (target === 'standby') {
    // The whole standby set, minus servers that cannot run or were quarantined (examined first).
    const desired = standbys.filter((id) => usable(id) && !quarantined(id));
    const left = standbys.filter((id) => !desired.includes(id));
    return {
      desired,
      tierSize: desired.length,
      quarantine: primaries,
      shortfall: left.map((id) => `standby ${id} is ${usable(id) ? 'quarantined' : 'gone or terminated'}`),
      summary: `the ${desired.length} standby server(s) serve instead of the ${primaries.length} primaries`,
    };
  }

  const replace = new Set(replaced);
  if (replace.size === 0) {
    const gone = primaries.filter((id) => !usable(id));
    return {
      desired: primaries,
      tierSize: primaries.length,
      quarantine: [],
      shortfall: gone.map((id) => `primary ${id} is gone or terminated`),
      summary: `the ${primaries.length} primaries serve, as configured`,
    };
  }

  const failed = primaries.filter((id) => replace.has(id));
  const keep = primaries.filter((id) => !replace.has(id));
  const candidates = standbys.filter((id) => !replace.has(id) && usable(id) && !quarantined(id));
  const chosen = rankSpares(candidates, observed, compute.targetGroupArns).slice(0, failed.length);
  const unmatched = failed.slice(chosen.length);
  const strangers = replaced.filter((id) => !isPrimary.has(id) && !standbys.includes(id));
  return {
    desired: [...keep, ...chosen].sort(),
    // The tier keeps its size: a failed server leaves only once a spare serves in its place.
    tierSize: keep.length + failed.length,
    quarantine: replaced.filter((id) => isPrimary.has(id) || standbys.includes(id)),
    shortfall: [
      ...unmatched.map((id) => `no usable spare is left for ${id}`),
      ...strangers.map((id) => `${id} is neither a primary nor a standby of this service`),
    ],
    summary: `${failed.length} failed server(s) (${failed.join(', ')}) replaced 1:1 by spare(s) ${chosen.join(', ') || '(none)'}`,
  };
};

export interface GroupStep {
  readonly register: readonly string[];
  readonly deregister: readonly string[];
  /** Leaving targets kept in service because removing them would break the never-all-off rule. */
  readonly kept: readonly string[];
  /** Desired members registered but not (yet) healthy: [id, state]. */
  readonly notHealthy: readonly (readonly [string, TargetState])[];
  /** Leaving targets still draining (deregistration delay). */
  readonly draining: readonly string[];
}

/**
 * One target group's next step. `managed` are the servers this service owns (primaries and
 * standbys): anyone else's targets are never touched.
 *
 * Leaving targets are removed unhealthy ones first, then healthy ones, each only if, without it,
 * - the group keeps at least `minHealthy` healthy targets, anyone's (never all-off), and
 * - this tier keeps at least `tierSize` healthy servers of its own (a server leaves only once its
 *   replacement serves; someone else's targets do not stand in for ours).
 * If either is short already, nothing is removed at all.
 */
export const planGroup = (
  targets: readonly ObservedTarget[],
  desired: readonly string[],
  managed: ReadonlySet<string>,
  running: (id: string) => boolean,
  limits: { readonly minHealthy: number; readonly tierSize: number },
): GroupStep => {
  const active = targets.filter((t) => !isDraining(t.state));
  const activeIds = new Set(active.map((t) => t.id));
  const wanted = new Set(desired);
  const register = desired.filter((id) => !activeIds.has(id) && running(id));
  const leaving = active
    .filter((t) => managed.has(t.id) && !wanted.has(t.id))
    .sort(
      (a, b) => Number(a.state === 'healthy') - Number(b.state === 'healthy') || a.id.localeCompare(b.id),
    );
  let healthy = active.filter((t) => t.state === 'healthy').length;
  let healthyOwn = active.filter((t) => t.state === 'healthy' && managed.has(t.id)).length;
  const deregister: string[] = [];
  const kept: string[] = [];
  for (const t of leaving) {
    const loss = t.state === 'healthy' ? 1 : 0;
    if (healthy - loss >= limits.minHealthy && healthyOwn - loss >= limits.tierSize) {
      deregister.push(t.id);
      healthy -= loss;
      healthyOwn -= loss;
    } else {
      kept.push(t.id);
    }
  }
  return {
    register,
    deregister: deregister.sort(),
    kept: kept.sort(),
    notHealthy: active
      .filter((t) => wanted.has(t.id) && t.state !== 'healthy')
      .map((t) => [t.id, t.state] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
    draining: targets
      .filter((t) => isDraining(t.state) && managed.has(t.id) && !wanted.has(t.id))
      .map((t) => t.id)
      .sort(),
  };
};

const targetsOf = (ids: readonly string[], port: number | undefined): Target[] =>
  ids.map((Id) => (port === undefined ? { Id } : { Id, Port: port }));

/** The compute planner (see the top of this file). */
export const planCompute = (input: PlanInput<ComputeObserved>): CapabilityPlan<ComputeAction> => {
  const { service, target, epoch, observed, intent } = input;
  const compute = service.compute;
  if (!compute) return { kind: 'converged', detail: 'no compute section configured' };

  const replaced = target === 'primary' ? replacedOf(intent?.params) : [];
  const m = membershipFor(compute, target, replaced, observed);
  const managed = new Set([...observed.primaries, ...observed.standbys]);
  const state = (id: string) => observed.instances[id]?.state;
  const running = (id: string) => state(id) === 'running';
  const groups = compute.targetGroupArns;
  const steps = groups.map((arn) => ({
    arn,
    step: planGroup(observed.groups[arn] ?? [], m.desired, managed, running, {
      minHealthy: compute.minHealthyTargets,
      tierSize: m.tierSize,
    }),
  }));
  const inGroupAfter = (id: string) =>
    steps.some(
      ({ arn, step }) =>
        !step.deregister.includes(id) &&
        (observed.groups[arn] ?? []).some((t) => t.id === id && !isDraining(t.state)),
    );
  const inGroupAtAll = (id: string) =>
    groups.some((arn) => (observed.groups[arn] ?? []).some((t) => t.id === id));

  const actions: ComputeAction[] = [];
  const action = <A extends ComputeAction>(a: Omit<A, 'capability'>) =>
    actions.push({ capability: 'compute', ...a } as ComputeAction);

  // 1. A server coming back into service is no longer quarantined.
  const release = m.desired.filter((id) => observed.instances[id]?.tags[QUARANTINE_TAG] !== undefined);
  if (release.length > 0) {
    action({
      api: 'ec2:DeleteTags',
      reason: `${release.join(', ')} serve(s) again (epoch ${epoch}): the quarantine tag no longer applies`,
      params: { Resources: release, Tags: [{ Key: QUARANTINE_TAG }] },
    });
  }
  // 2. Capacity in before capacity out.
  for (const { arn, step } of steps) {
    if (step.register.length === 0) continue;
    action({
      api: 'elasticloadbalancing:RegisterTargets',
      reason: `${m.summary} (epoch ${epoch}): ${step.register.join(', ')} run(s) but is not in ${groupName(arn)} yet`,
      params: { TargetGroupArn: arn, Targets: targetsOf(step.register, compute.port) },
    });
  }
  for (const { arn, step } of steps) {
    if (step.deregister.length === 0) continue;
    action({
      api: 'elasticloadbalancing:DeregisterTargets',
      reason:
        `${m.summary} (epoch ${epoch}): ${step.deregister.join(', ')} leave(s) ${groupName(arn)}; ` +
        `${m.tierSize} healthy server(s) of the tier and at least ${compute.minHealthyTargets} healthy target(s) stay`,
      params: { TargetGroupArn: arn, Targets: targetsOf(step.deregister, compute.port) },
    });
  }
  // 3. Out of every group: keep for examination, never terminate.
  const toTag = m.quarantine.filter(
    (id) =>
      observed.instances[id] !== undefined &&
      observed.instances[id]?.tags[QUARANTINE_TAG] === undefined &&
      !UNUSABLE.has(observed.instances[id]?.state ?? 'terminated') &&
      !inGroupAfter(id),
  );
  if (toTag.length > 0) {
    action({
      api: 'ec2:CreateTags',
      reason: `${toTag.join(', ')} taken out of service at epoch ${epoch}: tagged for examination, not terminated`,
      params: { Resources: toTag, Tags: [{ Key: QUARANTINE_TAG, Value: String(epoch) }] },
    });
  }
  // 4. Standby capacity: scale the standby group up for a failover, back down once a failback is done.
  const asg = compute.standbyAutoScalingGroup;
  const failedBack = target === 'primary' && replaced.length === 0 && intent !== undefined;
  const standbysOut = observed.standbys.every((id) => !inGroupAtAll(id));
  if (asg && observed.autoScaling) {
    const want =
      target === 'standby' && observed.autoScaling.desiredCapacity < asg.failoverCapacity
        ? asg.failoverCapacity
        : failedBack && standbysOut && observed.autoScaling.desiredCapacity !== asg.standbyCapacity
          ? asg.standbyCapacity
          : undefined;
    if (want !== undefined) {
      action({
        api: 'autoscaling:SetDesiredCapacity',
        reason:
          target === 'standby'
            ? `the standby tier serves (epoch ${epoch}): ${asg.name} scales to ${want}`
            : `failback converged (epoch ${epoch}): ${asg.name} back to its standby capacity ${want}`,
        params: { AutoScalingGroupName: asg.name, DesiredCapacity: want, HonorCooldown: false },
      });
    }
  }
  // 5. After a failback, standbys out of every group go back to sleep (if configured).
  const asgMembers = new Set(observed.autoScaling?.instanceIds ?? []);
  const toStop =
    compute.stopStandbysOnFailback && failedBack
      ? observed.standbys.filter((id) => running(id) && !inGroupAtAll(id) && !asgMembers.has(id))
      : [];
  if (toStop.length > 0) {
    action({
      api: 'ec2:StopInstances',
      reason: `failback converged (epoch ${epoch}): ${toStop.join(', ')} return(s) to standby, stopped`,
      params: { InstanceIds: toStop },
    });
  }
  // 6. Last, one call each: a spare that cannot start must not keep the others from starting. A start
  // is recorded as intended before it is called (once per epoch): while EC2 may not show it yet, wait.
  const stopped = m.desired.filter((id) => state(id) === 'stopped' && !inGroupAtAll(id));
  const startIntended = (id: string) => intended(input, startKey(id));
  const starting = stopped.filter((id) => {
    const intended = startIntended(id);
    return intended.kind === 'intended' && intended.recent;
  });
  for (const id of stopped.filter((s) => !starting.includes(s))) {
    const earlier = startIntended(id);
    action({
      api: 'ec2:StartInstances',
      reason:
        `${m.summary} (epoch ${epoch}): ${id} is stopped; start it before it can be registered` +
        (earlier.kind === 'intended'
          ? `. A start recorded at ${earlier.at ?? 'an unknown time'} never showed in EC2: it is issued again`
          : ''),
      params: { InstanceIds: [id] },
      once: startKey(id),
    });
  }

  const shortfall = m.shortfall.length > 0 ? `; short: ${m.shortfall.join('; ')}` : '';
  if (actions.length > 0) {
    return { kind: 'act', detail: `${m.summary}${shortfall}`, actions };
  }

  // Nothing to do now: say what is awaited, what is refused, or that it is done.
  const waits: string[] = [];
  const blocks: string[] = [];
  const booting = m.desired.filter((id) => state(id) === 'pending' || state(id) === 'stopping');
  if (booting.length > 0) waits.push(`${booting.map((id) => `${id} is ${state(id)}`).join(', ')}`);
  if (starting.length > 0)
    waits.push(`start of ${starting.join(', ')} issued at epoch ${epoch}; EC2 still reports it stopped`);
  for (const { arn, step } of steps) {
    const name = groupName(arn);
    const initial = step.notHealthy.filter(([, s]) => s === 'initial').map(([id]) => id);
    const sick = step.notHealthy.filter(([, s]) => s !== 'initial');
    if (initial.length > 0) waits.push(`${initial.join(', ')} in initial health checks in ${name}`);
    if (step.draining.length > 0) waits.push(`${step.draining.join(', ')} draining from ${name}`);
    if (sick.length > 0) blocks.push(`${sick.map(([id, s]) => `${id} is ${s}`).join(', ')} in ${name}`);
    if (step.kept.length > 0) {
      blocks.push(
        `${step.kept.join(', ')} kept in ${name}: removing it would leave fewer than ${m.tierSize} healthy ` +
          `server(s) of the tier or ${compute.minHealthyTargets} healthy target(s)`,
      );
    }
  }
  const missing = m.desired.filter(
    (id) => observed.instances[id] === undefined || UNUSABLE.has(state(id) as InstanceState),
  );
  if (missing.length > 0) blocks.push(`${missing.join(', ')} cannot run (gone or terminated)`);
  // Something still moves by itself (booting, first health checks, draining): wait for it.
  if (waits.length > 0) {
    return { kind: 'wait', detail: `${m.summary}: waiting: ${waits.join('; ')}${shortfall}` };
  }
  // Nothing will change by itself: refuse, naming the servers and states (no counts that wobble).
  if (blocks.length > 0) {
    return {
      kind: 'refuse',
      detail:
        `${m.summary}: will not take more servers out: ${blocks.join('; ')}${shortfall}. ` +
        'The old targets stay in service; checking again on every run',
    };
  }
  return {
    kind: 'converged',
    detail: `${m.summary}; every group has its ${m.desired.length} member(s), healthy${shortfall}`,
  };
};
