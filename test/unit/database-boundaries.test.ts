import { describe, expect, it } from 'vitest';
import { classifyRdsEvent } from '../../functions/capabilities/database/rds-event';
import { parseCommand } from '../../functions/cli/args';
import { ConfigError, type ConfigInput, parseConfig } from '../../functions/config/schema';

const input = (database: Record<string, unknown>, extra: Record<string, unknown> = {}): ConfigInput =>
  ({
    controlPlane: { account: '111111111111', region: 'eu-west-2' },
    services: [
      {
        name: 'shop',
        ...extra,
        database: { endpoint: { hostedZoneId: 'ZDB', name: 'db.shop.internal' }, ...database },
      },
    ],
  }) as ConfigInput;
const replica = { kind: 'rds-replica', primaryInstanceId: 'db1', replicaInstanceId: 'db2' };
const issuesOf = (config: ConfigInput): readonly string[] => {
  try {
    parseConfig(config);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
};

describe('database config section', () => {
  it('applies the defaults', () => {
    const db = parseConfig(input(replica)).services[0]?.database;
    expect(db).toMatchObject({
      maxReplicaLagSeconds: 30,
      delayedReplica: false,
      fenceOldPrimary: 'none',
      endpoint: { name: 'db.shop.internal.', type: 'CNAME', ttl: 30 },
    });
  });

  it.each([
    [
      { ...replica, fenceOldPrimary: 'quarantine-security-group' },
      'services[shop].database.quarantineSecurityGroupId',
    ],
    [{ ...replica, replicaInstanceId: 'db1' }, 'services[shop].database.replicaInstanceId'],
    [{ ...replica, primaryInstanceId: '1bad' }, 'services[shop].database.primaryInstanceId'],
    [{ ...replica, maxReplicaLagSeconds: -1 }, 'services[shop].database.maxReplicaLagSeconds'],
    [
      { kind: 'aurora-cluster', clusterId: 'c', writerInstanceId: 'c1', targetReaderInstanceId: 'c1' },
      'services[shop].database.targetReaderInstanceId',
    ],
    [
      { kind: 'aurora-global', globalClusterId: 'g', primaryClusterArn: 'nope', secondaryClusterArn: 'nope' },
      'services[shop].database.primaryClusterArn',
    ],
    [{ kind: 'multi-az' }, 'services[shop].database.kind'],
  ])('names the field of a bad database section (%#)', (database, field) => {
    expect(issuesOf(input(database)).some((i) => i.startsWith(`${field}:`))).toBe(true);
  });

  it('refuses an endpoint name the dns section already manages: one name, one owner', () => {
    const issues = issuesOf(
      input(replica, {
        dns: {
          hostedZoneId: 'ZDB',
          records: [
            {
              name: 'db.shop.internal',
              type: 'CNAME',
              routing: 'swap',
              primary: { values: ['a'] },
              standby: { values: ['b'] },
            },
          ],
        },
      }),
    );
    expect(issues.some((i) => i.startsWith('services[shop].database.endpoint.name:'))).toBe(true);
  });
});

describe('operator overrides on the command line', () => {
  it('records --accept-data-loss and --allow-delayed-replica as intent params', () => {
    const parsed = parseCommand(['failover', 'shop', '--accept-data-loss', '--allow-delayed-replica']);
    expect(parsed).toMatchObject({
      kind: 'run',
      command: { params: { acceptDataLoss: true, allowDelayedReplica: true } },
    });
    const plain = parseCommand(['failover', 'shop']);
    expect(plain.kind === 'run' && 'params' in plain.command).toBe(false);
  });
});

describe('RDS events', () => {
  const config = parseConfig(input(replica));
  const now = new Date('2026-01-01T00:00:05Z');
  const event = (detail: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    version: '0',
    id: 'e1',
    source: 'aws.rds',
    account: '111111111111',
    region: 'eu-west-2',
    time: '2026-01-01T00:00:00Z',
    'detail-type': 'RDS DB Instance Event',
    resources: ['arn:aws:rds:eu-west-2:111111111111:db:db2'],
    detail,
    ...extra,
  });

  it('reconciles the service whose database the event is about', () => {
    const verdict = classifyRdsEvent(
      event({ SourceIdentifier: 'db2', EventID: 'RDS-EVENT-0045', Message: 'promoted' }),
      config,
      now,
    );
    expect(verdict).toMatchObject({ kind: 'reconcile', services: [{ name: 'shop' }] });
  });

  it.each([
    ['another resource', event({ SourceIdentifier: 'other-db' }), /protects no configured service/],
    [
      'another account',
      event({ SourceIdentifier: 'db2' }, { account: '999999999999' }),
      /account 999999999999/,
    ],
    ['a malformed event', { source: 'aws.rds', detail: {} }, /not an RDS event/],
    ['an EC2 event', event({ SourceIdentifier: 'db2' }, { source: 'aws.ec2' }), /not an RDS event/],
  ])('ignores %s, with a reason', (_name, raw, reason) => {
    expect(classifyRdsEvent(raw, config, now)).toMatchObject({
      kind: 'ignore',
      reason: expect.stringMatching(reason),
    });
  });
});
