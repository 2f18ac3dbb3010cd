import { describe, expect, it } from 'vitest';
import { assessCompute, type ComputeReadinessObserved } from '../../functions/capabilities/compute/readiness';
import type { RdsReplicaObserved } from '../../functions/capabilities/database/planner';
import { assessDatabase } from '../../functions/capabilities/database/readiness';
import { assessDns } from '../../functions/capabilities/dns/readiness';
import { assessMail, type MailReadinessObserved } from '../../functions/capabilities/mail/readiness';
import { parseConfig, type ServiceConfig } from '../../functions/config/schema';
import {
  findingLine,
  type ReadinessFinding,
  type ReadinessInput,
  verdictOf,
} from '../../functions/readiness/finding';
import { fullExampleInput } from './fixtures';

const config = parseConfig(fullExampleInput());
const shop = config.services.find((s) => s.name === 'shop') as ServiceConfig;
const shopMail = config.services.find((s) => s.name === 'shop-mail') as ServiceConfig;
const onPrimary: ReadinessInput = { active: 'primary', account: '111111111111', partition: 'aws' };
const onStandby: ReadinessInput = { ...onPrimary, active: 'standby' };

const notReadyChecks = (findings: readonly ReadinessFinding[]) =>
  findings.filter((f) => f.state === 'not-ready').map((f) => `${f.direction} ${f.check}`);

const instance = (id: string, status = 'available', replicaOf?: string) => ({
  id,
  arn: `arn:aws:rds:eu-west-2:111111111111:db:${id}`,
  status,
  replicaOf,
  securityGroupIds: [],
});

const rds = (overrides: Partial<RdsReplicaObserved> = {}): RdsReplicaObserved => ({
  kind: 'rds-replica',
  homeRegion: 'eu-west-2',
  instances: {
    primary: instance('shop-db'),
    standby: instance('shop-db-standby', 'available', 'arn:aws:rds:eu-west-1:111111111111:db:shop-db'),
  },
  lagSeconds: 2,
  endpoint: { target: 'shop-db.example.' },
  ...overrides,
});

describe('database readiness (pure)', () => {
  it('is ready when the replica is available, replicating and within its lag budget', () => {
    const { findings, calls } = assessDatabase(shop, rds(), onPrimary);
    expect(verdictOf(findings)).toBe('ready');
    expect(findings.find((f) => f.check === 'replica-lag')?.reason).toMatch(/2 s, within 30 s/);
    expect(calls).toContainEqual({
      direction: 'failover',
      action: 'rds:PromoteReadReplica',
      resource: 'arn:aws:rds:eu-west-2:111111111111:db:shop-db-standby',
    });
  });

  it.each([
    [
      'the replica is missing',
      rds({ instances: { primary: instance('shop-db'), standby: undefined } }),
      'failover replica',
    ],
    [
      'the replica is stopped',
      rds({
        instances: {
          primary: instance('shop-db'),
          standby: instance('shop-db-standby', 'stopped', 'shop-db'),
        },
      }),
      'failover replica',
    ],
    ['the lag is unknown', rds({ lagSeconds: undefined }), 'failover replica-lag'],
    ['the lag is over budget', rds({ lagSeconds: 45 }), 'failover replica-lag'],
    ['replication stopped', rds({ lagSeconds: -1 }), 'failover replica-lag'],
    [
      'the replica is promoted already',
      rds({ instances: { primary: instance('shop-db'), standby: instance('shop-db-standby') } }),
      'failover replica-replicates',
    ],
    [
      'the primary writer is missing',
      rds({
        instances: { primary: undefined, standby: instance('shop-db-standby', 'available', 'shop-db') },
      }),
      'failback primary-writer',
    ],
  ])('is not ready when %s, and says why in one line', (_why, observed, check) => {
    const { findings } = assessDatabase(shop, observed, onPrimary);
    expect(notReadyChecks(findings)).toEqual([check]);
    for (const finding of findings) expect(findingLine(finding)).not.toContain('\n');
  });

  it('after a failover, judges the failback by the promoted writer', () => {
    const failedOver = rds({
      instances: { primary: instance('shop-db'), standby: instance('shop-db-standby') },
    });
    expect(verdictOf(assessDatabase(shop, failedOver, onStandby).findings)).toBe('ready');
    const gone = rds({ instances: { primary: instance('shop-db'), standby: undefined } });
    expect(notReadyChecks(assessDatabase(shop, gone, onStandby).findings)).toEqual([
      'failback standby-writer',
    ]);
  });
});

const computeObserved = (overrides: Partial<ComputeReadinessObserved> = {}): ComputeReadinessObserved => ({
  primaries: ['i-0000000000000000a'],
  standbys: ['i-0000000000000000b', 'i-0000000000000000c'],
  instances: {
    'i-0000000000000000a': { id: 'i-0000000000000000a', state: 'running', tags: {} },
    'i-0000000000000000b': { id: 'i-0000000000000000b', state: 'stopped', tags: {} },
    'i-0000000000000000c': { id: 'i-0000000000000000c', state: 'running', tags: {} },
  },
  missingGroups: [],
  ...overrides,
});

describe('compute readiness (pure)', () => {
  it('is ready when the target groups exist and every spare can be started', () => {
    const { findings, calls } = assessCompute(shop, computeObserved(), onPrimary);
    expect(verdictOf(findings)).toBe('ready');
    expect(findings.find((f) => f.check === 'spares')?.reason).toBe(
      '2 spare(s) can serve (1 stopped, 1 running)',
    );
    // Spares chosen by tag: StartInstances is simulated with the tag the grant's condition reads.
    expect(calls).toContainEqual({
      direction: 'failover',
      action: 'ec2:StartInstances',
      resource: 'arn:aws:ec2:eu-west-2:111111111111:instance/*',
      context: { 'aws:ResourceTag/understudy:role': 'standby' },
    });
  });

  it('is not ready when a target group is missing, or no spare found by tag can be started', () => {
    const observed = computeObserved({
      instances: {
        'i-0000000000000000a': { id: 'i-0000000000000000a', state: 'running', tags: {} },
        'i-0000000000000000b': { id: 'i-0000000000000000b', state: 'terminated', tags: {} },
      },
      missingGroups: [shop.compute?.targetGroupArns[0] ?? ''],
    });
    const { findings } = assessCompute(shop, observed, onPrimary);
    expect(notReadyChecks(findings)).toEqual(['failover target-groups', 'failover spares']);
    expect(findings.find((f) => f.check === 'spares')?.reason).toBe(
      'no spare that can be started (2 terminated or gone): nothing to put into service',
    );
    expect(findings.find((f) => f.check === 'target-groups')?.reason).toBe(
      'target group shop-web does not exist',
    );
    // By tag, a terminated spare is no longer one of them while another can serve.
    const oneLeft = computeObserved({
      instances: {
        'i-0000000000000000a': { id: 'i-0000000000000000a', state: 'running', tags: {} },
        'i-0000000000000000b': { id: 'i-0000000000000000b', state: 'terminated', tags: {} },
        'i-0000000000000000c': { id: 'i-0000000000000000c', state: 'stopped', tags: {} },
      },
    });
    expect(verdictOf(assessCompute(shop, oneLeft, onPrimary).findings)).toBe('ready');
  });

  it('is not ready when a spare named by id is terminated or gone', () => {
    const byId = {
      ...shop,
      compute: {
        ...(shop.compute as NonNullable<ServiceConfig['compute']>),
        standbys: { instanceIds: ['i-0000000000000000b', 'i-0000000000000000c'] },
      },
    } as ServiceConfig;
    const observed = computeObserved({
      instances: {
        'i-0000000000000000a': { id: 'i-0000000000000000a', state: 'running', tags: {} },
        'i-0000000000000000b': { id: 'i-0000000000000000b', state: 'terminated', tags: {} },
      },
    });
    const { findings } = assessCompute(byId, observed, onPrimary);
    expect(findings.find((f) => f.check === 'spares')?.reason).toBe(
      'spare i-0000000000000000b is terminated; spare i-0000000000000000c does not exist',
    );
  });

  it('is not ready when the standby Auto Scaling group is missing', () => {
    const withGroup = {
      ...shop,
      compute: {
        ...(shop.compute as NonNullable<ServiceConfig['compute']>),
        standbyAutoScalingGroup: { name: 'shop-spares', failoverCapacity: 2, standbyCapacity: 0 },
      },
    } as ServiceConfig;
    const { findings } = assessCompute(
      withGroup,
      computeObserved({ autoScaling: { name: 'shop-spares', exists: false, inService: 0 } }),
      onPrimary,
    );
    expect(notReadyChecks(findings)).toEqual(['failover standby-auto-scaling-group']);
  });
});

describe('DNS readiness (pure)', () => {
  const healthy = { healthy: true, detail: '16/16 checkers report success' };
  const sick = { healthy: false, detail: '0/16 checkers report success' };

  it("needs each record's standby health check to pass for a failover, the primary's for a failback", () => {
    const hc = shop.dns?.records[0]?.standby.healthCheckId ?? '';
    const primary = shop.dns?.records[0]?.primary.healthCheckId ?? '';
    const allGood = assessDns(shop, { [hc]: healthy, [primary]: healthy }, onPrimary);
    expect(verdictOf(allGood.findings)).toBe('ready');
    const standbySick = assessDns(shop, { [hc]: sick, [primary]: healthy }, onPrimary);
    expect(notReadyChecks(standbySick.findings)).toEqual([
      'failover standby-health www.shop.example.com.',
      'failover standby-health api.shop.example.com.',
    ]);
    expect(standbySick.findings.find((f) => f.state === 'not-ready')?.reason).toContain('0/16 checkers');
  });
});

describe('mail readiness (pure)', () => {
  const observed = (overrides: Partial<MailReadinessObserved> = {}): MailReadinessObserved => ({
    domain: 'shop.example.com',
    verification: 'Success',
    ruleSet: 'understudy-held-mail',
    ruleSetExists: true,
    rule: 'understudy-shop-mail',
    ruleExists: true,
    ...overrides,
  });

  it('needs the domain verified and the receipt rule set with the service rule', () => {
    expect(verdictOf(assessMail(shopMail, observed(), onPrimary).findings)).toBe('ready');
    expect(
      notReadyChecks(assessMail(shopMail, observed({ verification: 'Pending' }), onPrimary).findings),
    ).toEqual(['failover domain-verified']);
    expect(
      notReadyChecks(assessMail(shopMail, observed({ ruleSetExists: false }), onPrimary).findings),
    ).toEqual(['failover receipt-rule-set']);
    expect(notReadyChecks(assessMail(shopMail, observed({ ruleExists: false }), onPrimary).findings)).toEqual(
      ['failover receipt-rule-set'],
    );
  });
});
