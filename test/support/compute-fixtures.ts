/** Test doubles for the compute unit tests: a config, and observed states built by hand. */
import type {
  ComputeObserved,
  InstanceState,
  ObservedTarget,
  TargetState,
} from '../../functions/capabilities/compute/planner';
import {
  type Config,
  type ConfigInput,
  parseConfig,
  type ServiceConfig,
} from '../../functions/config/schema';
import type { CapabilityIntent, Site } from '../../functions/core/types';
import type { PlanInput } from '../../functions/engine/capability';

export const TG = 'arn:aws:elasticloadbalancing:eu-west-2:111111111111:targetgroup/web/0123456789abcdef';
export const TG2 = 'arn:aws:elasticloadbalancing:eu-west-2:111111111111:targetgroup/api/fedcba9876543210';
export const P1 = 'i-0000000000000a001';
export const P2 = 'i-0000000000000a002';
export const P3 = 'i-0000000000000a003';
export const S1 = 'i-0000000000000b001';
export const S2 = 'i-0000000000000b002';

export const computeInput = (compute: Record<string, unknown> = {}): ConfigInput => ({
  controlPlane: { account: '111111111111', region: 'eu-west-2' },
  services: [
    {
      name: 'web',
      mode: 'auto',
      alarms: [{ name: 'web-down' }, { name: 'web-a001-status', scope: 'instance' }],
      compute: {
        targetGroupArns: [TG],
        primaries: { instanceIds: [P1, P2] },
        standbys: { tag: { key: 'understudy:role', value: 'standby' } },
        ...compute,
      },
    },
  ],
});

export const computeConfig = (compute: Record<string, unknown> = {}): Config =>
  parseConfig(computeInput(compute));

export const computeService = (compute: Record<string, unknown> = {}): ServiceConfig => {
  const svc = computeConfig(compute).services[0];
  if (!svc) throw new Error('no service');
  return svc;
};

/** An observed world: instances by id with a state (and tags), targets per group. */
export const world = (input: {
  primaries?: string[];
  standbys?: string[];
  instances?: Record<string, InstanceState | { state: InstanceState; tags: Record<string, string> }>;
  groups?: Record<string, Record<string, TargetState>>;
  autoScaling?: ComputeObserved['autoScaling'];
}): ComputeObserved => ({
  primaries: input.primaries ?? [P1, P2],
  standbys: input.standbys ?? [S1, S2],
  instances: Object.fromEntries(
    Object.entries(input.instances ?? {}).map(([id, v]) => [
      id,
      typeof v === 'string' ? { id, state: v, tags: {} } : { id, ...v },
    ]),
  ),
  groups: Object.fromEntries(
    Object.entries(input.groups ?? {}).map(([arn, targets]) => [
      arn,
      Object.entries(targets).map(([id, state]): ObservedTarget => ({ id, state })),
    ]),
  ),
  autoScaling: input.autoScaling,
});

export const planInput = (
  observed: ComputeObserved,
  target: Site,
  options: {
    service?: ServiceConfig;
    replace?: string[];
    epoch?: number;
    intent?: CapabilityIntent | null;
  } = {},
): PlanInput<ComputeObserved> => ({
  service: options.service ?? computeService(),
  target,
  epoch: options.epoch ?? 3,
  intent:
    options.intent === null
      ? undefined
      : (options.intent ?? {
          active: target,
          epoch: options.epoch ?? 3,
          changedAt: '2026-11-22T09:00:00.000Z',
          params: options.replace ? { replace: options.replace } : undefined,
        }),
  observed,
  status: undefined,
  now: new Date('2026-11-22T10:00:00.000Z'),
});
