import { randomUUID } from 'node:crypto';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../config/schema';
import { type Clock, systemClock } from '../core/clock';
import type { Log } from '../core/log';
import { dnsCapability } from '../dns/route53';
import { type Notifier, slackWebhookNotifier } from '../notify/slack';
import type { CapabilityRegistry } from '../reconcile/capability';
import type { ControlPlane } from '../reconcile/engine';
import { Reporter } from '../reconcile/reporter';
import { StateStore } from '../state/store';
import { withRequestBudget } from './request-budget';

/** The AWS clients the control plane uses. Endpoints come from the SDK's own configuration (AWS_ENDPOINT_URL). */
export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly route53: Route53Client;
  readonly secrets: SecretsManagerClient;
}

export interface ClientOptions {
  readonly region: string;
  readonly maxAttempts?: number;
  /** Route 53 requests per second from this process (the account limit is 5). */
  readonly route53PerSecond?: number;
}

export const createAwsClients = (options: ClientOptions): AwsClients => {
  const common = { region: options.region, ...(options.maxAttempts && { maxAttempts: options.maxAttempts }) };
  return {
    dynamodb: new DynamoDBClient(common),
    route53: withRequestBudget(new Route53Client(common), options.route53PerSecond ?? 2),
    secrets: new SecretsManagerClient(common),
  };
};

/** Caches the webhook URL for five minutes so a storm of events reads the secret once. */
export const webhookFromSecret = (secrets: SecretsManagerClient, secretId: string | undefined) => {
  if (!secretId) return async () => undefined;
  const provider = new SecretsProvider({ awsSdkV3Client: secrets });
  return async () => {
    const value = await provider.get(secretId, { maxAge: 300 });
    return typeof value === 'string' && /^https?:\/\//.test(value) ? value : undefined;
  };
};

export interface ControlPlaneOptions {
  readonly config: Config;
  readonly clients: AwsClients;
  readonly log: Log;
  readonly clock?: Clock;
  readonly newId?: () => string;
  readonly notifier?: Notifier;
  /** Secret (name or ARN) holding the Slack webhook URL; defaults to the config's. */
  readonly slackWebhookSecret?: string | undefined;
  readonly dnsVerify?: { readonly verifyAttempts: number; readonly verifyIntervalMs: number };
}

/** The capabilities this control plane can reconcile; later capabilities register here. */
export const capabilityRegistry = (
  clients: AwsClients,
  clock: Clock,
  options: ControlPlaneOptions,
): CapabilityRegistry => ({
  dns: dnsCapability(clients.route53, clock, options.dnsVerify),
});

/** A control plane for one invocation (one Reporter each); clients are reused across invocations. */
export const createControlPlane = (options: ControlPlaneOptions): ControlPlane => {
  const clock = options.clock ?? systemClock;
  const { config, clients, log } = options;
  const store = new StateStore(
    clients.dynamodb,
    config.controlPlane.stateTableName,
    config.controlPlane.auditRetentionDays,
    options.newId ?? randomUUID,
  );
  const notifier =
    options.notifier ??
    slackWebhookNotifier({
      webhookUrl: webhookFromSecret(
        clients.secrets,
        options.slackWebhookSecret ?? config.controlPlane.slackWebhookSecretName,
      ),
      controlPlane: `understudy ${config.controlPlane.stackName} (${config.controlPlane.account}/${config.controlPlane.region})`,
      log,
    });
  return {
    config,
    store,
    clock,
    log,
    reporter: new Reporter(store, notifier, log),
    capabilities: capabilityRegistry(clients, clock, options),
  };
};
