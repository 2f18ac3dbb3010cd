import { beforeEach, describe, expect, inject, it } from 'vitest';
import { type DesiredState, initialDesiredState } from '../../functions/core/types';
import {
  type AwsClients,
  countCalls,
  createStateTable,
  localAwsClients,
} from '../../functions/drill/local-aws';
import { DynamoStateStore, type LeaseHolder } from '../../functions/state/store';

/**
 * The intent and the lease in one DynamoDB transaction (the alarm path's only conditional write),
 * against the emulator's TransactWriteItems: all or nothing, and which condition failed.
 */

const endpoint = inject('motoEndpoint');
const TABLE = 'understudy-store-test';
const LEASE_MS = 90_000;

let clients: AwsClients;
let store: DynamoStateStore;
let ids = 0;

const failover = (epoch: number, requestId = `request-${epoch}`): DesiredState => ({
  ...initialDesiredState('shop'),
  epoch,
  capabilities: { dns: { active: 'standby', epoch, changedAt: '2026-12-01T08:00:00.000Z' } },
  requestedBy: 'alarm:shop-primary-unhealthy',
  requestedAt: '2026-12-01T08:00:00.000Z',
  reason: 'primary unhealthy',
  requestId,
});

/** The alarm path's write: intent at epoch 1 and the lease, as seen by the caller's read. */
const transitionWithLease = (seen: LeaseHolder | undefined, now = new Date()) =>
  store.writeTransitionLeased(0, failover(1), { owner: 'alarm/a', seen, now, durationMs: LEASE_MS });

beforeEach(async () => {
  clients = localAwsClients(endpoint);
  await createStateTable(clients.dynamodb, TABLE);
  store = new DynamoStateStore(clients.dynamodb, TABLE, 30, () => `id-${++ids}`);
});

describe('a transition written with the service lease', () => {
  it('writes both when the lease was never taken, with token 1', async () => {
    // Act
    const now = new Date();
    const outcome = await transitionWithLease(undefined, now);

    // Assess
    expect(outcome).toEqual({ kind: 'leased', lease: { service: 'shop', owner: 'alarm/a', token: 1 } });
    const record = await store.readService('shop');
    expect(record.desired.epoch).toBe(1);
    expect(record.lease).toEqual({ owner: 'alarm/a', token: 1, until: now.getTime() + LEASE_MS });
  });

  it('takes a released lease with the next token, and a later holder fences the first out', async () => {
    // Prepare: a lease taken and released by a scheduled run
    const grant = await store.acquireLease('shop', 'reconcile/r', new Date(Date.now() - 1_000), LEASE_MS);
    if (!grant) throw new Error('the lease was not taken');
    await store.releaseLease(grant.lease, new Date());
    const { lease: seen } = await store.readService('shop');

    // Act
    const outcome = await transitionWithLease(seen);

    // Assess
    expect(outcome).toEqual({ kind: 'leased', lease: { service: 'shop', owner: 'alarm/a', token: 2 } });
    expect(await store.renewLease(grant.lease, new Date(), LEASE_MS)).toBeUndefined();
  });

  it('writes nothing when the epoch moved on since the read (stale)', async () => {
    // Prepare: another trigger's transition landed after this run's read
    await store.writeTransition(0, failover(1, 'other'));

    // Act
    const outcome = await transitionWithLease(undefined);

    // Assess: neither the intent nor the lease
    expect(outcome).toEqual({ kind: 'stale' });
    const record = await store.readService('shop');
    expect(record.desired.requestId).toBe('other');
    expect(record.lease).toBeUndefined();
  });

  it('writes nothing when the lease was taken since the read (busy), not even the intent', async () => {
    // Prepare: the read saw no lease; a scheduled run took it meanwhile
    await store.acquireLease('shop', 'reconcile/r', new Date(), LEASE_MS);

    // Act
    const outcome = await transitionWithLease(undefined);

    // Assess
    expect(outcome).toEqual({ kind: 'busy' });
    const record = await store.readService('shop');
    expect(record.desired.epoch).toBe(0);
    expect(record.lease?.owner).toBe('reconcile/r');
  });

  it('leaves a free lease that someone asked for to the normal path (busy)', async () => {
    // Prepare: a holder that gave the lease up unconditionally while a run had asked for it
    const grant = await store.acquireLease('shop', 'reconcile/r', new Date(), LEASE_MS);
    if (!grant) throw new Error('the lease was not taken');
    await store.markLeaseWanted('shop', 'resource-event/e', new Date());
    await store.releaseLease(grant.lease, new Date());
    const { lease: seen } = await store.readService('shop');

    // Act
    const outcome = await transitionWithLease(seen);

    // Assess: the request stays recorded for whoever takes the lease next
    expect(outcome).toEqual({ kind: 'busy' });
    expect((await store.acquireLease('shop', 'alarm/a', new Date(), LEASE_MS))?.wanted).toBe(true);
  });
});

describe('a once-per-epoch intent written under the fence', () => {
  const intent = (epoch: number, leaseToken: number) => ({
    capability: 'database' as const,
    epoch,
    active: 'standby' as const,
    phase: 'in-progress' as const,
    detail: 'PromoteReadReplica recorded as intended before it is called',
    updatedAt: '2026-12-01T08:01:00.000Z',
    leaseToken,
    pending: { promoted: String(epoch) },
  });
  /** Epoch 1 written with the lease (token 1), as on the alarm path. */
  const leased = async (now = new Date()) => {
    const outcome = await transitionWithLease(undefined, now);
    if (outcome.kind !== 'leased') throw new Error(`the transition was ${outcome.kind}`);
    return outcome.lease;
  };

  it('writes the intent while the epoch is current and the lease is its own with time left', async () => {
    const now = new Date();
    const lease = await leased(now);
    const outcome = await store.writeFencedStatus('shop', intent(1, 1), {
      lease,
      leaseLeftUntil: now.getTime() + 45_000,
    });
    expect(outcome).toBe('written');
    expect((await store.readService('shop')).statuses.database).toMatchObject({ epoch: 1, leaseToken: 1 });
  });

  it('writes nothing when the epoch moved on, when the lease is not its own, or has too little left', async () => {
    const now = new Date();
    const lease = await leased(now);
    const attempts = [
      // The lease has less left than asked for.
      { lease, leaseLeftUntil: now.getTime() + LEASE_MS + 1 },
      // Another owner name with the same token.
      { lease: { ...lease, owner: 'reconcile/r' }, leaseLeftUntil: now.getTime() },
    ];
    for (const fence of attempts)
      expect(await store.writeFencedStatus('shop', intent(1, 1), fence)).toBe('unfenced');
    // An operator's failback moved the epoch on.
    await store.writeTransition(1, { ...failover(2), capabilities: {} });
    expect(
      await store.writeFencedStatus('shop', intent(1, 1), { lease, leaseLeftUntil: now.getTime() }),
    ).toBe('unfenced');
    expect((await store.readService('shop')).statuses.database).toBeUndefined();
  });

  it('says a newer status is stored when only the status condition failed', async () => {
    const now = new Date();
    const lease = await leased(now);
    await store.writeStatus('shop', { ...intent(1, 2), phase: 'converged' });
    const outcome = await store.writeFencedStatus('shop', intent(1, 1), {
      lease,
      leaseLeftUntil: now.getTime(),
    });
    expect(outcome).toBe('newer-status');
    expect((await store.readService('shop')).statuses.database?.phase).toBe('converged');
  });
});

describe("the dispatcher's batched read of many services", () => {
  it('reads what one Query per service reads (leases aside), 100 keys a request, for services never written too', async () => {
    // Prepare: 120 services, every third failed over, every other with a status; 5 never written
    const names = Array.from({ length: 125 }, (_, i) => `svc-${i}`);
    for (const [i, name] of names.slice(0, 120).entries()) {
      if (i % 3 === 0) await store.writeTransition(0, { ...failover(1), service: name });
      if (i % 2 === 0) {
        await store.writeStatus(name, {
          capability: 'dns',
          epoch: i % 3 === 0 ? 1 : 0,
          active: i % 3 === 0 ? 'standby' : 'primary',
          phase: 'converged',
          detail: `status of ${name}`,
          updatedAt: '2026-12-01T08:01:00.000Z',
        });
      }
    }
    await store.acquireLease('svc-0', 'reconcile/r', new Date(), LEASE_MS);

    // Act
    const read = await store.readServices(names.map((name) => ({ name, capabilities: ['dns', 'database'] })));

    // Assess
    expect(read.size).toBe(125);
    for (const name of names) {
      const { lease: _lease, ...one } = await store.readService(name);
      expect(read.get(name)).toEqual(one);
    }
    expect(read.get('svc-3')?.desired.epoch).toBe(1);
    expect(read.get('svc-122')).toEqual({ desired: initialDesiredState('svc-122'), statuses: {} });

    // A worker's read: leases too, exactly as readService reads each service.
    const withLeases = await store.readServices(
      names.slice(0, 10).map((name) => ({ name, capabilities: ['dns'] })),
      { leases: true },
    );
    expect(withLeases.get('svc-0')?.lease?.owner).toBe('reconcile/r');
    for (const name of names.slice(0, 10)) {
      const one = await store.readService(name);
      expect(withLeases.get(name)).toEqual({
        ...one,
        statuses: one.statuses.dns ? { dns: one.statuses.dns } : {},
      });
    }
  });
});

describe('fence reads asked for together', () => {
  it('answer as each read alone would, 60 services at once (two batched requests)', async () => {
    const names = Array.from({ length: 60 }, (_, i) => `f-${i}`);
    for (const [i, name] of names.entries()) {
      if (i % 2 === 0) await store.writeTransition(0, { ...failover(1), service: name });
      if (i % 3 === 0) await store.acquireLease(name, `run/${i}`, new Date(), LEASE_MS);
    }
    const calls = countCalls(clients.dynamodb as unknown as Parameters<typeof countCalls>[0]);
    const together = await Promise.all(names.map((name) => store.readFence(name)));
    expect(Object.fromEntries(calls)).toEqual({ BatchGetItemCommand: 2 });
    for (const [i, name] of names.entries()) {
      expect(together[i]).toEqual(await store.readFence(name));
    }
    expect(together[0]).toMatchObject({ epoch: 1, lease: { owner: 'run/0', token: 1 } });
    expect(together[1]).toEqual({ epoch: 0 });
  });
});

describe('audit entries written in batches', () => {
  it('writes every entry of a group larger than one request, readable newest first', async () => {
    const at = (i: number) => new Date(Date.parse('2026-12-01T08:00:00.000Z') + i * 1000).toISOString();
    const entries = Array.from({ length: 60 }, (_, i) => ({
      service: 'shop',
      at: at(i),
      kind: 'action' as const,
      epoch: 1,
      message: `step ${i}`,
    }));
    const unwritten = await store.appendAudits(entries);
    expect(unwritten).toEqual([]);
    const audit = await store.readAudit('shop', 100);
    expect(audit.map((e) => e.message)).toEqual(entries.map((e) => e.message).reverse());
  });
});
