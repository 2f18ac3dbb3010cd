import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  PromoteReadReplicaCommand,
  RDSClient,
  SwitchoverGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { type DatabaseAction, fenceTarget } from '../../functions/capabilities/database/planner';
import { databaseCapability } from '../../functions/capabilities/database/rds';
import { parseConfig, type ServiceConfig } from '../../functions/config/schema';
import { SupersededError, TerminalError } from '../../functions/core/errors';
import { silentLog } from '../../functions/core/log';
import { reconcileCapability } from '../../functions/engine/engine';
import { FakeClock, testControlPlane } from './fixtures';

const ONE = 'arn:aws:rds:eu-west-1:111111111111:cluster:one';
const TWO = 'arn:aws:rds:eu-west-2:111111111111:cluster:two';
const service = parseConfig({
  controlPlane: { account: '111111111111', region: 'eu-west-2' },
  services: [
    {
      name: 'shop',
      database: {
        kind: 'aurora-global',
        globalClusterId: 'g',
        primaryClusterArn: ONE,
        secondaryClusterArn: TWO,
        endpoint: { hostedZoneId: 'ZDB', name: 'db.shop.internal' },
      },
    },
  ],
}).services[0] as ServiceConfig;

const rds = mockClient(RDSClient);
const cloudwatch = mockClient(CloudWatchClient);
const route53 = mockClient(Route53Client);
const capability = () =>
  databaseCapability(
    {
      rds: () => new RDSClient({}),
      cloudwatch: () => new CloudWatchClient({}),
      route53: new Route53Client({}),
    },
    new FakeClock(),
    silentLog,
    { homeRegion: 'eu-west-2', verifyAttempts: 3, verifyIntervalMs: 1000 },
  );

beforeEach(() => {
  rds.reset();
  cloudwatch.reset();
  route53.reset();
});

describe('database executor (aurora-global: FailoverGlobalCluster and SwitchoverGlobalCluster, which moto lacks)', () => {
  it('observes the global cluster, its writer endpoints and the RPO lag in seconds', async () => {
    // Prepare
    route53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [
        {
          Name: 'db.shop.internal.',
          Type: 'CNAME',
          ResourceRecords: [{ Value: 'one.cluster-x.rds.amazonaws.com' }],
        },
      ],
    });
    rds.on(DescribeGlobalClustersCommand).resolves({
      GlobalClusters: [
        {
          GlobalClusterIdentifier: 'g',
          Status: 'available',
          GlobalClusterMembers: [
            { DBClusterArn: ONE, IsWriter: true },
            { DBClusterArn: TWO, IsWriter: false },
          ],
        },
      ],
    });
    rds
      .on(DescribeDBClustersCommand, { DBClusterIdentifier: ONE })
      .resolves({ DBClusters: [{ Endpoint: 'one.cluster-x.rds.amazonaws.com' }] });
    rds
      .on(DescribeDBClustersCommand, { DBClusterIdentifier: TWO })
      .resolves({ DBClusters: [{ Endpoint: 'two.cluster-x.rds.amazonaws.com' }] });
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [{ Id: 'lag', Timestamps: [new Date(1000), new Date(2000)], Values: [9000, 1500] }],
    });

    // Act
    const observed = await capability().observe(service, 'standby', undefined);

    // Assess
    expect(observed).toMatchObject({
      kind: 'aurora-global',
      lagSeconds: 1.5,
      endpoint: { target: 'one.cluster-x.rds.amazonaws.com.' },
    });
    const query =
      cloudwatch.commandCalls(GetMetricDataCommand)[0]?.args[0].input.MetricDataQueries?.[0]?.MetricStat
        ?.Metric;
    expect(query).toEqual({
      Namespace: 'AWS/RDS',
      MetricName: 'AuroraGlobalDBRPOLag',
      Dimensions: [{ Name: 'DBClusterIdentifier', Value: 'two' }],
    });
    // And the plan from it: fence, then a managed failover that allows the (gated) data loss.
    const plan = capability().plan({
      service,
      target: 'standby',
      epoch: 1,
      observed,
      status: undefined,
      now: new Date(),
    });
    expect(plan.kind === 'act' && plan.actions.map((a) => a.api)).toEqual([
      'route53:ChangeResourceRecordSets',
      'rds:FailoverGlobalCluster',
    ]);
  });

  it('issues FailoverGlobalCluster with AllowDataLoss and records it once for the epoch', async () => {
    rds.on(FailoverGlobalClusterCommand).resolves({});
    const action: DatabaseAction = {
      capability: 'database',
      api: 'rds:FailoverGlobalCluster',
      epoch: 4,
      region: 'eu-west-2',
      reason: 'test',
      params: { GlobalClusterIdentifier: 'g', TargetDbClusterIdentifier: TWO, AllowDataLoss: true },
    };

    const result = await capability().execute(action, { service, epoch: 4 });

    expect(rds.commandCalls(FailoverGlobalClusterCommand)[0]?.args[0].input).toEqual({
      GlobalClusterIdentifier: 'g',
      TargetDbClusterIdentifier: TWO,
      AllowDataLoss: true,
    });
    expect(result).toMatchObject({ verified: false, pending: { failoverEpoch: '4' } });
  });

  it('issues SwitchoverGlobalCluster for a planned move back', async () => {
    rds.on(SwitchoverGlobalClusterCommand).resolves({});
    const result = await capability().execute(
      {
        capability: 'database',
        api: 'rds:SwitchoverGlobalCluster',
        epoch: 5,
        region: 'eu-west-1',
        reason: 'test',
        params: { GlobalClusterIdentifier: 'g', TargetDbClusterIdentifier: ONE },
      },
      { service, epoch: 5 },
    );
    expect(rds.commandCalls(SwitchoverGlobalClusterCommand)).toHaveLength(1);
    expect(result.pending).toEqual({ failoverEpoch: '5' });
  });

  it('refuses to run a step of another epoch, without calling AWS', async () => {
    const promote: DatabaseAction = {
      capability: 'database',
      api: 'rds:PromoteReadReplica',
      epoch: 1,
      reason: 'test',
      params: { DBInstanceIdentifier: 'db2' },
    };
    await expect(capability().execute(promote, { service, epoch: 2 })).rejects.toBeInstanceOf(
      SupersededError,
    );
    expect(rds.commandCalls(PromoteReadReplicaCommand)).toHaveLength(0);
  });

  it('classifies an RDS refusal as terminal (needs a person), not retried', async () => {
    rds
      .on(PromoteReadReplicaCommand)
      .rejects(Object.assign(new Error('not a replica'), { name: 'InvalidDBInstanceStateFault' }));
    const promote: DatabaseAction = {
      capability: 'database',
      api: 'rds:PromoteReadReplica',
      epoch: 1,
      reason: 't',
      params: { DBInstanceIdentifier: 'db2' },
    };
    await expect(capability().execute(promote, { service, epoch: 1 })).rejects.toBeInstanceOf(TerminalError);
  });

  it('verifies a repoint until INSYNC within the run, and leaves a slower one to the next run', async () => {
    route53
      .on(ChangeResourceRecordSetsCommand)
      .resolves({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } });
    route53
      .on(GetChangeCommand)
      .resolves({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } });
    const repoint: DatabaseAction = {
      capability: 'database',
      api: 'route53:ChangeResourceRecordSets',
      step: 'repoint',
      epoch: 1,
      reason: 't',
      params: {
        HostedZoneId: 'ZDB',
        Name: 'db.shop.internal.',
        Type: 'CNAME',
        TTL: 30,
        Value: 'two.',
        Comment: 'c',
      },
    };

    const result = await capability().execute(repoint, { service, epoch: 1 });

    expect(route53.commandCalls(GetChangeCommand)).toHaveLength(3);
    expect(result).toMatchObject({ verified: false, pending: { changeId: '/change/C1' } });
    expect(
      route53.commandCalls(ChangeResourceRecordSetsCommand)[0]?.args[0].input.ChangeBatch?.Changes,
    ).toEqual([
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: 'db.shop.internal.',
          Type: 'CNAME',
          TTL: 30,
          ResourceRecords: [{ Value: 'two.' }],
        },
      },
    ]);
  });
});

/** One service with an RDS read replica: primary db1, replica db2. */
const replicaConfig = parseConfig({
  controlPlane: { account: '111111111111', region: 'eu-west-2' },
  services: [
    {
      name: 'shop',
      database: {
        kind: 'rds-replica',
        primaryInstanceId: 'db1',
        replicaInstanceId: 'db2',
        endpoint: { hostedZoneId: 'ZDB', name: 'db.shop.internal' },
      },
    },
  ],
});

describe('database capability under the engine (rds-replica)', () => {
  const config = replicaConfig;
  const shop = config.services[0] as ServiceConfig;
  const dbInstance = (id: string, replicaOf?: string) => ({
    DBInstanceIdentifier: id,
    DBInstanceArn: `arn:aws:rds:eu-west-2:111111111111:db:${id}`,
    DBInstanceStatus: 'available',
    Endpoint: { Address: `${id}.x.eu-west-2.rds.amazonaws.com` },
    ReadReplicaSourceDBInstanceIdentifier: replicaOf,
  });

  it('does not promote again on a read from just after the promotion when the run stalls before it plans', async () => {
    // Prepare: epoch 1 moved the database to the standby; PromoteReadReplica for db2 returned at
    // 10:00:00 (recorded as intended). A run reads RDS 6 s later, while RDS does not show the
    // promotion yet (eventual consistency: still an available replica), then stalls 5 minutes in its
    // lag read (a slow call, SDK backoffs, a paused CLI) before it plans.
    const clock = new FakeClock('2026-11-22T10:00:06.000Z');
    const base = testControlPlane({ config, clock });
    const db = databaseCapability(
      {
        rds: () => new RDSClient({}),
        cloudwatch: () => new CloudWatchClient({}),
        route53: new Route53Client({}),
      },
      clock,
      silentLog,
      { homeRegion: 'eu-west-2', verifyAttempts: 1, verifyIntervalMs: 0 },
    );
    const cp = { ...base, capability: async (name: string) => (name === 'database' ? db : undefined) };
    const store = base.fakeStore;
    store.desired.set('shop', {
      service: 'shop',
      epoch: 1,
      capabilities: { database: { active: 'standby', epoch: 1, changedAt: '2026-11-22T09:59:50.000Z' } },
      requestedBy: 'alarm:shop-primary-unhealthy',
      requestedAt: '2026-11-22T09:59:50.000Z',
      reason: 'alarm',
    });
    store.statuses.set('shop', {
      database: {
        capability: 'database',
        epoch: 1,
        active: 'standby',
        phase: 'waiting',
        detail: 'promotion of db2 issued; waiting until it is writable',
        pending: { promotedEpoch: '1', promotedEpochAt: '2026-11-22T10:00:00.000Z', fencedEpoch: '1' },
        updatedAt: '2026-11-22T10:00:00.000Z',
      },
    });
    route53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [
        { Name: 'db.shop.internal.', Type: 'CNAME', ResourceRecords: [{ Value: fenceTarget(1) }] },
      ],
    });
    rds
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'db1' })
      .resolves({ DBInstances: [dbInstance('db1')] });
    rds
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'db2' })
      .resolves({ DBInstances: [dbInstance('db2', 'db1')] });
    rds.on(PromoteReadReplicaCommand).resolves({});
    cloudwatch.on(GetMetricDataCommand).callsFake(() => {
      clock.advance(5 * 60_000);
      return { MetricDataResults: [{ Id: 'lag', Timestamps: [clock.now()], Values: [1] }] };
    });
    const grant = await store.acquireLease('shop', 'test', clock.now(), 90_000);
    const record = await store.readService('shop');

    // Act
    const report = await reconcileCapability(cp, shop, record, 'database', { lease: grant?.lease });

    // Assess: the read was made 6 s after the call, so it proves nothing: wait, no second call.
    expect(rds.commandCalls(PromoteReadReplicaCommand)).toHaveLength(0);
    expect(report).toMatchObject({ phase: 'waiting', detail: expect.stringMatching(/promotion of db2/) });
    expect(store.statuses.get('shop')?.database?.pending).toMatchObject({
      promotedEpoch: '1',
      promotedEpochAt: '2026-11-22T10:00:00.000Z',
    });
  });
});

describe('database observer (rds-replica): one round trip while a move is in question', () => {
  const replicaService = replicaConfig.services[0] as ServiceConfig;
  const converged = {
    capability: 'database' as const,
    epoch: 0,
    active: 'primary' as const,
    phase: 'converged' as const,
    detail: 'the primary writes',
    updatedAt: '2026-11-22T09:00:00.000Z',
  };
  const replica = { DBInstanceIdentifier: 'db2', DBInstanceStatus: 'available' };

  it('asks for the lag beside the instances and the name when the last status is not this target converged', async () => {
    // Prepare: the instance reads answer only once the lag has been asked for
    let lagAsked!: () => void;
    const asked = new Promise<void>((resolve) => {
      lagAsked = resolve;
    });
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    rds.on(DescribeDBInstancesCommand).callsFake(async (input: { DBInstanceIdentifier?: string }) => {
      await asked;
      return {
        DBInstances: [
          input.DBInstanceIdentifier === 'db2'
            ? { ...replica, ReadReplicaSourceDBInstanceIdentifier: 'db1' }
            : { DBInstanceIdentifier: 'db1', DBInstanceStatus: 'available' },
        ],
      };
    });
    cloudwatch.on(GetMetricDataCommand).callsFake(async () => {
      lagAsked();
      return { MetricDataResults: [{ Id: 'lag', Timestamps: [new FakeClock().now()], Values: [4] }] };
    });

    // Act: the alarm path's observation, the status still on the primary
    const observed = await capability().observe(replicaService, 'standby', converged);

    // Assess
    expect(observed).toMatchObject({ kind: 'rds-replica', lagSeconds: 4 });
  });

  it('leaves a failed early lag read out when the target is no replica any more', async () => {
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica] });
    cloudwatch
      .on(GetMetricDataCommand)
      .rejects(
        Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }),
      );

    const observed = await capability().observe(replicaService, 'standby', converged);

    expect(observed).toMatchObject({ kind: 'rds-replica', lagSeconds: undefined });
  });

  it('reads no lag in an idle run (the target converged), where the target is no replica', async () => {
    route53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica] });

    await capability().observe(replicaService, 'standby', { ...converged, active: 'standby' });

    expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(0);
  });
});
