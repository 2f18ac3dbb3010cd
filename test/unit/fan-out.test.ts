import { describe, expect, it } from 'vitest';
import { type ConfigInput, parseConfig } from '../../functions/config/schema';
import type { CapabilityStatus } from '../../functions/core/types';
import {
  dispatchOrder,
  groupForWork,
  planDispatch,
  reconcileWorkItems,
  runOf,
  SERVICES_PER_ITEM,
} from '../../functions/engine/fan-out';
import { FakeCapability, FakeClock, type FakeStore, minimalInput, testControlPlane } from './fixtures';

/**
 * The scheduled run, fanned out: the dispatcher's order (unfinished services first, least recently
 * attempted first) and a worker's batch (partial failures, superseded items, automatic reconcile
 * under the lease), on the fake store.
 */

const T0 = new Date('2026-11-22T10:00:00.000Z');

const configOf = (names: readonly string[]) => {
  const input = minimalInput();
  const template = input.services[0] as ConfigInput['services'][number];
  const dns = template.dns as NonNullable<typeof template.dns>;
  return parseConfig({
    ...input,
    services: names.map((name) => ({
      ...template,
      name,
      mode: 'auto' as const,
      dns: { ...dns, records: dns.records.map((r) => ({ ...r, name: `${name}.${r.name}` })) },
    })),
  });
};

const status = (overrides: Partial<CapabilityStatus> = {}): CapabilityStatus => ({
  capability: 'dns',
  epoch: 0,
  active: 'primary',
  phase: 'converged',
  detail: 'the primary serves',
  updatedAt: '2026-11-22T09:00:00.000Z',
  ...overrides,
});

const setup = (names: readonly string[]) => {
  const config = configOf(names);
  const capability = new FakeCapability();
  const cp = testControlPlane({ config, capability, clock: new FakeClock(T0.toISOString()) });
  return { config, capability, cp, store: cp.fakeStore };
};

const message = (id: string, item: Record<string, unknown>, receiveCount = 1) => ({
  id,
  body: JSON.stringify(item),
  receiveCount,
});

const item = (service: string | string[], notAfter = '2026-11-22T10:01:00.000Z') => ({
  services: typeof service === 'string' ? [service] : service,
  run: 'run-1',
  dispatchedAt: T0.toISOString(),
  notAfter,
});

describe('the dispatcher', () => {
  it('queues unfinished services first, least recently attempted first, then the rest in config order', async () => {
    // Prepare: a converged, b waiting (10:00), c never reconciled, d failed earlier (09:30),
    // e converged at an older epoch than its desired state (an alarm moved it)
    const { cp, store } = setup(['a', 'b', 'c', 'd', 'e']);
    store.statuses.set('a', { dns: status() });
    store.statuses.set('b', { dns: status({ phase: 'waiting', updatedAt: '2026-11-22T10:00:00.000Z' }) });
    store.statuses.set('d', { dns: status({ phase: 'failed', updatedAt: '2026-11-22T09:30:00.000Z' }) });
    store.seed({
      service: 'e',
      epoch: 1,
      capabilities: { dns: { active: 'standby' } },
      requestedBy: 'alarm:x',
      requestedAt: T0.toISOString(),
      reason: 'test',
    } as never);
    store.statuses.set('e', { dns: status({ updatedAt: '2026-11-22T09:45:00.000Z' }) });

    // Act
    const { items, unfinished } = await planDispatch(cp, { intervalMs: 60_000, run: 'run-1' });

    // Assess
    expect(items.flatMap((i) => i.services)).toEqual(['c', 'd', 'e', 'b', 'a']);
    expect(unfinished).toBe(4);
    expect(items[0]).toEqual({
      services: ['c', 'd', 'e', 'b', 'a'],
      run: 'run-1',
      dispatchedAt: T0.toISOString(),
      notAfter: '2026-11-22T10:01:00.000Z',
    });
  });

  it("queues one hosted zone's services together, up to a Route 53 request's changes, unfinished first", () => {
    // Prepare: 60 services of two weighted records each (4 changes a move: 25 fill a request), in
    // two zones, alternating; and 30 without DNS
    const { cp, config } = setup(Array.from({ length: 60 }, (_, i) => `s${i}`));
    const services = config.services.map((service, i) =>
      service.dns
        ? {
            ...service,
            dns: {
              ...service.dns,
              hostedZoneId: i % 2 === 0 ? 'Z0EVEN' : 'Z0ODD',
              records: [service.dns.records[0], service.dns.records[0]].map((r) => ({
                ...(r as NonNullable<typeof r>),
                routing: 'weighted' as const,
              })),
            },
          }
        : service,
    );
    const withoutDns = Array.from({ length: 30 }, (_, i) => ({
      ...services[0],
      name: `n${i}`,
      dns: undefined,
    }));

    // Act
    const items = groupForWork(cp, [...services, ...withoutDns] as never);

    // Assess: even services first (the order's first), 25 a zone item, the rest by count
    expect(items.map((i) => i.length)).toEqual([25, 25, 5, 5, SERVICES_PER_ITEM, 5]);
    expect(items[0]?.[1]).toBe('s2');
    expect(items[1]?.[0]).toBe('s1');
    expect(new Set(items.flat())).toHaveProperty('size', 90);
  });

  it('counts a service whose state could not be read as unfinished', () => {
    const { cp } = setup(['a', 'b']);
    const order = dispatchOrder(cp, new Map([['a', { desired: {} as never, statuses: { dns: status() } }]]));
    expect(order.order.map((s) => s.name)).toEqual(['b', 'a']);
  });
});

describe('a reconcile worker', () => {
  it('reconciles each item under its lease and reports only the unreadable one as a failure', async () => {
    // Prepare
    const { cp, store, capability } = setup(['a', 'b']);

    // Act
    const outcome = await reconcileWorkItems(cp, [
      message('m1', item('a')),
      message('m2', item('b')),
      { id: 'm3', body: 'not json' },
      message('m4', item('nobody')),
    ]);

    // Assess: both services converged (their first status written under a lease), m3/m4 handed back
    expect(outcome.failed.sort()).toEqual(['m3', 'm4']);
    expect(outcome.reports.map((r) => [r.service, r.phase]).sort()).toEqual([
      ['a', 'converged'],
      ['b', 'converged'],
    ]);
    expect(store.statuses.get('a')?.dns?.phase).toBe('converged');
    expect(capability.executed).toEqual([]);
  });

  it('works every service of an item, and reads an item queued before items held several', async () => {
    const { cp, store } = setup(['a', 'b', 'c']);
    const legacy = {
      service: 'c',
      run: 'run-1',
      dispatchedAt: T0.toISOString(),
      notAfter: '2026-11-22T10:01:00.000Z',
    };
    const outcome = await reconcileWorkItems(cp, [message('m1', item(['a', 'b'])), message('m2', legacy)]);
    expect(outcome.failed).toEqual([]);
    expect(outcome.reports.map((r) => r.service).sort()).toEqual(['a', 'b', 'c']);
    expect(store.statuses.get('c')?.dns?.phase).toBe('converged');
  });

  /** `name` is left unread by the batch read (unprocessed), and its own read fails. */
  const unreachable = (store: FakeStore, name: string) => {
    const readService = store.readService.bind(store);
    const readServices = store.readServices.bind(store);
    store.readServices = async (services, options) =>
      readServices(
        services.filter((s) => s.name !== name),
        options,
      );
    store.readService = async (service: string) => {
      if (service === name) throw new Error('DynamoDB unreachable');
      return readService(service);
    };
  };

  it("reads its batch's services in one batched read, leases included, not one read per service", async () => {
    const { cp, store } = setup(['a', 'b', 'c']);
    const outcome = await reconcileWorkItems(cp, [message('m1', item(['a', 'b'])), message('m2', item('c'))]);
    expect(outcome.failed).toEqual([]);
    expect(outcome.reports.map((r) => r.service).sort()).toEqual(['a', 'b', 'c']);
    expect(store.count('readServices')).toBe(1);
    expect(store.count('readService')).toBe(0);
  });

  it('hands back the whole item of a service whose reconcile threw, so the queue retries it', async () => {
    const { cp, store } = setup(['a', 'b', 'c']);
    unreachable(store, 'b');
    const outcome = await reconcileWorkItems(cp, [message('m1', item(['a', 'b'])), message('m2', item('c'))]);
    expect(outcome.failed).toEqual(['m1']);
    expect(outcome.reports.map((r) => r.service).sort()).toEqual(['a', 'c']);
  });

  it('hands back a service whose reconcile threw, so the queue retries it', async () => {
    const { cp, store } = setup(['a', 'b']);
    unreachable(store, 'b');
    const outcome = await reconcileWorkItems(cp, [message('m1', item('a')), message('m2', item('b'))]);
    expect(outcome.failed).toEqual(['m2']);
  });

  it('drops a first delivery past its interval (a later dispatch queued it again) but works a retry', async () => {
    const { cp } = setup(['a']);
    const stale = item('a', '2026-11-22T09:59:00.000Z');
    const dropped = await reconcileWorkItems(cp, [message('m1', stale)]);
    expect(dropped).toMatchObject({ failed: [], skipped: 1, reports: [] });
    const retried = await reconcileWorkItems(cp, [message('m1', stale, 2)]);
    expect(retried).toMatchObject({ failed: [], skipped: 0 });
    expect(retried.reports).toHaveLength(1);
  });

  it('moves a service an alarm left on the old site, and names its run for shared reads', async () => {
    const { cp, store, capability } = setup(['a']);
    store.seed({
      service: 'a',
      epoch: 1,
      capabilities: { dns: { active: 'standby' } },
      requestedBy: 'alarm:x',
      requestedAt: T0.toISOString(),
      reason: 'test',
    } as never);
    const messages = [message('m1', item('a'))];
    const outcome = await reconcileWorkItems(cp, messages);
    expect(runOf(messages)).toBe('run-1');
    expect(capability.serving).toBe('standby');
    expect(outcome.reports).toEqual([
      expect.objectContaining({ service: 'a', epoch: 1, phase: 'converged' }),
    ]);
  });
});

describe("the dispatcher's reads", () => {
  it('reads the state table in batches of services, not one request per service', async () => {
    const { cp, store } = setup(Array.from({ length: 120 }, (_, i) => `s${i}`));
    const { items } = await planDispatch(cp, { intervalMs: 60_000, run: 'run-1' });
    expect(items.flatMap((i) => i.services)).toHaveLength(120);
    expect(store.count('readServices')).toBe(3);
    expect(store.count('readService')).toBe(0);
  });
});
