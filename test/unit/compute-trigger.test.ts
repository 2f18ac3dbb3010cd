import { describe, expect, it } from 'vitest';
import { classifyInstanceEvent } from '../../functions/capabilities/compute/instance-event';
import { instanceStateEvent, serverAlarmEvent } from '../../functions/capabilities/compute/local';
import { parseConfig } from '../../functions/config/schema';
import { type DesiredState, initialDesiredState, type TransitionRequest } from '../../functions/core/types';
import { alarmStateChangeEvent } from '../../functions/drill/local-aws';
import { decideIntent } from '../../functions/state/intent';
import { classifyAlarmEvent } from '../../functions/trigger/alarm-event';
import { computeConfig, computeInput, P1, P2, TG } from '../support/compute-fixtures';

const NOW = new Date('2026-11-22T10:00:00.000Z');
const config = computeConfig();
const service = config.services[0] as NonNullable<(typeof config.services)[0]>;

const replaceRequest = (id: string): TransitionRequest => ({
  service: 'web',
  capabilities: ['compute'],
  target: 'primary',
  requestedBy: `alarm:web-${id}`,
  reason: 'status check failed',
  ignoreCooldown: false,
  amend: true,
  params: { replace: [id] },
});

const withAccount = <E extends { account: string; region: string }>(event: E): E => ({
  ...event,
  account: '111111111111',
  region: 'eu-west-2',
});

describe('per-server replacement in the desired state (amendments)', () => {
  it('records the first failed server as a new epoch, without moving compute off the primary', () => {
    const decision = decideIntent(initialDesiredState('web'), replaceRequest(P1), service, NOW);

    expect(decision.kind).toBe('transition');
    if (decision.kind !== 'transition') return;
    expect(decision.next.epoch).toBe(1);
    expect(decision.next.capabilities.compute).toEqual({
      active: 'primary',
      epoch: 0,
      changedAt: new Date(0).toISOString(),
      params: { replace: [P1] },
    });
  });

  it('the same server again is unchanged; another server is added, inside the cooldown too', () => {
    const first = decideIntent(initialDesiredState('web'), replaceRequest(P1), service, NOW);
    if (first.kind !== 'transition') throw new Error('expected a transition');
    const later = new Date(NOW.getTime() + 60_000);

    const duplicate = decideIntent(first.next, replaceRequest(P1), service, later);
    const second = decideIntent(first.next, replaceRequest(P2), service, later);

    expect(duplicate.kind).toBe('unchanged');
    expect(second.kind === 'transition' && second.next.capabilities.compute?.params).toEqual({
      replace: [P1, P2].sort(),
    });
    expect(second.kind === 'transition' && second.next.epoch).toBe(2);
  });

  it('an amendment never moves a capability that is on the other site', () => {
    const onStandby: DesiredState = {
      ...initialDesiredState('web'),
      epoch: 4,
      capabilities: { compute: { active: 'standby', epoch: 4, changedAt: NOW.toISOString() } },
    };

    const decision = decideIntent(onStandby, replaceRequest(P1), service, NOW);

    expect(decision.kind).toBe('unchanged');
  });

  it('a failback clears the replacements recorded on the primary; a plain duplicate failback does not move', () => {
    const first = decideIntent(initialDesiredState('web'), replaceRequest(P1), service, NOW);
    if (first.kind !== 'transition') throw new Error('expected a transition');
    const failback: TransitionRequest = {
      service: 'web',
      capabilities: ['compute'],
      target: 'primary',
      requestedBy: 'operator:alice',
      reason: 'failback',
      ignoreCooldown: true,
    };

    const reset = decideIntent(first.next, failback, service, NOW);
    if (reset.kind !== 'transition') throw new Error('expected a transition');
    const again = decideIntent(reset.next, failback, service, NOW);

    expect(reset.next.capabilities.compute?.params).toBeUndefined();
    expect(reset.next.capabilities.compute?.changedAt).toBe(new Date(0).toISOString());
    expect(again.kind).toBe('unchanged');
  });
});

describe('per-server alarm events', () => {
  it('reads the InstanceId dimension and asks for compute only', () => {
    const event = withAccount(serverAlarmEvent(P1, NOW));
    const named = { ...event, detail: { ...event.detail, alarmName: 'web-a001-status' } };

    const [verdict] = classifyAlarmEvent(named, config, NOW);

    expect(verdict).toMatchObject({ kind: 'alarm', capabilities: ['compute'], instanceId: P1 });
  });

  it('ignores a per-server alarm without an InstanceId dimension, or for a server that is not ours', () => {
    const bare = withAccount(
      alarmStateChangeEvent({
        alarmName: 'web-a001-status',
        account: '1',
        region: '1',
        value: 'ALARM',
        reason: '',
        at: NOW,
      }),
    );
    const input = computeInput({ standbys: { instanceIds: ['i-0000000000000b001'] } });
    const byIds = parseConfig(input);
    const stranger = withAccount(serverAlarmEvent('i-00000000000000eee', NOW));
    const strangerNamed = { ...stranger, detail: { ...stranger.detail, alarmName: 'web-a001-status' } };

    const [noDimension] = classifyAlarmEvent(bare, config, NOW);
    const [notOurs] = classifyAlarmEvent(strangerNamed, byIds, NOW);

    expect(noDimension).toMatchObject({
      kind: 'ignore',
      reason: expect.stringContaining('no single InstanceId'),
    });
    expect(notOurs).toMatchObject({ kind: 'ignore', reason: expect.stringContaining('not a server of web') });
  });

  it('a service-level alarm still moves every configured capability to the standby', () => {
    const event = withAccount(
      alarmStateChangeEvent({
        alarmName: 'web-down',
        account: '1',
        region: '1',
        value: 'ALARM',
        reason: '',
        at: NOW,
      }),
    );

    const [verdict] = classifyAlarmEvent(event, config, NOW);

    expect(verdict).toMatchObject({ kind: 'alarm', capabilities: ['compute'] });
    expect(verdict && 'instanceId' in verdict ? verdict.instanceId : undefined).toBeUndefined();
  });
});

describe('EC2 instance state-change events', () => {
  it('reconciles the services that select servers by tag or name the instance; ignores the rest', () => {
    const byIds = parseConfig(
      computeInput({ standbys: { instanceIds: ['i-0000000000000b001'] }, targetGroupArns: [TG] }),
    );

    const tagged = classifyInstanceEvent(
      withAccount(instanceStateEvent('i-0000000000000b009', 'running', NOW)),
      config,
      NOW,
    );
    const named = classifyInstanceEvent(
      withAccount(instanceStateEvent('i-0000000000000b001', 'running', NOW)),
      byIds,
      NOW,
    );
    const unknown = classifyInstanceEvent(
      withAccount(instanceStateEvent('i-0000000000000b009', 'running', NOW)),
      byIds,
      NOW,
    );
    const malformed = classifyInstanceEvent({ source: 'aws.ec2', detail: {} }, config, NOW);
    const foreign = classifyInstanceEvent(
      instanceStateEvent('i-0000000000000b001', 'running', NOW),
      byIds,
      NOW,
    );

    expect(tagged.kind).toBe('reconcile');
    expect(named).toMatchObject({ kind: 'reconcile', instanceId: 'i-0000000000000b001', state: 'running' });
    expect(unknown).toMatchObject({ kind: 'ignore', reason: expect.stringContaining('no server') });
    expect(malformed.kind).toBe('ignore');
    expect(foreign).toMatchObject({
      kind: 'ignore',
      reason: expect.stringContaining('this control plane watches'),
    });
  });
});

describe('compute config', () => {
  it.each([
    [
      { targetGroupArns: ['arn:aws:s3:::bucket'] },
      'services[web].compute.targetGroupArns[0]: must be an ELBv2 target group ARN',
    ],
    [
      { primaries: { instanceIds: ['web-1'] } },
      'services[web].compute.primaries.instanceIds[0]: must be an EC2 instance id',
    ],
    [{ standbys: {} }, 'services[web].compute.standbys: give exactly one of instanceIds or tag'],
    [
      { standbys: { instanceIds: [P1] } },
      `services[web].compute.standbys.instanceIds[0]: ${P1} is also a primary`,
    ],
    [{ minHealthyTargets: 0 }, 'services[web].compute.minHealthyTargets'],
  ])('names the field: %j', (compute, message) => {
    expect(() => parseConfig(computeInput(compute))).toThrow(message);
  });

  it('a per-server alarm needs a compute section and moves compute only', () => {
    const input = computeInput();
    const svc = input.services[0];
    if (!svc) throw new Error('no service');
    svc.alarms = [{ name: 'x', scope: 'instance', capabilities: ['dns'] }];

    expect(() => parseConfig(input)).toThrow('services[web].alarms[x].scope: alarm "x" watches one server');
  });
});
