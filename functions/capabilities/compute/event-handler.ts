import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { ControlPlane } from '../../engine/engine';
import { lambdaControlPlane, logger } from '../../runtime/lambda';
import { handleInstanceEvent } from './instance-event';

/** EventBridge -> EC2 instance state change of a protected server: reconcile its compute now. */
export const createInstanceEventHandler = (controlPlane: () => ControlPlane) =>
  middy(async (event: unknown) => {
    const cp = controlPlane();
    try {
      const reports = await handleInstanceEvent(cp, event);
      return reports.map(({ service, capability, epoch, phase }) => ({ service, capability, epoch, phase }));
    } finally {
      await cp.reporter.flush();
    }
  }).use(injectLambdaContext(logger));

export const handler = createInstanceEventHandler(lambdaControlPlane);
