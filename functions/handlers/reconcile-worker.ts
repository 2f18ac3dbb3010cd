import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { AlarmStateReader } from '../engine/auto-failback';
import { reconcileWorkItems, runOf, type WorkMessage } from '../engine/fan-out';
import { lambdaAlarmStates, lambdaControlPlane } from '../runtime/lambda';
import { catchUpMissedAlarms } from '../trigger/missed-alarms';
import { type ControlPlaneFactory, controlPlaneHandler } from './wiring';

const messagesOf = (event: unknown): WorkMessage[] =>
  ((event as Partial<SQSEvent>)?.Records ?? []).map((record) => ({
    id: record.messageId,
    body: record.body,
    receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1),
  }));

/**
 * SQS -> one batch of work items from the dispatcher: each service reconciled under its lease (and
 * automatic failback first, for services that opted in). The items to retry are reported as partial
 * batch failures (ReportBatchItemFailures), so the rest of the batch is not worked again.
 */
export const createReconcileWorkerHandler = (
  controlPlane: ControlPlaneFactory,
  alarmStates?: () => AlarmStateReader,
) =>
  controlPlaneHandler(
    controlPlane,
    async (cp, event): Promise<SQSBatchResponse> => {
      const outcome = await reconcileWorkItems(cp, messagesOf(event), {
        alarmStates: alarmStates?.(),
        missedAlarms: catchUpMissedAlarms,
      });
      return { batchItemFailures: outcome.failed.map((id) => ({ itemIdentifier: id })) };
    },
    (event) => runOf(messagesOf(event)),
  );

/** The alarm reader reads automatic services' alarms: missed alarm events, automatic failback. */
export const handler = createReconcileWorkerHandler(lambdaControlPlane, lambdaAlarmStates);
