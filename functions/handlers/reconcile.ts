import type { AlarmStateReader } from '../engine/auto-failback';
import { reconcileAll } from '../engine/engine';
import { lambdaAlarmStates, lambdaControlPlane } from '../runtime/lambda';
import { catchUpMissedAlarms } from '../trigger/missed-alarms';
import { briefReports, type ControlPlaneFactory, controlPlaneHandler } from './wiring';

/**
 * The schedule (every minute): converge every service; heals crashes and throttled calls. With an
 * alarm reader, an automatic service whose alarm is in ALARM but was never acted on is failed over
 * first (functions/trigger/missed-alarms.ts), and services that opted into automatic failback may
 * be moved back to the primary.
 */
export const createReconcileHandler = (
  controlPlane: ControlPlaneFactory,
  alarmStates?: () => AlarmStateReader,
) =>
  controlPlaneHandler(controlPlane, async (cp) =>
    briefReports(await reconcileAll(cp, { alarmStates: alarmStates?.(), missedAlarms: catchUpMissedAlarms })),
  );

/** The alarm reader reads automatic services' alarms: missed alarm events, automatic failback. */
export const handler = createReconcileHandler(lambdaControlPlane, lambdaAlarmStates);
