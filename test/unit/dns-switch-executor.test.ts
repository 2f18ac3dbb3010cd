import { CloudWatchClient, DescribeAlarmsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  GetHealthCheckStatusCommand,
  ListHealthChecksCommand,
  ListResourceRecordSetsCommand,
  ListTagsForResourcesCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { PublishSwitchAction } from '../../functions/capabilities/dns/planner';
import { dnsCapability } from '../../functions/capabilities/dns/route53';
import { type Config, parseConfig, type ServiceConfig } from '../../functions/config/schema';
import type { RunScope } from '../../functions/runtime/run-scope';
import { zoneRecordsReader } from '../../functions/runtime/zone-records';
import { FakeClock, minimalInput, PRIMARY_HC, STANDBY_HC } from './fixtures';

/** The executor side of switched records: reading the switch, finding its checks, publishing it. */

const r53 = mockClient(Route53Client);
const cw = mockClient(CloudWatchClient);
const CALCULATED = '99999999-9999-4999-8999-999999999999';
const OTHER_CALCULATED = '12121212-1212-4121-8121-121212121212';

/** Two services, each with one switched record. */
const config = (): Config => {
  const input = minimalInput();
  const [svc] = input.services;
  if (!svc?.dns) throw new Error('fixture lost its dns section');
  svc.dns.records = svc.dns.records.map((r) => ({ ...r, routing: 'switched' as const }));
  input.services.push({
    ...svc,
    name: 'blog',
    dns: {
      ...svc.dns,
      records: svc.dns.records.map((r) => ({ ...r, name: 'blog.example.com' })),
    },
  });
  return parseConfig(input);
};

/** One run's shared reads, as the runtime gives them. */
const runScope = (route53: Route53Client): (() => RunScope) => {
  const values = new Map<string, unknown>();
  const scope: RunScope = {
    zoneRecords: zoneRecordsReader(async () => route53),
    shared<T>(key: string, create: () => T): T {
      if (!values.has(key)) values.set(key, create());
      return values.get(key) as T;
    },
  };
  return () => scope;
};

const capability = (cfg: Config, run = runScope(new Route53Client({}))) =>
  dnsCapability(
    new Route53Client({}),
    new FakeClock(),
    { verifyAttempts: 1, verifyIntervalMs: 1 },
    { run, switches: { config: cfg, cloudwatch: new CloudWatchClient({}) } },
  );

const svc = (cfg: Config, i = 0) => cfg.services[i] as ServiceConfig;

beforeEach(() => {
  r53.reset();
  cw.reset();
  r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [], IsTruncated: false });
});

describe('reading the switch', () => {
  it.each([
    ['OK', 'primary'],
    ['ALARM', 'standby'],
    ['INSUFFICIENT_DATA', 'insufficient-data'],
  ] as const)('takes alarm state %s as %s', async (stateValue, state) => {
    const cfg = config();
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: 'understudy-switch-shop', StateValue: stateValue }],
    });
    r53
      .on(ListHealthChecksCommand)
      .resolves({ HealthChecks: [], IsTruncated: false, Marker: '', MaxItems: 1000 });

    const observed = await capability(cfg).observe(svc(cfg), 'primary', undefined);

    expect(observed.switch).toMatchObject({
      state,
      alarmName: 'understudy-switch-shop',
      namespace: 'Understudy/understudy/Switch',
    });
  });

  it('reads every switch alarm of the config once per run, in one DescribeAlarms', async () => {
    const cfg = config();
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        { AlarmName: 'understudy-switch-shop', StateValue: 'OK' },
        { AlarmName: 'understudy-switch-blog', StateValue: 'ALARM' },
      ],
    });
    r53
      .on(ListHealthChecksCommand)
      .resolves({ HealthChecks: [], IsTruncated: false, Marker: '', MaxItems: 1000 });
    const dns = capability(cfg);

    const shop = await dns.observe(svc(cfg, 0), 'primary', undefined);
    const blog = await dns.observe(svc(cfg, 1), 'primary', undefined);

    expect(shop.switch?.state).toBe('primary');
    expect(blog.switch?.state).toBe('standby');
    const calls = cw.commandCalls(DescribeAlarmsCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.AlarmNames).toEqual(['understudy-switch-shop', 'understudy-switch-blog']);
  });

  it('reports a missing alarm as missing, and a failed read as unreadable (never throws)', async () => {
    const cfg = config();
    r53
      .on(ListHealthChecksCommand)
      .resolves({ HealthChecks: [], IsTruncated: false, Marker: '', MaxItems: 1000 });
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });
    expect((await capability(cfg).observe(svc(cfg), 'primary', undefined)).switch?.state).toBe('missing');

    cw.on(DescribeAlarmsCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    const observed = await capability(cfg).observe(svc(cfg), 'primary', undefined);
    expect(observed.switch?.state).toBe('unreadable');
    expect(observed.switch?.detail).toContain('could not be read');
  });
});

describe('finding the calculated switch checks', () => {
  it('takes the CALCULATED check over the site check that carries the service tag, only when a record must be written', async () => {
    const cfg = config();
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: 'understudy-switch-shop', StateValue: 'OK' }],
    });
    r53.on(ListHealthChecksCommand).resolves({
      HealthChecks: [
        {
          Id: OTHER_CALCULATED,
          CallerReference: 'x',
          HealthCheckVersion: 1,
          HealthCheckConfig: {
            Type: 'CALCULATED',
            ChildHealthChecks: [PRIMARY_HC, STANDBY_HC],
            HealthThreshold: 1,
          },
        },
        {
          Id: CALCULATED,
          CallerReference: 'y',
          HealthCheckVersion: 1,
          HealthCheckConfig: {
            Type: 'CALCULATED',
            ChildHealthChecks: [PRIMARY_HC, 'switch-check'],
            HealthThreshold: 2,
          },
        },
      ],
      IsTruncated: false,
      Marker: '',
      MaxItems: 1000,
    });
    r53.on(ListTagsForResourcesCommand).resolves({
      ResourceTagSets: [
        { ResourceType: 'healthcheck', ResourceId: OTHER_CALCULATED, Tags: [{ Key: 'team', Value: 'web' }] },
        {
          ResourceType: 'healthcheck',
          ResourceId: CALCULATED,
          Tags: [{ Key: 'understudy:switch', Value: 'understudy/shop' }],
        },
      ],
    });

    const observed = await capability(cfg).observe(svc(cfg), 'primary', undefined);

    expect(observed.switch?.checks).toEqual({ [PRIMARY_HC]: CALCULATED });
    expect(r53.commandCalls(ListTagsForResourcesCommand)[0]?.args[0].input.ResourceIds).toEqual([
      OTHER_CALCULATED,
      CALCULATED,
    ]);
  });

  /** The pair as written, the primary behind `check`. */
  const writtenPair = (check: string) => ({
    IsTruncated: false,
    ResourceRecordSets: [
      {
        Name: 'www.shop.example.com.',
        Type: 'A' as const,
        SetIdentifier: 'shop-primary',
        Weight: 1,
        TTL: 60,
        ResourceRecords: [{ Value: '192.0.2.10' }],
        HealthCheckId: check,
      },
      {
        Name: 'www.shop.example.com.',
        Type: 'A' as const,
        SetIdentifier: 'shop-standby',
        Weight: 0,
        TTL: 60,
        ResourceRecords: [{ Value: '198.51.100.10' }],
        HealthCheckId: STANDBY_HC,
      },
    ],
  });
  const tagged = () => {
    r53.on(ListHealthChecksCommand).resolves({
      HealthChecks: [
        {
          Id: CALCULATED,
          CallerReference: 'y',
          HealthCheckVersion: 1,
          HealthCheckConfig: {
            Type: 'CALCULATED',
            ChildHealthChecks: [PRIMARY_HC, 'switch-check'],
            HealthThreshold: 2,
          },
        },
      ],
      IsTruncated: false,
      Marker: '',
      MaxItems: 1000,
    });
    r53.on(ListTagsForResourcesCommand).resolves({
      ResourceTagSets: [
        {
          ResourceType: 'healthcheck',
          ResourceId: CALCULATED,
          Tags: [{ Key: 'understudy:switch', Value: 'understudy/shop' }],
        },
      ],
    });
  };

  it('with the records in place, looks the checks up once an hour, not every run', async () => {
    const cfg = config();
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: 'understudy-switch-shop', StateValue: 'OK' }],
    });
    r53.on(ListResourceRecordSetsCommand).resolves(writtenPair(CALCULATED));
    tagged();
    const clock = new FakeClock();
    const dns = dnsCapability(
      new Route53Client({}),
      clock,
      { verifyAttempts: 1, verifyIntervalMs: 1 },
      {
        // A new run scope per observe, as every scheduled run has.
        run: () => runScope(new Route53Client({}))(),
        switches: { config: cfg, cloudwatch: new CloudWatchClient({}) },
      },
    );
    const planOf = async () => {
      const observed = await dns.observe(svc(cfg), 'primary', undefined);
      return dns.plan({
        service: svc(cfg),
        target: 'primary',
        epoch: 0,
        observed,
        status: undefined,
        now: clock.now(),
      });
    };

    expect((await planOf()).kind).toBe('converged');
    clock.advance(30 * 60_000);
    expect((await planOf()).kind).toBe('converged');
    expect(r53.commandCalls(ListHealthChecksCommand)).toHaveLength(1);
    clock.advance(31 * 60_000);
    expect((await planOf()).kind).toBe('converged');
    expect(r53.commandCalls(ListHealthChecksCommand)).toHaveLength(2);
  });

  it('rewrites a record left pointing at a check the stack replaced; adopts it when the lookup fails', async () => {
    const cfg = config();
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: 'understudy-switch-shop', StateValue: 'OK' }],
    });
    r53.on(ListResourceRecordSetsCommand).resolves(writtenPair(OTHER_CALCULATED));
    r53.on(GetHealthCheckStatusCommand).resolves({
      HealthCheckObservations: [{ StatusReport: { Status: 'Success: HTTP Status Code 200' } }],
    });
    tagged();
    const dns = capability(cfg);
    const observed = await dns.observe(svc(cfg), 'primary', undefined);
    const plan = dns.plan({
      service: svc(cfg),
      target: 'primary',
      epoch: 0,
      observed,
      status: undefined,
      now: new Date(),
    });
    expect(plan.kind === 'act' && plan.actions.map((a) => a.api)).toEqual([
      'route53:ChangeResourceRecordSets',
    ]);

    r53
      .on(ListHealthChecksCommand)
      .rejects(Object.assign(new Error('Service unavailable'), { name: 'ServiceUnavailable' }));
    const fresh = capability(cfg);
    const blind = await fresh.observe(svc(cfg), 'primary', undefined);
    expect(blind.switch?.checksError).toContain('Service unavailable');
    expect(
      fresh.plan({
        service: svc(cfg),
        target: 'primary',
        epoch: 0,
        observed: blind,
        status: undefined,
        now: new Date(),
      }).kind,
    ).toBe('converged');
  });
});

describe('publishing the switch', () => {
  it('sends one PutMetricData without a timestamp and reports it unverified, with what it published', async () => {
    const cfg = config();
    cw.on(PutMetricDataCommand).resolves({});
    const action: PublishSwitchAction = {
      capability: 'dns',
      api: 'cloudwatch:PutMetricData',
      reason: 'test',
      params: {
        Namespace: 'Understudy/understudy/Switch',
        MetricData: [
          {
            MetricName: 'PrimaryServes',
            Dimensions: [{ Name: 'Service', Value: 'shop' }],
            Value: 6,
            Unit: 'None',
            StorageResolution: 60,
          },
        ],
      },
      switch: { alarmName: 'understudy-switch-shop', site: 'standby' },
    };

    const result = await capability(cfg).execute(action, { service: svc(cfg), epoch: 3 });

    const [call] = cw.commandCalls(PutMetricDataCommand);
    expect(call?.args[0].input).toEqual({
      Namespace: 'Understudy/understudy/Switch',
      MetricData: [
        {
          MetricName: 'PrimaryServes',
          Dimensions: [{ Name: 'Service', Value: 'shop' }],
          Value: 6,
          Unit: 'None',
          StorageResolution: 60,
        },
      ],
    });
    expect(result.verified).toBe(false);
    expect(result.pending).toMatchObject({ switchPublished: 'standby' });
    expect(result.detail).toContain('understudy-switch-shop');
  });
});
