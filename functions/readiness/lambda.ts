import * as z from 'zod';
import type { Config } from '../config/schema';
import type { Notifier } from '../notify/slack';
import { bundledConfig, logger } from '../runtime/bundled-config';
import { type ClientKit, createClientKit } from '../runtime/client-kit';
import { slackNotifier } from '../runtime/control-plane';
import { ROUTE53_PER_SECOND_ENV } from '../runtime/route53-shares';
import type { ReadinessPlane } from './engine';
import { publishReadinessMetric } from './metric';
import { createReadinessPlane } from './plane';

/** The environment infra/readiness.ts gives the readiness function. */
const readinessEnvironment = z.object({
  AWS_REGION: z.string().min(1),
  /** ARN of the secret holding the Slack webhook URL (the URL itself never reaches the environment). */
  SLACK_WEBHOOK_SECRET_ARN: z.string().min(1).optional(),
  /** The roles of the functions that act (comma-separated ARNs): the IAM check simulates them. */
  UNDERSTUDY_ACTING_ROLE_ARNS: z.string().default(''),
  /** This function's Route 53 requests per second (functions/runtime/route53-shares.ts). */
  [ROUTE53_PER_SECOND_ENV]: z.coerce.number().positive().optional(),
});

interface Container {
  readonly config: Config;
  readonly clients: ClientKit;
  readonly notifier: Notifier;
  readonly roles: readonly string[];
  readonly slackSecretArn: string | undefined;
}

let container: Container | undefined;

const initialise = (): Container => {
  if (container) return container;
  const env = readinessEnvironment.parse(process.env);
  const config = bundledConfig();
  const clients = createClientKit({ region: env.AWS_REGION, route53PerSecond: env[ROUTE53_PER_SECOND_ENV] });
  container = {
    config,
    clients,
    notifier: slackNotifier(config, clients, logger, env.SLACK_WEBHOOK_SECRET_ARN),
    roles: env.UNDERSTUDY_ACTING_ROLE_ARNS.split(',').filter((arn) => arn.length > 0),
    slackSecretArn: env.SLACK_WEBHOOK_SECRET_ARN,
  };
  return container;
};

/** One scheduled evaluation's plane, on the container's clients and Slack secret cache. */
export const lambdaReadinessPlane = (): ReadinessPlane => {
  const { config, clients, notifier, roles, slackSecretArn } = initialise();
  const partition = roles[0]?.split(':')[1];
  return createReadinessPlane({
    config,
    clients,
    log: logger,
    notifier,
    slackWebhookSecret: slackSecretArn,
    roles,
    metric: publishReadinessMetric,
    ...(partition && { partition }),
    runName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  });
};
