import type { Route53Client } from '@aws-sdk/client-route-53';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  type LocalCompute,
  serviceAlarmEvent,
  startLocalCompute,
} from '../../functions/capabilities/compute/local';
import {
  DB_ALARM,
  DB_PRIMARY,
  DB_REPLICA,
  type LocalDatabase,
  startDatabaseControlPlane,
} from '../../functions/capabilities/database/local';
import { fenceTarget } from '../../functions/capabilities/database/planner';
import { type LocalControlPlane, startLocalControlPlane } from '../../functions/capabilities/dns/local';
import {
  type LocalMail,
  MAIL_ALARM,
  MAIL_DOMAIN,
  sesMessageId,
  sesStoredMime,
  startLocalMail,
} from '../../functions/capabilities/mail/local';
import { type LocalPrimary, startLocalPrimary } from '../../functions/capabilities/mail/local-primary';
import type { ServiceConfig } from '../../functions/config/schema';
import type { TransitionRequest } from '../../functions/core/types';
import { localLambdaContext as lambdaContext } from '../../functions/drill/lambda-context';
import { answerFor, setAlarmAndBuildEvent } from '../../functions/drill/local-aws';
import type { ControlPlane } from '../../functions/engine/engine';
import { reconcileService } from '../../functions/engine/engine';
import { requestTransition } from '../../functions/engine/transition';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
import { createResourceEventHandler } from '../../functions/handlers/resource-event';
import type { AlarmOutcome } from '../../functions/trigger/handle-alarm';

/**
 * Issue 9's eight observed failures, each replayed against the local AWS (moto) through the real
 * clients, handlers and control plane, asserting the safe outcome. Interleavings and faults are
 * made with SDK client middleware only (a pause before a call, a throttled or lost answer): nothing
 * in the product knows it is being tested. The random interleavings are the model walk's job
 * (test/unit/concurrency-model.test.ts); these prove the same rules on the real SDK and the emulator.
 */

const endpoint = inject('motoEndpoint');

/** What every SDK v3 client's middleware stack takes (each types its own; the harness stays generic). */
type Stack = { middlewareStack: Route53Client['middlewareStack'] };
const stackOf = (client: unknown) => (client as Stack).middlewareStack;

/**
 * Pauses the first call of `command` on `client` (before the SDK's retries and the call guard), until
 * released: the moment another trigger acts while this call is in flight (an SDK backoff, the Route 53
 * rate-limit sleep).
 */
const pauseFirst = (client: unknown, command: string) => {
  let reached!: () => void;
  let release!: () => void;
  const atGate = new Promise<void>((r) => {
    reached = r;
  });
  const open = new Promise<void>((r) => {
    release = r;
  });
  let paused = false;
  stackOf(client).add(
    (next, context) => async (args) => {
      if (context.commandName === command && !paused) {
        paused = true;
        reached();
        await open;
      }
      return next(args);
    },
    { step: 'initialize', name: `harnessPause${command}${Math.random()}`, priority: 'high' },
  );
  return { reached: atGate, release };
};

/**
 * Counts the attempts of each command that actually went to the emulator (after the SDK's retry
 * loop and the call guard), and optionally fails one of them: `throttle` (refused, never sent) or
 * `lose` (sent and applied, then the answer is lost as a 500). `hold` keeps a faulted attempt waiting
 * until released, to let another trigger act meanwhile.
 */
const attempts = (client: unknown) => {
  const sent = new Map<string, number>();
  const faults: {
    command: string;
    kind: 'throttle' | 'lose';
    match?: (input: Record<string, unknown>) => boolean;
    hold?: Promise<void>;
    reached?: () => void;
  }[] = [];
  stackOf(client).add(
    (next, context) => async (args) => {
      const command = context.commandName ?? '?';
      const input = (args as unknown as { input: Record<string, unknown> }).input;
      const i = faults.findIndex((f) => f.command === command && (f.match?.(input) ?? true));
      const fault = i >= 0 ? faults.splice(i, 1)[0] : undefined;
      if (fault?.kind === 'throttle') {
        fault.reached?.();
        await fault.hold;
        throw Object.assign(new Error('Rate exceeded'), {
          name: 'Throttling',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
        });
      }
      sent.set(command, (sent.get(command) ?? 0) + 1);
      const out = await next(args);
      if (fault?.kind === 'lose') {
        throw Object.assign(new Error('We encountered an internal error. Please try again.'), {
          name: 'InternalServerError',
          $fault: 'server',
          $metadata: { httpStatusCode: 500 },
        });
      }
      return out;
    },
    { step: 'deserialize', name: `harnessAttempts${Math.random()}` },
  );
  return {
    sent: (command: string) => sent.get(command) ?? 0,
    fail(fault: (typeof faults)[number]) {
      faults.push(fault);
    },
    /** Throttles the next attempt of `command`, holding it until released. */
    throttleAndHold(command: string) {
      let reached!: () => void;
      let release!: () => void;
      const atGate = new Promise<void>((r) => {
        reached = r;
      });
      const hold = new Promise<void>((r) => {
        release = r;
      });
      faults.push({ command, kind: 'throttle', hold, reached });
      return { reached: atGate, release };
    },
  };
};

const operator = (
  service: string,
  capabilities: TransitionRequest['capabilities'],
  target: 'primary' | 'standby',
  params?: TransitionRequest['params'],
): TransitionRequest => ({
  service,
  capabilities,
  target,
  requestedBy: 'operator:alice',
  reason: `operator alice asked to ${target === 'standby' ? 'fail over' : 'fail back'}`,
  ignoreCooldown: true,
  ...(params && { params }),
});

const deliverWith = (controlPlane: () => ControlPlane) => (event: unknown) =>
  createAlarmHandler(controlPlane)(event, lambdaContext) as Promise<AlarmOutcome[]>;
const scheduleWith = (controlPlane: () => ControlPlane) => () =>
  createReconcileHandler(controlPlane)({}, lambdaContext) as Promise<{ phase: string }[]>;

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});
const reset = () => fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });

describe('issue 9: never worse under concurrency, against the local AWS', () => {
  it('1. a scheduled run finishing a failover and an operator failback never leave the target group empty', async () => {
    await reset();
    const local: LocalCompute = await startLocalCompute(endpoint);
    stops.push(local.stop);
    const service = local.topology.config.services[0] as ServiceConfig;
    const deliver = deliverWith(() => local.controlPlane());
    const scheduledRun = scheduleWith(() => local.controlPlane());
    let fewest = Number.POSITIVE_INFINITY;
    stackOf(local.clients.elbv2).add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (/^(Register|Deregister)Targets/.test(context.commandName ?? '')) {
          fewest = Math.min(fewest, (await local.members()).length);
        }
        return out;
      },
      { step: 'initialize', name: 'harnessMembership' },
    );
    // The whole tier fails over: the alarm's run registers the standbys (healthy at once on moto).
    await deliver(serviceAlarmEvent(local.clock.now()));
    expect(await local.members()).toEqual([...local.topology.primaries, ...local.topology.standbys].sort());

    // Act: the next scheduled run is about to take the primaries out when an operator fails back.
    const gate = pauseFirst(local.clients.elbv2, 'DeregisterTargetsCommand');
    local.clock.advance(60_000);
    const finishing = scheduledRun();
    await gate.reached;
    const failback = await requestTransition(
      local.controlPlane(),
      service,
      operator('web', ['compute'], 'primary'),
    );
    gate.release();
    await finishing;

    // Assess: the failback found the service held and left it to the holder, whose stale removal of
    // the primaries was stopped by the fence; the holder then did the failback itself.
    expect(failback).toMatchObject({ kind: 'transitioned', epoch: 2 });
    expect(failback.kind === 'transitioned' && failback.reports.map((r) => r.phase)).toEqual(['deferred']);
    expect(await local.members()).toEqual([...local.topology.primaries].sort());
    expect(fewest).toBeGreaterThanOrEqual(local.topology.primaries.length);
    const state = await local.controlPlane().store.readService('web');
    expect(state.statuses.compute).toMatchObject({ epoch: 2 });
  });

  it('2. a run planned at epoch 2 never rewrites DNS after an alarm moved the service to epoch 3', async () => {
    await reset();
    const local: LocalControlPlane = await startLocalControlPlane(endpoint, { cooldownMinutes: 0 });
    stops.push(local.stop);
    const { topology } = local;
    const service = topology.config.services[0] as ServiceConfig;
    const cp = local.controlPlane();
    await reconcileService(cp, service, undefined, { dryRun: false });
    await cp.reporter.flush();
    const deliver = deliverWith(() => local.controlPlane());
    const alarm = () =>
      setAlarmAndBuildEvent(
        local.clients.cloudwatch,
        topology.alarmName,
        'ALARM',
        'Threshold Crossed',
        local.clock.now(),
      );
    const www = () =>
      answerFor(local.clients.route53, topology.hostedZoneId, topology.recordName, 'A', new Set());
    const route53 = attempts(local.clients.route53);

    await deliver(await alarm()); // epoch 1: the standby serves
    expect(await www()).toEqual(['198.51.100.10']);
    const changesAtEpoch1 = route53.sent('ChangeResourceRecordSetsCommand');

    // Act: an operator fails back (epoch 2); its Route 53 write is still in flight when the alarm
    // fires again and moves the service to the standby (epoch 3).
    local.clock.advance(60_000);
    const gate = pauseFirst(local.clients.route53, 'ChangeResourceRecordSetsCommand');
    const failingBack = requestTransition(
      local.controlPlane(),
      service,
      operator('shop', ['dns'], 'primary'),
    );
    await gate.reached;
    local.clock.advance(30_000);
    const [again] = await deliver(await alarm());
    gate.release();
    await failingBack;

    // Assess: the epoch-2 write never reached Route 53; the standby still serves; the status is epoch 3.
    expect(again).toMatchObject({ kind: 'transitioned', epoch: 3 });
    expect(route53.sent('ChangeResourceRecordSetsCommand')).toBe(changesAtEpoch1);
    expect(await www()).toEqual(['198.51.100.10']);
    const state = await local.controlPlane().store.readService('shop');
    expect(state.desired.epoch).toBe(3);
    expect(state.statuses.dns).toMatchObject({ epoch: 3, phase: 'converged', active: 'standby' });
  });

  it('3. the alarm path and scheduled runs in one epoch send PromoteReadReplica once, also when a run dies in the call', async () => {
    await reset();
    const local: LocalDatabase = await startDatabaseControlPlane(endpoint, { maxAttempts: 3 });
    stops.push(local.stop);
    const service = local.config.services[0] as ServiceConfig;
    const cp = local.controlPlane();
    await reconcileService(cp, service);
    await cp.reporter.flush();
    await local.publishLag(DB_REPLICA, 1);
    local.promotionReads = 2;
    const rds = attempts(local.clients.rds);
    // The first run to promote dies right after RDS took the call (no answer, nothing recorded after it).
    let crash = true;
    stackOf(local.clients.rds).add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'PromoteReadReplicaCommand' && crash) {
          crash = false;
          throw Object.assign(new Error('Task timed out after 60.00 seconds'), { name: 'TimeoutError' });
        }
        return out;
      },
      { step: 'initialize', name: 'harnessDieInPromotion', priority: 'high' },
    );
    const deliver = deliverWith(() => local.controlPlane());
    const scheduledRun = scheduleWith(() => local.controlPlane());
    const rdsEvent = createResourceEventHandler(
      () => local.controlPlane(),
      () => 'database',
    );
    const event = await setAlarmAndBuildEvent(
      local.clients.cloudwatch,
      DB_ALARM,
      'ALARM',
      'Threshold Crossed',
      local.clock.now(),
    );
    const promotedEvent = {
      version: '0',
      id: 'rds-event-1',
      'detail-type': 'RDS DB Instance Event',
      source: 'aws.rds',
      account: local.config.controlPlane.account,
      region: local.config.controlPlane.region,
      time: local.clock
        .now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
      resources: [],
      detail: { SourceIdentifier: DB_REPLICA, EventID: 'RDS-EVENT-0046', Message: 'promotion started' },
    };

    // Act: the alarm's run calls PromoteReadReplica; while the call is in flight, copies of the alarm,
    // scheduled runs and RDS event runs of the same epoch go ahead; then the call completes, but its
    // run dies before it hears back. Then the schedule every minute, past the 2-minute grace in which
    // a promotion recorded as intended may be invisible in RDS.
    const gate = pauseFirst(local.clients.rds, 'PromoteReadReplicaCommand');
    const first = deliver(event);
    await gate.reached;
    await Promise.all([
      deliver(event),
      deliver(event),
      ...Array.from({ length: 3 }, () => scheduledRun()),
      ...Array.from({ length: 2 }, () => rdsEvent(promotedEvent, lambdaContext)),
    ]);
    gate.release();
    await first;
    for (let minute = 0; minute < 6; minute++) {
      local.clock.advance(60_000);
      await Promise.all([scheduledRun(), scheduledRun(), rdsEvent(promotedEvent, lambdaContext)]);
    }

    // Assess: one PromoteReadReplica reached RDS; the name points at the promoted replica.
    expect(rds.sent('PromoteReadReplicaCommand')).toBe(1);
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_REPLICA));
    const state = await local.controlPlane().store.readService('shop');
    expect(state.desired.epoch).toBe(1);
    expect(state.statuses.database).toMatchObject({ epoch: 1, phase: 'converged' });
  });

  it('4. mail: ALARM, OK (mail back), then the ALARM delivered again: mail stays with the primary', async () => {
    await reset();
    const primary: LocalPrimary = await startLocalPrimary();
    stops.push(primary.stop);
    const local: LocalMail = await startLocalMail(endpoint, primary);
    stops.push(local.stop);
    const deliver = deliverWith(() => local.controlPlane());
    const scheduledRun = scheduleWith(() => local.controlPlane());
    const message = (n: number) => {
      const messageId = sesMessageId(n);
      const receivedAt = local.clock.now();
      const to = `orders@${MAIL_DOMAIN}`;
      return {
        messageId,
        receivedAt,
        mailFrom: 'sender@sender.test',
        recipients: [to],
        raw: sesStoredMime({
          messageId,
          receivedAt,
          from: 'sender@sender.test',
          to,
          subject: `m${n}`,
          body: 'hi\r\n',
        }),
      };
    };

    await primary.setMode('refuse');
    const down = await setAlarmAndBuildEvent(
      local.clients.cloudwatch,
      MAIL_ALARM,
      'ALARM',
      'Threshold Crossed',
      local.clock.now(),
    );
    expect((await deliver(down))[0]).toMatchObject({ kind: 'transitioned', changed: ['mail'] });
    await local.receive(message(1));
    local.clock.advance(60_000);
    await primary.setMode('accept');
    const up = await setAlarmAndBuildEvent(
      local.clients.cloudwatch,
      MAIL_ALARM,
      'OK',
      'Threshold Crossed',
      local.clock.now(),
    );
    expect((await deliver(up))[0]).toMatchObject({ kind: 'transitioned', changed: ['mail'] });
    expect(primary.accepted).toHaveLength(1);

    // Act: EventBridge delivers the old ALARM once more, late.
    local.clock.advance(60_000);
    const [late] = await deliver(down);

    // Assess: ignored with a reason; mail stays with the primary, and new mail is handed back.
    expect(late).toMatchObject({
      kind: 'unchanged',
      reason: expect.stringMatching(/never undoes a later change/),
    });
    const state = await local.controlPlane().store.readService('shop');
    expect(state.desired.capabilities.mail?.active).toBe('primary');
    await local.receive(message(2));
    await scheduledRun();
    expect(primary.accepted).toHaveLength(2);
  });

  it('5. an ALARM delivered again after an operator failback does not fail over again once the cooldown passed', async () => {
    await reset();
    const local: LocalControlPlane = await startLocalControlPlane(endpoint, { cooldownMinutes: 5 });
    stops.push(local.stop);
    const { topology } = local;
    const service = topology.config.services[0] as ServiceConfig;
    const cp = local.controlPlane();
    await reconcileService(cp, service, undefined, { dryRun: false });
    await cp.reporter.flush();
    const deliver = deliverWith(() => local.controlPlane());
    const www = () =>
      answerFor(local.clients.route53, topology.hostedZoneId, topology.recordName, 'A', new Set());
    const event = await setAlarmAndBuildEvent(
      local.clients.cloudwatch,
      topology.alarmName,
      'ALARM',
      'Threshold Crossed',
      local.clock.now(),
    );
    await deliver(event);
    local.clock.advance(60_000);
    await requestTransition(local.controlPlane(), service, operator('shop', ['dns'], 'primary'));
    expect(await www()).toEqual(['192.0.2.10']);

    // Act: six minutes later (cooldown over, the event still young enough), the old ALARM again.
    local.clock.advance(6 * 60_000);
    const [outcome] = await deliver(event);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'unchanged',
      reason: expect.stringMatching(/never undoes a later change/),
    });
    expect(await www()).toEqual(['192.0.2.10']);
    expect((await local.controlPlane().store.readService('shop')).desired.epoch).toBe(2);
  });

  it('6. a transition write whose answer was lost is recognised by its request id and acted on', async () => {
    await reset();
    const local: LocalControlPlane = await startLocalControlPlane(endpoint, { maxAttempts: 3 });
    stops.push(local.stop);
    const { topology } = local;
    const service = topology.config.services[0] as ServiceConfig;
    const cp = local.controlPlane();
    await reconcileService(cp, service, undefined, { dryRun: false });
    await cp.reporter.flush();
    const dynamodb = attempts(local.clients.dynamodb);
    // DynamoDB applies the desired-state put, but its answer is lost (500): the SDK tries again,
    // and the retry fails the condition on the state the first attempt wrote.
    dynamodb.fail({
      command: 'PutItemCommand',
      kind: 'lose',
      match: (input) => (input.Item as { sk?: { S?: string } } | undefined)?.sk?.S === 'STATE',
    });
    const event = await setAlarmAndBuildEvent(
      local.clients.cloudwatch,
      topology.alarmName,
      'ALARM',
      'Threshold Crossed',
      local.clock.now(),
    );

    const [outcome] = await deliverWith(() => local.controlPlane())(event);

    expect(dynamodb.sent('PutItemCommand')).toBeGreaterThanOrEqual(2);
    expect(outcome).toMatchObject({ kind: 'transitioned', epoch: 1, changed: ['dns'] });
    expect(
      await answerFor(local.clients.route53, topology.hostedZoneId, topology.recordName, 'A', new Set()),
    ).toEqual(['198.51.100.10']);
    const state = await local.controlPlane().store.readService('shop');
    expect(state.desired).toMatchObject({ epoch: 1, requestId: expect.any(String) });
    expect(state.statuses.dns).toMatchObject({ epoch: 1, phase: 'converged' });
  });

  it('7. an operator withdrawing an --accept-data-loss failover while its promotion is throttled: the promotion never lands', async () => {
    await reset();
    const local: LocalDatabase = await startDatabaseControlPlane(endpoint, { maxAttempts: 3 });
    stops.push(local.stop);
    const service = local.config.services[0] as ServiceConfig;
    const cp = local.controlPlane();
    await reconcileService(cp, service);
    await cp.reporter.flush();
    await local.publishLag(DB_REPLICA, 300); // far over the budget: only an explicit acceptance promotes
    const rds = attempts(local.clients.rds);
    const held = rds.throttleAndHold('PromoteReadReplicaCommand');

    // Act: the operator fails over accepting the loss; RDS throttles the promotion; while the SDK
    // backs off, the operator changes their mind and fails back.
    const failingOver = requestTransition(
      local.controlPlane(),
      service,
      operator('shop', ['database'], 'standby', { acceptDataLoss: true }),
    );
    await held.reached;
    const failback = await requestTransition(
      local.controlPlane(),
      service,
      operator('shop', ['database'], 'primary'),
    );
    held.release();
    const failover = await failingOver;

    // Assess: the SDK's retry was stopped by the fence, so no promotion reached RDS; the name, fenced
    // for the promotion, points at the primary again (the holder took the failback's step too).
    expect(failover).toMatchObject({ kind: 'transitioned', epoch: 1 });
    expect(failback).toMatchObject({ kind: 'transitioned', epoch: 2 });
    expect(rds.sent('PromoteReadReplicaCommand')).toBe(0);
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_PRIMARY));
    expect(await local.endpointTarget()).not.toBe(fenceTarget(1));
    const state = await local.controlPlane().store.readService('shop');
    expect(state.statuses.database).toMatchObject({ epoch: 2, phase: 'converged' });
  });

  it('8. "held" reaches Slack only while something is on the standby, once per state change of the alarm', async () => {
    await reset();
    const local: LocalControlPlane = await startLocalControlPlane(endpoint);
    stops.push(local.stop);
    const { topology } = local;
    const service = topology.config.services[0] as ServiceConfig;
    const cp = local.controlPlane();
    await reconcileService(cp, service, undefined, { dryRun: false });
    await cp.reporter.flush();
    const deliver = deliverWith(() => local.controlPlane());
    const event = (value: 'OK' | 'ALARM') =>
      setAlarmAndBuildEvent(
        local.clients.cloudwatch,
        topology.alarmName,
        value,
        'Threshold Crossed',
        local.clock.now(),
      );
    const held = () =>
      local.sink.messages.filter((m) => (m.body.text ?? '').includes('Failback is held')).length;

    // An OK storm while the primary serves: nothing is held, nothing is said.
    const idle = await event('OK');
    await Promise.all(Array.from({ length: 25 }, () => deliver(idle)));
    expect(held()).toBe(0);

    // After a failover, a storm of one OK (duplicates, late copies): one "held".
    local.clock.advance(60_000);
    await deliver(await event('ALARM'));
    local.clock.advance(60_000);
    const ok = await event('OK');
    await Promise.all(Array.from({ length: 25 }, () => deliver(ok)));
    local.clock.advance(60_000);
    await Promise.all(Array.from({ length: 5 }, () => deliver(ok)));
    expect(held()).toBe(1);

    // A new state change of the alarm (ALARM, then OK again) is news again.
    local.clock.advance(60_000);
    await deliver(await event('ALARM'));
    local.clock.advance(60_000);
    await deliver(await event('OK'));
    expect(held()).toBe(2);
  });
});
