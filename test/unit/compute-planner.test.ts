import { describe, expect, it } from 'vitest';
import { type ComputeAction, planCompute, startKey } from '../../functions/capabilities/compute/planner';
import type { CapabilityPlan } from '../../functions/engine/capability';
import { computeService, P1, P2, planInput, S1, S2, TG, TG2, world } from '../support/compute-fixtures';

const apis = (plan: CapabilityPlan<ComputeAction>) =>
  plan.kind === 'act' ? plan.actions.map((a) => a.api) : [];
/** The params type of the action whose api is K (some variants share one shape across two apis). */
type ParamsOf<K extends ComputeAction['api'], A = ComputeAction> = A extends { api: infer X; params: infer P }
  ? K extends X
    ? P
    : never
  : never;
const actionOf = <K extends ComputeAction['api']>(plan: CapabilityPlan<ComputeAction>, api: K) =>
  (plan.kind === 'act' ? plan.actions.find((a) => a.api === api) : undefined) as
    | { readonly api: K; readonly params: ParamsOf<K> }
    | undefined;

const running = { [P1]: 'running', [P2]: 'running', [S1]: 'running', [S2]: 'running' } as const;

describe('planCompute: per-server replacement, step by step', () => {
  it('registers one running spare for the failed server and keeps the failed one while the spare is unproven', () => {
    // Prepare
    const observed = world({ instances: running, groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy' } } });

    // Act
    const plan = planCompute(planInput(observed, 'primary', { replace: [P1] }));

    // Assess
    expect(apis(plan)).toEqual(['elasticloadbalancing:RegisterTargets']);
    expect(actionOf(plan, 'elasticloadbalancing:RegisterTargets')?.params).toEqual({
      TargetGroupArn: TG,
      Targets: [{ Id: S1 }],
    });
  });

  it('waits while the spare is in its initial health checks: the failed server is not deregistered yet', () => {
    const observed = world({
      instances: running,
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy', [S1]: 'initial' } },
    });

    const plan = planCompute(planInput(observed, 'primary', { replace: [P1] }));

    expect(plan.kind).toBe('wait');
    expect(plan.detail).toContain(`${S1} in initial health checks in web`);
  });

  it('deregisters and quarantines the failed server once the spare is healthy, tagging the epoch', () => {
    const observed = world({
      instances: running,
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy', [S1]: 'healthy' } },
    });

    const plan = planCompute(planInput(observed, 'primary', { replace: [P1], epoch: 7 }));

    expect(apis(plan)).toEqual(['elasticloadbalancing:DeregisterTargets', 'ec2:CreateTags']);
    expect(actionOf(plan, 'elasticloadbalancing:DeregisterTargets')?.params).toEqual({
      TargetGroupArn: TG,
      Targets: [{ Id: P1 }],
    });
    expect(actionOf(plan, 'ec2:CreateTags')?.params).toEqual({
      Resources: [P1],
      Tags: [{ Key: 'understudy:quarantined', Value: '7' }],
    });
  });

  it('waits while the failed server drains, then is converged', () => {
    const draining = world({
      instances: { ...running, [P1]: { state: 'running', tags: { 'understudy:quarantined': '3' } } },
      groups: { [TG]: { [P1]: 'draining', [P2]: 'healthy', [S1]: 'healthy' } },
    });
    const drained = world({
      instances: { ...running, [P1]: { state: 'running', tags: { 'understudy:quarantined': '3' } } },
      groups: { [TG]: { [P2]: 'healthy', [S1]: 'healthy' } },
    });

    const waiting = planCompute(planInput(draining, 'primary', { replace: [P1] }));
    const done = planCompute(planInput(drained, 'primary', { replace: [P1] }));

    expect(waiting.kind).toBe('wait');
    expect(waiting.detail).toContain(`${P1} draining from web`);
    expect(done.kind).toBe('converged');
  });

  it('refuses with a stable detail when the only spare turns unhealthy, keeping the failed server', () => {
    const observed = world({
      standbys: [S1],
      instances: running,
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy', [S1]: 'unhealthy' } },
    });

    const first = planCompute(planInput(observed, 'primary', { replace: [P1] }));
    const again = planCompute(planInput(observed, 'primary', { replace: [P1], epoch: 3 }));

    expect(first.kind).toBe('refuse');
    expect(first.detail).toContain(`${S1} is unhealthy in web`);
    expect(first.detail).toContain(`${P1} kept in web`);
    expect(again.detail).toBe(first.detail);
  });

  it('gives an unhealthy spare up for another one: registers the next spare, removes the sick one', () => {
    const observed = world({
      instances: running,
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy', [S1]: 'unhealthy' } },
    });

    const plan = planCompute(planInput(observed, 'primary', { replace: [P1] }));

    expect(actionOf(plan, 'elasticloadbalancing:RegisterTargets')?.params.Targets).toEqual([{ Id: S2 }]);
    expect(actionOf(plan, 'elasticloadbalancing:DeregisterTargets')?.params.Targets).toEqual([{ Id: S1 }]);
  });

  it('starts a stopped spare (its own call, last) and waits for it while it is pending', () => {
    const stopped = world({
      standbys: [S1],
      instances: { [P1]: 'running', [P2]: 'running', [S1]: 'stopped' },
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy' } },
    });
    const pending = world({
      standbys: [S1],
      instances: { [P1]: 'running', [P2]: 'running', [S1]: 'pending' },
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy' } },
    });

    const start = planCompute(planInput(stopped, 'primary', { replace: [P1] }));
    const wait = planCompute(planInput(pending, 'primary', { replace: [P1] }));

    expect(apis(start)).toEqual(['ec2:StartInstances']);
    expect(actionOf(start, 'ec2:StartInstances')?.params).toEqual({ InstanceIds: [S1] });
    expect(wait.kind).toBe('wait');
    expect(wait.detail).toContain(`${S1} is pending`);
  });

  it('marks a start once per epoch, waits while EC2 may not show it yet, and starts again only after the grace', () => {
    const stopped = world({
      standbys: [S1],
      instances: { [P1]: 'running', [P2]: 'running', [S1]: 'stopped' },
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy' } },
    });
    const withIntent = (at: string) => ({
      ...planInput(stopped, 'primary', { replace: [P1] }),
      status: {
        capability: 'compute' as const,
        epoch: 3,
        active: 'primary' as const,
        phase: 'in-progress' as const,
        detail: '',
        updatedAt: at,
        pending: { [startKey(S1)]: '3', [`${startKey(S1)}At`]: at },
      },
    });

    const first = planCompute(planInput(stopped, 'primary', { replace: [P1] }));
    const recent = planCompute(withIntent('2026-11-22T09:59:30.000Z'));
    const lost = planCompute(withIntent('2026-11-22T09:50:00.000Z'));

    // A start made for an earlier move (the tier went back and forth since) still holds while recent.
    const earlier = planCompute({
      ...withIntent('2026-11-22T09:59:30.000Z'),
      status: {
        ...withIntent('2026-11-22T09:59:30.000Z').status,
        pending: { [startKey(S1)]: '1', [`${startKey(S1)}At`]: '2026-11-22T09:59:30.000Z' },
      },
    });
    expect(earlier.kind).toBe('wait');
    expect(first.kind === 'act' ? first.actions.map((a) => a.once) : []).toEqual([startKey(S1)]);
    expect(recent).toMatchObject({
      kind: 'wait',
      detail: expect.stringContaining(`start of ${S1} issued at epoch 3`),
    });
    expect(apis(lost)).toEqual(['ec2:StartInstances']);
  });

  it('with no usable spare, keeps the failed server and says so', () => {
    const observed = world({
      standbys: [S1],
      instances: { [P1]: 'running', [P2]: 'running', [S1]: 'terminated' },
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy' } },
    });

    const plan = planCompute(planInput(observed, 'primary', { replace: [P1] }));

    expect(plan.kind).toBe('refuse');
    expect(plan.detail).toContain(`no usable spare is left for ${P1}`);
  });
});

describe('planCompute: whole tier, failback, idle', () => {
  it('an idle converged tier plans nothing', () => {
    const observed = world({ instances: running, groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy' } } });

    const plan = planCompute(planInput(observed, 'primary', { intent: null }));

    expect(plan.kind).toBe('converged');
  });

  it('does not stop running warm standbys of a service that never failed over', () => {
    const observed = world({ instances: running, groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy' } } });
    const service = computeService({ stopStandbysOnFailback: true });

    const plan = planCompute(planInput(observed, 'primary', { intent: null, service }));

    expect(plan.kind).toBe('converged');
  });

  it('swaps the tier in every group, keeping primaries while a standby is still in initial checks', () => {
    const service = computeService({ targetGroupArns: [TG, TG2] });
    const observed = world({
      instances: running,
      groups: {
        [TG]: { [P1]: 'healthy', [P2]: 'healthy', [S1]: 'healthy', [S2]: 'healthy' },
        [TG2]: { [P1]: 'healthy', [P2]: 'healthy', [S1]: 'healthy', [S2]: 'initial' },
      },
    });

    const plan = planCompute(planInput(observed, 'standby', { service }));

    const deregister =
      plan.kind === 'act' ? plan.actions.filter((a) => a.api.endsWith('DeregisterTargets')) : [];
    expect(deregister.map((a) => a.params)).toEqual([
      { TargetGroupArn: TG, Targets: [{ Id: P1 }, { Id: P2 }] },
      { TargetGroupArn: TG2, Targets: [{ Id: P1 }] },
    ]);
    // P1 leaves both groups: quarantined. P2 still serves in TG2: not yet.
    expect(actionOf(plan, 'ec2:CreateTags')?.params.Resources).toEqual([P1]);
  });

  it('removes an unhealthy primary before healthy ones, never below the tier size', () => {
    const observed = world({
      instances: running,
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'unhealthy', [S1]: 'healthy', [S2]: 'unhealthy' } },
    });

    const plan = planCompute(planInput(observed, 'standby'));

    // Two standbys are wanted, one is healthy: P1 (healthy) must stay, P2 (unhealthy) may go.
    expect(actionOf(plan, 'elasticloadbalancing:DeregisterTargets')?.params.Targets).toEqual([{ Id: P2 }]);
  });

  it('failback: registers the primaries, releases their quarantine, then removes and stops the standbys', () => {
    const service = computeService({ stopStandbysOnFailback: true });
    const quarantined = { state: 'running', tags: { 'understudy:quarantined': '1' } } as const;
    const first = world({
      instances: { [P1]: quarantined, [P2]: quarantined, [S1]: 'running', [S2]: 'running' },
      groups: { [TG]: { [S1]: 'healthy', [S2]: 'healthy' } },
    });
    const drained = world({ instances: running, groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy' } } });

    const plan = planCompute(planInput(first, 'primary', { service }));
    const after = planCompute(planInput(drained, 'primary', { service }));

    expect(apis(plan)).toEqual(['ec2:DeleteTags', 'elasticloadbalancing:RegisterTargets']);
    expect(apis(after)).toEqual(['ec2:StopInstances']);
    expect(actionOf(after, 'ec2:StopInstances')?.params.InstanceIds).toEqual([S1, S2]);
  });

  it('scales the standby Auto Scaling group up on failover and back down once failback converged', () => {
    const service = computeService({
      standbyAutoScalingGroup: { name: 'web-standby', failoverCapacity: 2, standbyCapacity: 0 },
    });
    const up = world({
      instances: running,
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy' } },
      autoScaling: { name: 'web-standby', desiredCapacity: 0, instanceIds: [] },
    });
    const down = world({
      instances: running,
      groups: { [TG]: { [P1]: 'healthy', [P2]: 'healthy' } },
      autoScaling: { name: 'web-standby', desiredCapacity: 2, instanceIds: [S1, S2] },
    });

    const failover = planCompute(planInput(up, 'standby', { service }));
    const failback = planCompute(planInput(down, 'primary', { service }));

    expect(actionOf(failover, 'autoscaling:SetDesiredCapacity')?.params).toEqual({
      AutoScalingGroupName: 'web-standby',
      DesiredCapacity: 2,
      HonorCooldown: false,
    });
    expect(actionOf(failback, 'autoscaling:SetDesiredCapacity')?.params.DesiredCapacity).toBe(0);
  });

  it('never touches targets it does not manage, and counts them as capacity', () => {
    const stranger = 'i-00000000000000fff';
    const observed = world({
      instances: running,
      groups: {
        [TG]: { [P1]: 'healthy', [P2]: 'healthy', [S1]: 'healthy', [S2]: 'healthy', [stranger]: 'healthy' },
      },
    });

    const plan = planCompute(planInput(observed, 'standby'));

    const removed = actionOf(plan, 'elasticloadbalancing:DeregisterTargets')?.params.Targets.map((t) => t.Id);
    expect(removed).toEqual([P1, P2]);
  });
});
