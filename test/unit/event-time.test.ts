import { describe, expect, it } from 'vitest';
import { classifyInstanceEvent } from '../../functions/capabilities/compute/instance-event';
import { classifyRdsEvent } from '../../functions/capabilities/database/rds-event';
import { type ConfigInput, parseConfig } from '../../functions/config/schema';
import { eventTimeProblem, MAX_CLOCK_SKEW_SECONDS } from '../../functions/core/event-time';
import { classifyAlarmEvent } from '../../functions/trigger/alarm-event';
import { computeConfig, S1 } from '../support/compute-fixtures';
import { alarmEvent, exampleConfigParsed } from './fixtures';

const NOW = new Date('2026-11-22T10:00:00.000Z');
const MAX_AGE = 600; // the configs' default maxEventAgeSeconds
const at = (secondsFromNow: number) => new Date(NOW.getTime() + secondsFromNow * 1000);
const envelopeTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Event times every source must refuse, and ones it must accept, relative to NOW. */
const REFUSED: [string, number, RegExp][] = [
  ['stale by one second', -(MAX_AGE + 1), /stale event/],
  ['a day old (a late EventBridge retry)', -86_400, /stale event/],
  ['just beyond the clock skew bound', MAX_CLOCK_SKEW_SECONDS + 1, /in the future/],
  ['a year ahead', 365 * 86_400, /in the future/],
];
const ACCEPTED: [string, number][] = [
  ['now', 0],
  ['as old as allowed', -MAX_AGE],
  ['as far ahead as clocks may disagree', MAX_CLOCK_SKEW_SECONDS],
];

describe('eventTimeProblem', () => {
  it.each(REFUSED)('refuses an event %s', (_label, offset, reason) => {
    expect(eventTimeProblem(envelopeTime(at(offset)), NOW, MAX_AGE)).toMatch(reason);
  });

  it.each(ACCEPTED)('accepts an event dated %s', (_label, offset) => {
    expect(eventTimeProblem(envelopeTime(at(offset)), NOW, MAX_AGE)).toBeUndefined();
  });

  it('refuses a time it cannot read', () => {
    expect(eventTimeProblem('yesterday', NOW, MAX_AGE)).toMatch(/unreadable/);
  });
});

describe('alarm events: too old or dated in the future are ignored, with a reason', () => {
  it.each(REFUSED)('an alarm event %s', (_label, offset, reason) => {
    const verdicts = classifyAlarmEvent(alarmEvent({ time: at(offset) }), exampleConfigParsed(), NOW);
    expect(verdicts).toEqual([{ kind: 'ignore', reason: expect.stringMatching(reason) }]);
  });

  it.each(ACCEPTED)('an alarm event dated %s is acted on', (_label, offset) => {
    const verdicts = classifyAlarmEvent(alarmEvent({ time: at(offset) }), exampleConfigParsed(), NOW);
    expect(verdicts.map((v) => v.kind)).toEqual(['alarm']);
  });
});

describe('EC2 instance events: too old or dated in the future are ignored, with a reason', () => {
  const config = computeConfig();
  const ec2Event = (time: Date, overrides: Record<string, unknown> = {}) => ({
    version: '0',
    id: 'e1',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: config.controlPlane.account,
    time: envelopeTime(time),
    region: config.controlPlane.region,
    resources: [],
    detail: { 'instance-id': S1, state: 'running' },
    ...overrides,
  });

  it.each(REFUSED)('an instance event %s', (_label, offset, reason) => {
    expect(classifyInstanceEvent(ec2Event(at(offset)), config, NOW)).toEqual({
      kind: 'ignore',
      reason: expect.stringMatching(reason),
    });
  });

  it.each(ACCEPTED)('an instance event dated %s is acted on', (_label, offset) => {
    expect(classifyInstanceEvent(ec2Event(at(offset)), config, NOW).kind).toBe('reconcile');
  });

  it('an instance event from another Region', () => {
    expect(classifyInstanceEvent(ec2Event(NOW, { region: 'us-east-1' }), config, NOW)).toMatchObject({
      kind: 'ignore',
      reason: expect.stringContaining('us-east-1'),
    });
  });
});

describe('RDS events: account, Region and time are checked like every other source', () => {
  const HOME = 'eu-west-2';
  const ACCOUNT = '111111111111';
  const configOf = (database: Record<string, unknown>) =>
    parseConfig({
      controlPlane: { account: ACCOUNT, region: HOME },
      services: [
        {
          name: 'shop',
          database: { endpoint: { hostedZoneId: 'ZDB', name: 'db.shop.internal' }, ...database },
        },
      ],
    } as ConfigInput);
  const rdsEvent = (
    sourceIdentifier: string,
    options: { region?: string; time?: Date; account?: string; detailType?: string } = {},
  ) => ({
    version: '0',
    id: 'e1',
    source: 'aws.rds',
    account: options.account ?? ACCOUNT,
    region: options.region ?? HOME,
    time: envelopeTime(options.time ?? NOW),
    'detail-type': options.detailType ?? 'RDS DB Instance Event',
    resources: [],
    detail: { SourceIdentifier: sourceIdentifier, EventID: 'RDS-EVENT-0045', Message: 'promoted' },
  });

  const local = configOf({ kind: 'rds-replica', primaryInstanceId: 'db1', replicaInstanceId: 'db2' });
  const crossRegion = configOf({
    kind: 'rds-replica',
    primaryInstanceId: 'db1',
    primaryRegion: 'us-east-1',
    replicaInstanceId: 'db2',
  });
  const aurora = configOf({
    kind: 'aurora-cluster',
    clusterId: 'orders',
    region: 'eu-central-1',
    writerInstanceId: 'orders-1',
    targetReaderInstanceId: 'orders-2',
  });
  const global = configOf({
    kind: 'aurora-global',
    globalClusterId: 'ledger',
    primaryClusterArn: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger-use1`,
    secondaryClusterArn: `arn:aws:rds:eu-west-2:${ACCOUNT}:cluster:ledger-euw2`,
  });

  it.each(REFUSED)('an RDS event %s is ignored', (_label, offset, reason) => {
    expect(classifyRdsEvent(rdsEvent('db2', { time: at(offset) }), local, NOW)).toEqual({
      kind: 'ignore',
      reason: expect.stringMatching(reason),
    });
  });

  it.each(ACCEPTED)('an RDS event dated %s is acted on', (_label, offset) => {
    expect(classifyRdsEvent(rdsEvent('db2', { time: at(offset) }), local, NOW).kind).toBe('reconcile');
  });

  it.each([
    ['a local replica, event from another Region', local, rdsEvent('db2', { region: 'us-east-1' })],
    ['a primary configured in us-east-1, event from home', crossRegion, rdsEvent('db1')],
    ['an Aurora cluster in eu-central-1, event from home', aurora, rdsEvent('orders-1')],
    [
      'the global database secondary, event from the primary Region',
      global,
      rdsEvent('ledger-euw2', { region: 'us-east-1', detailType: 'RDS DB Cluster Event' }),
    ],
    [
      'a global database, event from a Region neither cluster is in',
      global,
      rdsEvent('ledger', { region: 'ap-south-1', detailType: 'RDS DB Global Cluster Event' }),
    ],
  ])('ignores %s, naming the Region', (_label, config, raw) => {
    expect(classifyRdsEvent(raw, config, NOW)).toEqual({
      kind: 'ignore',
      reason: expect.stringMatching(/configured in [a-z0-9-]+(, [a-z0-9-]+)* only/),
    });
  });

  it.each([
    ['a replica at home', local, rdsEvent('db2')],
    ['a primary in us-east-1, from us-east-1', crossRegion, rdsEvent('db1', { region: 'us-east-1' })],
    ['an Aurora writer, from its Region', aurora, rdsEvent('orders-1', { region: 'eu-central-1' })],
    [
      'the global primary cluster, from its Region (by ARN)',
      global,
      rdsEvent(`arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger-use1`, {
        region: 'us-east-1',
        detailType: 'RDS DB Cluster Event',
      }),
    ],
    [
      'the global cluster, from the secondary Region',
      global,
      rdsEvent('ledger', { detailType: 'RDS DB Global Cluster Event' }),
    ],
  ])('reconciles for %s', (_label, config, raw) => {
    expect(classifyRdsEvent(raw, config, NOW)).toMatchObject({
      kind: 'reconcile',
      services: [{ name: 'shop' }],
    });
  });

  it.each([
    ['another Region', `arn:aws:rds:us-east-1:${ACCOUNT}:db:db2`],
    ['another account', `arn:aws:rds:${HOME}:999999999999:db:db2`],
  ])('ignores a source ARN in %s than the event says', (_label, arn) => {
    expect(classifyRdsEvent(rdsEvent(arn), local, NOW)).toMatchObject({
      kind: 'ignore',
      reason: expect.stringContaining('elsewhere'),
    });
  });

  it('ignores an RDS event of another account', () => {
    expect(classifyRdsEvent(rdsEvent('db2', { account: '999999999999' }), local, NOW)).toMatchObject({
      kind: 'ignore',
      reason: expect.stringContaining('999999999999'),
    });
  });

  it('bounds a reason that quotes a huge event message', () => {
    const raw = rdsEvent('db2');
    raw.detail.Message = 'm'.repeat(1024 * 1024);
    const verdict = classifyRdsEvent(raw, local, NOW);
    expect(verdict.kind).toBe('reconcile');
    expect(verdict.reason.length).toBeLessThanOrEqual(2_048);
  });
});
