import * as z from 'zod';
import { bundledConfig, logger } from './bundled-config';

export { bundledConfig, logger };

import { CAPABILITIES, type CapabilityName, type Config } from '../config/schema';
import type { AlarmStateReader } from '../engine/auto-failback';
import type { ControlPlane } from '../engine/engine';
import { lambdaRecoveryRecorder } from '../report/aws';
import { type ClientKit, createClientKit } from './client-kit';
import {
  cloudWatchAlarmStates,
  containerControlPlanes,
  DEADLINE_MARGIN_MS,
  type InvocationControlPlanes,
  slackNotifier,
} from './control-plane';
import { powertoolsMetricPublisher } from './metrics';
import { ROUTE53_PER_SECOND_ENV } from './route53-shares';
import { sqsWorkQueue, type WorkQueue } from './work-queue';

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
  /** The bucket execution reports are stored in (infra/report-bucket.ts); absent: not stored. */
  REPORT_BUCKET_NAME: z.string().min(3).optional(),
});

/** What a container keeps across invocations: config, clients, its control planes (capabilities, Slack cache). */
interface Container {
  readonly config: Config;
  readonly clients: ClientKit;
  readonly controlPlanes: InvocationControlPlanes;
  readonly capability: string | undefined;
  readonly workQueueUrl: string | undefined;
}

let container: Container | undefined;

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
    controlPlanes: containerControlPlanes({
      config,
      clients,
      log: logger,
      notifier: slackNotifier(config, clients, logger, env.SLACK_WEBHOOK_SECRET_ARN),
      runName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      recovery: lambdaRecoveryRecorder(clients, env.REPORT_BUCKET_NAME, env.AWS_REGION),
      metricPublisher: powertoolsMetricPublisher,
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

export { DEADLINE_MARGIN_MS };

/**
 * A fresh control plane per invocation (its own Reporter and deadline), on the container's clients;
 * `scheduledRun` shares a dispatch's reads (functions/runtime/control-plane.ts, containerControlPlanes).
 */
export const lambdaControlPlane = (remainingMs?: () => number, scheduledRun?: string): ControlPlane =>
  initialise().controlPlanes(remainingMs, scheduledRun);
