import { lambdaControlPlane } from '../runtime/lambda';
import { handleAlarmEvent } from '../trigger/handle-alarm';
import { type ControlPlaneFactory, controlPlaneHandler } from './wiring';

/** EventBridge -> CloudWatch alarm state change. Validation and every decision live in handleAlarmEvent. */
export const createAlarmHandler = (controlPlane: ControlPlaneFactory) =>
  controlPlaneHandler(controlPlane, (cp, event) => handleAlarmEvent(cp, event));

export const handler = createAlarmHandler(lambdaControlPlane);
