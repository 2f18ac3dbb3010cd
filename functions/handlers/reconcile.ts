import type { AlarmStateReader } from '../engine/auto-failback';
import { reconcileAll } from '../engine/engine';
import { lambdaAlarmStates, lambdaControlPlane } from '../runtime/lambda';
import { briefReports, type ControlPlaneFactory, controlPlaneHandler } from './wiring';

/**
 * The schedule (every minute): converge every service; heals crashes and throttled calls. With an
 * alarm reader, services that opted into automatic failback may first be moved back to the primary.
 */
export const createReconcileHandler = (
  controlPlane: ControlPlaneFactory,
  alarmStates?: () => AlarmStateReader,
) =>
  controlPlaneHandler(controlPlane, async (cp) =>
    briefReports(await reconcileAll(cp, { alarmStates: alarmStates?.() })),
  );

/** The alarm reader is called only for services that opted into automatic failback. */
export const handler = createReconcileHandler(lambdaControlPlane, lambdaAlarmStates);
