import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { RDSClient } from '@aws-sdk/client-rds';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  GetHealthCheckStatusCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { databaseCapability } from '../../functions/capabilities/database/rds';
import { healthReader } from '../../functions/capabilities/dns/health';
import { dnsCapability } from '../../functions/capabilities/dns/route53';
import { parseConfig, type ServiceConfig } from '../../functions/config/schema';
import { RetryableError } from '../../functions/core/errors';
import { silentLog } from '../../functions/core/log';
import { createClientKit } from '../../functions/runtime/client-kit';
import { canonicalName, newRunScope, zoneRecordsReader } from '../../functions/runtime/zone-records';
import { FakeClock, PRIMARY_HC, STANDBY_HC } from './fixtures';

/**
 * A run reads each hosted zone once, every page, for every service and capability in it; health is
 * read in batches. AWS is mocked: these tests count calls and check paging, they prove nothing about
 * AWS's behaviour (test/integration/zone-reads.test.ts runs against the emulator).
 */
const r53 = mockClient(Route53Client);
const cloudwatch = mockClient(CloudWatchClient);
const rds = mockClient(RDSClient);

beforeEach(() => {
  r53.reset();
  cloudwatch.reset();
  rds.reset();
});

const aRecord = (name: string, value = '192.0.2.1'): ResourceRecordSet => ({
  Name: name,
  Type: 'A',
  TTL: 60,
  ResourceRecords: [{ Value: value }],
});

const reader = () => zoneRecordsReader(async () => new Route53Client({ region: 'us-east-1' }));

describe('zone records', () => {
  it('follows every page of a zone, from where the last one ended', async () => {
    // Prepare: three pages, the second cut between two sets of one weighted name
    r53
      .on(ListResourceRecordSetsCommand)
      .resolvesOnce({
        ResourceRecordSets: [aRecord('a.example.com.')],
        IsTruncated: true,
        NextRecordName: 'b.example.com.',
        NextRecordType: 'A',
      })
      .resolvesOnce({
        ResourceRecordSets: [{ ...aRecord('b.example.com.'), SetIdentifier: 'one', Weight: 1 }],
        IsTruncated: true,
        NextRecordName: 'b.example.com.',
        NextRecordType: 'A',
        NextRecordIdentifier: 'two',
      })
      .resolvesOnce({
        ResourceRecordSets: [{ ...aRecord('b.example.com.'), SetIdentifier: 'two', Weight: 0 }],
        IsTruncated: false,
      });

    // Act
    const sets = await reader().recordSets('ZONE1');

    // Assess
    expect(sets.map((s) => `${s.Name} ${s.SetIdentifier ?? ''}`)).toEqual([
      'a.example.com. ',
      'b.example.com. one',
      'b.example.com. two',
    ]);
    expect(r53.commandCalls(ListResourceRecordSetsCommand).map((c) => c.args[0].input)).toEqual([
      { HostedZoneId: 'ZONE1', MaxItems: 300 },
      { HostedZoneId: 'ZONE1', MaxItems: 300, StartRecordName: 'b.example.com.', StartRecordType: 'A' },
      {
        HostedZoneId: 'ZONE1',
        MaxItems: 300,
        StartRecordName: 'b.example.com.',
        StartRecordType: 'A',
        StartRecordIdentifier: 'two',
      },
    ]);
  });

  it('reads a zone once per run, however many callers ask, even at the same time', async () => {
    // Prepare
    r53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [
        aRecord('www.example.com.'),
        aRecord('api.example.com.'),
        aRecord('\\052.example.com.'),
      ],
    });
    const zones = reader();

    // Act
    const [www, api, wildcard, again] = await Promise.all([
      zones.find('ZONE1', 'WWW.example.com', 'A'),
      zones.find('ZONE1', 'api.example.com.', 'A'),
      zones.find('ZONE1', '*.example.com', 'A'),
      zones.recordSets('ZONE1'),
    ]);

    // Assess
    expect([www?.length, api?.length, wildcard?.length, again?.length]).toEqual([1, 1, 1, 3]);
    expect(r53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(1);
  });

  it('reads a zone again after a write to it, and after a failed read', async () => {
    // Prepare
    r53
      .on(ListResourceRecordSetsCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))
      .resolves({ ResourceRecordSets: [aRecord('www.example.com.')] });
    const zones = reader();

    // Act
    await expect(zones.recordSets('ZONE1')).rejects.toThrow('Rate exceeded');
    await zones.recordSets('ZONE1');
    await zones.recordSets('ZONE1');
    zones.forget('ZONE1');
    await zones.recordSets('ZONE1');

    // Assess
    expect(r53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(3);
  });

  it("applies an accepted write to the run's copy of the zone instead of listing the zone again", async () => {
    // Prepare: a weighted pair and another name; the zone is read once
    const weighted = (id: string, weight: number): ResourceRecordSet => ({
      ...aRecord('WWW.example.com'),
      SetIdentifier: id,
      Weight: weight,
    });
    r53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [weighted('primary', 100), weighted('standby', 0), aRecord('old.example.com.')],
    });
    const zones = reader();
    await zones.recordSets('ZONE1');

    // Act: the pair's weights swapped, one name deleted, one created; a zone never read is written
    zones.written('ZONE1', [
      { Action: 'UPSERT', ResourceRecordSet: weighted('primary', 0) },
      { Action: 'UPSERT', ResourceRecordSet: weighted('standby', 100) },
      { Action: 'DELETE', ResourceRecordSet: aRecord('old.example.com') },
      { Action: 'CREATE', ResourceRecordSet: aRecord('new.example.com.') },
    ]);
    zones.written('ZONE2', [{ Action: 'UPSERT', ResourceRecordSet: aRecord('x.example.org.') }]);
    const www = await zones.find('ZONE1', 'www.example.com', 'A');
    const all = await zones.recordSets('ZONE1');

    // Assess
    expect(www.map((set) => [set.SetIdentifier, set.Weight])).toEqual([
      ['primary', 0],
      ['standby', 100],
    ]);
    expect(all.map((set) => set.Name)).not.toContain('old.example.com.');
    expect(all.map((set) => set.Name)).toContain('new.example.com.');
    expect(r53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(1);
    await zones.recordSets('ZONE2');
    expect(r53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(2);
  });

  it('names as Route 53 returns them: lowercase, trailing dot, octal escapes', () => {
    expect(canonicalName('\\052.Example.COM')).toBe('*.example.com.');
    expect(canonicalName('www.example.com.')).toBe('www.example.com.');
  });
});

describe('one run, several services and capabilities in one zone', () => {
  const config = parseConfig({
    controlPlane: { account: '111111111111', region: 'eu-west-2' },
    services: ['a', 'b', 'c'].map((name) => ({
      name,
      dns: {
        hostedZoneId: 'ZSHARED',
        records: [
          {
            name: `www.${name}.example.com`,
            type: 'A',
            routing: 'weighted',
            primary: { values: ['192.0.2.1'], healthCheckId: PRIMARY_HC },
            standby: { values: ['192.0.2.2'], healthCheckId: STANDBY_HC },
          },
          {
            name: `api.${name}.example.com`,
            type: 'A',
            routing: 'weighted',
            primary: { values: ['192.0.2.1'], healthCheckId: PRIMARY_HC },
            standby: { values: ['192.0.2.2'], healthCheckId: STANDBY_HC },
          },
        ],
      },
      database: {
        kind: 'aurora-cluster',
        clusterId: `${name}-cluster`,
        writerInstanceId: `${name}-writer`,
        targetReaderInstanceId: `${name}-reader`,
        endpoint: { hostedZoneId: 'ZSHARED', name: `db.${name}.example.com` },
      },
    })),
  });

  it('costs one zone read for every record and endpoint of every service', async () => {
    // Prepare: a converged zone (weights 1/0 on the primary) and the database endpoints
    const sets = config.services.flatMap((svc: ServiceConfig) => [
      ...(svc.dns?.records ?? []).flatMap((record) => [
        {
          ...aRecord(record.name),
          SetIdentifier: `${svc.name}-primary`,
          Weight: 1,
          HealthCheckId: PRIMARY_HC,
        },
        {
          ...aRecord(record.name, '192.0.2.2'),
          SetIdentifier: `${svc.name}-standby`,
          Weight: 0,
          HealthCheckId: STANDBY_HC,
        },
      ]),
      {
        Name: `db.${svc.name}.example.com.`,
        Type: 'CNAME' as const,
        ResourceRecords: [{ Value: 'x.rds.amazonaws.com' }],
      },
    ]);
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: sets });
    const clients = createClientKit({ region: 'eu-west-2', route53PerSecond: 1000 });
    const run = newRunScope(clients);
    const clock = new FakeClock();
    const dns = dnsCapability(
      new Route53Client({}),
      clock,
      { verifyAttempts: 1, verifyIntervalMs: 1 },
      { run: () => run },
    );
    const database = databaseCapability(
      {
        rds: () => new RDSClient({}),
        cloudwatch: () => new CloudWatchClient({}),
        route53: new Route53Client({}),
        zoneRecords: () => run.zoneRecords,
      },
      clock,
      silentLog,
      { homeRegion: 'eu-west-2', verifyAttempts: 1, verifyIntervalMs: 1 },
    );

    // Act: the DNS observer of every service, and the database's endpoint read (its RDS reads fail here)
    const observed = await Promise.all(config.services.map((svc) => dns.observe(svc, 'primary', undefined)));
    const endpoints = await Promise.allSettled(
      config.services.map((svc) => database.observe(svc, 'primary', undefined)),
    );

    // Assess
    expect(observed.every((o) => Object.values(o.records).every((r) => r.length === 2))).toBe(true);
    expect(endpoints).toHaveLength(3);
    expect(r53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(1);
    expect(r53.commandCalls(GetHealthCheckStatusCommand)).toHaveLength(0);
  });

  it('sees its own write later in the run without reading the zone again', async () => {
    // Prepare
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    r53.on(GetHealthCheckStatusCommand).resolves({
      HealthCheckObservations: [{ StatusReport: { Status: 'Success: HTTP Status Code 200' } }],
    });
    r53
      .on(ChangeResourceRecordSetsCommand)
      .resolves({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } });
    r53
      .on(GetChangeCommand)
      .resolves({ ChangeInfo: { Id: '/change/C1', Status: 'INSYNC', SubmittedAt: new Date() } });
    const run = newRunScope(createClientKit({ region: 'eu-west-2', route53PerSecond: 1000 }));
    const svc = config.services[0] as ServiceConfig;
    const dns = dnsCapability(
      new Route53Client({}),
      new FakeClock(),
      { verifyAttempts: 1, verifyIntervalMs: 1 },
      { run: () => run },
    );

    // Act: observe (nothing there yet), write the records, observe again in the same run
    const first = await dns.observe(svc, 'primary', undefined);
    const plan = dns.plan({
      service: svc,
      target: 'primary',
      epoch: 0,
      observed: first,
      status: undefined,
      now: new Date(),
    });
    if (plan.kind !== 'act') throw new Error(`expected an action, got ${plan.kind}`);
    for (const action of plan.actions) await dns.execute(action, { service: svc, epoch: 0 });
    const second = await dns.observe(svc, 'primary', undefined);
    const after = dns.plan({
      service: svc,
      target: 'primary',
      epoch: 0,
      observed: second,
      status: undefined,
      now: new Date(),
    });

    // Assess: the records written are seen (nothing left to do), from the one read of the zone
    expect(after.kind).toBe('converged');
    expect(r53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(1);
  });
});

describe('health in batches', () => {
  const metric = (values: Record<string, number | undefined>, at: Date) => ({
    MetricDataResults: Object.entries(values).map(([id, value]) => ({
      Id: id,
      Timestamps: value === undefined ? [] : [at],
      Values: value === undefined ? [] : [value],
    })),
  });

  it('asks CloudWatch once for every check of the turn, and Route 53 only for a check without a datapoint', async () => {
    // Prepare
    const clock = new FakeClock('2026-11-22T10:00:00.000Z');
    cloudwatch
      .on(GetMetricDataCommand)
      .resolves(metric({ h0: 1, h1: 0, h2: undefined }, new Date('2026-11-22T09:59:00.000Z')));
    r53.on(GetHealthCheckStatusCommand).resolves({
      HealthCheckObservations: [{ StatusReport: { Status: 'Success: HTTP Status Code 200' } }],
    });
    const health = healthReader(new Route53Client({}), new CloudWatchClient({ region: 'us-east-1' }), clock);

    // Act: two callers in the same turn, one check asked twice
    const [one, two] = await Promise.all([health.read(['hc-a', 'hc-b']), health.read(['hc-c', 'hc-a'])]);
    const later = await health.read(['hc-a']);

    // Assess
    const queries = cloudwatch
      .commandCalls(GetMetricDataCommand)
      .map((c) => c.args[0].input.MetricDataQueries);
    expect(queries).toHaveLength(1);
    expect(queries[0]?.map((q) => q.MetricStat?.Metric?.Dimensions?.[0]?.Value)).toEqual([
      'hc-a',
      'hc-b',
      'hc-c',
    ]);
    expect(queries[0]?.[0]?.MetricStat?.Metric).toMatchObject({
      Namespace: 'AWS/Route53',
      MetricName: 'HealthCheckStatus',
    });
    expect(r53.commandCalls(GetHealthCheckStatusCommand).map((c) => c.args[0].input.HealthCheckId)).toEqual([
      'hc-c',
    ]);
    expect(one['hc-a']?.healthy).toBe(true);
    expect(one['hc-b']?.healthy).toBe(false);
    expect(two['hc-c']).toEqual({
      healthy: true,
      detail: '1/1 checkers report success; e.g. "Success: HTTP Status Code 200"',
    });
    expect(later['hc-a']).toBe(one['hc-a']);
  });

  it('asks Route 53 when the newest datapoint is stale, or CloudWatch fails', async () => {
    // Prepare
    const clock = new FakeClock('2026-11-22T10:00:00.000Z');
    cloudwatch
      .on(GetMetricDataCommand)
      .resolvesOnce(metric({ h0: 1 }, new Date('2026-11-22T09:50:00.000Z')))
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    r53.on(GetHealthCheckStatusCommand).resolves({
      HealthCheckObservations: [{ StatusReport: { Status: 'Failure: Connection timed out' } }],
    });
    const health = healthReader(new Route53Client({}), new CloudWatchClient({ region: 'us-east-1' }), clock);

    // Act
    const stale = await health.read(['hc-a']);
    const denied = await health.read(['hc-b']);

    // Assess
    expect(stale['hc-a']?.healthy).toBe(false);
    expect(denied['hc-b']?.healthy).toBe(false);
    expect(r53.commandCalls(GetHealthCheckStatusCommand)).toHaveLength(2);
  });

  it('splits more than 500 checks into calls of 500', async () => {
    // Prepare
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    r53
      .on(GetHealthCheckStatusCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    const health = healthReader(
      new Route53Client({}),
      new CloudWatchClient({ region: 'us-east-1' }),
      new FakeClock(),
    );
    const ids = Array.from({ length: 1001 }, (_, i) => `hc-${i}`);

    // Act
    const read = health.read(ids);

    // Assess
    await expect(read).rejects.toBeInstanceOf(RetryableError);
    expect(
      cloudwatch.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries?.length),
    ).toEqual([500, 500, 1]);
  });
});
