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
import { lambdaRecoveryRecorder } from '../report/aws';
import type { RecoveryRecorder } from '../report/recovery';
import { type ClientKit, createClientKit } from './client-kit';
import { capabilitySource, cloudWatchAlarmStates, createControlPlane, slackNotifier } from './control-plane';
import type { RunScope } from './run-scope';
import { newRunScope } from './zone-records';

const lambdaEnvironment = z.object({
  AWS_REGION: z.string().min(1),
  /** ARN of the secret holding the Slack webhook URL (the URL itself never reaches the environment). */
  SLACK_WEBHOOK_SECRET_ARN: z.string().min(1).optional(),
  /** The capability a resource-event function serves (infra/understudy-stack.ts sets it). */
  UNDERSTUDY_CAPABILITY: z.string().optional(),
  /** The bucket execution reports are stored in (infra/report-bucket.ts); absent: not stored. */
  REPORT_BUCKET_NAME: z.string().min(3).optional(),
});

/** What a container keeps across invocations: config, clients, capabilities and the Slack secret cache. */
interface Container {
  readonly config: Config;
  readonly clients: ClientKit;
  readonly notifier: Notifier;
  readonly capabilities: CapabilitySource;
  readonly capability: string | undefined;
  readonly recovery: RecoveryRecorder;
}

let container: Container | undefined;
/** The current invocation's shared reads; Lambda runs one invocation at a time per container. */
let run: RunScope | undefined;

/** Validates environment and config once per container; everything else is created on first use. */
const initialise = (): Container => {
  if (container) return container;
  const env = lambdaEnvironment.parse(process.env);
  const config = bundledConfig();
  const clients = createClientKit({ region: env.AWS_REGION });
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
    recovery: lambdaRecoveryRecorder(clients, env.REPORT_BUCKET_NAME, env.AWS_REGION),
  };
  return container;
};

let alarmStates: AlarmStateReader | undefined;

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

/** A fresh control plane per invocation (its own Reporter and deadline), on the container's clients. */
export const lambdaControlPlane = (remainingMs?: () => number): ControlPlane => {
  const { config, clients, notifier, capabilities, recovery } = initialise();
  // Each invocation reads Route 53 afresh: nothing read in one run is believed in the next.
  run = newRunScope(clients);
  const remaining = remainingMs?.();
  return createControlPlane({
    config,
    clients,
    log: logger,
    notifier,
    capabilities,
    deadline: remaining === undefined ? undefined : new Date(Date.now() + remaining - DEADLINE_MARGIN_MS),
    runName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    recovery,
  });
};
