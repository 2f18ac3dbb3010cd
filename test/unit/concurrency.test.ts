import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client, StartInstancesCommand } from '@aws-sdk/client-ec2';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, type ServiceConfig } from '../../functions/config/schema';
import { SupersededError } from '../../functions/core/errors';
import type { Site } from '../../functions/core/types';
import { type CallGuard, withCallGuard } from '../../functions/engine/call-guard';
import type { Capability, PlannedAction } from '../../functions/engine/capability';
import { type ControlPlane, reconcileService } from '../../functions/engine/engine';
import { LEASE_MS } from '../../functions/engine/lease';
import { requestTransition } from '../../functions/engine/transition';
import { createClientKit } from '../../functions/runtime/client-kit';
import { DynamoStateStore } from '../../functions/state/store';
import { handleAlarmEvent } from '../../functions/trigger/handle-alarm';
import {
  alarmEvent,
  configWith,
  desiredDns as desired,
  FakeCapability,
  FakeClock,
  FakeStore,
  fullExampleInput,
  onlyService,
  RecordingNotifier,
  testControlPlane,
} from './fixtures';

/**
 * Issue 9, "never worse under concurrency": one writer per service (the lease), the fence before
 * every mutating call and every attempt of it, statuses that never regress, once-per-epoch side
 * effects recorded before they are issued, events ignored when older than the change they would undo,
 * lost transition answers recognised, and "held" told once per state change. The model-based walk
 * (test/unit/concurrency-model.test.ts) checks the same rules under random interleavings.
 */

const T0 = '2026-11-22T10:00:00.000Z';

const setup = (overrides: Parameters<typeof configWith>[0] = {}) => {
  const config = configWith({ mode: 'auto', cooldownMinutes: 0, ...overrides });
  const capability = new FakeCapability();
  const notifier = new RecordingNotifier();
  const clock = new FakeClock(T0);
  const cp = testControlPlane({ config, capability, notifier, clock });
  return { cp, capability, notifier, clock, service: onlyService(config), store: cp.fakeStore };
};

describe('one writer per service (lease)', () => {
  it('a run that finds the service held does nothing, says so at debug level, and asks the holder', async () => {
    const { cp, service, store, capability } = setup();
    store.seed(desired('standby', 3));
    await store.acquireLease('shop', 'schedule/other', cp.clock.now(), LEASE_MS);

    const [report] = await reconcileService(cp, service);

    expect(report).toMatchObject({
      phase: 'deferred',
      detail: expect.stringContaining('another run holds shop'),
    });
    expect(capability.executed).toEqual([]);
    expect(store.count('writeStatus')).toBe(0);
    expect(cp.recordingLog.at('debug').map((l) => l.message)).toContain(
      'service busy: another run holds it and will take this up',
    );
    expect(store.leases.get('shop')?.wanted).toBeDefined();
  });

  it('the holder takes one more round, of the whole service, for a run that asked meanwhile', async () => {
    const { cp, service, store, capability } = setup();
    store.seed(desired('standby', 3));
    // While the holder executes, a trigger moves the desired state on and finds the service held.
    const execute = capability.execute.bind(capability);
    let asked: Awaited<ReturnType<typeof reconcileService>> = [];
    capability.execute = async (action, context) => {
      const result = await execute(action, context);
      if (context.epoch === 3) {
        store.seed(desired('primary', 4, T0));
        asked = await reconcileService(cp, service);
      }
      return result;
    };

    await reconcileService(cp, service);

    expect(asked.map((r) => r.phase)).toEqual(['deferred']);
    // Epoch 3's move, then epoch 4's, by the holder: the asking run never acted.
    expect(store.count('markLeaseWanted')).toBe(1);
    expect(store.count('acquireLease')).toBe(2);
    expect(capability.executed.map((e) => [e.epoch, e.action.params.to])).toEqual([
      [3, 'standby'],
      [4, 'primary'],
    ]);
    expect(capability.serving).toBe('primary');
    expect(store.statuses.get('shop')?.dns).toMatchObject({ epoch: 4, phase: 'converged' });
    expect(store.leases.get('shop')).toMatchObject({ until: 0 });
  });

  it('a holder that died blocks the service only until its lease expires', async () => {
    const { cp, service, store, capability, clock } = setup();
    store.seed(desired('standby', 3));
    await store.acquireLease('shop', 'alarm/crashed', clock.now(), LEASE_MS);

    expect((await reconcileService(cp, service))[0]?.phase).toBe('deferred');
    clock.advance(LEASE_MS);
    const [report] = await reconcileService(cp, service);

    expect(report?.phase).toBe('converged');
    expect(capability.executed).toHaveLength(1);
    expect(store.leases.get('shop')?.token).toBe(2);
  });

  it('an idle run takes no lease: it only reads', async () => {
    const { cp, service, store } = setup();
    await reconcileService(cp, service); // records the fresh converged status (under the lease)
    store.resetOps();

    await reconcileService(cp, service);

    expect(store.ops).toEqual(['readService']);
  });

  it("drops the rest of a plan once the lease is someone else's (token changed), without a status", async () => {
    const { cp, service, store, capability, clock } = setup();
    store.seed(desired('standby', 3));
    capability.actionsPerPlan = 2;
    capability.onExecute = (n) => {
      // The holder stalled past its lease; another run took the service.
      if (n === 1)
        store.leases.set('shop', {
          owner: 'schedule/next',
          token: 9,
          until: clock.now().getTime() + LEASE_MS,
        });
    };

    const [report] = await reconcileService(cp, service);

    expect(capability.executed).toHaveLength(1);
    expect(report?.phase).toBe('superseded');
    expect(report?.detail).toMatch(
      /after 1 of 2 action\(s\): this run no longer holds shop \(lease token 1; now token 9\)/,
    );
    expect(store.count('writeStatus')).toBe(0);
  });

  it('renews a lease with little time left before acting (a slow holder such as the CLI)', async () => {
    const { cp, service, store, capability, clock } = setup();
    store.seed(desired('standby', 3));
    capability.actionsPerPlan = 2;
    capability.onExecute = (n) => {
      // The first action took long: by the second action's fence, only 10 s of the lease are left.
      if (n === 1) clock.advance(LEASE_MS - 10_000);
    };

    await reconcileService(cp, service);

    expect(capability.executed).toHaveLength(2);
    expect(store.count('renewLease')).toBe(1);
  });
});

describe('the fence after a renewal (found by the model walk)', () => {
  it('reads the epoch again after renewing the lease: a transition during the renewal drops the plan', async () => {
    const { cp, service, store, capability, clock } = setup();
    store.seed(desired('standby', 3));
    capability.actionsPerPlan = 2;
    capability.onExecute = (n) => {
      if (n === 1) clock.advance(LEASE_MS - 10_000); // the second action's fence must renew
    };
    store.afterOp = (op) => {
      // While the renewal is in flight, an operator moves the service on.
      if (op === 'renewLease') store.seed(desired('primary', 4, T0));
    };

    const [report] = await reconcileService(cp, service);

    expect(store.count('renewLease')).toBe(1);
    expect(capability.executed).toHaveLength(1);
    expect(report).toMatchObject({ phase: 'superseded', detail: expect.stringContaining('now at epoch 4') });
  });
});

describe('statuses never regress', () => {
  it('a status from an older epoch, or an earlier holder in the same epoch, is refused', async () => {
    const store = new FakeStore();
    const status = (epoch: number, leaseToken: number) => ({
      capability: 'dns' as const,
      epoch,
      active: 'standby' as const,
      phase: 'converged' as const,
      detail: `epoch ${epoch} token ${leaseToken}`,
      updatedAt: T0,
      leaseToken,
    });

    expect(await store.writeStatus('shop', status(4, 7))).toBe(true);
    expect(await store.writeStatus('shop', status(3, 9))).toBe(false);
    expect(await store.writeStatus('shop', status(4, 6))).toBe(false);
    expect(await store.writeStatus('shop', status(4, 7))).toBe(true);
    expect(await store.writeStatus('shop', status(5, 1))).toBe(true);
    expect(store.statuses.get('shop')?.dns?.detail).toBe('epoch 5 token 1');
  });

  it('DynamoStateStore writes the status on that condition and takes a refusal as no error', async () => {
    const documents = mockClient(DynamoDBDocumentClient);
    documents
      .on(PutCommand)
      .rejects(Object.assign(new Error('refused'), { name: 'ConditionalCheckFailedException' }));
    const store = new DynamoStateStore(new DynamoDBClient({ region: 'eu-west-2' }), 'state', 30, () => 'id');

    const written = await store.writeStatus('shop', {
      capability: 'dns',
      epoch: 2,
      active: 'primary',
      phase: 'converged',
      detail: 'x',
      updatedAt: T0,
      leaseToken: 5,
    });

    expect(written).toBe(false);
    const input = documents.commandCalls(PutCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBe(
      'attribute_not_exists(pk) OR epoch < :epoch OR (epoch = :epoch AND (attribute_not_exists(leaseToken) OR leaseToken <= :token))',
    );
    expect(input?.ExpressionAttributeValues).toEqual({ ':epoch': 2, ':token': 5 });
    documents.restore();
  });

  it('the engine writes every status with its lease token', async () => {
    const { cp, service, store } = setup();
    store.seed(desired('standby', 3));

    await reconcileService(cp, service);

    expect(store.statuses.get('shop')?.dns).toMatchObject({ epoch: 3, leaseToken: 1, phase: 'converged' });
  });
});

/** A capability whose one action is a once-per-epoch call, with a scriptable outcome. */
const onceCapability = (store: FakeStore, outcome: () => Promise<void>) => {
  const seen: (Record<string, string> | undefined)[] = [];
  let serving: Site = 'primary';
  const capability: Capability<{ readonly serving: Site }, PlannedAction> = {
    name: 'dns',
    observe: async () => ({ serving }),
    plan: (input) =>
      input.observed.serving === input.target
        ? { kind: 'converged', detail: 'done' }
        : {
            kind: 'act',
            detail: 'promote',
            actions: [
              {
                capability: 'dns',
                api: 'fake:Promote',
                reason: 'once',
                params: { to: input.target },
                once: 'promotedEpoch',
              },
            ],
          },
    execute: async (action) => {
      seen.push(store.statuses.get('shop')?.dns?.pending);
      await outcome();
      serving = action.params.to as Site;
      return { verified: false, detail: 'issued', pending: { promotedEpoch: '3' } };
    },
  };
  return { capability: capability as Capability, seen };
};

/** The control plane with every capability served by one test capability. */
const servedBy = <C extends ControlPlane>(cp: C, capability: unknown): C => ({
  ...cp,
  capability: async () => capability as Capability,
});

describe('side effects once per epoch: recorded as intended before the call', () => {
  it('records pending[once] = epoch (and when) in the status before calling', async () => {
    const { cp, service, store } = setup();
    store.seed(desired('standby', 3));
    const { capability, seen } = onceCapability(store, async () => undefined);
    const run = servedBy(cp, capability);

    const [report] = await reconcileService(run, service);

    expect(seen).toEqual([{ promotedEpoch: '3', promotedEpochAt: T0 }]);
    // The grace counts from when the call returned (here the clock stood still: the same time).
    expect(report?.phase).toBe('waiting');
    expect(store.statuses.get('shop')?.dns?.pending).toEqual({ promotedEpoch: '3', promotedEpochAt: T0 });
  });

  it('counts the grace from when the call returned, not from the record (found by the model walk)', async () => {
    const { cp, service, store, clock } = setup();
    store.seed(desired('standby', 3));
    // The call is slow to return (an SDK backoff): three minutes pass between the record and the answer.
    const { capability } = onceCapability(store, async () => clock.advance(180_000));

    await reconcileService(servedBy(cp, capability), service);

    const returned = new Date(Date.parse(T0) + 180_000).toISOString();
    expect(store.statuses.get('shop')?.dns?.pending).toEqual({
      promotedEpoch: '3',
      promotedEpochAt: returned,
    });
  });

  it('keeps an intent record through later actions until the capability converges', async () => {
    const { cp, service, store } = setup();
    store.seed(desired('standby', 3));
    store.statuses.set('shop', {
      dns: {
        capability: 'dns',
        epoch: 3,
        active: 'standby',
        phase: 'waiting',
        detail: 'started',
        updatedAt: T0,
        leaseToken: 1,
        pending: { 'start:i-1': '3', 'start:i-1At': T0, changeId: 'C0' },
      },
    });
    const capability = new FakeCapability();
    capability.verifyImmediately = false;

    await reconcileService(servedBy(cp, capability), service);

    // A later action's bookkeeping replaces the change id, never the record of the start.
    expect(store.statuses.get('shop')?.dns?.pending).toEqual({
      'start:i-1': '3',
      'start:i-1At': T0,
      changeId: 'C1',
    });
  });

  it('forgets the intent when AWS refused the call (4xx), and keeps it when the outcome is unknown (5xx)', async () => {
    const fail = (status: number) => async () => {
      // As the client kit's middleware would: the attempt's outcome is noted on the action's guard.
      await import('../../functions/engine/call-guard').then(({ guardedAttempt }) =>
        guardedAttempt('EC2Client', 'StartInstancesCommand', async () => {
          throw Object.assign(new Error(`HTTP ${status}`), {
            name: status === 400 ? 'Throttling' : 'InternalError',
            $metadata: { httpStatusCode: status },
          });
        }),
      );
    };
    for (const [status, kept] of [
      [400, false],
      [500, true],
    ] as const) {
      const { cp, service, store } = setup();
      store.seed(desired('standby', 3));
      const { capability } = onceCapability(store, fail(status));

      const [report] = await reconcileService(servedBy(cp, capability), service);

      expect(report?.phase).toBe('failed');
      const pending = store.statuses.get('shop')?.dns?.pending;
      expect(pending?.promotedEpoch !== undefined, `HTTP ${status}`).toBe(kept);
    }
  });
});

describe('the fence at every attempt (client kit middleware)', () => {
  /** A real EC2 client whose HTTP answers are scripted: no network. */
  const scriptedEc2 = (answers: number[]) => {
    const kit = createClientKit({ region: 'eu-west-2' });
    const ec2 = kit.client(EC2Client);
    let calls = 0;
    (ec2.config as unknown as { requestHandler: unknown }).requestHandler = {
      handle: async () => {
        const status = answers[calls++] ?? 200;
        const body =
          status === 200
            ? '<StartInstancesResponse><instancesSet></instancesSet></StartInstancesResponse>'
            : `<Response><Errors><Error><Code>${status === 400 ? 'RequestLimitExceeded' : 'InternalError'}</Code><Message>x</Message></Error></Errors></Response>`;
        const { Readable } = await import('node:stream');
        return { response: { statusCode: status, headers: {}, body: Readable.from([Buffer.from(body)]) } };
      },
    };
    return { ec2, sent: () => calls };
  };

  afterEach(() => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  const guard = (check: () => Promise<void>, once = false): CallGuard => ({
    service: 'shop',
    epoch: 3,
    token: 1,
    once,
    check,
    attempts: [],
  });

  it('checks before every attempt: an SDK retry after the epoch moved on is never sent', async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    const { ec2, sent } = scriptedEc2([400]);
    let checks = 0;
    const g = guard(async () => {
      // The first attempt was throttled; while the SDK backed off, an operator moved the service on.
      if (checks++ > 0)
        throw new SupersededError('plan for epoch 3 dropped: the desired state is now at epoch 4');
    });

    const sending = withCallGuard(g, () =>
      ec2.send(new StartInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
    );

    await expect(sending).rejects.toThrow(/epoch 4/);
    expect(sent()).toBe(1);
    expect(g.attempts).toEqual(['refused', 'blocked']);
  });

  it('never retries a once-per-epoch call whose first attempt may have taken effect (5xx)', async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    const { ec2, sent } = scriptedEc2([500]);
    const g = guard(async () => undefined, true);

    const sending = withCallGuard(g, () =>
      ec2.send(new StartInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
    );

    await expect(sending).rejects.toThrow(/not retried: it is issued once per epoch/);
    expect(sent()).toBe(1);
    expect(g.attempts).toEqual(['ambiguous', 'blocked']);
  });

  it('leaves reads and the state table unguarded', async () => {
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    const { isMutatingCall } = await import('../../functions/engine/call-guard');
    expect(isMutatingCall('RDSClient', 'DescribeDBInstancesCommand')).toBe(false);
    expect(isMutatingCall('Route53Client', 'GetChangeCommand')).toBe(false);
    expect(isMutatingCall('DynamoDBClient', 'PutItemCommand')).toBe(false);
    expect(isMutatingCall('RDSClient', 'PromoteReadReplicaCommand')).toBe(true);
    expect(isMutatingCall('Route53Client', 'ChangeResourceRecordSetsCommand')).toBe(true);
  });
});

describe('event time order', () => {
  it('ignores a re-delivered ALARM older than an operator failback, even after the cooldown', async () => {
    const { cp, store, capability, clock, notifier } = setup({ cooldownMinutes: 30 });
    const alarmAt = new Date(T0);
    await handleAlarmEvent(cp, alarmEvent({ time: alarmAt }));
    clock.advance(10 * 60_000);
    await requestTransition(cp, onlyService(cp.config), {
      service: 'shop',
      capabilities: ['dns'],
      target: 'primary',
      requestedBy: 'operator:alice',
      reason: 'operator alice asked to fail back',
      ignoreCooldown: true,
    });
    clock.advance(60 * 60_000);
    const sent = notifier.sent.length;
    const executed = capability.executed.length;

    // EventBridge delivers the old ALARM once more, late (within the event age limit of a replay).
    const late = {
      ...alarmEvent({ time: alarmAt }),
      time: clock
        .now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
    };
    const [outcome] = await handleAlarmEvent(cp, late);
    await cp.reporter.flush();

    expect(outcome).toMatchObject({
      kind: 'unchanged',
      reason: expect.stringMatching(/never undoes a later change/),
    });
    expect(store.desired.get('shop')?.capabilities.dns?.active).toBe('primary');
    expect(capability.executed).toHaveLength(executed);
    expect(notifier.sent).toHaveLength(sent);
  });

  it('mail: ALARM, OK (mail back), then the ALARM again, late: mail stays with the primary', async () => {
    const input = fullExampleInput();
    const config = parseConfig({ ...input, services: input.services.filter((s) => s.name === 'shop-mail') });
    const service = config.services[0] as ServiceConfig;
    const capability = new FakeCapability();
    const clock = new FakeClock(T0);
    const base = testControlPlane({ config, clock });
    const cp = servedBy(base, capability);
    const alarmName = 'shop-mail-primary-unreachable';
    const account = config.controlPlane.account;
    const region = config.controlPlane.region;
    const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000);

    await handleAlarmEvent(cp, alarmEvent({ alarmName, account, region, time: at(0) }));
    clock.set(at(5).toISOString());
    await handleAlarmEvent(cp, alarmEvent({ alarmName, account, region, state: 'OK', time: at(5) }));
    expect(base.fakeStore.desired.get('shop-mail')?.capabilities.mail?.active).toBe('primary');
    clock.set(at(6).toISOString());
    const redelivered = {
      ...alarmEvent({ alarmName, account, region, time: at(0) }),
      time: at(6).toISOString(),
    };
    const [outcome] = await handleAlarmEvent(cp, redelivered);

    expect(outcome?.kind).toBe('unchanged');
    expect(base.fakeStore.desired.get(service.name)?.capabilities.mail?.active).toBe('primary');
    expect(capability.serving).toBe('primary');
  });
});

describe('a transition whose answer was lost', () => {
  it('is read back, recognised by its request id, and acted on', async () => {
    const { cp, service, store, capability } = setup();
    let lost = true;
    store.afterOp = (op) => {
      // The write lands; its answer never comes (a 500 after DynamoDB applied it).
      if (op === 'writeTransition' && lost) {
        lost = false;
        throw Object.assign(new Error('We encountered an internal error'), {
          name: 'InternalServerError',
          $metadata: { httpStatusCode: 500 },
        });
      }
    };

    const outcome = await requestTransition(cp, service, {
      service: 'shop',
      capabilities: ['dns'],
      target: 'standby',
      requestedBy: 'alarm:shop-primary-unhealthy',
      reason: 'alarm',
      ignoreCooldown: false,
      requestId: 'req-1',
    });

    expect(outcome).toMatchObject({ kind: 'transitioned', epoch: 1 });
    expect(store.desired.get('shop')?.requestId).toBe('req-1');
    expect(capability.executed).toHaveLength(1);
  });

  it('DynamoStateStore recognises its own write when the SDK retry failed the condition', async () => {
    const documents = mockClient(DynamoDBDocumentClient);
    documents.on(PutCommand).rejects(
      Object.assign(new Error('The conditional request failed'), {
        name: 'ConditionalCheckFailedException',
      }),
    );
    documents.on(GetCommand).resolves({ Item: { epoch: 4, requestId: 'req-7' } });
    const store = new DynamoStateStore(new DynamoDBClient({ region: 'eu-west-2' }), 'state', 30, () => 'id');
    const next = { ...desired('standby', 4), requestId: 'req-7' };

    expect(await store.writeTransition(3, next)).toBe(true);
    expect(await store.writeTransition(3, { ...next, requestId: 'req-8' })).toBe(false);
    documents.restore();
  });
});

describe('Slack "held"', () => {
  it('only while something is on the standby, once per state change of the alarm, not per delivery', async () => {
    const { cp, store, notifier } = setup();
    const ok = (time: Date) => alarmEvent({ state: 'OK', time });

    // Nothing on the standby: an OK is no news.
    await handleAlarmEvent(cp, ok(new Date(T0)));
    await cp.reporter.flush();
    expect(notifier.sent).toEqual([]);

    store.seed(desired('standby', 3));
    const first = ok(new Date(T0));
    await Promise.all(Array.from({ length: 20 }, () => handleAlarmEvent(cp, first)));
    await cp.reporter.flush();
    expect(notifier.sent.map((e) => e.kind)).toEqual(['held']);

    // A new state change of the alarm (OK again after an ALARM) is news again.
    await handleAlarmEvent(cp, ok(new Date(Date.parse(T0) + 120_000)));
    await cp.reporter.flush();
    expect(notifier.sent.map((e) => e.kind)).toEqual(['held', 'held']);
  });
});
