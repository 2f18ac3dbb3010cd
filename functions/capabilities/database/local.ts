/**
 * The database topology in the local AWS: a primary DB instance and its read replica (or an Aurora
 * cluster with a writer and a reader), the private hosted zone holding the endpoint name, the alarm,
 * the state table and the Slack secret, and the control plane on real SDK clients.
 *
 * What moto cannot do, the harness supplies and says so:
 * - replica lag exists only as the CloudWatch metric AWS publishes; `publishLag` puts it there
 *   with PutMetricData, exactly where AWS would (AWS/RDS ReplicaLag by DBInstanceIdentifier);
 * - moto's PromoteReadReplica only clears an internal flag: the promoted instance still reports
 *   ReadReplicaSourceDBInstanceIdentifier, which real RDS removes once the promotion completes.
 *   `supplyPromotion` rewrites DescribeDBInstances answers on the client for instances this
 *   client promoted: optionally `modifying` for a number of reads (RDS takes minutes), then
 *   `available` without a replication source, as RDS reports a finished promotion.
 */
import {
  type CloudWatchClient,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateDBInstanceReadReplicaCommand,
  DescribeDBInstancesCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import {
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { Config } from '../../config/schema';
import { countCalls, localServiceConfig } from '../../drill/local-aws';
import { harnessControlPlane, type LocalHarness, startHarness } from '../../drill/local-control-plane';
import type { ControlPlane } from '../../engine/engine';

export const DB_PRIMARY = 'shop-db';
export const DB_REPLICA = 'shop-db-replica';
export const DB_CLUSTER = 'shop-aurora';
export const DB_WRITER = 'shop-aurora-1';
export const DB_READER = 'shop-aurora-2';
export const DB_ALARM = 'shop-db-unhealthy';
export const DB_ENDPOINT = 'db.shop.internal.';

export interface DatabaseTopologyOptions {
  readonly kind?: 'rds-replica' | 'aurora-cluster';
  readonly mode?: 'auto' | 'approve' | 'dry-run';
  readonly delayedReplica?: boolean;
  readonly maxReplicaLagSeconds?: number;
  readonly fenceOldPrimary?: 'none' | 'quarantine-security-group' | 'stop';
  readonly maxAttempts?: number;
}

export interface LocalDatabase extends LocalHarness {
  readonly config: Config;
  readonly hostedZoneId: string;
  /** RDS calls made through the control plane's client, by command name. */
  readonly rdsCalls: Map<string, number>;
  /** Reads that still report a promotion under way (`modifying`) before it completes; default 0. */
  promotionReads: number;
  controlPlane(): ControlPlane;
  /** What the endpoint name points at now (the CNAME's value), or undefined. */
  endpointTarget(): Promise<string | undefined>;
  /** The DB instance's endpoint address, as RDS reports it. */
  addressOf(id: string): Promise<string>;
  /** Publishes ReplicaLag (seconds) for an instance, as RDS would every minute. */
  publishLag(instanceId: string, seconds: number, metric?: 'ReplicaLag' | 'AuroraReplicaLag'): Promise<void>;
}

const QUARANTINE_SG = 'sg-0badc0ffee0000001';

/**
 * moto leaves a promoted instance looking like a replica; real RDS, once the promotion completes,
 * reports it available with no replication source. The harness supplies that, and only for
 * instances promoted through this client.
 */
export const supplyPromotion = (rds: RDSClient, state: { promotionReads: number }): void => {
  const promoted = new Map<string, number>();
  rds.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as { DBInstanceIdentifier?: string };
      if (context.commandName === 'PromoteReadReplicaCommand' && input.DBInstanceIdentifier) {
        promoted.set(input.DBInstanceIdentifier, state.promotionReads);
      }
      if (context.commandName === 'DescribeDBInstancesCommand') {
        const output = result.output as {
          DBInstances?: {
            DBInstanceIdentifier?: string;
            DBInstanceStatus?: string;
            ReadReplicaSourceDBInstanceIdentifier?: string;
            ReadReplicaDBInstanceIdentifiers?: string[];
          }[];
        };
        for (const instance of output.DBInstances ?? []) {
          const id = instance.DBInstanceIdentifier ?? '';
          const left = promoted.get(id);
          if (left !== undefined) {
            if (left > 0) {
              promoted.set(id, left - 1);
              instance.DBInstanceStatus = 'modifying';
            } else {
              delete instance.ReadReplicaSourceDBInstanceIdentifier;
            }
          }
          // A promoted replica no longer counts as a replica of its old source, on AWS.
          instance.ReadReplicaDBInstanceIdentifiers = (
            instance.ReadReplicaDBInstanceIdentifiers ?? []
          ).filter((r) => promoted.get(r) !== 0);
        }
      }
      return result;
    },
    { step: 'initialize', name: 'harnessPromotion' },
  );
};

export const startDatabaseControlPlane = async (
  endpoint: string,
  options: DatabaseTopologyOptions = {},
): Promise<LocalDatabase> => {
  const harness = await startHarness(endpoint, options.maxAttempts);
  const { clients, sink } = harness;
  const cloudwatch: CloudWatchClient = clients.cloudwatch;
  const kind = options.kind ?? 'rds-replica';

  const zone = await clients.route53.send(
    new CreateHostedZoneCommand({
      Name: 'shop.internal',
      CallerReference: `db-zone-${Date.now()}-${Math.random()}`,
      HostedZoneConfig: { PrivateZone: true, Comment: 'the application connects to db.shop.internal' },
    }),
  );
  const hostedZoneId = (zone.HostedZone?.Id ?? '').replace('/hostedzone/', '');

  const instance = {
    Engine: 'mysql',
    DBInstanceClass: 'db.t3.micro',
    AllocatedStorage: 20,
    MasterUsername: 'admin',
    MasterUserPassword: 'not-a-real-password',
    VpcSecurityGroupIds: ['sg-0a11ce0000000001'],
  };
  if (kind === 'rds-replica') {
    await clients.rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: DB_PRIMARY, ...instance }));
    await clients.rds.send(
      new CreateDBInstanceReadReplicaCommand({
        DBInstanceIdentifier: DB_REPLICA,
        SourceDBInstanceIdentifier: DB_PRIMARY,
        DBInstanceClass: 'db.t3.micro',
      }),
    );
  } else {
    await clients.rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: DB_CLUSTER,
        Engine: 'aurora-mysql',
        MasterUsername: 'admin',
        MasterUserPassword: 'not-a-real-password',
      }),
    );
    for (const id of [DB_WRITER, DB_READER]) {
      await clients.rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: id,
          DBClusterIdentifier: DB_CLUSTER,
          Engine: 'aurora-mysql',
          DBInstanceClass: 'db.r6g.large',
        }),
      );
    }
  }

  await cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: DB_ALARM,
      AlarmDescription: 'The primary database does not answer',
      Namespace: 'AWS/RDS',
      MetricName: 'DatabaseConnections',
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: kind === 'rds-replica' ? DB_PRIMARY : DB_WRITER }],
      Statistic: 'Minimum',
      Period: 60,
      EvaluationPeriods: 2,
      Threshold: 0,
      ComparisonOperator: 'LessThanOrEqualToThreshold',
      TreatMissingData: 'breaching',
    }),
  );
  const common = {
    endpoint: { hostedZoneId, name: DB_ENDPOINT, type: 'CNAME' as const, ttl: 30 },
    maxReplicaLagSeconds: options.maxReplicaLagSeconds ?? 30,
    delayedReplica: options.delayedReplica ?? false,
  };
  const config = await localServiceConfig(
    clients,
    { slackWebhookUrl: sink.webhookUrl, mode: options.mode },
    {
      name: 'shop',
      rtoMinutes: 5,
      alarms: [{ name: DB_ALARM, capabilities: ['database'] }],
      database:
        kind === 'rds-replica'
          ? {
              kind,
              primaryInstanceId: DB_PRIMARY,
              replicaInstanceId: DB_REPLICA,
              fenceOldPrimary: options.fenceOldPrimary ?? 'none',
              ...(options.fenceOldPrimary === 'quarantine-security-group' && {
                quarantineSecurityGroupId: QUARANTINE_SG,
              }),
              ...common,
            }
          : {
              kind,
              clusterId: DB_CLUSTER,
              writerInstanceId: DB_WRITER,
              targetReaderInstanceId: DB_READER,
              ...common,
            },
    },
    'database topology config',
  );

  const local: LocalDatabase = {
    ...harness,
    config,
    hostedZoneId,
    rdsCalls: countCalls(clients.rds as unknown as { middlewareStack: Route53Client['middlewareStack'] }),
    promotionReads: 0,
    controlPlane: harnessControlPlane(harness, config),
    endpointTarget: async () => {
      const out = await clients.route53.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: hostedZoneId,
          StartRecordName: DB_ENDPOINT,
          StartRecordType: 'CNAME',
        }),
      );
      const set = (out.ResourceRecordSets ?? []).find((s) => s.Name === DB_ENDPOINT && s.Type === 'CNAME');
      return set?.ResourceRecords?.[0]?.Value;
    },
    addressOf: async (id) => {
      const out = await clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
      const address = out.DBInstances?.[0]?.Endpoint?.Address;
      if (!address) throw new Error(`${id} has no endpoint address`);
      return `${address}.`;
    },
    publishLag: async (instanceId, seconds, metric = 'ReplicaLag') => {
      await cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: 'AWS/RDS',
          MetricData: [
            {
              MetricName: metric,
              Dimensions: [{ Name: 'DBInstanceIdentifier', Value: instanceId }],
              // Aurora's AuroraReplicaLag is in milliseconds, RDS's ReplicaLag in seconds.
              Value: metric === 'AuroraReplicaLag' ? seconds * 1000 : seconds,
              Unit: metric === 'AuroraReplicaLag' ? 'Milliseconds' : 'Seconds',
              Timestamp: harness.clock.now(),
            },
          ],
        }),
      );
    },
    stop: () => sink.stop(),
  };
  supplyPromotion(clients.rds, local);
  return local;
};
