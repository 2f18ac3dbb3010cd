import * as z from 'zod';
import { capabilitiesOf, type ServiceConfig } from '../config/schema';
import { mapBounded } from '../core/bounded';
import { classifyAwsError } from '../core/errors';
import type { ServiceRecord, ServiceToRead } from '../state/store';
import { alarmStatesOfBatch } from './auto-failback';
import {
  type CapabilityReport,
  type ControlPlane,
  pastDeadline,
  reconcileScheduled,
  type ScheduledRunOptions,
} from './engine';

/**
 * The scheduled run, fanned out: a dispatcher reads every service's state (reads only, no AWS
 * resource) and queues work items, the services that did not finish last time first, each item a few
 * services that write to the same shared resource (a capability module's `gathering`: DNS services
 * of one hosted zone), so one worker moves them at once and their Route 53 changes leave as one
 * request; parallel workers, as many as the stack allows at once, reconcile each item's services under
 * each service's lease (reconcileScheduled: automatic failback, then reconcileService). The queue and
 * the workers' concurrency are AWS's (SQS and a Lambda event source, infra/reconciler.ts); nothing
 * here knows about either.
 */

/** Services queued together, as the dispatcher queued them. */
export interface WorkItem {
  readonly services: readonly string[];
  /** The dispatch that queued it: workers share one run's Route 53 reads per dispatch. */
  readonly run: string;
  readonly dispatchedAt: string;
  /**
   * After this, the item is superseded: the next dispatch has queued its services again, ahead of
   * every finished service if they are unfinished. A worker drops a superseded item unread.
   */
  readonly notAfter: string;
}

const itemFields = {
  run: z.string().min(1),
  dispatchedAt: z.iso.datetime(),
  notAfter: z.iso.datetime(),
};

/** A work item; one queued before items held several services (`service`) is read as one of one. */
export const workItemSchema = z.union([
  z.object({ services: z.array(z.string().min(1)).min(1), ...itemFields }),
  z
    .object({ service: z.string().min(1), ...itemFields })
    .transform(({ service, ...rest }) => ({ services: [service], ...rest })),
]);

/**
 * The most services in one work item: a worker invocation (WORKER_BATCH_SIZE items) must finish well
 * inside its timeout with every service moving, its Route 53 calls spaced by its share's rate.
 */
export const SERVICES_PER_ITEM = 25;

/**
 * True when a service is not known to be where it should be: some capability it configures has no
 * status, a status of an older epoch (an alarm moved it and nobody finished), or one not converged
 * (waiting, failed, refused, deferred by a deadline or a busy lease).
 */
export const unfinished = (
  cp: Pick<ControlPlane, 'modules'>,
  service: ServiceConfig,
  record: Omit<ServiceRecord, 'lease'>,
) =>
  capabilitiesOf(service, cp.modules).some((c) => {
    const status = record.statuses[c];
    return status === undefined || status.epoch !== record.desired.epoch || status.phase !== 'converged';
  });

/** The latest status time of a service ('' when it has none): when a run last changed anything of it. */
const lastAttempt = (record: Omit<ServiceRecord, 'lease'> | undefined): string =>
  Object.values(record?.statuses ?? {})
    .map((s) => s.updatedAt)
    .sort()
    .at(-1) ?? '';

/**
 * The order services are queued in: every unfinished one first (one whose state could not be read
 * counts as unfinished), then the finished ones; each group the least recently changed first, then in
 * the config's order. A service a run did not reach, or left unfinished, is so taken up first next
 * time; and in a Region-wide failure, a finished service that no run has touched since (its alarm
 * event not yet handled, so only a run's catch-up moves it) comes before those already moved.
 */
export const dispatchOrder = (
  cp: Pick<ControlPlane, 'config' | 'modules'>,
  records: ReadonlyMap<string, Omit<ServiceRecord, 'lease'> | undefined>,
): { readonly order: ServiceConfig[]; readonly unfinished: number } => {
  type Queued = { service: ServiceConfig; at: string; index: number };
  const open: Queued[] = [];
  const done: Queued[] = [];
  cp.config.services.forEach((service, index) => {
    const record = records.get(service.name);
    const queued = { service, at: lastAttempt(record), index };
    (record === undefined || unfinished(cp, service, record) ? open : done).push(queued);
  });
  const oldestFirst = (a: Queued, b: Queued) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.index - b.index);
  return {
    order: [...open.sort(oldestFirst), ...done.sort(oldestFirst)].map((q) => q.service),
    unfinished: open.length,
  };
};

/** How many services one of the dispatcher's reads covers, and how many such reads are in flight. */
export const DISPATCH_READ_SERVICES = 50;
export const DISPATCH_READS_IN_FLIGHT = 4;

/**
 * Groups services, in dispatch order, into work items: services whose first gathering capability
 * (in module order) shares a key go together until their weights reach that capability's capacity
 * or the item holds SERVICES_PER_ITEM; services without one go together by count alone. An item is
 * placed where its first service was, so unfinished services still come first.
 */
export const groupForWork = (
  cp: Pick<ControlPlane, 'modules'>,
  order: readonly ServiceConfig[],
): string[][] => {
  const items: { services: string[]; weight: number }[] = [];
  const open = new Map<string, { services: string[]; weight: number }>();
  for (const service of order) {
    const section = (name: string) => (service as unknown as Record<string, unknown>)[name];
    const module = cp.modules.find((m) => m.gathering && section(m.name) !== undefined);
    const gathering = module?.gathering;
    const own = module && section(module.name);
    const key = gathering ? `${module.name}:${gathering.key(own)}` : '';
    const weight = gathering?.weight(own) ?? 0;
    const capacity = gathering?.capacity ?? Number.POSITIVE_INFINITY;
    let item = open.get(key);
    if (!item || item.services.length >= SERVICES_PER_ITEM || item.weight + weight > capacity) {
      item = { services: [], weight: 0 };
      items.push(item);
      open.set(key, item);
    }
    item.services.push(service.name);
    item.weight += weight;
  }
  return items.map((i) => i.services);
};

/**
 * The dispatcher's run: reads every service's record (state table reads only), orders the services
 * (dispatchOrder), groups them (groupForWork) and returns the work items, valid for one interval.
 */
export const planDispatch = async (
  cp: ControlPlane,
  options: { readonly intervalMs: number; readonly run?: string },
): Promise<{ readonly items: WorkItem[]; readonly unfinished: number }> => {
  const now = cp.clock.now();
  const run = options.run ?? cp.newId?.() ?? now.toISOString();
  const records = new Map<string, Omit<ServiceRecord, 'lease'> | undefined>();
  const chunks: ServiceToRead[][] = [];
  for (let i = 0; i < cp.config.services.length; i += DISPATCH_READ_SERVICES) {
    chunks.push(
      cp.config.services
        .slice(i, i + DISPATCH_READ_SERVICES)
        .map((s) => ({ name: s.name, capabilities: capabilitiesOf(s, cp.modules) })),
    );
  }
  await mapBounded(chunks, DISPATCH_READS_IN_FLIGHT, async (chunk) => {
    const names = chunk.map((s) => s.name);
    try {
      const read = await cp.store.readServices(chunk);
      for (const name of names) records.set(name, read.get(name));
      const unread = names.filter((name) => !read.has(name));
      if (unread.length > 0) {
        cp.log.warn('could not read some services; dispatched first', { services: unread });
      }
    } catch (error) {
      cp.log.warn('could not read services; dispatched first', {
        services: names,
        error: classifyAwsError(`read ${names.length} services`, error).message,
      });
      for (const name of names) records.set(name, undefined);
    }
  });
  const { order, unfinished } = dispatchOrder(cp, records);
  const notAfter = new Date(now.getTime() + options.intervalMs).toISOString();
  return {
    items: groupForWork(cp, order).map((services) => ({
      services,
      run,
      dispatchedAt: now.toISOString(),
      notAfter,
    })),
    unfinished,
  };
};

/** One queued message: its id (for a partial batch failure), its body as sent, its deliveries so far. */
export interface WorkMessage {
  readonly id: string;
  readonly body: string;
  /** 1 on first delivery; more when the queue retries an item a worker handed back. */
  readonly receiveCount?: number | undefined;
}

export interface WorkOutcome {
  readonly reports: CapabilityReport[];
  /** The ids of messages to hand back to the queue (it retries them, then dead-letters them). */
  readonly failed: string[];
  /** Items dropped as superseded by a later dispatch, or left for the next run at the deadline. */
  readonly skipped: number;
}

/** The run a batch of messages belongs to (the first readable one's), to share its reads. */
export const runOf = (messages: readonly WorkMessage[]): string | undefined => {
  for (const message of messages) {
    const parsed = parseItem(message.body);
    if (parsed) return parsed.run;
  }
  return undefined;
};

const parseItem = (body: string): WorkItem | undefined => {
  try {
    const parsed = workItemSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Every service of a worker's invocation read in a few BatchGetItem requests (leases included), as
 * `readService` would read each: one or two requests where there were 50 Queries. A service left
 * unread (or every service, if the batch read fails) reads itself.
 */
const startingRecords = async (
  cp: ControlPlane,
  services: readonly ServiceConfig[],
): Promise<Map<string, { readonly record: ServiceRecord; readonly readAt: Date }>> => {
  const readAt = cp.clock.now();
  try {
    const read = await cp.store.readServices(
      services.map((s) => ({ name: s.name, capabilities: capabilitiesOf(s, cp.modules) })),
      { leases: true },
    );
    return new Map([...read].map(([name, record]) => [name, { record, readAt }] as const));
  } catch (error) {
    cp.log.warn("could not read the batch's services at once; each reads its own", {
      error: classifyAwsError('read work items', error).message,
    });
    return new Map();
  }
};

/**
 * A worker's invocation: every service of every message reconciled, in parallel (the process's
 * Route 53 budget spaces the calls and gathers one zone's changes; each service's lease keeps one
 * writer). A message that cannot be read or names a service not configured, and one with a service
 * whose reconcile threw, is handed back whole (the queue retries it, then dead-letters it; a retry
 * reconciles its other services again, which is idempotent); an item first delivered after its
 * interval is dropped (the next dispatch has queued its services again, so a slow interval cannot grow
 * a backlog); a service reached after the deadline is left for the next dispatch, which queues
 * unfinished services first.
 */
export const reconcileWorkItems = async (
  cp: ControlPlane,
  messages: readonly WorkMessage[],
  options: ScheduledRunOptions = {},
): Promise<WorkOutcome> => {
  const failed = new Set<string>();
  const reports: CapabilityReport[] = [];
  let skipped = 0;
  const work = messages.map((message) => {
    const item = parseItem(message.body);
    const services = (item?.services ?? []).map((name) => ({
      name,
      config: cp.config.services.find((s) => s.name === name),
    }));
    return { message, item, services };
  });
  const batch: ScheduledRunOptions = {
    ...options,
    alarmStates:
      options.alarmStates &&
      alarmStatesOfBatch(
        options.alarmStates,
        cp.config,
        work.flatMap((w) => w.services.flatMap((s) => (s.config ? [s.config] : []))),
      ),
  };
  const now = cp.clock.now().getTime();
  const superseded = (message: WorkMessage, item: WorkItem) =>
    (message.receiveCount ?? 1) <= 1 && now > Date.parse(item.notAfter);
  const known = await startingRecords(
    cp,
    work.flatMap(({ message, item, services }) =>
      item && !superseded(message, item) ? services.flatMap((s) => (s.config ? [s.config] : [])) : [],
    ),
  );
  await Promise.all(
    work.flatMap(({ message, item, services }) => {
      const unknown = services.filter((s) => !s.config).map((s) => s.name);
      if (!item || unknown.length > 0) {
        cp.log.error('work item unreadable or names a service not configured; handed back to the queue', {
          message: message.id,
          ...(unknown.length > 0 ? { unknown } : { body: message.body.slice(0, 200) }),
        });
        failed.add(message.id);
      }
      if (!item) return [];
      // A first delivery after its interval is superseded; a retry is worked whatever its age, so an
      // item that keeps failing reaches the dead-letter queue.
      if (superseded(message, item)) {
        cp.log.info('work item superseded by a later dispatch; dropped', { services: item.services });
        skipped += services.length;
        return [];
      }
      return services.map(async ({ config: service }) => {
        if (!service) return;
        if (pastDeadline(cp)) {
          cp.log.warn('run deadline reached; the next dispatch queues this service again', {
            service: service.name,
          });
          skipped++;
          return;
        }
        try {
          reports.push(...(await reconcileScheduled(cp, service, batch, known.get(service.name))));
        } catch (error) {
          cp.log.error('could not reconcile service; its work item is handed back to the queue', {
            service: service.name,
            error: classifyAwsError(`reconcile ${service.name}`, error).message,
          });
          failed.add(message.id);
        }
      });
    }),
  );
  return { reports, failed: [...failed], skipped };
};
