import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, DescribeAlarmsCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { RDSClient } from '@aws-sdk/client-rds';
import {
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESClient } from '@aws-sdk/client-ses';
import { type Config, type ConfigInput, parseConfig } from '../config/schema';
import { type ClientKit, createClientKit } from '../runtime/client-kit';
import { emulatorEnvironment } from './emulator';

/** moto's default account. */
export const LOCAL_ACCOUNT = '123456789012';
export const LOCAL_REGION = 'eu-west-2';

/**
 * The control plane's own clients, pointed at the emulator through the SDK's configuration
 * (AWS_ENDPOINT_URL). They fail fast (an operation moto lacks answers 500) and skip the Route 53
 * request budget, which would only slow the tests down.
 */
export const localAwsClients = (endpoint: string, maxAttempts = 1): AwsClients => {
  Object.assign(process.env, emulatorEnvironment(endpoint, LOCAL_REGION));
  const kit = createClientKit({ region: LOCAL_REGION, maxAttempts, route53PerSecond: 50 });
  return {
    kit,
    dynamodb: kit.client(DynamoDBClient),
    route53: kit.client(Route53Client),
    secrets: kit.client(SecretsManagerClient),
    rds: kit.client(RDSClient),
    cloudwatch: kit.client(CloudWatchClient),
    ec2: kit.client(EC2Client),
    elbv2: kit.client(ElasticLoadBalancingV2Client),
    autoScaling: kit.client(AutoScalingClient),
    s3: kit.client(S3Client),
    ses: kit.client(SESClient),
  };
};

/**
 * The harness's view of the local AWS: the control plane's own client kit (the same clients the
 * control plane uses), and typed clients from it for provisioning the scenario's topology.
 */
export interface AwsClients {
  readonly kit: ClientKit;
  readonly dynamodb: DynamoDBClient;
  readonly route53: Route53Client;
  readonly secrets: SecretsManagerClient;
  readonly rds: RDSClient;
  readonly cloudwatch: CloudWatchClient;
  readonly ec2: EC2Client;
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly autoScaling: AutoScalingClient;
  readonly s3: S3Client;
  readonly ses: SESClient;
}

/** The Secrets Manager secret holding the (local) Slack webhook URL; returns its name (the config names the secret; the stack derives its ARN). */
export const createSlackSecret = async (
  secrets: AwsClients['secrets'],
  webhookUrl: string,
): Promise<string> => {
  const name = `understudy/slack-webhook-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  await secrets.send(new CreateSecretCommand({ Name: name, SecretString: webhookUrl }));
  return name;
};

/** The `controlPlane` section every local topology uses: moto's account, the local Region, the state table. */
export const localControlPlaneInput = (
  slackSecretName?: string,
  extra: Partial<ConfigInput['controlPlane']> = {},
): ConfigInput['controlPlane'] => ({
  account: LOCAL_ACCOUNT,
  region: LOCAL_REGION,
  stateTableName: 'understudy-state',
  ...(slackSecretName !== undefined && { slackWebhookSecretName: slackSecretName }),
  ...extra,
});

/** The state table exactly as infra/state-store.ts declares it (pk/sk strings, TTL on expiresAt). */
export const createStateTable = async (dynamodb: DynamoDBClient, tableName: string): Promise<void> => {
  await dynamodb.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    }),
  );
};

/**
 * moto never evaluates alarms and SetAlarmState emits no EventBridge event, so the harness sets
 * the state and then builds the "CloudWatch Alarm State Change" event itself, in AWS's shape.
 */
export const setAlarmAndBuildEvent = async (
  cloudwatch: CloudWatchClient,
  alarmName: string,
  value: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA',
  reason: string,
  at: Date = new Date(),
) => {
  const before = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [alarmName] }));
  const previous = before.MetricAlarms?.[0];
  await cloudwatch.send(
    new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: value, StateReason: reason }),
  );
  const after = (await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [alarmName] })))
    .MetricAlarms?.[0];
  if (!after?.AlarmArn) throw new Error(`alarm ${alarmName} not found`);
  const [, , , region, account] = after.AlarmArn.split(':');
  return alarmStateChangeEvent({
    alarmName,
    alarmArn: after.AlarmArn,
    account: account ?? LOCAL_ACCOUNT,
    region: region ?? LOCAL_REGION,
    value,
    previousValue: (previous?.StateValue as string | undefined) ?? 'INSUFFICIENT_DATA',
    reason,
    at,
  });
};

/** The EventBridge event AWS delivers for an alarm state change (see the CloudWatch user guide). */
export const alarmStateChangeEvent = (input: {
  alarmName: string;
  alarmArn?: string;
  account: string;
  region: string;
  value: string;
  previousValue?: string;
  reason: string;
  at: Date;
}) => {
  const cwTime = input.at.toISOString().replace('Z', '+0000');
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: input.account,
    time: input.at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: input.region,
    resources: [
      input.alarmArn ?? `arn:aws:cloudwatch:${input.region}:${input.account}:alarm:${input.alarmName}`,
    ],
    detail: {
      alarmName: input.alarmName,
      state: { value: input.value, reason: input.reason, reasonData: '{"version":"1.0"}', timestamp: cwTime },
      previousState: {
        value: input.previousValue ?? 'OK',
        reason: 'previous state',
        reasonData: '{"version":"1.0"}',
        timestamp: cwTime,
      },
      configuration: {
        description: 'The primary site fails its health check',
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: { namespace: 'AWS/Route53', name: 'HealthCheckStatus', dimensions: {} },
              period: 60,
              stat: 'Minimum',
            },
            returnData: true,
          },
        ],
      },
    },
  };
};

/**
 * moto reports every health check as healthy. Where a test or the drill needs a failing one, this
 * rewrites GetHealthCheckStatus answers on the client for the ids given: the harness supplies what
 * AWS's health checkers would report, and says so.
 */
export const supplyHealthCheckStatus = (route53: Route53Client, failing: Set<string>): Route53Client => {
  route53.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as { HealthCheckId?: string };
      if (
        context.commandName === 'GetHealthCheckStatusCommand' &&
        input.HealthCheckId &&
        failing.has(input.HealthCheckId)
      ) {
        const output = result.output as {
          HealthCheckObservations?: { StatusReport?: { Status?: string } }[];
        };
        for (const observation of output.HealthCheckObservations ?? []) {
          if (observation.StatusReport) {
            observation.StatusReport.Status = 'Failure: Connection timed out. The endpoint did not respond.';
          }
        }
      }
      return result;
    },
    { step: 'initialize', name: 'harnessHealthCheckStatus' },
  );
  return route53;
};

/** Counts the calls a client makes, by command name (observing, not mocking). */
export const countCalls = (client: { middlewareStack: Route53Client['middlewareStack'] }) => {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counts.set(context.commandName ?? '?', (counts.get(context.commandName ?? '?') ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: `harnessCallCounter${Math.random()}` },
  );
  return counts;
};

/**
 * Route 53's answer for one name from its record sets and the health verdicts: a record is healthy
 * unless its check is unhealthy; weighted records with a non-zero weight first, zero weights only if
 * none of those is healthy; and if none at all is healthy, every record counts as healthy, so the
 * non-zero weights answer (Route 53's "if no record is healthy, all records are healthy").
 */
export const routeAnswer = (sets: readonly ResourceRecordSet[], unhealthy: ReadonlySet<string>): string[] => {
  const values = (list: readonly ResourceRecordSet[]) =>
    list.flatMap((s) => (s.ResourceRecords ?? []).map((r) => r.Value ?? ''));
  if (sets.every((s) => s.Weight === undefined)) return values(sets);
  const healthy = (s: ResourceRecordSet) => !s.HealthCheckId || !unhealthy.has(s.HealthCheckId);
  const live = sets.filter((s) => (s.Weight ?? 0) > 0);
  const zero = sets.filter((s) => (s.Weight ?? 0) === 0);
  const first = live.filter(healthy);
  if (first.length > 0) return values(first);
  const second = zero.filter(healthy);
  if (second.length > 0) return values(second);
  return values(live.length > 0 ? live : zero);
};

/** The answer for `name`/`type` in a zone, read from the emulator's record sets; `failing`: unhealthy checks. */
export const answerFor = async (
  route53: Route53Client,
  hostedZoneId: string,
  name: string,
  type: string,
  failing: ReadonlySet<string>,
): Promise<string[]> => {
  const out = await route53.send(
    new ListResourceRecordSetsCommand({
      HostedZoneId: hostedZoneId,
      StartRecordName: name,
      StartRecordType: type as 'A',
    }),
  );
  return routeAnswer(
    (out.ResourceRecordSets ?? []).filter((s) => s.Name === name && s.Type === type),
    failing,
  );
};

/** What every local topology is asked for: where Slack is, and the service's mode (`auto` unless given). */
export interface LocalServiceOptions {
  readonly slackWebhookUrl: string;
  readonly mode?: 'auto' | 'approve' | 'dry-run' | undefined;
}

/**
 * A one-service config on the local AWS, ready to use: the local control plane section with a fresh
 * Slack secret, the service (in the options' mode, `auto` unless given, and a 30-minute cooldown
 * unless it says otherwise), and the state table created.
 */
export const localServiceConfig = async (
  clients: AwsClients,
  options: LocalServiceOptions,
  service: Omit<ConfigInput['services'][number], 'mode'>,
  source: string,
): Promise<Config> => {
  const config = parseConfig(
    {
      controlPlane: localControlPlaneInput(await createSlackSecret(clients.secrets, options.slackWebhookUrl)),
      services: [{ cooldownMinutes: 30, ...service, mode: options.mode ?? 'auto' }],
    },
    source,
  );
  await createStateTable(clients.dynamodb, config.controlPlane.stateTableName);
  return config;
};
