import { DescribeAlarmsCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { type LocalControlPlane, startLocalControlPlane } from '../../functions/capabilities/dns/local';
import { type Config, parseConfig, type ServiceConfig } from '../../functions/config/schema';
import { localLambdaContext as lambdaContext } from '../../functions/drill/lambda-context';
import {
  alarmStateChangeEvent,
  answerFor,
  countCalls,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  supplyHealthCheckStatus,
} from '../../functions/drill/local-aws';
import { type AlarmStateReader, AUTO_FAILBACK_SOURCE } from '../../functions/engine/auto-failback';
import { type ControlPlane, reconcileService } from '../../functions/engine/engine';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
import { cloudWatchAlarmStates, createControlPlane } from '../../functions/runtime/control-plane';
import type { AlarmOutcome } from '../../functions/trigger/handle-alarm';

const endpoint = inject('motoEndpoint');
const MIN = 60_000;

let local: LocalControlPlane;
let config: Config;
let failing: Set<string>;
/**
 * moto stamps StateUpdatedTimestamp with its own wall clock and offers no way to set it, while the
 * control plane runs on the harness's manual clock. So the harness notes, for every state it sets,
 * moto's stamp and the manual clock's time, and the reader below reports the latter: the real
 * DescribeAlarms call and its parsing are exercised, on the timeline the test controls.
 */
const setAt = new Map<number, Date>();
let describeAlarmsCalls = 0;

/** The DNS sample topology, in mode auto, opted into automatic failback after 10 stable minutes. */
const autoFailbackConfig = (base: Config): Config =>
  parseConfig({
    ...base,
    services: base.services.map((s) => ({
      ...s,
      cooldownMinutes: 5,
      autoFailback: { afterStableMinutes: 10 },
    })),
  });

const controlPlane = (): ControlPlane =>
  createControlPlane({
    config,
    clients: local.clients.kit,
    log: local.log,
    clock: local.clock,
    notifier: local.sink.notifier(config, local.clients.kit, local.log),
    changeVerify: { verifyAttempts: 5, verifyIntervalMs: 10 },
  });

const alarmStates = (): AlarmStateReader => {
  const real = cloudWatchAlarmStates(local.clients.kit);
  return async (region, names) => {
    describeAlarmsCalls++;
    const observed = await real(region, names);
    return observed.map((a) => ({
      ...a,
      stateUpdatedAt: (a.stateUpdatedAt && setAt.get(a.stateUpdatedAt.getTime())) ?? a.stateUpdatedAt,
    }));
  };
};

const scheduledRun = () => createReconcileHandler(controlPlane, alarmStates)({}, lambdaContext);
const deliver = (event: unknown) =>
  createAlarmHandler(controlPlane)(event, lambdaContext) as Promise<AlarmOutcome[]>;

/** Sets the alarm in moto (as CloudWatch would), notes when, and builds the EventBridge event. */
const alarm = async (value: 'ALARM' | 'OK') => {
  const name = local.topology.alarmName;
  await local.clients.cloudwatch.send(
    new SetAlarmStateCommand({ AlarmName: name, StateValue: value, StateReason: 'Threshold Crossed' }),
  );
  const after = await local.clients.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [name] }));
  const stamp = after.MetricAlarms?.[0]?.StateUpdatedTimestamp;
  if (!stamp) throw new Error('moto reported no StateUpdatedTimestamp');
  // What moto reports: its own "now" at SetAlarmState, not anything the caller chose.
  expect(Math.abs(stamp.getTime() - Date.now())).toBeLessThan(MIN);
  setAt.set(stamp.getTime(), local.clock.now());
  return alarmStateChangeEvent({
    alarmName: name,
    account: LOCAL_ACCOUNT,
    region: LOCAL_REGION,
    value,
    previousValue: value === 'OK' ? 'ALARM' : 'OK',
    reason: 'Threshold Crossed',
    at: local.clock.now(),
  });
};

const www = () =>
  answerFor(local.clients.route53, local.topology.hostedZoneId, local.topology.recordName, 'A', failing);
const desired = async () => (await controlPlane().store.readService('shop')).desired;

beforeEach(async () => {
  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  local = await startLocalControlPlane(endpoint, { mode: 'auto' });
  config = autoFailbackConfig(local.topology.config);
  failing = new Set();
  setAt.clear();
  describeAlarmsCalls = 0;
  supplyHealthCheckStatus(local.clients.route53, failing);
  const cp = controlPlane();
  await reconcileService(cp, cp.config.services[0] as ServiceConfig);
  await cp.reporter.flush();
});

afterEach(async () => {
  await local?.stop();
});

describe('automatic failback against the local AWS (DNS sample topology)', () => {
  it('an idle scheduled run reads its alarms in one call (the missed-alarm catch-up) and writes nothing', async () => {
    const dynamoCalls = countCalls(local.clients.dynamodb);
    await scheduledRun();
    // One DescribeAlarms for every auto service's alarms in the Region, not one per service.
    expect(describeAlarmsCalls).toBe(1);
    expect([...dynamoCalls.keys()].filter((n) => !/^(Query|Get|BatchGet|Scan)/.test(n))).toEqual([]);
  });

  it('fails back only after the alarm has been OK for the window; an ALARM inside it starts it again', async () => {
    // The primary fails: ALARM, failover to the standby.
    failing.add(local.topology.primaryHealthCheckId);
    const [failover] = await deliver(await alarm('ALARM'));
    expect(failover).toMatchObject({ kind: 'transitioned', epoch: 1, changed: ['dns'] });
    expect(await www()).toEqual(['198.51.100.10']);

    // It recovers; the OK itself is held, as ever.
    failing.delete(local.topology.primaryHealthCheckId);
    local.clock.advance(2 * MIN);
    const [held] = await deliver(await alarm('OK'));
    expect(held).toMatchObject({ kind: 'held' });

    // 5 minutes later (cooldown over, window not): the scheduled run reads the alarm and holds.
    local.clock.advance(5 * MIN);
    await scheduledRun();
    expect(describeAlarmsCalls).toBe(1);
    expect((await desired()).epoch).toBe(1);
    expect(await www()).toEqual(['198.51.100.10']);
    const notYet = local.log.lines.filter((l) => l.message === 'automatic failback not yet');
    expect(JSON.stringify(notYet.at(-1)?.extra)).toContain('less than 10 min');

    // The alarm fires again inside the window (the trigger finds dns already on the standby), then clears.
    local.clock.advance(1 * MIN);
    failing.add(local.topology.primaryHealthCheckId);
    const [again] = await deliver(await alarm('ALARM'));
    expect(again).toMatchObject({ kind: 'unchanged' });
    await scheduledRun();
    const whileAlarm = local.log.lines.filter((l) => l.message === 'automatic failback not yet');
    expect(JSON.stringify(whileAlarm.at(-1)?.extra)).toContain(
      'alarm shop-primary-unhealthy is ALARM, not OK',
    );
    expect((await desired()).epoch).toBe(1);
    local.clock.advance(1 * MIN);
    failing.delete(local.topology.primaryHealthCheckId);
    await deliver(await alarm('OK'));

    // 11 minutes after the first OK but 4 after the second: the window started again, still held.
    local.clock.advance(4 * MIN);
    await scheduledRun();
    const restarted = local.log.lines.filter((l) => l.message === 'automatic failback not yet');
    expect(JSON.stringify(restarted.at(-1)?.extra)).toContain('less than 10 min');
    expect((await desired()).epoch).toBe(1);
    expect(await www()).toEqual(['198.51.100.10']);

    // 10 minutes after the second OK: back on the primary, by the policy, audited and in Slack.
    local.clock.advance(6 * MIN);
    const reports = (await scheduledRun()) as { capability: string; epoch: number; phase: string }[];
    const state = await desired();
    expect(state).toMatchObject({ epoch: 2, requestedBy: AUTO_FAILBACK_SOURCE });
    expect(state.capabilities.dns?.active).toBe('primary');
    expect(reports).toEqual([{ service: 'shop', capability: 'dns', epoch: 2, phase: 'converged' }]);
    expect(await www()).toEqual(['192.0.2.10']);
    const audit = await controlPlane().store.readAudit('shop');
    expect(
      audit.some((e) => e.kind === 'decision' && e.source === AUTO_FAILBACK_SOURCE && e.epoch === 2),
    ).toBe(true);
    // Slack: the decision's text says why, its Source field says who.
    const slack = local.sink.messages.map((m) => JSON.stringify(m.body));
    expect(
      slack.some(
        (t) =>
          t.includes(`*Source*\\n${AUTO_FAILBACK_SOURCE}`) &&
          t.includes('automatic failback: every alarm covering dns (shop-primary-unhealthy) has been OK'),
      ),
    ).toBe(true);

    // Converged: the next run reads the alarms once (the missed-alarm catch-up; all OK, nothing
    // to catch up) and writes nothing.
    describeAlarmsCalls = 0;
    const dynamoCalls = countCalls(local.clients.dynamodb);
    await scheduledRun();
    expect(describeAlarmsCalls).toBe(1);
    expect([...dynamoCalls.keys()].filter((n) => !/^(Query|Get|BatchGet|Scan)/.test(n))).toEqual([]);
  });

  it('an ALARM whose event never arrived is caught up by the next scheduled run, once', async () => {
    // CloudWatch goes to ALARM, but its EventBridge event is lost (never delivered to the trigger).
    failing.add(local.topology.primaryHealthCheckId);
    await alarm('ALARM');
    expect((await desired()).epoch).toBe(0);

    local.clock.advance(1 * MIN);
    await scheduledRun();
    const state = await desired();
    expect(state.epoch).toBe(1);
    expect(state.capabilities.dns?.active).toBe('standby');
    expect(await www()).toEqual(['198.51.100.10']);
    expect(local.log.lines.some((l) => l.level === 'warn' && l.message.includes('was not acted on'))).toBe(
      true,
    );

    // The alarm stays in ALARM: later runs find the move done and ask for nothing more.
    local.clock.advance(1 * MIN);
    const dynamoCalls = countCalls(local.clients.dynamodb);
    await scheduledRun();
    expect((await desired()).epoch).toBe(1);
    expect([...dynamoCalls.keys()].filter((n) => !/^(Query|Get|BatchGet|Scan)/.test(n))).toEqual([]);
  });

  it("the primary's readiness gate still applies: an unhealthy primary keeps DNS on the standby", async () => {
    failing.add(local.topology.primaryHealthCheckId);
    await deliver(await alarm('ALARM'));
    local.clock.advance(1 * MIN);
    await deliver(await alarm('OK'));
    // The alarm says OK, but Route 53's health check of the primary still fails.
    local.clock.advance(15 * MIN);
    await scheduledRun();
    expect((await desired()).requestedBy).toBe(AUTO_FAILBACK_SOURCE);
    expect(await www()).toEqual(['198.51.100.10']);
    const status = (await controlPlane().store.readService('shop')).statuses.dns;
    expect(status).toMatchObject({ epoch: 2, phase: 'refused' });
  });
});
