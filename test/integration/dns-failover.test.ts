import { ChangeResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { DnsRecordConfig } from '../../functions/capabilities/dns/config';
import { type LocalControlPlane, startLocalControlPlane } from '../../functions/capabilities/dns/local';
import { desiredRecordSets } from '../../functions/capabilities/dns/planner';
import type { ServiceConfig } from '../../functions/config/schema';
import { localLambdaContext as lambdaContext } from '../../functions/drill/lambda-context';
import {
  alarmStateChangeEvent,
  answerFor,
  countCalls,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  setAlarmAndBuildEvent,
  supplyHealthCheckStatus,
} from '../../functions/drill/local-aws';
import { reconcileService } from '../../functions/engine/engine';
import { requestTransition } from '../../functions/engine/transition';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
import type { AlarmOutcome } from '../../functions/trigger/handle-alarm';

const endpoint = inject('motoEndpoint');

let local: LocalControlPlane;
/** Health checks the harness reports as failing (moto itself always says healthy). */
let failing: Set<string>;
let route53Calls: Map<string, number>;

const alarmHandler = () => createAlarmHandler(() => local.controlPlane());
const deliver = (event: unknown) => alarmHandler()(event, lambdaContext) as Promise<AlarmOutcome[]>;
const scheduledRun = () => createReconcileHandler(() => local.controlPlane())({}, lambdaContext);
const alarm = (value: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA' = 'ALARM') =>
  setAlarmAndBuildEvent(
    local.clients.cloudwatch,
    local.topology.alarmName,
    value,
    'Threshold Crossed',
    local.clock.now(),
  );
const www = () =>
  answerFor(local.clients.route53, local.topology.hostedZoneId, local.topology.recordName, 'A', failing);
const api = () =>
  answerFor(
    local.clients.route53,
    local.topology.hostedZoneId,
    local.topology.apiRecordName,
    'CNAME',
    failing,
  );
const desired = () => local.controlPlane().store.readService('shop');
const slackTexts = () => local.sink.messages.map((m) => m.body.text ?? '');
const changes = () => route53Calls.get('ChangeResourceRecordSetsCommand') ?? 0;

const start = async (options: Parameters<typeof startLocalControlPlane>[1] = {}) => {
  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  local = await startLocalControlPlane(endpoint, options);
  failing = new Set();
  supplyHealthCheckStatus(local.clients.route53, failing);
  route53Calls = countCalls(local.clients.route53);
  // The first reconcile after deploy creates the records from the config, primary serving. (Called
  // directly: a dry-run service's scheduled run only plans, and these tests need the records.)
  const cp = local.controlPlane();
  await reconcileService(cp, cp.config.services[0] as ServiceConfig, undefined, { dryRun: false });
  await cp.reporter.flush();
  route53Calls.clear();
};

afterEach(async () => {
  await local?.stop();
});

describe('alarm-driven DNS failover against the local AWS', () => {
  beforeEach(() => start());

  it('creates the records on the primary, then an idle scheduled run only reads', async () => {
    expect(await www()).toEqual(['192.0.2.10']);
    expect(await api()).toEqual(['api-primary.shop.example.test']);
    route53Calls.clear();
    const dynamoCalls = countCalls(local.clients.dynamodb);

    await scheduledRun();

    expect(changes()).toBe(0);
    expect(route53Calls.get('GetHealthCheckStatusCommand') ?? 0).toBe(0);
    expect(route53Calls.get('ListResourceRecordSetsCommand')).toBe(1);
    const writes = [...dynamoCalls.keys()].filter((name) => !/^(Query|Get|BatchGet|Scan)/.test(name));
    expect(writes).toEqual([]);
  });

  it('fails over on an ALARM: the standby answers, the epoch moves once, and Slack hears each step', async () => {
    failing.add(local.topology.primaryHealthCheckId);

    const [outcome] = await deliver(await alarm());

    expect(outcome).toMatchObject({ kind: 'transitioned', epoch: 1, changed: ['dns'] });
    expect(await www()).toEqual(['198.51.100.10']);
    expect(await api()).toEqual(['api-standby.shop.example.test']);
    const state = await desired();
    expect(state.desired.capabilities.dns?.active).toBe('standby');
    expect(state.desired.requestedBy).toBe('alarm:shop-primary-unhealthy');
    expect(state.statuses.dns).toMatchObject({ phase: 'converged', epoch: 1 });
    expect(changes()).toBe(1);
    const texts = slackTexts();
    expect(texts.some((t) => t.includes('Decision') && t.includes('moving dns to the standby'))).toBe(true);
    expect(texts.some((t) => t.includes('Acting') && t.includes('ChangeResourceRecordSets'))).toBe(true);
    expect(texts.some((t) => t.includes('Converged') && t.includes('INSYNC'))).toBe(true);
    const blocks = local.sink.messages[0]?.body.blocks as { type: string }[];
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context']);
  });

  it('turns 50 concurrent copies of one alarm event into exactly one failover', async () => {
    const event = await alarm();

    const outcomes = (await Promise.all(Array.from({ length: 50 }, () => deliver(event)))).flat();

    expect(outcomes.filter((o) => o.kind === 'transitioned')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'unchanged')).toHaveLength(49);
    expect((await desired()).desired.epoch).toBe(1);
    expect(changes()).toBe(1);
    const audit = await local.controlPlane().store.readAudit('shop', 200);
    expect(
      audit.filter((e) => e.kind === 'ignored' && e.message.includes('already on standby')),
    ).toHaveLength(49);
    expect(audit.filter((e) => e.kind === 'decision')).toHaveLength(1);
    expect(await www()).toEqual(['198.51.100.10']);
  });

  it.each([
    [
      'an unknown alarm',
      () => alarmStateChangeEvent({ ...base(), alarmName: 'somebody-elses-alarm' }),
      /protects no/,
    ],
    [
      'a stale event',
      () => alarmStateChangeEvent({ ...base(), at: new Date(local.clock.now().getTime() - 3_600_000) }),
      /stale/,
    ],
    ['another account', () => alarmStateChangeEvent({ ...base(), account: '999999999999' }), /watches/],
    [
      'another Region',
      () => alarmStateChangeEvent({ ...base(), region: 'us-west-2' }),
      /configured in eu-west-2 only/,
    ],
    [
      'a malformed event',
      () => ({ source: 'aws.cloudwatch', detail: { alarmName: 42 } }),
      /not a CloudWatch alarm/,
    ],
    [
      'an EC2 event',
      () => ({ ...alarmStateChangeEvent(base()), source: 'aws.ec2' }),
      /not a CloudWatch alarm/,
    ],
    ['nothing at all', () => null, /not a CloudWatch alarm/],
  ])('ignores %s: no action, a logged reason', async (_name, event, reason) => {
    const [outcome] = await deliver(event());

    expect(outcome).toMatchObject({ kind: 'ignored', reason: expect.stringMatching(reason) });
    expect((await desired()).desired.epoch).toBe(0);
    expect(changes()).toBe(0);
    expect(local.log.lines.some((l) => l.level === 'warn' && l.message === 'event ignored')).toBe(true);
    expect(await www()).toEqual(['192.0.2.10']);
  });

  it('holds failback on OK and ignores INSUFFICIENT_DATA', async () => {
    await deliver(await alarm());
    local.sink.messages.length = 0;

    const [ok] = await deliver(await alarm('OK'));
    const [unknown] = await deliver(await alarm('INSUFFICIENT_DATA'));

    expect(ok).toMatchObject({ kind: 'held' });
    expect(unknown).toMatchObject({ kind: 'ignored' });
    expect((await desired()).desired.capabilities.dns?.active).toBe('standby');
    expect(await www()).toEqual(['198.51.100.10']);
    expect(
      slackTexts().some(
        (t) => t.includes('Held') && t.includes('npx --no-install understudyctl failback shop'),
      ),
    ).toBe(true);
  });

  it('refuses a second automatic failover inside the cooldown window, and allows it after', async () => {
    const cp = local.controlPlane();
    await deliver(await alarm());
    await requestTransition(cp, cp.config.services[0] as ServiceConfig, {
      service: 'shop',
      capabilities: ['dns'],
      target: 'primary',
      requestedBy: 'operator:test',
      reason: 'operator test asked for failback',
      ignoreCooldown: true,
    });
    await cp.reporter.flush();
    expect(await www()).toEqual(['192.0.2.10']);

    local.clock.advance(5 * 60_000);
    const [held] = await deliver(await alarm());
    expect(held).toMatchObject({ kind: 'cooldown' });
    expect(await www()).toEqual(['192.0.2.10']);
    expect(slackTexts().some((t) => t.includes('Refused') && t.includes('cooldown'))).toBe(true);

    local.clock.advance(26 * 60_000);
    const [moved] = await deliver(await alarm());
    expect(moved).toMatchObject({ kind: 'transitioned', epoch: 3 });
    expect(await www()).toEqual(['198.51.100.10']);
  });

  it('refuses to route to an unhealthy standby, says why in Slack, and moves once it is healthy', async () => {
    failing.add(local.topology.standbyHealthCheckId);

    const [outcome] = await deliver(await alarm());

    expect(outcome).toMatchObject({ kind: 'transitioned', epoch: 1 });
    const state = await desired();
    expect(state.statuses.dns?.phase).toBe('refused');
    expect(state.statuses.dns?.detail).toContain(local.topology.standbyHealthCheckId);
    expect(await www()).toEqual(['192.0.2.10']);
    expect(changes()).toBe(0);
    expect(
      slackTexts().some((t) => t.includes('Refused') && t.includes('will not route to the standby')),
    ).toBe(true);

    const before = local.sink.messages.length;
    await scheduledRun();
    expect(local.sink.messages.length).toBe(before); // same refusal, not repeated every minute

    failing.delete(local.topology.standbyHealthCheckId);
    await scheduledRun();
    expect(await www()).toEqual(['198.51.100.10']);
    expect((await desired()).statuses.dns?.phase).toBe('converged');
  });

  it('fails over even when the Slack webhook is down', async () => {
    await local.sink.stop();

    const [outcome] = await deliver(await alarm());

    expect(outcome).toMatchObject({ kind: 'transitioned' });
    expect(await www()).toEqual(['198.51.100.10']);
    expect(local.log.lines.some((l) => l.message.includes('Slack notification failed'))).toBe(true);
  });

  it('converges on a later run when Route 53 throttles the change', async () => {
    let throttled = 0;
    local.clients.route53.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ChangeResourceRecordSetsCommand' && throttled < 1) {
          throttled++;
          // What the SDK surfaces once its own retries are spent: Route 53's 400 Throttling.
          throw Object.assign(new Error('Rate exceeded'), {
            name: 'Throttling',
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'injectThrottling' },
    );

    await deliver(await alarm());
    const afterAlarm = await desired();
    expect(afterAlarm.statuses.dns?.phase).toBe('failed');
    expect(afterAlarm.statuses.dns?.detail).toMatch(/Throttling.*next run will try again/);
    expect(await www()).toEqual(['192.0.2.10']);

    await scheduledRun();

    expect(await www()).toEqual(['198.51.100.10']);
    expect((await desired()).statuses.dns?.phase).toBe('converged');
  });
});

describe('modes that only plan', () => {
  it('dry-run changes nothing, but says what it would do', async () => {
    await start({ mode: 'dry-run' });

    const [outcome] = await deliver(await alarm());

    expect(outcome).toMatchObject({ kind: 'planned' });
    expect(outcome?.kind === 'planned' ? outcome.plan.join('\n') : '').toContain(
      'route53:ChangeResourceRecordSets',
    );
    expect((await desired()).desired.epoch).toBe(0);
    expect(changes()).toBe(0);
    expect(await www()).toEqual(['192.0.2.10']);
    expect(slackTexts().some((t) => t.includes('Plan only') && t.includes('dry-run'))).toBe(true);

    // The schedule never converges a dry-run service either, even when its records are "wrong":
    // someone moved the weights by hand, and a dry-run control plane must leave them alone.
    const service = local.topology.config.services[0] as ServiceConfig;
    const [www0] = service.dns?.records ?? [];
    await local.clients.route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: local.topology.hostedZoneId,
        ChangeBatch: {
          Changes: desiredRecordSets(service, www0 as DnsRecordConfig, 'standby').map((set) => ({
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: set.name,
              Type: 'A',
              SetIdentifier: set.setIdentifier,
              Weight: set.weight,
              TTL: set.ttl,
              HealthCheckId: set.healthCheckId,
              ResourceRecords: set.values?.map((Value) => ({ Value })),
            },
          })),
        },
      }),
    );
    expect(await www()).toEqual(['198.51.100.10']);
    route53Calls.clear();
    await scheduledRun();
    expect(changes()).toBe(0);
    expect(await www()).toEqual(['198.51.100.10']);
  });

  it('approve mode plans and asks for an operator', async () => {
    await start({ mode: 'approve' });

    const [outcome] = await deliver(await alarm());

    expect(outcome).toMatchObject({ kind: 'planned' });
    expect((await desired()).desired.epoch).toBe(0);
    expect(await www()).toEqual(['192.0.2.10']);
    expect(slackTexts().some((t) => t.includes('npx --no-install understudyctl failover shop'))).toBe(true);
  });
});

function base() {
  return {
    alarmName: local.topology.alarmName,
    account: LOCAL_ACCOUNT,
    region: LOCAL_REGION,
    value: 'ALARM',
    reason: 'Threshold Crossed',
    at: local.clock.now(),
  };
}
