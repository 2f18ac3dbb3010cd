import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { evaluateReadiness, type ReadinessPlane } from '../readiness/engine';
import { lambdaReadinessPlane } from '../readiness/lambda';
import { logger } from '../runtime/bundled-config';

/**
 * The readiness schedule (every controlPlane.readinessIntervalMinutes): would each service's failover
 * and failback work now. Reads only; records each verdict, tells Slack once per change, publishes the
 * Readiness metric (functions/readiness/).
 */
export const createReadinessHandler = (plane: () => ReadinessPlane) =>
  middy(async () => {
    const p = plane();
    try {
      const verdicts = await evaluateReadiness(p);
      return verdicts.map(({ service, part, verdict, change }) => ({
        service,
        part,
        verdict,
        change: change?.kind,
      }));
    } finally {
      await p.reporter.flush();
    }
  }).use(injectLambdaContext(logger));

export const handler = createReadinessHandler(lambdaReadinessPlane);
