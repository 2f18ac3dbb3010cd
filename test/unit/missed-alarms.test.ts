import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../../functions/core/types';
import type { AlarmStateReader, ObservedAlarm } from '../../functions/engine/auto-failback';
import { reconcileAll } from '../../functions/engine/engine';
import { reconcileWorkItems } from '../../functions/engine/fan-out';
import { catchUpMissedAlarms } from '../../functions/trigger/missed-alarms';
import { configWith, FakeCapability, FakeClock, RecordingNotifier, testControlPlane } from './fixtures';

/**
 * The scheduled run's catch-up of alarm events that were never acted on: an automatic service whose
 * service-wide alarm is in ALARM while what it covers is still on the primary is failed over, with
 * the alarm's own state-change time as evidence, exactly as the event would have.
 */

const T0 = '2026-11-22T10:00:00.000Z';
const NOW = new Date(T0);
const MIN = 60_000;
const HOME = 'eu-west-2';
const ALARM = 'shop-primary-unhealthy';

const alarm = (state: 'OK' | 'ALARM', sinceMinutesAgo: number): ObservedAlarm => ({
  name: ALARM,
  region: HOME,
  state,
  stateUpdatedAt: new Date(NOW.getTime() - sinceMinutesAgo * MIN),
});

const setup = (mode: 'auto' | 'approve' = 'auto') => {
  const config = configWith({ mode, cooldownMinutes: 30 });
  const capability = new FakeCapability();
  const notifier = new RecordingNotifier();
  const cp = testControlPlane({ config, capability, notifier, clock: new FakeClock(T0) });
  const reads: { region: string; names: readonly string[] }[] = [];
  let observed: ObservedAlarm[] = [alarm('OK', 60)];
  const alarmStates: AlarmStateReader = async (region, names) => {
    reads.push({ region, names });
    return observed.filter((a) => a.region === region && names.includes(a.name));
  };
  const run = () => reconcileAll(cp, { alarmStates, missedAlarms: catchUpMissedAlarms });
  return {
    cp,
    capability,
    notifier,
    reads,
    run,
    store: cp.fakeStore,
    setAlarm: (next: ObservedAlarm) => {
      observed = [next];
    },
  };
};

/** dns back on the primary, by an operator, at `changedAt`. */
const failedBack = (changedAt: string): DesiredState => ({
  service: 'shop',
  epoch: 2,
  capabilities: { dns: { active: 'primary', epoch: 2, changedAt, evidenceAt: changedAt } },
  requestedBy: 'operator:alice',
  requestedAt: changedAt,
  reason: 'failback',
});

describe('the scheduled run catches up on alarms whose events were never acted on', () => {
  it('fails over an automatic service whose alarm is in ALARM, on the alarm state-change time as evidence', async () => {
    // Prepare: the alarm went to ALARM 3 minutes ago; its event never reached the alarm function
    const { cp, capability, run, store, setAlarm } = setup();
    setAlarm(alarm('ALARM', 3));

    // Act
    const reports = await run();
    await cp.reporter.flush();

    // Assess
    const desired = store.desired.get('shop');
    expect(desired).toMatchObject({ epoch: 1, requestedBy: `alarm:${ALARM}` });
    expect(desired?.capabilities.dns).toMatchObject({
      active: 'standby',
      evidenceAt: new Date(NOW.getTime() - 3 * MIN).toISOString(),
    });
    expect(capability.serving).toBe('standby');
    expect(reports).toEqual([expect.objectContaining({ capability: 'dns', epoch: 1, phase: 'converged' })]);
    const decision = store.audit.find((e) => e.kind === 'decision');
    expect(decision?.message).toContain('caught up by the scheduled run');
  });

  it('moves from the record the run just read: one state read before the transition, none again after it', async () => {
    // Prepare
    const { cp, run, store, setAlarm } = setup();
    setAlarm(alarm('ALARM', 3));
    const reads: string[] = [];
    const readService = store.readService.bind(store);
    store.readService = async (name: string) => {
      reads.push(name);
      return readService(name);
    };

    // Act
    const reports = await run();
    await cp.reporter.flush();

    // Assess: the run's read only; the recovery is measured from this run's own reports (it decided
    // and converged the whole transition), with no read back
    expect(reports).toEqual([expect.objectContaining({ capability: 'dns', epoch: 1, phase: 'converged' })]);
    expect(reads).toEqual(['shop']);
    expect(cp.fakeStore.audit.filter((e) => e.kind === 'recovered')).toHaveLength(1);
  });

  it('then reads, never writes: the alarm still in ALARM and the service on the standby ask for nothing', async () => {
    // Prepare
    const { run, store, setAlarm } = setup();
    setAlarm(alarm('ALARM', 3));
    await run();
    const writes = store.intentWrites();

    // Act
    await run();

    // Assess
    expect(store.intentWrites()).toBe(writes);
  });

  it('leaves a service an operator failed back after the alarm entered ALARM where the operator put it', async () => {
    // Prepare: ALARM since 20 minutes ago; the operator failed back 5 minutes ago
    const { capability, run, store, setAlarm } = setup();
    store.seed(failedBack(new Date(NOW.getTime() - 5 * MIN).toISOString()));
    setAlarm(alarm('ALARM', 20));

    // Act
    await run();

    // Assess
    expect(store.intentWrites()).toBe(0);
    expect(store.desired.get('shop')?.capabilities.dns?.active).toBe('primary');
    expect(capability.serving).toBe('primary');
  });

  it('fails over again when the alarm entered ALARM again after that failback (past the cooldown)', async () => {
    // Prepare: failed back 40 minutes ago (cooldown 30), ALARM again since 1 minute ago
    const { run, store, setAlarm } = setup();
    store.seed(failedBack(new Date(NOW.getTime() - 40 * MIN).toISOString()));
    setAlarm(alarm('ALARM', 1));

    // Act
    await run();

    // Assess
    expect(store.desired.get('shop')?.capabilities.dns?.active).toBe('standby');
  });

  it('respects the cooldown without a message on every run', async () => {
    // Prepare: failed back 5 minutes ago, cooldown 30 minutes, a new ALARM 1 minute ago
    const { cp, notifier, run, store, setAlarm } = setup();
    store.seed({ ...failedBack(new Date(NOW.getTime() - 5 * MIN).toISOString()), requestedBy: 'alarm:x' });
    setAlarm(alarm('ALARM', 1));

    // Act
    await run();
    await run();
    await cp.reporter.flush();

    // Assess
    expect(store.intentWrites()).toBe(0);
    expect(notifier.sent.filter((e) => e.kind === 'refused')).toEqual([]);
  });

  it('never moves a service that asks for approval, and reads none of its alarms', async () => {
    // Prepare
    const { reads, run, store, setAlarm } = setup('approve');
    setAlarm(alarm('ALARM', 3));

    // Act
    await run();

    // Assess
    expect(store.intentWrites()).toBe(0);
    expect(reads).toEqual([]);
  });

  it("reads a worker batch's alarms once, not once per service", async () => {
    // Prepare: two messages of one batch, both for the service
    const { cp, reads, setAlarm } = setup();
    setAlarm(alarm('OK', 60));
    const item = (id: string) => ({
      id,
      body: JSON.stringify({
        service: 'shop',
        run: 'r1',
        dispatchedAt: T0,
        notAfter: '2026-11-22T10:01:00.000Z',
      }),
    });
    const alarmStates: AlarmStateReader = async (region, names) => {
      reads.push({ region, names });
      return [];
    };

    // Act
    await reconcileWorkItems(cp, [item('m1'), item('m2')], {
      alarmStates,
      missedAlarms: catchUpMissedAlarms,
    });

    // Assess
    expect(reads).toHaveLength(1);
  });
});
