import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { AlarmStateReader } from '../engine/auto-failback';
import { type ControlPlane, reconcileAll } from '../engine/engine';
import { lambdaAlarmStates, lambdaControlPlane, logger } from '../runtime/lambda';

/**
 * The schedule (every minute): converge every service; heals crashes and throttled calls. With an
 * alarm reader, services that opted into automatic failback may first be moved back to the primary.
 */
export const createReconcileHandler = (
  controlPlane: () => ControlPlane,
  alarmStates?: () => AlarmStateReader,
) =>
  middy(async () => {
    const cp = controlPlane();
    try {
      const reports = await reconcileAll(cp, { alarmStates: alarmStates?.() });
      return reports.map(({ service, capability, epoch, phase }) => ({ service, capability, epoch, phase }));
    } finally {
      await cp.reporter.flush();
    }
  }).use(injectLambdaContext(logger));

/** The alarm reader is called only for services that opted into automatic failback. */
export const handler = createReconcileHandler(lambdaControlPlane, lambdaAlarmStates);
