import { randomUUID } from 'node:crypto';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESClient } from '@aws-sdk/client-ses';
import { computeCapability } from '../capabilities/compute/ec2';
import { databaseCapability } from '../capabilities/database/rds';
import { dnsCapability } from '../capabilities/dns/route53';
import { type MailCapabilityOptions, mailCapability } from '../capabilities/mail/capability';
import { MailStore } from '../capabilities/mail/store';
import type { Config } from '../config/schema';
import { type Clock, systemClock } from '../core/clock';
import type { Log } from '../core/log';
import type { AlarmStateReader, ObservedAlarm } from '../engine/auto-failback';
import type { CapabilityRegistry } from '../engine/capability';
import type { ControlPlane } from '../engine/engine';
import { Reporter } from '../engine/reporter';
import { type Notifier, slackWebhookNotifier } from '../notify/slack';
import { StateStore } from '../state/store';
import { withRequestBudget } from './request-budget';

/** The AWS clients the control plane uses. Endpoints come from the SDK's own configuration (AWS_ENDPOINT_URL). */
export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly route53: Route53Client;
  readonly secrets: SecretsManagerClient;
  /** RDS and CloudWatch (replica lag) in the control plane's Region; other Regions are created on demand. */
  readonly rds: RDSClient;
  readonly cloudwatch: CloudWatchClient;
  /** Compute: instances, target groups and the optional standby Auto Scaling group. */
  readonly ec2: EC2Client;
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly autoScaling: AutoScalingClient;
  /** Mail: the held-mail bucket and SES receipt rules (the SES inbound Region is the control plane's). */
  readonly s3: S3Client;
  readonly ses: SESClient;
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
    rds: new RDSClient(common),
    cloudwatch: new CloudWatchClient(common),
    ec2: new EC2Client(common),
    elbv2: new ElasticLoadBalancingV2Client(common),
    autoScaling: new AutoScalingClient(common),
    s3: new S3Client(common),
    ses: new SESClient(common),
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
  /** Mail hand-back tuning (budgets, SMTP timeouts); tests script the primary through `smtp`. */
  readonly mail?: Partial<Omit<MailCapabilityOptions, 'stackName'>>;
}

/** The capabilities this control plane can reconcile; later capabilities register here. */
export const capabilityRegistry = (
  clients: AwsClients,
  clock: Clock,
  options: ControlPlaneOptions,
): CapabilityRegistry => ({
  dns: dnsCapability(clients.route53, clock, options.dnsVerify),
  database: databaseCapability(
    {
      rds: inRegion(clients.rds, (region) => new RDSClient({ region })),
      cloudwatch: inRegion(clients.cloudwatch, (region) => new CloudWatchClient({ region })),
      route53: clients.route53,
    },
    clock,
    options.log,
    {
      homeRegion: options.config.controlPlane.region,
      verifyAttempts: options.dnsVerify?.verifyAttempts ?? 10,
      verifyIntervalMs: options.dnsVerify?.verifyIntervalMs ?? 3_000,
    },
  ),
  compute: computeCapability({ ec2: clients.ec2, elbv2: clients.elbv2, autoScaling: clients.autoScaling }),
  mail: mailCapability(
    {
      s3: clients.s3,
      ses: clients.ses,
      store: new MailStore(clients.dynamodb, options.config.controlPlane.stateTableName),
      clock,
      log: options.log,
      newId: options.newId ?? randomUUID,
    },
    { stackName: options.config.controlPlane.stackName, ...options.mail },
  ),
});

/** The home Region's client, or one per other Region (a cross-Region replica), created once. */
const inRegion = <C extends { config: { region: () => Promise<string> } }>(
  home: C,
  create: (region: string) => C,
): ((region: string) => C) => {
  const others = new Map<string, C>();
  let homeRegion: string | undefined;
  void home.config.region().then((r) => {
    homeRegion = r;
  });
  return (region) => {
    if (homeRegion === undefined || region === homeRegion) return home;
    const existing = others.get(region);
    if (existing) return existing;
    const client = create(region);
    others.set(region, client);
    return client;
  };
};

/** DescribeAlarms takes at most 100 names per call. */
const DESCRIBE_ALARMS_BATCH = 100;

/**
 * Automatic failback's view of CloudWatch: DescribeAlarms by name (metric and composite alarms), at
 * most 100 names per call, in the alarm's Region (the home client, or one created per other Region).
 */
export const cloudWatchAlarmStates = (home: CloudWatchClient): AlarmStateReader => {
  const others = new Map<string, CloudWatchClient>();
  const clientFor = async (region: string): Promise<CloudWatchClient> => {
    if (region === (await home.config.region())) return home;
    const client = others.get(region) ?? new CloudWatchClient({ region });
    others.set(region, client);
    return client;
  };
  return async (region, names) => {
    const client = await clientFor(region);
    const observed: ObservedAlarm[] = [];
    for (let i = 0; i < names.length; i += DESCRIBE_ALARMS_BATCH) {
      const batch = names.slice(i, i + DESCRIBE_ALARMS_BATCH);
      let nextToken: string | undefined;
      do {
        const page = await client.send(
          new DescribeAlarmsCommand({
            AlarmNames: batch,
            AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
            MaxRecords: DESCRIBE_ALARMS_BATCH,
            NextToken: nextToken,
          }),
        );
        for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
          if (!alarm.AlarmName) continue;
          observed.push({
            name: alarm.AlarmName,
            region,
            state: alarm.StateValue ?? 'unknown',
            stateUpdatedAt: alarm.StateUpdatedTimestamp,
          });
        }
        nextToken = page.NextToken;
      } while (nextToken);
    }
    return observed;
  };
};

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
