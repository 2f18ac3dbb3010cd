import * as z from 'zod';
import { capabilitiesOf, type ServiceConfig } from '../config/schema';
import { mapBounded } from '../core/bounded';
import { classifyAwsError } from '../core/errors';
import type { ServiceRecord } from '../state/store';
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
 * resource) and queues one work item per service, the services that did not finish last time
 * first; parallel workers, as many as the stack allows at once, reconcile one service per item under
 * the service's lease (reconcileScheduled: automatic failback, then reconcileService). The queue and
 * the workers' concurrency are AWS's (SQS and a Lambda event source, infra/reconciler.ts); nothing
 * here knows about either.
 */

/** One service to reconcile, as the dispatcher queued it. */
export interface WorkItem {
  readonly service: string;
  /** The dispatch that queued it: workers share one run's Route 53 reads per dispatch. */
  readonly run: string;
  readonly dispatchedAt: string;
  /**
   * After this, the item is superseded: the next dispatch has queued the service again, ahead of
   * every finished service if it is unfinished. A worker drops a superseded item unread.
   */
  readonly notAfter: string;
}

export const workItemSchema = z.object({
  service: z.string().min(1),
  run: z.string().min(1),
  dispatchedAt: z.iso.datetime(),
  notAfter: z.iso.datetime(),
});

/**
 * True when a service is not known to be where it should be: some capability it configures has no
 * status, a status of an older epoch (an alarm moved it and nobody finished), or one not converged
 * (waiting, failed, refused, deferred by a deadline or a busy lease).
 */
export const unfinished = (
  cp: Pick<ControlPlane, 'modules'>,
  service: ServiceConfig,
  record: ServiceRecord,
) =>
  capabilitiesOf(service, cp.modules).some((c) => {
    const status = record.statuses[c];
    return status === undefined || status.epoch !== record.desired.epoch || status.phase !== 'converged';
  });

/** The latest status time of a service ('' when it has none): when a run last did anything to it. */
const lastAttempt = (record: ServiceRecord | undefined): string =>
  Object.values(record?.statuses ?? {})
    .map((s) => s.updatedAt)
    .sort()
    .at(-1) ?? '';

/**
 * The order services are queued in: every unfinished one first (one whose state could not be read
 * counts as unfinished), the least recently attempted of them first; then the finished ones, in the
 * config's order. A service a run did not reach, or left unfinished, is so taken up first next time.
 */
export const dispatchOrder = (
  cp: Pick<ControlPlane, 'config' | 'modules'>,
  records: ReadonlyMap<string, ServiceRecord | undefined>,
): { readonly order: ServiceConfig[]; readonly unfinished: number } => {
  const open: { service: ServiceConfig; at: string; index: number }[] = [];
  const done: ServiceConfig[] = [];
  cp.config.services.forEach((service, index) => {
    const record = records.get(service.name);
    if (record === undefined || unfinished(cp, service, record)) {
      open.push({ service, at: lastAttempt(record), index });
    } else {
      done.push(service);
    }
  });
  open.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.index - b.index));
  return { order: [...open.map((o) => o.service), ...done], unfinished: open.length };
};

/** How many service records the dispatcher reads at once. */
export const DISPATCH_READS_IN_FLIGHT = 25;

/**
 * The dispatcher's run: reads every service's record (state table reads only), orders the services
 * (dispatchOrder) and returns one work item each, valid for one interval.
 */
export const planDispatch = async (
  cp: ControlPlane,
  options: { readonly intervalMs: number; readonly run?: string },
): Promise<{ readonly items: WorkItem[]; readonly unfinished: number }> => {
  const now = cp.clock.now();
  const run = options.run ?? cp.newId?.() ?? now.toISOString();
  const records = new Map<string, ServiceRecord | undefined>();
  await mapBounded(cp.config.services, DISPATCH_READS_IN_FLIGHT, async (service) => {
    try {
      records.set(service.name, await cp.store.readService(service.name));
    } catch (error) {
      cp.log.warn('could not read a service; dispatched first', {
        service: service.name,
        error: classifyAwsError(`read ${service.name}`, error).message,
      });
      records.set(service.name, undefined);
    }
  });
  const { order, unfinished } = dispatchOrder(cp, records);
  const notAfter = new Date(now.getTime() + options.intervalMs).toISOString();
  return {
    items: order.map((s) => ({ service: s.name, run, dispatchedAt: now.toISOString(), notAfter })),
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
 * A worker's invocation: each message's service reconciled, in parallel (the process's Route 53
 * budget spaces the calls; each service's lease keeps one writer). A message that cannot be read or
 * names no configured service, and a service whose reconcile threw, is handed back (the queue
 * retries, then dead-letters it); an item first delivered after its interval is dropped (the next
 * dispatch has queued the service again, so a slow interval cannot grow a backlog); an item reached
 * after the deadline is left for the next dispatch, which queues unfinished services first.
 */
export const reconcileWorkItems = async (
  cp: ControlPlane,
  messages: readonly WorkMessage[],
  options: ScheduledRunOptions = {},
): Promise<WorkOutcome> => {
  const failed: string[] = [];
  const reports: CapabilityReport[] = [];
  let skipped = 0;
  const work = messages.map((message) => {
    const item = parseItem(message.body);
    return { message, item, service: item && cp.config.services.find((s) => s.name === item.service) };
  });
  const batch: ScheduledRunOptions = {
    ...options,
    alarmStates:
      options.alarmStates &&
      alarmStatesOfBatch(
        options.alarmStates,
        cp.config,
        work.flatMap((w) => (w.service ? [w.service] : [])),
      ),
  };
  await Promise.all(
    work.map(async ({ message, item, service }) => {
      if (!item || !service) {
        cp.log.error('work item names no configured service; handed back to the queue', {
          message: message.id,
          body: message.body.slice(0, 200),
        });
        failed.push(message.id);
        return;
      }
      // A first delivery after its interval is superseded; a retry is worked whatever its age, so an
      // item that keeps failing reaches the dead-letter queue.
      const retry = (message.receiveCount ?? 1) > 1;
      if (!retry && cp.clock.now().getTime() > Date.parse(item.notAfter)) {
        cp.log.info('work item superseded by a later dispatch; dropped', { service: service.name });
        skipped++;
        return;
      }
      if (pastDeadline(cp)) {
        cp.log.warn('run deadline reached; the next dispatch queues this service again', {
          service: service.name,
        });
        skipped++;
        return;
      }
      try {
        reports.push(...(await reconcileScheduled(cp, service, batch)));
      } catch (error) {
        cp.log.error('could not reconcile service; handed back to the queue', {
          service: service.name,
          error: classifyAwsError(`reconcile ${service.name}`, error).message,
        });
        failed.push(message.id);
      }
    }),
  );
  return { reports, failed, skipped };
};
