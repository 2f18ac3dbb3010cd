import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DatabaseAction,
  type DbInstanceView,
  fenceTarget,
  planDatabase,
  type RdsReplicaObserved,
} from '../../functions/capabilities/database/planner';
import { parseConfig, type ServiceConfig } from '../../functions/config/schema';
import type { CapabilityStatus, Site } from '../../functions/core/types';
import type { PlanInput } from '../../functions/engine/capability';
import { breather } from '../support/breather';

const breathe = breather();

const serviceWith = (database: Record<string, unknown>): ServiceConfig => {
  const config = parseConfig({
    controlPlane: { account: '111111111111', region: 'eu-west-2' },
    services: [
      {
        name: 'shop',
        database: { endpoint: { hostedZoneId: 'ZDB', name: 'db.shop.internal' }, ...database },
      },
    ],
  });
  return config.services[0] as ServiceConfig;
};
const rds = (extra: Record<string, unknown> = {}) =>
  serviceWith({ kind: 'rds-replica', primaryInstanceId: 'db1', replicaInstanceId: 'db2', ...extra });

const instance = (id: string, extra: Partial<DbInstanceView> = {}): DbInstanceView => ({
  id,
  arn: `arn:aws:rds:eu-west-2:111111111111:db:${id}`,
  status: 'available',
  address: `${id}.x.eu-west-2.rds.amazonaws.com`,
  securityGroupIds: ['sg-00000001'],
  ...extra,
});
const addr = (id: string) => `${id}.x.eu-west-2.rds.amazonaws.com.`;

const input = (
  observed: Partial<RdsReplicaObserved> & { instances: RdsReplicaObserved['instances'] },
  options: {
    target?: Site;
    epoch?: number;
    params?: Record<string, boolean>;
    status?: Partial<CapabilityStatus>;
    service?: ServiceConfig;
  } = {},
): PlanInput<RdsReplicaObserved> => ({
  service: options.service ?? rds(),
  target: options.target ?? 'standby',
  epoch: options.epoch ?? 1,
  intent:
    (options.epoch ?? 1) > 0
      ? {
          active: options.target ?? 'standby',
          epoch: options.epoch ?? 1,
          changedAt: '2026-01-01T00:00:00Z',
          params: options.params,
        }
      : undefined,
  observed: { kind: 'rds-replica', homeRegion: 'eu-west-2', endpoint: { target: addr('db1') }, ...observed },
  status: options.status
    ? ({
        capability: 'database',
        epoch: options.epoch ?? 1,
        active: 'standby',
        phase: 'waiting',
        detail: '',
        updatedAt: '',
        ...options.status,
      } as CapabilityStatus)
    : undefined,
  now: new Date('2026-01-01T00:01:00Z'),
});

const healthy = { primary: instance('db1'), standby: instance('db2', { replicaOf: 'db1' }) };
const apis = (plan: ReturnType<typeof planDatabase>) =>
  plan.kind === 'act' ? plan.actions.map((a: DatabaseAction) => a.api) : [];

describe('database planner, rds-replica', () => {
  it('fences the name, then promotes, when the replica is ready', () => {
    const plan = planDatabase(input({ instances: healthy, lagSeconds: 2 }));
    expect(apis(plan)).toEqual(['route53:ChangeResourceRecordSets', 'rds:PromoteReadReplica']);
    const [fence] = plan.kind === 'act' ? plan.actions : [];
    expect(fence?.params).toMatchObject({ Value: fenceTarget(1), Name: 'db.shop.internal.' });
    expect(fence?.epoch).toBe(1);
  });

  it.each(['modifying', 'backing-up', 'rebooting', 'creating', 'storage-optimization'])(
    'waits while the replica is %s (RDS refuses to promote then)',
    (status) => {
      const plan = planDatabase(
        input({
          instances: { ...healthy, standby: instance('db2', { replicaOf: 'db1', status }) },
          lagSeconds: 0,
        }),
      );
      expect(plan).toMatchObject({ kind: 'wait', detail: expect.stringContaining(status) });
    },
  );

  it('waits, without promoting again, while a promotion issued in this epoch completes', () => {
    const observed = {
      instances: { ...healthy, standby: instance('db2', { replicaOf: 'db1', status: 'modifying' }) },
      endpoint: { target: fenceTarget(1) },
    };
    const plan = planDatabase(input(observed, { status: { pending: { promotedEpoch: '1' } } }));
    expect(plan).toMatchObject({
      kind: 'wait',
      detail: expect.stringMatching(/promotion of db2 issued at epoch 1/),
    });
    // Still available and a replica on AWS for a moment after the call: still no second call.
    const early = planDatabase(
      input(
        { ...observed, instances: healthy, lagSeconds: 1 },
        { status: { pending: { promotedEpoch: '1' } } },
      ),
    );
    expect(early.kind).toBe('wait');
    // A promotion recorded for an older epoch does not count.
    const stale = planDatabase(
      input(
        { ...observed, instances: healthy, lagSeconds: 1 },
        { epoch: 3, status: { pending: { promotedEpoch: '1' } } },
      ),
    );
    expect(apis(stale)).toEqual(['rds:PromoteReadReplica']);
  });

  it('marks the promotion once per epoch, and decides from RDS whether an intended one happened', () => {
    const plan = planDatabase(input({ instances: healthy, lagSeconds: 2 }));
    const promote =
      plan.kind === 'act' ? plan.actions.find((a) => a.api === 'rds:PromoteReadReplica') : undefined;
    expect(promote?.once).toBe('promotedEpoch');

    const fenced = { instances: healthy, lagSeconds: 1, endpoint: { target: fenceTarget(1) } };
    // Recorded as intended 30 s ago (now is 00:01:00), RDS still shows an available replica: not yet.
    const recent = planDatabase(
      input(fenced, { status: { pending: { promotedEpoch: '1', promotedEpochAt: '2026-01-01T00:00:30Z' } } }),
    );
    expect(recent).toMatchObject({
      kind: 'wait',
      detail: expect.stringMatching(/promotion of db2 issued at epoch 1/),
    });
    // Recorded 5 minutes ago and RDS never showed it: the call never took effect; issued again, said so.
    const lost = planDatabase(
      input(fenced, { status: { pending: { promotedEpoch: '1', promotedEpochAt: '2025-12-31T23:56:00Z' } } }),
    );
    expect(apis(lost)).toEqual(['rds:PromoteReadReplica']);
    const again = lost.kind === 'act' ? lost.actions[0]?.reason : '';
    expect(again).toMatch(/Recorded as intended at 2025-12-31T23:56:00Z, but AWS never showed it/);
    // Recorded long ago but RDS shows it under way: wait, never a second call.
    const underWay = planDatabase(
      input(
        {
          ...fenced,
          instances: { ...healthy, standby: instance('db2', { replicaOf: 'db1', status: 'modifying' }) },
        },
        { status: { pending: { promotedEpoch: '1', promotedEpochAt: '2025-12-31T23:56:00Z' } } },
      ),
    );
    expect(underWay.kind).toBe('wait');
  });

  it('judges the grace at the time of its reads: a read from just after the call is no proof, however late the plan', () => {
    // Promotion recorded at 00:00:30; RDS read at 00:00:36, when it did not show it yet (eventual
    // consistency); the run then stalled and plans at 00:05:36, past the grace. The read says nothing
    // about whether the call took effect: wait, never a second PromoteReadReplica.
    const stalled = (epoch: number) => ({
      ...input(
        { instances: healthy, lagSeconds: 1, endpoint: { target: fenceTarget(1) } },
        { epoch, status: { pending: { promotedEpoch: '1', promotedEpochAt: '2026-01-01T00:00:30Z' } } },
      ),
      observedAt: new Date('2026-01-01T00:00:36Z'),
      now: new Date('2026-01-01T00:05:36Z'),
    });
    const stale = stalled(1);
    expect(planDatabase(stale)).toMatchObject({
      kind: 'wait',
      detail: expect.stringMatching(/promotion of db2 issued/),
    });
    // The same promotion recorded in an earlier epoch (the capability moved away and back since).
    expect(planDatabase(stalled(3)).kind).toBe('wait');
    // Reads made after the grace that still show no promotion: it never took effect; issued again.
    const late = { ...stale, observedAt: new Date('2026-01-01T00:03:00Z') };
    expect(apis(planDatabase(late))).toEqual(['rds:PromoteReadReplica']);
  });

  it('repoints the fenced name once the replica is writable (the crash-between-steps case)', () => {
    const plan = planDatabase(
      input({
        instances: { primary: instance('db1'), standby: instance('db2') },
        endpoint: { target: fenceTarget(1) },
      }),
    );
    expect(apis(plan)).toEqual(['route53:ChangeResourceRecordSets']);
    expect(plan.kind === 'act' && plan.actions[0]?.params).toMatchObject({ Value: addr('db2') });
  });

  it('isolates a still-reachable old writer before announcing the new one, when asked', () => {
    const service = rds({
      fenceOldPrimary: 'quarantine-security-group',
      quarantineSecurityGroupId: 'sg-0123456789abcdef0',
    });
    const plan = planDatabase(
      input(
        {
          instances: { primary: instance('db1'), standby: instance('db2') },
          endpoint: { target: fenceTarget(1) },
        },
        { service },
      ),
    );
    expect(apis(plan)).toEqual(['rds:ModifyDBInstance', 'route53:ChangeResourceRecordSets']);
    const stop = planDatabase(
      input(
        {
          instances: { primary: instance('db1'), standby: instance('db2') },
          endpoint: { target: fenceTarget(1) },
        },
        { service: rds({ fenceOldPrimary: 'stop' }) },
      ),
    );
    expect(apis(stop)).toEqual(['rds:StopDBInstance', 'route53:ChangeResourceRecordSets']);
    // Already stopped: nothing to isolate.
    const stopped = planDatabase(
      input(
        {
          instances: { primary: instance('db1', { status: 'stopped' }), standby: instance('db2') },
          endpoint: { target: addr('db2') },
        },
        { service: rds({ fenceOldPrimary: 'stop' }) },
      ),
    );
    expect(stopped.kind).toBe('converged');
  });

  it('refuses to point the name at a standalone copy that diverged from the live writer', () => {
    const plan = planDatabase(
      input({
        instances: { primary: instance('db1'), standby: instance('db2') },
        endpoint: { target: addr('db1') },
      }),
    );
    expect(plan).toMatchObject({
      kind: 'refuse',
      detail: expect.stringMatching(/would lose every write made to db1/),
    });
  });

  it('refuses a delayed replica unless the operator allows it explicitly', () => {
    const service = rds({ delayedReplica: true });
    expect(planDatabase(input({ instances: healthy, lagSeconds: 0 }, { service })).kind).toBe('refuse');
    expect(
      apis(
        planDatabase(
          input({ instances: healthy, lagSeconds: 0 }, { service, params: { allowDelayedReplica: true } }),
        ),
      ),
    ).toContain('rds:PromoteReadReplica');
    // acceptDataLoss is not permission to promote a delayed replica.
    expect(
      planDatabase(
        input({ instances: healthy, lagSeconds: 0 }, { service, params: { acceptDataLoss: true } }),
      ).kind,
    ).toBe('refuse');
  });

  it('keeps a refusal detail stable whatever the lag reading, so Slack hears it once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 30.001, max: 86_400, noNaN: true }),
        fc.double({ min: 30.001, max: 86_400, noNaN: true }),
        async (a, b) => {
          await breathe();
          const da = planDatabase(input({ instances: healthy, lagSeconds: a }));
          const db = planDatabase(input({ instances: healthy, lagSeconds: b }));
          return da.kind === 'refuse' && da.detail === db.detail;
        },
      ),
    );
  });

  it('promotes only within the lag budget, unless the operator accepts data loss', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.double({ min: -1, max: 1000, noNaN: true }), { nil: undefined }),
        fc.boolean(),
        async (lag, accept) => {
          await breathe();
          const plan = planDatabase(
            input(
              { instances: healthy, lagSeconds: lag },
              { params: accept ? { acceptDataLoss: true } : {} },
            ),
          );
          const promotes = apis(plan).includes('rds:PromoteReadReplica');
          const withinBudget = lag !== undefined && lag >= 0 && lag <= 30;
          return promotes === (accept || withinBudget);
        },
      ),
    );
  });

  it('refuses a replica of some other database', () => {
    const plan = planDatabase(
      input({
        instances: { ...healthy, standby: instance('db2', { replicaOf: 'elsewhere' }) },
        lagSeconds: 0,
      }),
    );
    expect(plan).toMatchObject({
      kind: 'refuse',
      detail: expect.stringContaining('replicates from elsewhere'),
    });
  });

  it('is converged, and writes nothing, when the name points at the writer', () => {
    const plan = planDatabase(
      input(
        { instances: { primary: instance('db1'), standby: instance('db2', { replicaOf: 'db1' }) } },
        { target: 'primary', epoch: 0 },
      ),
    );
    expect(plan.kind).toBe('converged');
  });

  it('fails back in planned steps: re-protect, fence, wait for zero lag, promote', () => {
    const writer = instance('db2');
    const opts = { target: 'primary' as const, epoch: 2 };
    const create = planDatabase(
      input({ instances: { primary: undefined, standby: writer }, endpoint: { target: addr('db2') } }, opts),
    );
    expect(apis(create)).toEqual(['rds:CreateDBInstanceReadReplica']);
    const newReplica = instance('db1', { replicaOf: 'db2' });
    const fence = planDatabase(
      input(
        {
          instances: { primary: newReplica, standby: writer },
          endpoint: { target: addr('db2') },
          lagSeconds: 5,
        },
        opts,
      ),
    );
    expect(apis(fence)).toEqual(['route53:ChangeResourceRecordSets']);
    const wait = planDatabase(
      input(
        {
          instances: { primary: newReplica, standby: writer },
          endpoint: { target: fenceTarget(2) },
          lagSeconds: 1,
        },
        opts,
      ),
    );
    expect(wait).toMatchObject({ kind: 'wait', detail: expect.stringContaining('zero ReplicaLag') });
    const promote = planDatabase(
      input(
        {
          instances: { primary: newReplica, standby: writer },
          endpoint: { target: fenceTarget(2) },
          lagSeconds: 0,
        },
        opts,
      ),
    );
    expect(apis(promote)).toEqual(['rds:PromoteReadReplica']);
  });
});

describe('database planner, Aurora', () => {
  const cluster = serviceWith({
    kind: 'aurora-cluster',
    clusterId: 'c',
    writerInstanceId: 'c1',
    targetReaderInstanceId: 'c2',
  });
  const observedCluster = (writer: string, status = 'available', targetInstanceStatus = 'available') => ({
    kind: 'aurora-cluster' as const,
    homeRegion: 'eu-west-2',
    cluster: {
      status,
      endpoint: 'c.cluster-x.rds.amazonaws.com',
      members: [
        { id: 'c1', writer: writer === 'c1' },
        { id: 'c2', writer: writer === 'c2' },
      ],
    },
    targetInstanceStatus,
    lagSeconds: 0.01,
    endpoint: { target: 'c.cluster-x.rds.amazonaws.com.' },
  });
  const clusterInput = (observed: ReturnType<typeof observedCluster>) => ({
    ...input({ instances: healthy }),
    service: cluster,
    observed,
  });

  it('fails over to the configured reader, then converges once it writes', () => {
    expect(apis(planDatabase(clusterInput(observedCluster('c1'))))).toEqual(['rds:FailoverDBCluster']);
    expect(planDatabase(clusterInput(observedCluster('c2'))).kind).toBe('converged');
  });

  it.each([
    ['failing-over', 'available'],
    ['available', 'rebooting'],
    ['available', 'modifying'],
  ])('waits while the cluster is %s and the reader %s', (status, reader) => {
    expect(planDatabase(clusterInput(observedCluster('c1', status, reader))).kind).toBe('wait');
  });

  const global = serviceWith({
    kind: 'aurora-global',
    globalClusterId: 'g',
    primaryClusterArn: 'arn:aws:rds:eu-west-1:111111111111:cluster:one',
    secondaryClusterArn: 'arn:aws:rds:eu-west-2:111111111111:cluster:two',
  });
  const observedGlobal = (writer: string, lagSeconds: number | undefined) => ({
    kind: 'aurora-global' as const,
    homeRegion: 'eu-west-2',
    global: {
      status: 'available',
      members: [
        { arn: 'arn:aws:rds:eu-west-1:111111111111:cluster:one', writer: writer === 'one' },
        { arn: 'arn:aws:rds:eu-west-2:111111111111:cluster:two', writer: writer === 'two' },
      ],
    },
    clusterEndpoints: {
      'arn:aws:rds:eu-west-1:111111111111:cluster:one': 'one.cluster-x.rds.amazonaws.com',
      'arn:aws:rds:eu-west-2:111111111111:cluster:two': 'two.cluster-x.rds.amazonaws.com',
    },
    lagSeconds,
    endpoint: { target: 'one.cluster-x.rds.amazonaws.com.' },
  });

  it('uses a managed failover (data loss allowed) for the standby and a switchover back', () => {
    const failover = planDatabase({
      ...input({ instances: healthy }),
      service: global,
      observed: observedGlobal('one', 0.5),
    });
    expect(apis(failover)).toEqual(['route53:ChangeResourceRecordSets', 'rds:FailoverGlobalCluster']);
    const back = planDatabase({
      ...input({ instances: healthy }, { target: 'primary', epoch: 2 }),
      service: global,
      observed: observedGlobal('two', undefined),
    });
    expect(apis(back)).toEqual(['route53:ChangeResourceRecordSets', 'rds:SwitchoverGlobalCluster']);
    const lagging = planDatabase({
      ...input({ instances: healthy }),
      service: global,
      observed: observedGlobal('one', 120),
    });
    expect(lagging.kind).toBe('refuse');
  });
});
