import { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod';
import { type Config, parseConfig } from '../config/schema';
import type { AlarmStateReader } from '../engine/auto-failback';
import type { ControlPlane } from '../engine/engine';
import {
  type AwsClients,
  cloudWatchAlarmStates,
  createAwsClients,
  createControlPlane,
} from './control-plane';

/**
 * The validated config is bundled into each function by esbuild (`define`) at synth time, so the
 * deployed code and the deployed config always match and no config lives in environment variables.
 */
declare const __UNDERSTUDY_CONFIG__: string | undefined;

const lambdaEnvironment = z.object({
  AWS_REGION: z.string().min(1),
  /** ARN of the secret holding the Slack webhook URL (the URL itself never reaches the environment). */
  SLACK_WEBHOOK_SECRET_ARN: z.string().min(1).optional(),
});

export const logger = new Logger({ serviceName: 'understudy' });

/** The config esbuild bundled into this function, validated again: every function reads it this way. */
export const bundledConfig = (): Config => {
  if (typeof __UNDERSTUDY_CONFIG__ !== 'string') {
    throw new Error('this bundle carries no understudy config: build it with the understudy CDK stack');
  }
  return parseConfig(JSON.parse(__UNDERSTUDY_CONFIG__), 'bundled understudy config');
};

interface ColdStart {
  readonly config: Config;
  readonly clients: AwsClients;
  readonly slackWebhookSecret: string | undefined;
}

let coldStart: ColdStart | undefined;

/** Validates environment and config once per container; clients are reused across invocations. */
const initialise = (): ColdStart => {
  if (coldStart) return coldStart;
  const env = lambdaEnvironment.parse(process.env);
  const config = bundledConfig();
  coldStart = {
    config,
    clients: createAwsClients({ region: env.AWS_REGION }),
    slackWebhookSecret: env.SLACK_WEBHOOK_SECRET_ARN,
  };
  return coldStart;
};

let alarmStates: AlarmStateReader | undefined;

/** The automatic-failback alarm reader, on the container's own CloudWatch client. */
export const lambdaAlarmStates = (): AlarmStateReader => {
  alarmStates ??= cloudWatchAlarmStates(initialise().clients.cloudwatch);
  return alarmStates;
};

/** A fresh control plane per invocation (its own Reporter), on the container's clients. */
export const lambdaControlPlane = (): ControlPlane => {
  const { config, clients, slackWebhookSecret } = initialise();
  return createControlPlane({ config, clients, log: logger, slackWebhookSecret });
};
