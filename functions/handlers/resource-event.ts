import type { CapabilityName } from '../config/schema';
import { handleResourceEvent } from '../engine/resource-event';
import { lambdaCapability, lambdaControlPlane } from '../runtime/lambda';
import { briefReports, type ControlPlaneFactory, controlPlaneHandler } from './wiring';

/**
 * EventBridge -> an AWS resource event of the one capability this function serves (the stack deploys
 * one such function per capability that declares events, each with only that capability's rights).
 */
export const createResourceEventHandler = (
  controlPlane: ControlPlaneFactory,
  capability: () => CapabilityName,
) =>
  controlPlaneHandler(controlPlane, async (cp, event) =>
    briefReports(await handleResourceEvent(cp, capability(), event)),
  );

export const handler = createResourceEventHandler(lambdaControlPlane, lambdaCapability);
