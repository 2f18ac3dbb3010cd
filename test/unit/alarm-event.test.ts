import { describe, expect, it } from 'vitest';
import { type Config, parseConfig } from '../../functions/config/schema';
import { type AlarmVerdict, classifyAlarmEvent } from '../../functions/trigger/alarm-event';
import { alarmEvent, exampleConfigParsed, exampleInput } from './fixtures';

const EVENT_TIME = new Date('2026-11-22T10:00:00.000Z');
const NOW = new Date(EVENT_TIME.getTime() + 5_000);

const only = (verdicts: AlarmVerdict[]): AlarmVerdict => {
  expect(verdicts).toHaveLength(1);
  const [v] = verdicts;
  if (!v) throw new Error('no verdict');
  return v;
};

/** The example config plus a second service sharing the alarm, and one with alarms without capabilities. */
const twoServices = (): Config => {
  const input = exampleInput();
  const shop = input.services[0];
  if (!shop) throw new Error('no service');
  const checkout = structuredClone(shop);
  // Its own zone: one name has one owner.
  if (checkout.dns) checkout.dns.hostedZoneId = 'Z0EXAMPLE0CHECKOUT';
  input.services.push({
    ...checkout,
    name: 'checkout',
    mode: 'approve',
    alarms: [{ name: 'shop-primary-unhealthy' }, { name: 'checkout-latency' }],
  });
  return parseConfig(input);
};

describe('classifyAlarmEvent: malformed events are ignored with a reason', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', 'ALARM!'],
    ['a number', 42],
    ['an empty object', {}],
    ['an array', [alarmEvent()]],
  ])('ignores %s', (_label, raw) => {
    // Act
    const verdict = only(classifyAlarmEvent(raw, exampleConfigParsed(), NOW));

    // Assess
    expect(verdict.kind).toBe('ignore');
    expect(verdict.reason).toMatch(/^not a CloudWatch alarm state change event: /);
  });

  it('ignores an event without detail, naming the missing field', () => {
    // Prepare
    const { detail: _detail, ...raw } = alarmEvent();

    // Act
    const verdict = only(classifyAlarmEvent(raw, exampleConfigParsed(), NOW));

    // Assess
    expect(verdict.kind).toBe('ignore');
    expect(verdict.reason).toContain('detail');
  });

  it('ignores an event from another source', () => {
    // Prepare
    const raw = { ...alarmEvent(), source: 'aws.ec2' };

    // Act
    const verdict = only(classifyAlarmEvent(raw, exampleConfigParsed(), NOW));

    // Assess
    expect(verdict.kind).toBe('ignore');
    expect(verdict.reason).toContain('source');
  });

  it('ignores another detail-type from aws.cloudwatch', () => {
    // Prepare
    const raw = { ...alarmEvent(), 'detail-type': 'CloudWatch Alarm Configuration Change' };

    // Act
    const verdict = only(classifyAlarmEvent(raw, exampleConfigParsed(), NOW));

    // Assess
    expect(verdict.kind).toBe('ignore');
    expect(verdict.reason).toContain('detail-type');
  });

  it('ignores an unknown alarm state value', () => {
    // Prepare
    const event = alarmEvent();
    const raw = { ...event, detail: { ...event.detail, state: { ...event.detail.state, value: 'BROKEN' } } };

    // Act
    const verdict = only(classifyAlarmEvent(raw, exampleConfigParsed(), NOW));

    // Assess
    expect(verdict.kind).toBe('ignore');
    expect(verdict.reason).toContain('detail.state.value');
  });

  it('ignores an event whose time is not a timestamp', () => {
    // Prepare
    const raw = { ...alarmEvent(), time: 'yesterday' };

    // Act
    const verdict = only(classifyAlarmEvent(raw, exampleConfigParsed(), NOW));

    // Assess
    expect(verdict.kind).toBe('ignore');
    expect(verdict.reason).toContain('time');
  });
});

describe('classifyAlarmEvent: wrong origin, stale, unknown', () => {
  it('ignores an event from another account', () => {
    // Act
    const verdict = only(
      classifyAlarmEvent(alarmEvent({ account: '222222222222' }), exampleConfigParsed(), NOW),
    );

    // Assess
    expect(verdict).toEqual({
      kind: 'ignore',
      reason: 'event from 222222222222/eu-west-2, but this control plane watches 111111111111/eu-west-2',
    });
  });

  it('ignores an event from another region', () => {
    // Act
    const verdict = only(classifyAlarmEvent(alarmEvent({ region: 'eu-west-1' }), exampleConfigParsed(), NOW));

    // Assess
    expect(verdict.kind).toBe('ignore');
    expect(verdict.reason).toContain('111111111111/eu-west-1');
  });

  it('ignores an event older than maxEventAgeSeconds (a late EventBridge retry)', () => {
    // Prepare
    const now = new Date(EVENT_TIME.getTime() + 601_000);

    // Act
    const verdict = only(classifyAlarmEvent(alarmEvent({ time: EVENT_TIME }), exampleConfigParsed(), now));

    // Assess
    expect(verdict.kind).toBe('ignore');
    expect(verdict.reason).toContain('stale event');
    expect(verdict.reason).toContain('601 s ago (max 600 s)');
  });

  it('accepts an event exactly maxEventAgeSeconds old', () => {
    // Prepare
    const now = new Date(EVENT_TIME.getTime() + 600_000);

    // Act
    const verdict = only(classifyAlarmEvent(alarmEvent({ time: EVENT_TIME }), exampleConfigParsed(), now));

    // Assess
    expect(verdict.kind).toBe('alarm');
  });

  it('honours a configured maxEventAgeSeconds', () => {
    // Prepare
    const input = exampleInput();
    input.controlPlane.maxEventAgeSeconds = 60;
    const now = new Date(EVENT_TIME.getTime() + 61_000);

    // Act
    const verdict = only(classifyAlarmEvent(alarmEvent({ time: EVENT_TIME }), parseConfig(input), now));

    // Assess
    expect(verdict.kind).toBe('ignore');
    expect(verdict.reason).toContain('(max 60 s)');
  });

  it('ignores an alarm no service is protected by', () => {
    // Act
    const verdict = only(
      classifyAlarmEvent(alarmEvent({ alarmName: 'billing-high' }), exampleConfigParsed(), NOW),
    );

    // Assess
    expect(verdict).toEqual({ kind: 'ignore', reason: 'alarm billing-high protects no configured service' });
  });
});

describe('classifyAlarmEvent: known alarms', () => {
  it('turns ALARM into an alarm verdict for the service, with the configured capabilities', () => {
    // Prepare
    const config = exampleConfigParsed();

    // Act
    const verdict = only(classifyAlarmEvent(alarmEvent({ state: 'ALARM' }), config, NOW));

    // Assess
    expect(verdict.kind).toBe('alarm');
    if (verdict.kind === 'ignore') return;
    expect(verdict.service).toBe(config.services[0]);
    expect(verdict.capabilities).toEqual(['dns']);
    expect(verdict.alarmName).toBe('shop-primary-unhealthy');
    expect(verdict.reason).toBe(
      'alarm shop-primary-unhealthy is ALARM: Threshold Crossed: 1 datapoint [0.0 (22/11/26 09:59:00)] was less than the threshold (1.0).',
    );
  });

  it('turns OK into recovered', () => {
    // Act
    const verdict = only(classifyAlarmEvent(alarmEvent({ state: 'OK' }), exampleConfigParsed(), NOW));

    // Assess
    expect(verdict.kind).toBe('recovered');
    expect(verdict.reason).toMatch(/^alarm shop-primary-unhealthy is OK: /);
  });

  it('turns INSUFFICIENT_DATA into insufficient-data', () => {
    // Act
    const verdict = only(
      classifyAlarmEvent(alarmEvent({ state: 'INSUFFICIENT_DATA' }), exampleConfigParsed(), NOW),
    );

    // Assess
    expect(verdict.kind).toBe('insufficient-data');
  });

  it('accepts a state without a reason and says so plainly', () => {
    // Prepare
    const event = alarmEvent();
    const { reason: _reason, ...state } = event.detail.state;
    const raw = { ...event, detail: { ...event.detail, state } };

    // Act
    const verdict = only(classifyAlarmEvent(raw, exampleConfigParsed(), NOW));

    // Assess
    expect(verdict.kind).toBe('alarm');
    expect(verdict.reason).toBe('alarm shop-primary-unhealthy is ALARM');
  });

  it('gives one verdict per service the alarm protects; no capabilities listed means all configured', () => {
    // Prepare
    const config = twoServices();

    // Act
    const verdicts = classifyAlarmEvent(alarmEvent(), config, NOW);

    // Assess
    expect(verdicts.map((v) => [v.kind, v.kind === 'ignore' ? undefined : v.service.name])).toEqual([
      ['alarm', 'shop'],
      ['alarm', 'checkout'],
    ]);
    const checkout = verdicts[1];
    expect(checkout?.kind !== 'ignore' && checkout?.capabilities).toEqual(['dns']);
  });

  it('lists a capability once when two triggers of one service name the same alarm', () => {
    // Prepare
    const input = exampleInput();
    const shop = input.services[0];
    if (!shop) throw new Error('no service');
    shop.alarms = [
      { name: 'shop-primary-unhealthy', capabilities: ['dns'] },
      { name: 'shop-primary-unhealthy' },
    ];

    // Act
    const verdict = only(classifyAlarmEvent(alarmEvent(), parseConfig(input), NOW));

    // Assess
    expect(verdict.kind !== 'ignore' && verdict.capabilities).toEqual(['dns']);
  });
});

describe('classifyAlarmEvent: alarms in other Regions (forwarded to the control plane)', () => {
  /**
   * shop: its Route 53 health-check alarm in us-east-1 (the only Region with that metric) and a 5xx
   * alarm in the control plane's Region. checkout: an alarm of the same name as shop's, but in its
   * primary Region, eu-west-1.
   */
  const multiRegion = (): Config => {
    const input = exampleInput();
    const shop = input.services[0];
    if (!shop) throw new Error('no service');
    shop.alarms = [{ name: 'primary-health-check', region: 'us-east-1' }, { name: 'shop-5xx' }];
    const checkout = structuredClone(shop);
    if (checkout.dns) checkout.dns.hostedZoneId = 'Z0EXAMPLE0CHECKOUT';
    input.services.push({
      ...checkout,
      name: 'checkout',
      alarms: [{ name: 'primary-health-check', region: 'eu-west-1' }],
    });
    return parseConfig(input);
  };

  it('accepts the event of a us-east-1 alarm for the service that configures it there', () => {
    // Prepare
    const config = multiRegion();

    // Act
    const verdict = only(
      classifyAlarmEvent(alarmEvent({ alarmName: 'primary-health-check', region: 'us-east-1' }), config, NOW),
    );

    // Assess
    expect(verdict.kind).toBe('alarm');
    if (verdict.kind === 'ignore') return;
    expect(verdict.service.name).toBe('shop');
    expect(verdict.alarmName).toBe('primary-health-check');
  });

  it('ignores an alarm of a configured name from a Region none of its configurations lives in', () => {
    // Prepare
    const config = multiRegion();

    // Act
    const verdicts = [
      classifyAlarmEvent(alarmEvent({ alarmName: 'primary-health-check', region: 'eu-west-2' }), config, NOW),
      classifyAlarmEvent(alarmEvent({ alarmName: 'shop-5xx', region: 'us-east-1' }), config, NOW),
    ];

    // Assess
    expect(verdicts).toEqual([
      [
        {
          kind: 'ignore',
          reason:
            'event from 111111111111/eu-west-2, but alarm primary-health-check is configured in eu-west-1, us-east-1 only',
        },
      ],
      [
        {
          kind: 'ignore',
          reason: 'event from 111111111111/us-east-1, but alarm shop-5xx is configured in eu-west-2 only',
        },
      ],
    ]);
  });

  it('tells one name in two Regions apart: each Region speaks for its own service only', () => {
    // Prepare
    const config = multiRegion();
    const serviceOf = (region: string) =>
      classifyAlarmEvent(alarmEvent({ alarmName: 'primary-health-check', region }), config, NOW).map((v) =>
        v.kind === 'ignore' ? v.kind : `${v.kind} ${v.service.name}`,
      );

    // Act / Assess
    expect(serviceOf('us-east-1')).toEqual(['alarm shop']);
    expect(serviceOf('eu-west-1')).toEqual(['alarm checkout']);
  });

  it('still ignores another account, even for a Region an alarm lives in', () => {
    // Act
    const verdict = only(
      classifyAlarmEvent(
        alarmEvent({ alarmName: 'primary-health-check', region: 'us-east-1', account: '222222222222' }),
        multiRegion(),
        NOW,
      ),
    );

    // Assess
    expect(verdict.kind).toBe('ignore');
    expect(verdict.reason).toContain('222222222222/us-east-1');
  });
});
