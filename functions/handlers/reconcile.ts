import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type ControlPlane, reconcileAll } from '../reconcile/engine';
import { lambdaControlPlane, logger } from '../runtime/lambda';

/** The schedule (every minute): converge every service; heals crashes and throttled calls. */
export const createReconcileHandler = (controlPlane: () => ControlPlane) =>
  middy(async () => {
    const cp = controlPlane();
    try {
      const reports = await reconcileAll(cp);
      return reports.map(({ service, capability, epoch, phase }) => ({ service, capability, epoch, phase }));
    } finally {
      await cp.reporter.flush();
    }
  }).use(injectLambdaContext(logger));

export const handler = createReconcileHandler(lambdaControlPlane);
