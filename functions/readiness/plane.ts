import { randomUUID } from 'node:crypto';
import type { CapabilityContext } from '../engine/module';
import { type ControlPlaneOptions, createControlPlane } from '../runtime/control-plane';
import { newRunScope } from '../runtime/zone-records';
import type { ReadinessPlane } from './engine';
import { awsSharedChecks, type SharedChecks } from './shared';

export interface ReadinessPlaneOptions extends ControlPlaneOptions {
  /** The roles whose rights the IAM check simulates (the acting functions'); none: the check is skipped. */
  readonly roles?: readonly string[];
  readonly metric?: ReadinessPlane['metric'];
  /** Default: on AWS (functions/readiness/shared.ts). */
  readonly shared?: SharedChecks;
  readonly partition?: string;
}

/**
 * One readiness evaluation's plane, built like a control plane (store, Reporter, Slack) on the same
 * clients, with the context a module's readiness check reads through. Its reads of Route 53 are one
 * run: shared by every service and capability of this evaluation, never carried into the next.
 */
export const createReadinessPlane = (options: ReadinessPlaneOptions): ReadinessPlane => {
  const cp = createControlPlane(options);
  const run = newRunScope(options.clients);
  const context: CapabilityContext = {
    config: options.config,
    clients: options.clients,
    clock: cp.clock,
    log: options.log,
    newId: options.newId ?? randomUUID,
    changeVerify: options.changeVerify ?? { verifyAttempts: 10, verifyIntervalMs: 3_000 },
    tuning: options.tuning,
    run: () => run,
  };
  return {
    config: options.config,
    modules: cp.modules,
    store: cp.store,
    reporter: cp.reporter,
    clock: cp.clock,
    log: options.log,
    context,
    shared:
      options.shared ??
      awsSharedChecks(options.config, options.clients, options.roles ?? [], options.slackWebhookSecret),
    metric: options.metric,
    partition: options.partition,
  };
};
