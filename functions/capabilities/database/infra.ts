import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ControlFunction } from '../../../infra/control-function';
import type { Config } from '../../config/schema';
import { normalizedRecordName } from '../dns/infra';
import type { DatabaseConfig } from './config';
import { idOfArn, regionOfArn } from './planner';
import { databaseIdentifiers, RDS_EVENT_DETAIL_TYPES } from './rds-event';

export interface DatabaseFailoverProps {
  readonly config: Config;
}

interface Scoped {
  readonly instances: { readonly region: string; readonly id: string }[];
  readonly clusters: { readonly region: string; readonly id: string }[];
  readonly globals: string[];
}

const scopeOf = (db: DatabaseConfig, home: string): Scoped => {
  switch (db.kind) {
    case 'rds-replica':
      return {
        instances: [
          { region: db.primaryRegion ?? home, id: db.primaryInstanceId },
          { region: db.replicaRegion ?? home, id: db.replicaInstanceId },
        ],
        clusters: [],
        globals: [],
      };
    case 'aurora-cluster':
      return {
        instances: [db.writerInstanceId, db.targetReaderInstanceId].map((id) => ({
          region: db.region ?? home,
          id,
        })),
        clusters: [{ region: db.region ?? home, id: db.clusterId }],
        globals: [],
      };
    case 'aurora-global':
      return {
        instances: [],
        clusters: [db.primaryClusterArn, db.secondaryClusterArn].map((arn) => ({
          region: regionOfArn(arn),
          id: idOfArn(arn),
        })),
        globals: [db.globalClusterId],
      };
  }
};

/**
 * The database capability: its permissions (scoped to the configured DB instances and clusters and
 * to UPSERTs of the endpoint names), the function that turns RDS events into an early reconcile, the
 * EventBridge rule that feeds it, and, if asked, an alarm on the replica's lag.
 *
 * Like DnsFailover, it creates no record set: the reconciler owns the endpoint names.
 */
export class DatabaseFailover extends Construct {
  /** Absent when no service configures a database. */
  readonly eventHandler: ControlFunction | undefined;
  readonly eventRule: Rule | undefined;
  readonly lagAlarms: readonly Alarm[];
  private readonly config: Config;

  constructor(scope: Construct, id: string, props: DatabaseFailoverProps) {
    super(scope, id);
    this.config = props.config;
    const databases = props.config.services.flatMap((svc) => (svc.database ? [svc.database] : []));
    if (databases.length === 0) {
      this.lagAlarms = [];
      return;
    }

    this.eventHandler = new ControlFunction(this, 'EventHandler', {
      config: props.config,
      entry: 'functions/capabilities/database/event-handler.ts',
      description: 'understudy: reconciles the database capability when RDS reports a change',
      // The schedule is the safety net; an event older than one tick has been superseded.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(2),
    });
    const identifiers = [...new Set(databases.flatMap(databaseIdentifiers))].sort();
    this.eventRule = new Rule(this, 'RdsEvents', {
      description: 'understudy: events of the protected DB instances and clusters',
      eventPattern: {
        source: ['aws.rds'],
        detailType: [...RDS_EVENT_DETAIL_TYPES],
        detail: { SourceIdentifier: identifiers },
      },
    });
    this.eventRule.addTarget(
      new LambdaFunction(this.eventHandler, {
        deadLetterQueue: this.eventHandler.failureQueue,
        retryAttempts: 2,
        maxEventAge: Duration.minutes(2),
      }),
    );

    this.lagAlarms = databases.flatMap((db, i) =>
      db.kind === 'rds-replica' && db.replicaLagAlarm
        ? [
            new Alarm(this, `ReplicaLag${i}`, {
              alarmDescription: `understudy: ${db.replicaInstanceId} lags more than maxReplicaLagSeconds; a failover would be refused`,
              metric: new Metric({
                namespace: 'AWS/RDS',
                metricName: 'ReplicaLag',
                dimensionsMap: { DBInstanceIdentifier: db.replicaInstanceId },
                statistic: 'Maximum',
                period: Duration.minutes(1),
                region: db.replicaRegion,
              }),
              threshold: db.maxReplicaLagSeconds,
              comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
              evaluationPeriods: 3,
              treatMissingData: TreatMissingData.BREACHING,
            }),
          ]
        : [],
    );
  }

  /** Grants the reads and writes of functions/capabilities/database/rds.ts, and nothing else. */
  grantFailover(fn: IFunction): void {
    const stack = Stack.of(this);
    const { partition, account } = stack;
    const home = this.config.controlPlane.region;
    const databases = this.config.services.flatMap((svc) => (svc.database ? [svc.database] : []));
    if (databases.length === 0) return;
    const scopes = databases.map((db) => scopeOf(db, home));
    const instanceArns = scopes.flatMap((s) =>
      s.instances.map((i) => `arn:${partition}:rds:${i.region}:${account}:db:${i.id}`),
    );
    const clusterArns = scopes.flatMap((s) =>
      s.clusters.map((c) => `arn:${partition}:rds:${c.region}:${account}:cluster:${c.id}`),
    );
    const globalArns = scopes.flatMap((s) =>
      s.globals.map((g) => `arn:${partition}:rds::${account}:global-cluster:${g}`),
    );

    if (instanceArns.length > 0) {
      Grant.addToPrincipal({
        grantee: fn,
        actions: [
          'rds:DescribeDBInstances',
          'rds:PromoteReadReplica',
          'rds:CreateDBInstanceReadReplica',
          'rds:ModifyDBInstance',
          'rds:StopDBInstance',
        ],
        resourceArns: instanceArns,
      });
    }
    if (clusterArns.length > 0) {
      Grant.addToPrincipal({
        grantee: fn,
        actions: [
          'rds:DescribeDBClusters',
          'rds:FailoverDBCluster',
          'rds:FailoverGlobalCluster',
          'rds:SwitchoverGlobalCluster',
        ],
        resourceArns: clusterArns,
      });
    }
    if (globalArns.length > 0) {
      Grant.addToPrincipal({
        grantee: fn,
        actions: ['rds:DescribeGlobalClusters', 'rds:FailoverGlobalCluster', 'rds:SwitchoverGlobalCluster'],
        resourceArns: globalArns,
      });
    }

    const zones = new Map<string, Set<string>>();
    for (const db of databases) {
      const names = zones.get(db.endpoint.hostedZoneId) ?? new Set<string>();
      names.add(normalizedRecordName(db.endpoint.name));
      zones.set(db.endpoint.hostedZoneId, names);
    }
    const zoneArn = (zoneId: string) => `arn:${partition}:route53:::hostedzone/${zoneId}`;
    for (const [zoneId, names] of [...zones.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      Grant.addToPrincipal({
        grantee: fn,
        actions: ['route53:ChangeResourceRecordSets'],
        resourceArns: [zoneArn(zoneId)],
        conditions: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': [...names].sort(),
            'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
            'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          },
        },
      });
    }
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['route53:ListResourceRecordSets'],
      resourceArns: [...zones.keys()].sort().map(zoneArn),
    });
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['route53:GetChange'],
      resourceArns: [`arn:${partition}:route53:::change/*`],
    });
    // CloudWatch GetMetricData supports no resource-level permissions.
    Grant.addToPrincipal({ grantee: fn, actions: ['cloudwatch:GetMetricData'], resourceArns: ['*'] });
    if (fn.role) {
      Validations.of(fn.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]',
        reason:
          'route53:GetChange verifies our own change batches; a change id exists only after ChangeResourceRecordSets returns, so change/* is the narrowest resource IAM can express.',
      });
    }
  }
}
