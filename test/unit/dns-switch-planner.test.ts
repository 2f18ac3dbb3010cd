import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DnsAction,
  type DnsObserved,
  desiredRecordSets,
  type HealthCheckVerdict,
  planDns,
  type RecordSet,
  SWITCH_PUBLISHED,
  type SwitchObserved,
} from '../../functions/capabilities/dns/planner';
import { switchedRecordsOf } from '../../functions/capabilities/dns/switch';
import { parseConfig, type ServiceConfig } from '../../functions/config/schema';
import type { CapabilityStatus, Site } from '../../functions/core/types';
import type { CapabilityPlan } from '../../functions/engine/capability';
import { minimalInput, onlyService, PRIMARY_HC, STANDBY_HC } from './fixtures';

/**
 * The planner of `routing: 'switched'` records: records written once and never edited to fail over,
 * a switch (a CloudWatch metric, its alarm, a Route 53 health check on the alarm) flipped instead.
 */

const NOW = new Date('2026-11-22T10:00:00.000Z');
const WWW = 'www.shop.example.com.';
const KEY = `${WWW} A`;
const CALCULATED = '99999999-9999-4999-8999-999999999999';
const NAMES = { namespace: 'Understudy/understudy/Switch', alarmName: 'understudy-switch-shop' };

const service = (): ServiceConfig => {
  const input = minimalInput();
  const svc = input.services[0];
  if (!svc?.dns) throw new Error('fixture lost its dns section');
  svc.dns.records = svc.dns.records.map((r) => ({ ...r, routing: 'switched' as const }));
  return onlyService(parseConfig(input));
};

const healthy: HealthCheckVerdict = { healthy: true, detail: 'ok' };
const unhealthy: HealthCheckVerdict = { healthy: false, detail: '0/16 checkers report success' };

/** The pair as the reconciler writes it once: primary at 1 behind the switch check, standby at 0. */
const written = (overrides: { primary?: Partial<RecordSet>; standby?: Partial<RecordSet> } = {}) => ({
  [KEY]: [
    {
      name: WWW,
      type: 'A',
      setIdentifier: 'shop-primary',
      weight: 1,
      ttl: 60,
      values: ['192.0.2.10'],
      healthCheckId: CALCULATED,
      ...overrides.primary,
    },
    {
      name: WWW,
      type: 'A',
      setIdentifier: 'shop-standby',
      weight: 0,
      ttl: 60,
      values: ['198.51.100.10'],
      healthCheckId: STANDBY_HC,
      ...overrides.standby,
    },
  ] as RecordSet[],
});

const switchAt = (state: SwitchObserved['state'], extra: Partial<SwitchObserved> = {}): SwitchObserved => ({
  ...NAMES,
  state,
  detail: `switch ${state}`,
  ...extra,
});

const plan = (
  target: Site,
  observed: Partial<DnsObserved>,
  status?: CapabilityStatus,
  now = NOW,
): CapabilityPlan<DnsAction> =>
  planDns({
    service: service(),
    target,
    epoch: 3,
    observed: { records: written(), health: {}, switch: switchAt('primary'), ...observed },
    status,
    now,
  });

const apis = (p: CapabilityPlan<DnsAction>) => (p.kind === 'act' ? p.actions.map((a) => a.api) : []);
/** The positions published (1: primary, 0: standby): the parity of `2 x epoch + position`. */
const published = (p: CapabilityPlan<DnsAction>) =>
  p.kind === 'act'
    ? p.actions.flatMap((a) =>
        a.api === 'cloudwatch:PutMetricData' ? [(a.params.MetricData[0]?.Value ?? Number.NaN) % 2] : [],
      )
    : [];

describe('planDns, switched records: the switch moves traffic, records stay as written', () => {
  it('is converged, with no action, when the switch already says the target serves', () => {
    expect(plan('primary', {}).kind).toBe('converged');
    expect(plan('standby', { switch: switchAt('standby') }).kind).toBe('converged');
  });

  it('fails over with one PutMetricData (0) in the namespace of the switch, and no record write', () => {
    const p = plan('standby', { health: { [STANDBY_HC]: healthy } });

    expect(apis(p)).toEqual(['cloudwatch:PutMetricData']);
    expect(published(p)).toEqual([0]);
    expect(p.kind === 'act' && p.actions[0]?.params).toMatchObject({
      Namespace: NAMES.namespace,
      // 2 x epoch 3 + 0: the newest epoch wins the minute's Maximum, its parity is the position.
      MetricData: [
        { MetricName: 'PrimaryServes', Dimensions: [{ Name: 'Service', Value: 'shop' }], Value: 6 },
      ],
    });
  });

  it('fails back with PutMetricData (1) once the operator asks, and only if the primary is healthy', () => {
    const back = plan('primary', { switch: switchAt('standby'), health: { [PRIMARY_HC]: healthy } });
    expect(published(back)).toEqual([1]);
    expect(apis(back)).toEqual(['cloudwatch:PutMetricData']);

    const sick = plan('primary', { switch: switchAt('standby'), health: { [PRIMARY_HC]: unhealthy } });
    expect(sick).toMatchObject({ kind: 'refuse' });
    expect(sick.detail).toContain(`health check ${PRIMARY_HC} is unhealthy`);
  });

  it('readiness gate: never turns the primary off while the standby is unhealthy or unknown', () => {
    for (const health of [{ [STANDBY_HC]: unhealthy }, {}] as Record<string, HealthCheckVerdict>[]) {
      const p = plan('standby', { health });
      expect(p.kind).toBe('refuse');
      expect(apis(p)).toEqual([]);
      expect(p.detail).toContain(STANDBY_HC);
    }
  });

  it('held failback: with the desired state still on the standby, a healthy primary changes nothing', () => {
    const p = plan('standby', { switch: switchAt('standby'), health: { [PRIMARY_HC]: healthy } });
    expect(p.kind).toBe('converged');
  });

  it('switch unreadable or without data: publishes the desired position, still behind the readiness gate', () => {
    for (const state of ['unreadable', 'insufficient-data'] as const) {
      const ok = plan('standby', { switch: switchAt(state), health: { [STANDBY_HC]: healthy } });
      expect(published(ok)).toEqual([0]);
      expect(ok.kind === 'act' && ok.actions[0]?.reason).toContain('not known');

      const gated = plan('standby', { switch: switchAt(state), health: {} });
      expect(gated.kind).toBe('refuse');
    }
  });

  it('switch missing (the stack is not deployed): refuses, naming the alarm, and flips nothing', () => {
    const p = plan('standby', {
      switch: switchAt('missing', { detail: 'the switch alarm understudy-switch-shop does not exist' }),
      health: { [STANDBY_HC]: healthy },
    });
    expect(p).toMatchObject({ kind: 'refuse', code: 'switch-missing' });
    expect(p.detail).toContain('understudy-switch-shop');
  });

  it('waits for the alarm after publishing, and publishes again only after five minutes', () => {
    const status: CapabilityStatus = {
      capability: 'dns',
      epoch: 3,
      active: 'standby',
      phase: 'waiting',
      detail: 'published',
      updatedAt: NOW.toISOString(),
      pending: { [SWITCH_PUBLISHED]: 'standby', [`${SWITCH_PUBLISHED}At`]: NOW.toISOString() },
    };
    const observed = { health: { [STANDBY_HC]: healthy } };

    expect(plan('standby', observed, status, new Date(NOW.getTime() + 60_000))).toMatchObject({
      kind: 'wait',
      code: 'switch-evaluating',
    });
    expect(published(plan('standby', observed, status, new Date(NOW.getTime() + 6 * 60_000)))).toEqual([0]);
    // A publish of the other position does not count: the failback is published at once.
    expect(
      published(plan('primary', { switch: switchAt('standby'), health: { [PRIMARY_HC]: healthy } }, status)),
    ).toEqual([1]);
  });

  it('creates missing records once, primary behind the calculated switch check, with no health gate', () => {
    const p = plan('primary', {
      records: {},
      switch: switchAt('insufficient-data', { checks: { [PRIMARY_HC]: CALCULATED } }),
    });

    expect(apis(p)).toEqual(['cloudwatch:PutMetricData', 'route53:ChangeResourceRecordSets']);
    const change = p.kind === 'act' ? p.actions[1] : undefined;
    const sets = change?.api === 'route53:ChangeResourceRecordSets' ? change.params.ChangeBatch.Changes : [];
    expect(
      sets.map((c) => [
        c.ResourceRecordSet.SetIdentifier,
        c.ResourceRecordSet.Weight,
        c.ResourceRecordSet.HealthCheckId,
      ]),
    ).toEqual([
      ['shop-primary', 1, CALCULATED],
      ['shop-standby', 0, STANDBY_HC],
    ]);
  });

  it('refuses to write a record whose calculated switch check it cannot find', () => {
    const p = plan('primary', {
      records: {},
      switch: switchAt('primary', { checksError: 'Route 53 ListHealthChecks: AccessDenied' }),
    });
    expect(p).toMatchObject({ kind: 'refuse', code: 'switch-checks-unknown' });
    expect(p.detail).toContain('AccessDenied');
  });

  it('adopts a written pair without looking the check up; a bare site check on the primary is repaired', () => {
    expect(plan('primary', {}).kind).toBe('converged');
    const bare = plan('primary', {
      records: written({ primary: { healthCheckId: PRIMARY_HC } }),
      switch: switchAt('primary', { checks: { [PRIMARY_HC]: CALCULATED } }),
      health: { [PRIMARY_HC]: healthy },
    });
    expect(apis(bare)).toEqual(['route53:ChangeResourceRecordSets']);
  });
});

describe('planDns, switched records, when Route 53 cannot even list the records', () => {
  const unreadable = {
    records: {},
    recordsUnreadable: 'Route53 ListResourceRecordSets failed: ServiceUnavailable',
  };

  it('still flips the switch (it needs no record), behind the readiness gate of every switched record', () => {
    const p = plan('standby', { ...unreadable, health: { [STANDBY_HC]: healthy } });
    expect(apis(p)).toEqual(['cloudwatch:PutMetricData']);
    expect(published(p)).toEqual([0]);
    expect(p.detail).toContain('could not be read');

    // No record is known to be missing, so the primary's gate is not skipped on a failback either.
    expect(plan('primary', { ...unreadable, switch: switchAt('standby'), health: {} }).kind).toBe('refuse');
    expect(plan('standby', { ...unreadable, health: { [STANDBY_HC]: unhealthy } }).kind).toBe('refuse');
  });

  it('waits, writing nothing, when the switch already says the target', () => {
    expect(plan('primary', unreadable)).toMatchObject({ kind: 'wait', code: 'records-unreadable' });
  });
});

describe('planDns, switched records: properties', () => {
  const states = fc.constantFrom<SwitchObserved['state']>(
    'primary',
    'standby',
    'insufficient-data',
    'unreadable',
    'missing',
  );
  const verdict = fc.option(fc.boolean(), { nil: undefined });
  const drift = fc.record({
    primaryWeight: fc.constantFrom(0, 1, 2),
    standbyWeight: fc.constantFrom(0, 1),
    primaryCheck: fc.constantFrom<string | undefined>(CALCULATED, PRIMARY_HC, undefined),
    missing: fc.boolean(),
  });

  it('never all-off: every written pair is the primary at weight 1 behind the switch and the standby at 0, never both off', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Site>('primary', 'standby'),
        states,
        verdict,
        verdict,
        drift,
        (target, state, p, s, d) => {
          const health: Record<string, HealthCheckVerdict> = {};
          if (p !== undefined) health[PRIMARY_HC] = p ? healthy : unhealthy;
          if (s !== undefined) health[STANDBY_HC] = s ? healthy : unhealthy;
          const records = d.missing
            ? {}
            : written({
                primary: { weight: d.primaryWeight, healthCheckId: d.primaryCheck },
                standby: { weight: d.standbyWeight },
              });
          const result = plan(target, {
            records,
            health,
            switch: switchAt(state, { checks: { [PRIMARY_HC]: CALCULATED } }),
          });
          if (result.kind !== 'act') return;
          for (const action of result.actions) {
            if (action.api === 'route53:ChangeResourceRecordSets') {
              const weights = action.params.ChangeBatch.Changes.map((c) => [
                c.ResourceRecordSet.SetIdentifier,
                c.ResourceRecordSet.Weight,
              ]);
              expect(weights).toEqual([
                ['shop-primary', 1],
                ['shop-standby', 0],
              ]);
            } else {
              // The switch only turns towards a side whose own check is healthy (or, for a record that
              // does not exist yet, towards the primary: creating it moves no traffic).
              const side = (action.params.MetricData[0]?.Value ?? 0) % 2 === 1 ? 'primary' : 'standby';
              expect(side).toBe(target);
              if (!(d.missing && target === 'primary')) {
                expect(health[side === 'primary' ? PRIMARY_HC : STANDBY_HC]?.healthy).toBe(true);
              }
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('the desired record sets of a switched record do not depend on the target', () => {
    const svc = service();
    const [record] = switchedRecordsOf(svc);
    if (!record) throw new Error('no switched record');
    const checks = { [PRIMARY_HC]: CALCULATED };
    expect(desiredRecordSets(svc, record, 'standby', checks)).toEqual(
      desiredRecordSets(svc, record, 'primary', checks),
    );
  });
});

describe('switched records in the config', () => {
  it('refuses more switches than a stack can hold, naming the way out', () => {
    const input = minimalInput();
    const [template] = input.services;
    if (!template?.dns) throw new Error('fixture lost its dns section');
    input.services = Array.from({ length: 140 }, (_, i) => ({
      ...template,
      name: `svc-${i}`,
      dns: {
        ...template.dns,
        records: (template.dns?.records ?? []).map((r) => ({
          ...r,
          name: `www.svc-${i}.example.com`,
          routing: 'switched' as const,
        })),
      },
    })) as typeof input.services;

    expect(() => parseConfig(input)).toThrow(/420 CloudFormation resources.*routing 'weighted'/s);
    input.services = input.services.slice(0, 130);
    expect(() => parseConfig(input)).not.toThrow();
  });
});
