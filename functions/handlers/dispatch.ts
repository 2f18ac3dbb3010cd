import * as z from 'zod';
import { planDispatch } from '../engine/fan-out';
import { lambdaControlPlane, lambdaWorkQueue } from '../runtime/lambda';
import type { WorkQueue } from '../runtime/work-queue';
import { type ControlPlaneFactory, controlPlaneHandler } from './wiring';

/**
 * The schedule (every interval): reads every service's state, then queues work items (services that
 * write to one hosted zone together), unfinished services first, for the reconcile workers
 * (functions/handlers/reconcile-worker.ts).
 * It calls no AWS API but the state table and the queue.
 */
export const createDispatchHandler = (
  controlPlane: ControlPlaneFactory,
  queue: () => WorkQueue,
  intervalMs: () => number,
) =>
  controlPlaneHandler(controlPlane, async (cp) => {
    const { items, unfinished } = await planDispatch(cp, { intervalMs: intervalMs() });
    await queue()(items);
    const services = items.reduce((sum, item) => sum + item.services.length, 0);
    cp.log.info('dispatched', { services, items: items.length, unfinished, run: items[0]?.run });
    return { dispatched: services, items: items.length, unfinished };
  });

const intervalSeconds = z.coerce.number().int().positive().default(60);

export const handler = createDispatchHandler(
  lambdaControlPlane,
  lambdaWorkQueue,
  () => intervalSeconds.parse(process.env.UNDERSTUDY_INTERVAL_SECONDS) * 1000,
);
