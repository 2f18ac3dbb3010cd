import type { ServiceConfig } from '../../config/schema';
import type * as R from '../../readiness/finding';
import { notReady, ready } from '../../readiness/finding';
import type { InstanceSelector } from './config';
import type { ObservedInstance } from './planner';

/*
 * Compute readiness, pure: what EC2, ELBv2 and Auto Scaling report -> would a failover and a
 * failback work now. The target groups and the standby Auto Scaling group exist, and every server
 * the move would put into service exists and can be started (not terminated, not on its way out).
 */

export interface ComputeReadinessObserved {
  /** Primary and standby instance ids, resolved as the planner resolves them (sorted). */
  readonly primaries: readonly string[];
  readonly standbys: readonly string[];
  /** Every primary and standby EC2 knows; an id missing here does not exist (any more). */
  readonly instances: Readonly<Record<string, ObservedInstance>>;
  /** Configured target groups ELBv2 does not know. */
  readonly missingGroups: readonly string[];
  /** The standby Auto Scaling group, when configured: whether it exists, and its InService count. */
  readonly autoScaling?: { readonly name: string; readonly exists: boolean; readonly inService: number };
}

const GONE = new Set(['terminated', 'shutting-down']);

const groupName = (arn: string): string => arn.split(':').at(-1)?.split('/')[1] ?? arn;

/**
 * One finding over a set of servers: each can be started, or which cannot and why. A server named by
 * id must exist and be startable; one found by tag that is terminated is simply no longer one of
 * them (EC2 lists terminated instances for a while), as long as another can serve.
 */
const serversFinding = (
  direction: R.ReadinessDirection,
  check: string,
  role: string,
  ids: readonly string[],
  named: readonly string[],
  instances: ComputeReadinessObserved['instances'],
): R.ReadinessFinding => {
  const problems: string[] = [];
  const usable: string[] = [];
  let gone = 0;
  for (const id of ids) {
    const instance = instances[id];
    const isNamed = named.includes(id);
    if (!instance || GONE.has(instance.state)) {
      if (isNamed) problems.push(`${role} ${id} ${instance ? `is ${instance.state}` : 'does not exist'}`);
      else gone++;
    } else if (instance.state === 'stopping') {
      problems.push(`${role} ${id} is stopping and cannot be started until it has stopped`);
    } else usable.push(id);
  }
  if (problems.length > 0) return notReady(direction, check, problems.join('; '));
  if (usable.length === 0) {
    return notReady(
      direction,
      check,
      `no ${role} that can be started${gone > 0 ? ` (${gone} terminated or gone)` : ''}: nothing to put into service`,
    );
  }
  const counts = new Map<string, number>();
  for (const id of usable) {
    const state = instances[id]?.state ?? 'unknown';
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  const states = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
  return ready(direction, check, `${usable.length} ${role}(s) can serve (${states})`);
};

export const assessCompute: R.AssessReadiness<ComputeReadinessObserved> = (service, observed, input) => {
  const compute = service.compute;
  if (!compute) return { findings: [] };
  const findings: R.ReadinessFinding[] = [];
  const groups = (direction: R.ReadinessDirection) =>
    observed.missingGroups.length > 0
      ? notReady(
          direction,
          'target-groups',
          `target group ${observed.missingGroups.map(groupName).join(', ')} does not exist`,
        )
      : ready(direction, 'target-groups', `${compute.targetGroupArns.length} target group(s) exist`);
  if (input.active === 'primary') {
    findings.push(groups('failover'));
    const asg = observed.autoScaling;
    if (asg) {
      findings.push(
        asg.exists
          ? ready('failover', 'standby-auto-scaling-group', `${asg.name} exists (${asg.inService} InService)`)
          : notReady(
              'failover',
              'standby-auto-scaling-group',
              `Auto Scaling group ${asg.name} does not exist`,
            ),
      );
    }
    // With a standby group that scales up on failover, its future instances are spares too.
    const fromGroup = asg?.exists === true && compute.standbyAutoScalingGroup !== undefined;
    findings.push(
      observed.standbys.length === 0 && fromGroup
        ? ready('failover', 'spares', `no spare running yet; ${asg?.name} scales up on failover`)
        : serversFinding(
            'failover',
            'spares',
            'spare',
            observed.standbys,
            compute.standbys.instanceIds ?? [],
            observed.instances,
          ),
    );
  } else {
    findings.push(ready('failover', 'failed-over', 'the servers are on the standby already'));
    findings.push(groups('failback'));
  }
  findings.push(
    serversFinding(
      'failback',
      'primaries',
      'primary',
      observed.primaries,
      compute.primaries.instanceIds ?? [],
      observed.instances,
    ),
  );
  return { findings, calls: computeCalls(service, input) };
};

const instanceCalls = (
  direction: R.ReadinessDirection,
  selector: InstanceSelector,
  arn: (id: string) => string,
): R.RequiredCall[] =>
  selector.tag
    ? [
        {
          direction,
          action: 'ec2:StartInstances',
          resource: arn('*'),
          context: { [`aws:ResourceTag/${selector.tag.key}`]: selector.tag.value },
        },
      ]
    : (selector.instanceIds ?? []).map((id) => ({
        direction,
        action: 'ec2:StartInstances',
        resource: arn(id),
      }));

/** The calls a move would make, for the IAM check: start the servers, register them, scale up. */
export const computeCalls = (service: ServiceConfig, input: R.ReadinessInput): R.RequiredCall[] => {
  const compute = service.compute;
  if (!compute) return [];
  const { partition, account } = input;
  const region = compute.targetGroupArns[0]?.split(':')[3] ?? '';
  const arn = (id: string) => `arn:${partition}:ec2:${region}:${account}:instance/${id}`;
  const calls: R.RequiredCall[] = [];
  for (const direction of ['failover', 'failback'] as const) {
    for (const group of compute.targetGroupArns) {
      calls.push({ direction, action: 'elasticloadbalancing:RegisterTargets', resource: group });
      calls.push({ direction, action: 'elasticloadbalancing:DeregisterTargets', resource: group });
    }
  }
  calls.push(...instanceCalls('failover', compute.standbys, arn));
  calls.push(...instanceCalls('failback', compute.primaries, arn));
  const asg = compute.standbyAutoScalingGroup;
  if (asg) {
    calls.push({
      direction: 'failover',
      action: 'autoscaling:SetDesiredCapacity',
      // The group's generated id is not in the config; the grant pins the name, as here.
      resource: `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${asg.name}`,
    });
  }
  return calls;
};
