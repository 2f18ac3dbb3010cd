import { mapBounded } from '../core/bounded';
import type { WorkItem } from '../engine/fan-out';
import type { ClientKit } from './client-kit';

/** SQS takes at most 10 messages per SendMessageBatch. */
export const SEND_BATCH = 10;
/** How many SendMessageBatch calls the dispatcher has in flight at once. */
export const SENDS_IN_FLIGHT = 10;

/** Puts work items on a queue, in order: the first items reach the workers first. */
export type WorkQueue = (items: readonly WorkItem[]) => Promise<void>;

/**
 * The fan-out queue on SQS (a standard queue: it hands out roughly in the order sent). Batches of
 * 10, a few in flight; entries SQS refused are sent once more, and an error names what is left.
 * The SQS client is loaded on first use.
 */
export const sqsWorkQueue = (clients: ClientKit, queueUrl: string): WorkQueue => {
  return async (items) => {
    const { SQSClient, SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
    const sqs = clients.client(SQSClient);
    const batches: WorkItem[][] = [];
    for (let i = 0; i < items.length; i += SEND_BATCH) batches.push(items.slice(i, i + SEND_BATCH));
    const send = async (batch: readonly WorkItem[]): Promise<WorkItem[]> => {
      const out = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((item, i) => ({ Id: String(i), MessageBody: JSON.stringify(item) })),
        }),
      );
      return (out.Failed ?? []).map((f) => batch[Number(f.Id)]).filter((i): i is WorkItem => !!i);
    };
    const refused = (await mapBounded(batches, SENDS_IN_FLIGHT, send)).flat();
    const left = refused.length > 0 ? await send(refused.slice(0, SEND_BATCH)) : [];
    const unsent = [...left, ...refused.slice(SEND_BATCH)];
    if (unsent.length > 0) {
      throw new Error(
        `${unsent.length} work item(s) not queued (${unsent
          .flatMap((i) => i.services)
          .slice(0, 5)
          .join(', ')}...); the next dispatch queues them first`,
      );
    }
  };
};
