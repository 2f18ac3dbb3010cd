import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigInput, parseConfig } from '../../functions/config/schema';
import type { DesiredState } from '../../functions/core/types';
import {
  type AlarmStateReader,
  AUTO_FAILBACK_SOURCE,
  decideAutoFailback,
  type ObservedAlarm,
} from '../../functions/engine/auto-failback';
import { reconcileAll } from '../../functions/engine/engine';
import { breather } from '../support/breather';
import {
  configWith,
  exampleInput,
  FakeCapability,
  FakeClock,
  onlyService,
  RecordingNotifier,
  testControlPlane,
} from './fixtures';

const breathe = breather();

const T0 = '2026-11-22T10:00:00.000Z';
const NOW = new Date(T0);
const MIN = 60_000;
const HOME = 'eu-west-2';

type ServiceOverrides = Partial<ConfigInput['services'][number]>;

const opted = (overrides: ServiceOverrides = {}) =>
  configWith({ mode: 'auto', cooldownMinutes: 30, autoFailback: { afterStableMinutes: 10 }, ...overrides });

/** dns on the standby since `changedAt`, moved by `requestedBy` at epoch `epoch`. */
const onStandby = (
  options: { changedAt?: string; requestedBy?: string; epoch?: number; capabilityEpoch?: number } = {},
): DesiredState => {
  const changedAt = options.changedAt ?? '2026-11-22T08:00:00.000Z';
  const epoch = options.epoch ?? 1;
  return {
    service: 'shop',
    epoch,
    capabilities: { dns: { active: 'standby', epoch: options.capabilityEpoch ?? epoch, changedAt } },
    requestedBy: options.requestedBy ?? 'alarm:shop-primary-unhealthy',
    requestedAt: changedAt,
    reason: 'failover',
  };
};

const ok = (name: string, sinceMinutesAgo: number, region = HOME): ObservedAlarm => ({
  name,
  region,
  state: 'OK',
  stateUpdatedAt: new Date(NOW.getTime() - sinceMinutesAgo * MIN),
});

describe('config: services[].autoFailback', () => {
  it('is absent by default: failback stays explicit', () => {
    expect(onlyService(configWith({ mode: 'auto' })).autoFailback).toBeUndefined();
  });

  it('is accepted with mode auto', () => {
    expect(onlyService(opted()).autoFailback).toEqual({ afterStableMinutes: 10 });
  });

  it.each(['approve', 'dry-run'] as const)('is refused with mode %s, naming the field', (mode) => {
    const input = exampleInput();
    input.services[0] = { ...input.services[0], mode, autoFailback: { afterStableMinutes: 10 } } as never;
    expect(() => parseConfig(input)).toThrow(ConfigError);
    expect(() => parseConfig(input)).toThrow(
      /services\[shop\]\.autoFailback: autoFailback needs mode "auto"/,
    );
  });

  it('refuses a window under 5 minutes or over 7 days, and a service with no alarm', () => {
    expect(() => opted({ autoFailback: { afterStableMinutes: 4 } })).toThrow(
      /autoFailback\.afterStableMinutes/,
    );
    expect(() => opted({ autoFailback: { afterStableMinutes: 7 * 24 * 60 + 1 } })).toThrow(
      /autoFailback\.afterStableMinutes/,
    );
    expect(() => opted({ alarms: [] })).toThrow(
      /services\[shop\]\.autoFailback: autoFailback needs at least one alarm/,
    );
  });
});

describe('decideAutoFailback (pure)', () => {
  const service = onlyService(opted());

  it('fails back once every covering alarm has been OK for the window and the cooldown has passed', () => {
    const decision = decideAutoFailback(service, onStandby(), [ok('shop-primary-unhealthy', 10)], NOW, HOME);
    expect(decision.move).toEqual(['dns']);
    expect(decision.decisions).toEqual([
      {
        capability: 'dns',
        failBack: true,
        reason: 'every alarm covering dns (shop-primary-unhealthy) has been OK for at least 10 min',
      },
    ]);
  });

  it.each([
    [
      'OK for less than the window',
      [ok('shop-primary-unhealthy', 9)],
      'alarm shop-primary-unhealthy has been OK since 2026-11-22T09:51:00.000Z, less than 10 min (stable at 2026-11-22T10:01:00.000Z)',
    ],
    [
      'ALARM',
      [{ ...ok('shop-primary-unhealthy', 60), state: 'ALARM' }],
      'alarm shop-primary-unhealthy is ALARM, not OK',
    ],
    [
      'INSUFFICIENT_DATA',
      [{ ...ok('shop-primary-unhealthy', 60), state: 'INSUFFICIENT_DATA' }],
      'alarm shop-primary-unhealthy is INSUFFICIENT_DATA, not OK',
    ],
    ['missing', [], `alarm shop-primary-unhealthy (${HOME}) was not found: its state is unknown`],
    [
      'in another Region than configured',
      [ok('shop-primary-unhealthy', 60, 'us-east-1')],
      `alarm shop-primary-unhealthy (${HOME}) was not found: its state is unknown`,
    ],
    [
      'OK since an unknown time',
      [{ ...ok('shop-primary-unhealthy', 60), stateUpdatedAt: undefined }],
      'alarm shop-primary-unhealthy is OK, but CloudWatch does not say since when',
    ],
  ])('holds when the alarm is %s', (_, alarms, reason) => {
    const decision = decideAutoFailback(service, onStandby(), alarms, NOW, HOME);
    expect(decision).toEqual({ move: [], decisions: [{ capability: 'dns', failBack: false, reason }] });
  });

  it('holds inside the capability cooldown, measured from its last move', () => {
    const decision = decideAutoFailback(
      service,
      onStandby({ changedAt: '2026-11-22T09:40:00.000Z' }),
      [ok('shop-primary-unhealthy', 15)],
      NOW,
      HOME,
    );
    expect(decision.move).toEqual([]);
    expect(decision.decisions[0]?.reason).toBe(
      'dns moved at 2026-11-22T09:40:00.000Z; the cooldown of 30 min lasts until 2026-11-22T10:10:00.000Z',
    );
  });

  it("never undoes an operator's failover of the current epoch", () => {
    const decision = decideAutoFailback(
      service,
      onStandby({ requestedBy: 'operator:alice' }),
      [ok('shop-primary-unhealthy', 600)],
      NOW,
      HOME,
    );
    expect(decision.move).toEqual([]);
    expect(decision.decisions[0]?.reason).toBe(
      'dns was moved to the standby by operator:alice (epoch 1): failback stays explicit',
    );
  });

  it('needs every covering alarm OK, including one that covers every capability', () => {
    const two = onlyService(
      opted({
        alarms: [{ name: 'a', capabilities: ['dns'] }, { name: 'b' }, { name: 'c', region: 'us-east-1' }],
      }),
    );
    const stable = [ok('a', 60), ok('b', 60), ok('c', 60, 'us-east-1')];
    expect(decideAutoFailback(two, onStandby(), stable, NOW, HOME).move).toEqual(['dns']);
    expect(decideAutoFailback(two, onStandby(), stable.slice(0, 2), NOW, HOME).move).toEqual([]);
    expect(
      decideAutoFailback(two, onStandby(), [ok('a', 60), ok('b', 3), ok('c', 60, 'us-east-1')], NOW, HOME)
        .move,
    ).toEqual([]);
  });

  it('decides nothing for a service that did not opt in, or with nothing on the standby', () => {
    const plain = onlyService(configWith({ mode: 'auto' }));
    const stable = [ok('shop-primary-unhealthy', 600)];
    expect(decideAutoFailback(plain, onStandby(), stable, NOW, HOME)).toEqual({ move: [], decisions: [] });
    const primary: DesiredState = { ...onStandby(), capabilities: {} };
    expect(decideAutoFailback(service, primary, stable, NOW, HOME)).toEqual({ move: [], decisions: [] });
  });

  it('never fails back while a covering alarm is not OK or OK for less than the window, nor inside the cooldown', async () => {
    const names = ['a', 'b'];
    const alarmArb = fc.record({
      present: fc.boolean(),
      state: fc.constantFrom('OK', 'ALARM', 'INSUFFICIENT_DATA'),
      okForMinutes: fc.integer({ min: -60, max: 24 * 60 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(alarmArb, { minLength: 2, maxLength: 2 }),
        fc.integer({ min: 5, max: 600 }),
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 0, max: 24 * 60 }),
        fc.constantFrom('alarm:a', 'operator:alice', AUTO_FAILBACK_SOURCE),
        async (alarms, window, cooldown, movedMinutesAgo, requestedBy) => {
          await breathe();
          const svc = onlyService(
            opted({
              alarms: [{ name: 'a', capabilities: ['dns'] }, { name: 'b' }],
              cooldownMinutes: cooldown,
              autoFailback: { afterStableMinutes: window },
            }),
          );
          const desired = onStandby({
            changedAt: new Date(NOW.getTime() - movedMinutesAgo * MIN).toISOString(),
            requestedBy,
          });
          const observed = alarms.flatMap((a, i) =>
            a.present
              ? [
                  {
                    name: names[i] as string,
                    region: HOME,
                    state: a.state,
                    stateUpdatedAt: new Date(NOW.getTime() - a.okForMinutes * MIN),
                  },
                ]
              : [],
          );
          const decision = decideAutoFailback(svc, desired, observed, NOW, HOME);
          const allStable = alarms.every((a) => a.present && a.state === 'OK' && a.okForMinutes >= window);
          const cooledDown = movedMinutesAgo >= cooldown;
          const fellBack = decision.move.includes('dns');
          if (fellBack) {
            expect(allStable).toBe(true);
            expect(cooledDown).toBe(true);
            expect(requestedBy).not.toMatch(/^operator:/);
          }
          // And the converse: when everything holds, it does fail back (the policy is not a no-op).
          if (allStable && cooledDown && !requestedBy.startsWith('operator:')) expect(fellBack).toBe(true);
          expect(decision.decisions).toHaveLength(1);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('reconcileAll with automatic failback', () => {
  const setup = (overrides: ServiceOverrides = {}) => {
    const config = opted(overrides);
    const capability = new FakeCapability();
    const notifier = new RecordingNotifier();
    const cp = testControlPlane({ config, capability, notifier, clock: new FakeClock(T0) });
    const calls: { region: string; names: readonly string[] }[] = [];
    let alarms: ObservedAlarm[] = [ok('shop-primary-unhealthy', 60)];
    const reader: AlarmStateReader = async (region, names) => {
      calls.push({ region, names });
      return alarms.filter((a) => a.region === region && names.includes(a.name));
    };
    return {
      cp,
      capability,
      notifier,
      calls,
      reader,
      store: cp.fakeStore,
      setAlarms: (next: ObservedAlarm[]) => {
        alarms = next;
      },
    };
  };

  it('an idle run (everything on the primary) reads no alarm and writes nothing', async () => {
    const { cp, calls, reader, store } = setup();
    await reconcileAll(cp, { alarmStates: reader });
    store.resetOps();
    await reconcileAll(cp, { alarmStates: reader });
    expect(calls).toEqual([]);
    expect(store.ops).toEqual(['readService']);
  });

  it('fails back a stable service through the conditional write, as policy:auto-failback', async () => {
    const { cp, capability, notifier, calls, reader, store } = setup();
    store.seed(onStandby());
    capability.serving = 'standby';

    const reports = await reconcileAll(cp, { alarmStates: reader });
    await cp.reporter.flush();

    expect(calls).toEqual([{ region: HOME, names: ['shop-primary-unhealthy'] }]);
    const state = store.desired.get('shop');
    expect(state).toMatchObject({ epoch: 2, requestedBy: AUTO_FAILBACK_SOURCE });
    expect(state?.capabilities.dns?.active).toBe('primary');
    expect(capability.serving).toBe('primary');
    expect(store.intentWrites()).toBe(1);
    expect(reports).toEqual([expect.objectContaining({ capability: 'dns', epoch: 2, phase: 'converged' })]);
    const decision = store.audit.find((e) => e.kind === 'decision');
    expect(decision).toMatchObject({ source: AUTO_FAILBACK_SOURCE, epoch: 2 });
    expect(decision?.message).toContain('automatic failback: every alarm covering dns');
    expect(decision?.message).toContain('moving dns to the primary (epoch 2)');
    expect(notifier.sent.some((e) => e.source === AUTO_FAILBACK_SOURCE)).toBe(true);

    // The next run finds it converged: no alarm read (nothing on the standby), no write.
    store.resetOps();
    calls.length = 0;
    await reconcileAll(cp, { alarmStates: reader });
    expect(calls).toEqual([]);
    expect(store.ops).toEqual(['readService']);
  });

  it('holds while the alarm has not been OK for the window: reads, but writes nothing', async () => {
    const { cp, calls, reader, store, setAlarms, capability } = setup();
    store.seed(onStandby());
    capability.serving = 'standby';
    setAlarms([ok('shop-primary-unhealthy', 5)]);
    await reconcileAll(cp, { alarmStates: reader });
    await cp.reporter.flush();
    expect(calls).toHaveLength(1);
    expect(store.desired.get('shop')?.epoch).toBe(1);
    expect(store.intentWrites()).toBe(0);
    expect(cp.recordingLog.at('info').some((l) => l.message === 'automatic failback not yet')).toBe(true);
  });

  it('logs a failing alarm read and still reconciles the service', async () => {
    const { cp, capability, store } = setup();
    store.seed(onStandby());
    capability.serving = 'primary'; // drifted: the normal reconcile must still put it back on the standby
    const reports = await reconcileAll(cp, {
      alarmStates: async () => Promise.reject(Object.assign(new Error('denied'), { name: 'AccessDenied' })),
    });
    expect(cp.recordingLog.at('error').map((l) => l.message)).toEqual([
      'automatic failback check failed; reconciling as usual',
    ]);
    expect(reports).toEqual([expect.objectContaining({ capability: 'dns', phase: 'converged' })]);
    expect(capability.serving).toBe('standby');
  });

  it('reads no alarm for a service that did not opt in, or when no reader is given', async () => {
    const plain = setup({ autoFailback: undefined });
    plain.store.seed(onStandby());
    await reconcileAll(plain.cp, { alarmStates: plain.reader });
    expect(plain.calls).toEqual([]);

    const noReader = setup();
    noReader.store.seed(onStandby());
    await reconcileAll(noReader.cp);
    expect(noReader.store.desired.get('shop')?.epoch).toBe(1);
  });

  it('a failback inside the cooldown is not even asked for', async () => {
    const { cp, reader, store } = setup();
    store.seed(onStandby({ changedAt: '2026-11-22T09:50:00.000Z' }));
    await reconcileAll(cp, { alarmStates: reader });
    expect(store.intentWrites()).toBe(0);
    expect(store.audit.filter((e) => e.kind === 'refused')).toEqual([]);
  });
});
