import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { bundledConfig, logger } from './bundled-config';

export { bundledConfig, logger };

import { CAPABILITY_MODULES } from '../capabilities/registry';
import { CAPABILITIES, type CapabilityName, type Config } from '../config/schema';
import { systemClock } from '../core/clock';
import type { AlarmStateReader } from '../engine/auto-failback';
import type { CapabilitySource } from '../engine/capability';
import type { ControlPlane } from '../engine/engine';
import type { Notifier } from '../notify/slack';
import { type ClientKit, createClientKit } from './client-kit';
import { capabilitySource, cloudWatchAlarmStates, createControlPlane, slackNotifier } from './control-plane';
import { ROUTE53_PER_SECOND_ENV } from './route53-shares';
import type { RunScope } from './run-scope';
import { sqsWorkQueue, type WorkQueue } from './work-queue';
import { newRunScope } from './zone-records';

const lambdaEnvironment = z.object({
  AWS_REGION: z.string().min(1),
  /** ARN of the secret holding the Slack webhook URL (the URL itself never reaches the environment). */
  SLACK_WEBHOOK_SECRET_ARN: z.string().min(1).optional(),
  /** The capability a resource-event function serves (infra/understudy-stack.ts sets it). */
  UNDERSTUDY_CAPABILITY: z.string().optional(),
  /** The fan-out queue the dispatcher fills (infra/reconciler.ts sets it). */
  UNDERSTUDY_WORK_QUEUE_URL: z.string().min(1).optional(),
  /** This function's Route 53 requests per second (functions/runtime/route53-shares.ts). */
  [ROUTE53_PER_SECOND_ENV]: z.coerce.number().positive().optional(),
});

/** What a container keeps across invocations: config, clients, capabilities and the Slack secret cache. */
interface Container {
  readonly config: Config;
  readonly clients: ClientKit;
  readonly notifier: Notifier;
  readonly capabilities: CapabilitySource;
  readonly capability: string | undefined;
  readonly workQueueUrl: string | undefined;
}

let container: Container | undefined;
/** The current invocation's shared reads; Lambda runs one invocation at a time per container. */
let run: RunScope | undefined;
/** The scheduled run (a dispatch) `run` belongs to, when the invocation named one. */
let runKey: string | undefined;

/** Validates environment and config once per container; everything else is created on first use. */
const initialise = (): Container => {
  if (container) return container;
  const env = lambdaEnvironment.parse(process.env);
  const config = bundledConfig();
  const clients = createClientKit({
    region: env.AWS_REGION,
    route53PerSecond: env[ROUTE53_PER_SECOND_ENV],
  });
  container = {
    config,
    clients,
    notifier: slackNotifier(config, clients, logger, env.SLACK_WEBHOOK_SECRET_ARN),
    capabilities: capabilitySource(CAPABILITY_MODULES, {
      config,
      clients,
      clock: systemClock,
      log: logger,
      newId: randomUUID,
      changeVerify: { verifyAttempts: 10, verifyIntervalMs: 3_000 },
      run: () => {
        run ??= newRunScope(clients);
        return run;
      },
    }),
    capability: env.UNDERSTUDY_CAPABILITY,
    workQueueUrl: env.UNDERSTUDY_WORK_QUEUE_URL,
  };
  return container;
};

let alarmStates: AlarmStateReader | undefined;
let workQueue: WorkQueue | undefined;

/** The dispatcher's fan-out queue, from its environment. */
export const lambdaWorkQueue = (): WorkQueue => {
  const { clients, workQueueUrl } = initialise();
  if (!workQueueUrl) throw new Error('UNDERSTUDY_WORK_QUEUE_URL must name the fan-out queue');
  workQueue ??= sqsWorkQueue(clients, workQueueUrl);
  return workQueue;
};

/** The automatic-failback alarm reader, on the container's own CloudWatch clients. */
export const lambdaAlarmStates = (): AlarmStateReader => {
  alarmStates ??= cloudWatchAlarmStates(initialise().clients);
  return alarmStates;
};

/** The capability a resource-event function serves, from its environment. */
export const lambdaCapability = (): CapabilityName => {
  const { capability } = initialise();
  const known = CAPABILITIES.find((c) => c === capability);
  if (!known) throw new Error(`UNDERSTUDY_CAPABILITY must name a capability (${CAPABILITIES.join(', ')})`);
  return known;
};

/**
 * How long before the function's timeout a run stops starting new work: enough for the step in
 * flight (an SDK call with its retries, a bounded verify) and the status, audit and Slack writes.
 */
export const DEADLINE_MARGIN_MS = 15_000;

/**
 * A fresh control plane per invocation (its own Reporter and deadline), on the container's clients.
 * `scheduledRun`: the dispatch a fan-out worker's invocation belongs to; the container's invocations
 * of one dispatch share its Route 53 zone reads (so an idle dispatch reads each zone once per worker
 * container, not once per batch), and the first invocation of the next dispatch reads afresh.
 */
export const lambdaControlPlane = (remainingMs?: () => number, scheduledRun?: string): ControlPlane => {
  const { config, clients, notifier, capabilities } = initialise();
  // Each run reads Route 53 afresh: nothing read in one run is believed in the next.
  if (scheduledRun === undefined || scheduledRun !== runKey || run === undefined) run = newRunScope(clients);
  runKey = scheduledRun;
  const remaining = remainingMs?.();
  return createControlPlane({
    config,
    clients,
    log: logger,
    notifier,
    capabilities,
    deadline: remaining === undefined ? undefined : new Date(Date.now() + remaining - DEADLINE_MARGIN_MS),
    runName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  });
};
