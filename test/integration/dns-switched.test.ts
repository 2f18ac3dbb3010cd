import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { ChangeResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  type LocalSwitchedControlPlane,
  PRIMARY_IP,
  refuseRoute53Changes,
  STANDBY_IP,
  startSwitchedControlPlane,
} from '../../functions/capabilities/dns/switch-local';
import { main } from '../../functions/cli/main';
import type { ServiceConfig } from '../../functions/config/schema';
import { localLambdaContext as lambdaContext } from '../../functions/drill/lambda-context';
import { countCalls, LOCAL_ACCOUNT, setAlarmAndBuildEvent } from '../../functions/drill/local-aws';
import { reconcileService } from '../../functions/engine/engine';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
import type { AlarmOutcome } from '../../functions/trigger/handle-alarm';

/**
 * Issue 12's acceptance: a `routing: 'switched'` service fails over on an alarm and back on an
 * operator's command while Route 53 refuses every ChangeResourceRecordSets and GetChange (injected in
 * the harness's client once the records exist). moto evaluates no alarm and no health check, so the
 * harness's evaluator (functions/capabilities/dns/switch-local.ts) does what CloudWatch and Route 53
 * would, from the switch metric the control plane publishes; the answers are computed from the record
 * sets moto holds and those verdicts.
 */

const endpoint = inject('motoEndpoint');

let local: LocalSwitchedControlPlane;
let refusing: boolean;
/** Every Route 53 call refused, reads too (a second injection, for the test that needs it). */
let allDown: boolean;
let refused: Map<string, number>;
let route53Calls: Map<string, number>;
let cloudwatchCalls: Map<string, number>;

const deliver = (event: unknown) =>
  createAlarmHandler(() => local.controlPlane())(event, lambdaContext) as Promise<AlarmOutcome[]>;
const scheduledRun = () => createReconcileHandler(() => local.controlPlane())({}, lambdaContext);
const alarm = (value: 'ALARM' | 'OK') =>
  setAlarmAndBuildEvent(
    local.clients.cloudwatch,
    local.topology.alarmName,
    value,
    'Threshold Crossed',
    local.clock.now(),
  );
const state = () => local.controlPlane().store.readService('shop');

const operator = async (args: string[]) => {
  const out: string[] = [];
  const code = await main([...args, '--yes', '--as', 'test', '--config', 'switched.config.ts'], {
    controlPlane: () => local.controlPlane(),
    loadConfig: async () => local.topology.config,
    callerIdentity: async () => ({ account: LOCAL_ACCOUNT, arn: `arn:aws:iam::${LOCAL_ACCOUNT}:user/test` }),
    stdout: (t) => out.push(t),
    stderr: (t) => out.push(t),
    stdinIsTTY: false,
    env: {},
  });
  return { code, out: out.join('') };
};

beforeEach(async () => {
  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  local = await startSwitchedControlPlane(endpoint);
  refusing = false;
  allDown = false;
  refused = refuseRoute53Changes(local.clients.route53, () => (refusing ? 'changes' : 'none'));
  refuseRoute53Changes(local.clients.route53, () => (allDown ? 'all' : 'none'));
  route53Calls = countCalls(local.clients.route53);
  cloudwatchCalls = countCalls(local.clients.cloudwatch);
});

afterEach(async () => {
  await local?.stop();
});

/** The first run after deploy: the records are written once, the switch published on. */
const createRecords = async () => {
  const cp = local.controlPlane();
  const [report] = await reconcileService(cp, cp.config.services[0] as ServiceConfig, undefined, {
    dryRun: false,
  });
  await cp.reporter.flush();
  return report;
};

describe('switched DNS against the local AWS, with Route 53 record changes refused', () => {
  it('creates the pair once, behind the calculated switch check, and publishes the switch on', async () => {
    const report = await createRecords();

    expect(report?.phase).toBe('waiting');
    expect(route53Calls.get('ChangeResourceRecordSetsCommand')).toBe(1);
    expect(cloudwatchCalls.get('PutMetricDataCommand')).toBe(1);
    expect(await local.answer()).toEqual([PRIMARY_IP]);
    expect(local.evaluator.alarmStates.get(local.topology.switch.alarmName)).toBe('OK');

    await scheduledRun();
    expect((await state()).statuses.dns).toMatchObject({ phase: 'converged', epoch: 0 });
  });

  it('fails over on an alarm and back on an operator command; answers move; no record is edited', async () => {
    await createRecords();
    await local.answer();
    await scheduledRun();
    route53Calls.clear();
    cloudwatchCalls.clear();
    // From here on, Route 53's control plane refuses every record change (injected).
    refusing = true;
    await expect(
      local.clients.route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: local.topology.hostedZoneId,
          ChangeBatch: { Changes: [] },
        }),
      ),
    ).rejects.toThrow(/refused/);
    refused.clear();
    route53Calls.clear();

    // The primary fails: Route 53 alone already answers with the standby (the calculated check fails).
    local.failing.add(local.topology.primaryHealthCheckId);
    expect(await local.answer()).toEqual([STANDBY_IP]);

    // The alarm fails the service over: the switch goes off, with one PutMetricData.
    const [outcome] = await deliver(await alarm('ALARM'));
    expect(outcome).toMatchObject({ kind: 'transitioned', epoch: 1, changed: ['dns'] });
    expect(cloudwatchCalls.get('PutMetricDataCommand')).toBe(1);
    expect(local.evaluator.alarmStates.get(local.topology.switch.alarmName)).toBe('OK');
    expect(await local.answer()).toEqual([STANDBY_IP]);
    expect(local.evaluator.alarmStates.get(local.topology.switch.alarmName)).toBe('ALARM');

    // The next run sees the alarm agree: converged, nothing published again.
    await scheduledRun();
    expect((await state()).statuses.dns).toMatchObject({ phase: 'converged', epoch: 1, active: 'standby' });
    expect(cloudwatchCalls.get('PutMetricDataCommand')).toBe(1);

    // The primary recovers and its alarm is OK: failback is held; the switch keeps the standby serving.
    local.failing.delete(local.topology.primaryHealthCheckId);
    const [held] = await deliver(await alarm('OK'));
    expect(held?.kind).toBe('held');
    expect(await local.answer()).toEqual([STANDBY_IP]);

    // The operator fails back: the switch goes on; Route 53 answers with the primary again.
    const back = await operator(['failback', 'shop']);
    expect(back.out).toContain('epoch 2');
    expect(back.out).toMatch(/waiting for its alarm|waiting for alarm/);
    expect(cloudwatchCalls.get('PutMetricDataCommand')).toBe(2);
    expect(await local.answer()).toEqual([PRIMARY_IP]);
    await scheduledRun();
    expect((await state()).statuses.dns).toMatchObject({ phase: 'converged', epoch: 2, active: 'primary' });

    // Not one record change or change read was even attempted: nothing needed Route 53's control plane.
    expect(route53Calls.get('ChangeResourceRecordSetsCommand') ?? 0).toBe(0);
    expect(route53Calls.get('GetChangeCommand') ?? 0).toBe(0);
    expect(refused.size).toBe(0);
  });

  it('refuses to turn the primary off while the standby is unhealthy, and Route 53 still answers', async () => {
    await createRecords();
    await local.answer();
    await scheduledRun();
    refusing = true;
    local.failing.add(local.topology.standbyHealthCheckId);

    const [outcome] = await deliver(await alarm('ALARM'));

    expect(outcome?.kind).toBe('transitioned');
    expect((await state()).statuses.dns?.phase).toBe('refused');
    expect(cloudwatchCalls.get('PutMetricDataCommand') ?? 0).toBe(1); // only the first run's
    expect(await local.answer()).toEqual([PRIMARY_IP]);
    // Both sites down: no record is healthy, so Route 53 treats all as healthy and the primary answers.
    local.failing.add(local.topology.primaryHealthCheckId);
    expect(await local.answer()).toEqual([PRIMARY_IP]);
  });

  it("with all of Route 53's API down, reads included, the alarm still fails the service over", async () => {
    await createRecords();
    await local.answer();
    await scheduledRun();
    // On AWS the readiness gate reads Route 53's HealthCheckStatus metric in us-east-1 first; moto has
    // none, so the harness publishes what Route 53 would for the standby's check (healthy).
    const useast1 = local.clients.kit.client(CloudWatchClient, 'us-east-1');
    await useast1.send(
      new PutMetricDataCommand({
        Namespace: 'AWS/Route53',
        MetricData: [
          {
            MetricName: 'HealthCheckStatus',
            Dimensions: [{ Name: 'HealthCheckId', Value: local.topology.standbyHealthCheckId }],
            Value: 1,
            Timestamp: local.clock.now(),
          },
        ],
      }),
    );
    local.failing.add(local.topology.primaryHealthCheckId);
    cloudwatchCalls.clear();
    allDown = true;

    const [outcome] = await deliver(await alarm('ALARM'));

    expect(outcome).toMatchObject({ kind: 'transitioned', epoch: 1 });
    expect(cloudwatchCalls.get('PutMetricDataCommand')).toBe(1);
    allDown = false; // the answers are computed from what moto holds, through the same client
    expect(await local.answer()).toEqual([STANDBY_IP]);
    allDown = true;
    await scheduledRun();
    const dns = (await state()).statuses.dns;
    expect(dns).toMatchObject({ phase: 'waiting', active: 'standby', code: 'records-unreadable' });
    expect(dns?.detail).toContain('could not be read');
  });

  it('in approve mode an alarm only plans the switch; nothing is published', async () => {
    await local.stop();
    await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    local = await startSwitchedControlPlane(endpoint, { mode: 'approve' });
    cloudwatchCalls = countCalls(local.clients.cloudwatch);
    await createRecords();
    await local.answer();
    await scheduledRun();
    cloudwatchCalls.clear();

    const [outcome] = await deliver(await alarm('ALARM'));

    expect(outcome?.kind).not.toBe('transitioned');
    expect(cloudwatchCalls.get('PutMetricDataCommand') ?? 0).toBe(0);
    expect(await local.answer()).toEqual([PRIMARY_IP]);
  });
});
