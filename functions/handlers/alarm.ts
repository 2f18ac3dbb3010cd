import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { ControlPlane } from '../engine/engine';
import { lambdaControlPlane, logger } from '../runtime/lambda';
import { handleAlarmEvent } from '../trigger/handle-alarm';

/** EventBridge -> CloudWatch alarm state change. Validation and every decision live in handleAlarmEvent. */
export const createAlarmHandler = (controlPlane: () => ControlPlane) =>
  middy(async (event: unknown) => {
    const cp = controlPlane();
    try {
      return await handleAlarmEvent(cp, event);
    } finally {
      await cp.reporter.flush();
    }
  }).use(injectLambdaContext(logger));

export const handler = createAlarmHandler(lambdaControlPlane);
