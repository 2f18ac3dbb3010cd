import { Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Rule } from 'aws-cdk-lib/aws-events';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { CapabilityInfra, CapabilityResources } from '../../../infra/capability-infra';
import type { ControlFunction } from '../../../infra/control-function';
import { acknowledgeCollapsed, compactPatterns } from '../../../infra/limits';
import { resourceEventFunction } from '../../../infra/resource-events';
import { grantRecordUpserts, recordScopes } from '../../../infra/route53-grants';
import type { Config } from '../../config/schema';
import type { DatabaseConfig } from './config';
import { databaseModule } from './index';
import { idOfArn, regionOfArn } from './planner';
import { databaseIdentifiers } from './rds-event';

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
 * Like DNS, it creates no record set: the reconciler owns the endpoint names.
 */
export class DatabaseFailover extends Construct implements CapabilityResources {
  readonly eventHandler: ControlFunction;
  /** One or more: as many as keep each event pattern within EventBridge's size limit. */
  readonly eventRules: readonly Rule[];
  readonly engineFunctions: readonly ControlFunction[];
  readonly otherFunctions: readonly ControlFunction[] = [];
  readonly lagAlarms: readonly Alarm[];
  private readonly config: Config;

  constructor(scope: Construct, id: string, props: { readonly config: Config }) {
    super(scope, id);
    this.config = props.config;
    const databases = databasesOf(props.config);
    const events = databaseModule.events;
    if (!events) throw new Error('the database module declares its RDS events');
    const { handler, rules } = resourceEventFunction(this, {
      config: props.config,
      capability: 'database',
      events,
      oneOf: {
        field: 'SourceIdentifier',
        values: [...new Set(databases.flatMap(databaseIdentifiers))].sort(),
      },
      description: 'reconciles the database capability when RDS reports a change',
      // The schedule is the safety net; an event older than one tick has been superseded.
      retryAttempts: 0,
      deliveryAttempts: 2,
      maxEventAge: Duration.minutes(2),
    });
    this.eventHandler = handler;
    this.eventRules = rules;
    this.engineFunctions = [handler];

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

  /** The configured instances', clusters' and global databases' ARNs (collapsed when many). */
  private arns() {
    const { partition, account } = Stack.of(this);
    const home = this.config.controlPlane.region;
    const databases = databasesOf(this.config);
    const scopes = databases.map((db) => scopeOf(db, home));
    // Region and identifier are collapsed together (infra/limits.ts) once the list is long; the
    // partition stays a reference.
    const arnsOf = (suffixes: string[]) =>
      compactPatterns(suffixes).map((suffix) => `arn:${partition}:rds:${suffix}`);
    const instanceArns = arnsOf(
      scopes.flatMap((s) => s.instances.map((i) => `${i.region}:${account}:db:${i.id}`)),
    );
    const clusterArns = arnsOf(
      scopes.flatMap((s) => s.clusters.map((c) => `${c.region}:${account}:cluster:${c.id}`)),
    );
    const globalArns = arnsOf(scopes.flatMap((s) => s.globals.map((g) => `:${account}:global-cluster:${g}`)));
    return { instanceArns, clusterArns, globalArns, databases };
  }

  /** The reads of database readiness (functions/capabilities/database/readiness.ts): describe and lag. */
  grantReadiness(fn: IFunction): void {
    const { instanceArns, clusterArns, globalArns, databases } = this.arns();
    const reads: [string, string[]][] = [
      ['rds:DescribeDBInstances', instanceArns],
      ['rds:DescribeDBClusters', clusterArns],
      ['rds:DescribeGlobalClusters', globalArns],
    ];
    for (const [action, resourceArns] of reads) {
      if (resourceArns.length > 0) Grant.addToPrincipal({ grantee: fn, actions: [action], resourceArns });
    }
    const partition = Stack.of(this).partition;
    const zones = [...new Set(databases.map((db) => db.endpoint.hostedZoneId))];
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['route53:ListResourceRecordSets'],
      resourceArns: zones.map((zone) => `arn:${partition}:route53:::hostedzone/${zone}`),
    });
    // CloudWatch GetMetricData supports no resource-level permissions.
    Grant.addToPrincipal({ grantee: fn, actions: ['cloudwatch:GetMetricData'], resourceArns: ['*'] });
    acknowledgeCollapsed(
      fn.role,
      [...instanceArns, ...clusterArns, ...globalArns],
      'More databases are configured than a grant lists: their ARNs are granted as the shortest shared prefixes of their Region and identifier, for reads only.',
    );
  }

  /** Grants the reads and writes of functions/capabilities/database/rds.ts, and nothing else. */
  grantReconcile(fn: IFunction): void {
    const { instanceArns, clusterArns, globalArns, databases } = this.arns();
    acknowledgeCollapsed(
      fn.role,
      [...instanceArns, ...clusterArns, ...globalArns],
      'More databases are configured than a grant lists: their ARNs are granted as the shortest shared prefixes of their Region and identifier, which cover every configured instance or cluster and, at most, others whose names begin the same way.',
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
    grantRecordUpserts(fn, recordScopes(databases.map((db) => ({ ...db.endpoint, type: 'CNAME' }))));
    // CloudWatch GetMetricData supports no resource-level permissions.
    Grant.addToPrincipal({ grantee: fn, actions: ['cloudwatch:GetMetricData'], resourceArns: ['*'] });
  }
}

const databasesOf = (config: Config): DatabaseConfig[] =>
  config.services.flatMap((svc) => (svc.database ? [svc.database] : []));

export const databaseInfra: CapabilityInfra = {
  name: 'database',
  deploy: (scope, { config }) => new DatabaseFailover(scope, 'DatabaseFailover', { config }),
};
