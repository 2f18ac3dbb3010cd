import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { CapabilityReport, ControlPlane } from '../engine/engine';
import { logger } from '../runtime/bundled-config';

/** Builds the invocation's control plane; `remainingMs` sets its deadline (tests may ignore it). */
export type ControlPlaneFactory = (remainingMs?: () => number) => ControlPlane;

/**
 * Every control plane handler's wiring, once: the invocation's control plane with a deadline from
 * the Lambda context, the logger's context, and the audit and Slack writes awaited before returning.
 */
export const controlPlaneHandler = <R>(
  controlPlane: ControlPlaneFactory,
  run: (cp: ControlPlane, event: unknown) => Promise<R>,
) =>
  middy(async (event: unknown, context: Context) => {
    const cp = controlPlane(() => context.getRemainingTimeInMillis());
    try {
      return await run(cp, event);
    } finally {
      await cp.reporter.flush();
    }
  }).use(injectLambdaContext(logger));

/** What a handler returns: one line per capability step, without plans or details. */
export const briefReports = (reports: readonly CapabilityReport[]) =>
  reports.map(({ service, capability, epoch, phase }) => ({ service, capability, epoch, phase }));
