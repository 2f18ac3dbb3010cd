import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type ControlPlane, reconcileService } from '../../engine/engine';
import { lambdaControlPlane, logger } from '../../runtime/lambda';
import { classifyRdsEvent } from './rds-event';

/** EventBridge -> RDS instance/cluster event: reconcile the database capability of the services it concerns. */
export const createRdsEventHandler = (controlPlane: () => ControlPlane) =>
  middy(async (event: unknown) => {
    const cp = controlPlane();
    try {
      const verdict = classifyRdsEvent(event, cp.config);
      if (verdict.kind === 'ignore') {
        cp.log.warn('event ignored', { reason: verdict.reason });
        return [];
      }
      cp.log.info('RDS event: reconciling the database capability', { reason: verdict.reason });
      const reports = [];
      for (const service of verdict.services) {
        // A dry-run service is only planned, like on the schedule.
        reports.push(
          ...(await reconcileService(cp, service, ['database'], { dryRun: service.mode === 'dry-run' })),
        );
      }
      return reports.map(({ service, capability, epoch, phase }) => ({ service, capability, epoch, phase }));
    } finally {
      await cp.reporter.flush();
    }
  }).use(injectLambdaContext(logger));

export const handler = createRdsEventHandler(lambdaControlPlane);
