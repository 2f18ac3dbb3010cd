import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { CapabilityReport, ControlPlane } from '../engine/engine';
import { logger } from '../runtime/bundled-config';

/**
 * Builds the invocation's control plane; `remainingMs` sets its deadline (tests may ignore it). `run`:
 * the scheduled run the invocation works for (a fan-out worker's dispatch): invocations of one run in
 * a container share its Route 53 reads; without it, each invocation reads afresh.
 */
export type ControlPlaneFactory = (remainingMs?: () => number, run?: string) => ControlPlane;

/**
 * Every control plane handler's wiring, once: the invocation's control plane with a deadline from
 * the Lambda context, the logger's context, and the audit and Slack writes and the run's engine
 * metrics awaited before returning.
 */
export const controlPlaneHandler = <R>(
  controlPlane: ControlPlaneFactory,
  run: (cp: ControlPlane, event: unknown) => Promise<R>,
  runOf?: (event: unknown) => string | undefined,
) =>
  middy(async (event: unknown, context: Context) => {
    const cp = controlPlane(() => context.getRemainingTimeInMillis(), runOf?.(event));
    try {
      return await run(cp, event);
    } finally {
      await cp.reporter.flush();
      await cp.metrics?.flush();
    }
  }).use(injectLambdaContext(logger));

/** What a handler returns: one line per capability step, without plans or details. */
export const briefReports = (reports: readonly CapabilityReport[]) =>
  reports.map(({ service, capability, epoch, phase }) => ({ service, capability, epoch, phase }));
