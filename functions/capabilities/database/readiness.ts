import type { ServiceConfig } from '../../config/schema';
import type * as R from '../../readiness/finding';
import { iamRecordName, notReady, ready } from '../../readiness/finding';
import type { DatabaseConfig } from './config';
import {
  type AuroraClusterObserved,
  type AuroraGlobalObserved,
  type DatabaseObserved,
  type DbInstanceView,
  idOfArn,
  type RdsReplicaObserved,
  rdsSiteOf,
} from './planner';

/*
 * Database readiness, pure: what RDS and CloudWatch report (observed towards the standby, as a
 * failover would see it) -> would a failover and a failback work now. The same budget as the
 * planner's gate: the replica exists, is available, still replicates and lags at most
 * maxReplicaLagSeconds. Details carry the reading: readiness is posted on a change of verdict only.
 */

const lagFinding = (
  direction: R.ReadinessDirection,
  db: DatabaseConfig,
  candidate: string,
  metric: string,
  lagSeconds: number | undefined,
): R.ReadinessFinding => {
  if (lagSeconds === undefined) {
    return notReady(
      direction,
      'replica-lag',
      `no ${metric} reading of ${candidate} in the last 5 minutes: its lag is unknown, so a failover would be refused`,
    );
  }
  if (lagSeconds < 0) {
    return notReady(
      direction,
      'replica-lag',
      `${candidate} reports that replication is not running (${metric} -1)`,
    );
  }
  if (lagSeconds > db.maxReplicaLagSeconds) {
    return notReady(
      direction,
      'replica-lag',
      `${candidate}'s ${metric} is ${lagSeconds} s, over the budget of ${db.maxReplicaLagSeconds} s`,
    );
  }
  return ready(
    direction,
    'replica-lag',
    `${candidate}'s ${metric} is ${lagSeconds} s, within ${db.maxReplicaLagSeconds} s`,
  );
};

const instanceFinding = (
  direction: R.ReadinessDirection,
  check: string,
  role: string,
  id: string,
  instance: DbInstanceView | undefined,
): R.ReadinessFinding =>
  !instance
    ? notReady(direction, check, `${role} ${id} does not exist`)
    : instance.status !== 'available'
      ? notReady(direction, check, `${role} ${id} is ${instance.status}, not available`)
      : ready(direction, check, `${role} ${id} is available`);

/** One database kind's findings: its config section, what was observed of it, the active site. */
type KindReadiness<K extends DatabaseConfig['kind'], O> = (
  db: Extract<DatabaseConfig, { kind: K }>,
  observed: O,
  input: R.ReadinessInput,
) => R.ReadinessFinding[];

const rdsReplica: KindReadiness<'rds-replica', RdsReplicaObserved> = (db, observed, input) => {
  const replica = rdsSiteOf(db, 'standby', observed.homeRegion).id;
  const primary = rdsSiteOf(db, 'primary', observed.homeRegion).id;
  const standby = observed.instances.standby;
  const writer = observed.instances.primary;
  if (input.active === 'standby') {
    // Failed over: the promoted replica writes; a failback needs it, and re-creates the primary if gone.
    return [
      ready('failover', 'failed-over', `the database is on the standby already (${replica})`),
      instanceFinding('failback', 'standby-writer', 'the current writer', replica, standby),
    ];
  }
  const findings: R.ReadinessFinding[] = [
    instanceFinding('failover', 'replica', 'replica', replica, standby),
  ];
  if (standby && standby.status === 'available') {
    if (standby.replicaOf === undefined) {
      findings.push(
        notReady(
          'failover',
          'replica-replicates',
          `${replica} is not a read replica (promoted already?): a failover has nothing to promote`,
        ),
      );
    } else {
      findings.push(lagFinding('failover', db, replica, 'ReplicaLag', observed.lagSeconds));
    }
  }
  findings.push(instanceFinding('failback', 'primary-writer', 'the primary', primary, writer));
  return findings;
};

const auroraCluster: KindReadiness<'aurora-cluster', AuroraClusterObserved> = (db, observed, input) => {
  const cluster = observed.cluster;
  if (!cluster) {
    return (['failover', 'failback'] as const).map((d) =>
      notReady(d, 'cluster', `Aurora cluster ${db.clusterId} does not exist`),
    );
  }
  const clusterFinding = (d: R.ReadinessDirection) =>
    cluster.status === 'available'
      ? ready(d, 'cluster', `Aurora cluster ${db.clusterId} is available`)
      : notReady(d, 'cluster', `Aurora cluster ${db.clusterId} is ${cluster.status}, not available`);
  const member = (id: string, d: R.ReadinessDirection, check: string) =>
    cluster.members.some((m) => m.id === id)
      ? ready(d, check, `${id} is a member of ${db.clusterId}`)
      : notReady(d, check, `${id} is not a member of Aurora cluster ${db.clusterId}`);
  const target = input.active === 'primary' ? db.targetReaderInstanceId : db.writerInstanceId;
  const direction: R.ReadinessDirection = input.active === 'primary' ? 'failover' : 'failback';
  const findings = [clusterFinding(direction), member(target, direction, 'target-member')];
  const isWriter = cluster.members.some((m) => m.id === target && m.writer);
  // Observed towards the standby: the reader's status and lag are read only while it is a reader.
  if (direction === 'failover' && !isWriter && cluster.members.some((m) => m.id === target)) {
    findings.push(
      observed.targetInstanceStatus === 'available'
        ? lagFinding('failover', db, target, 'AuroraReplicaLag', observed.lagSeconds)
        : notReady(
            'failover',
            'target-available',
            `${target} is ${observed.targetInstanceStatus ?? 'unknown'}, not available`,
          ),
    );
  }
  return findings;
};

const auroraGlobal: KindReadiness<'aurora-global', AuroraGlobalObserved> = (db, observed, input) => {
  const global = observed.global;
  const direction: R.ReadinessDirection = input.active === 'primary' ? 'failover' : 'failback';
  if (!global) {
    return [notReady(direction, 'global-cluster', `global database ${db.globalClusterId} does not exist`)];
  }
  const target = input.active === 'primary' ? db.secondaryClusterArn : db.primaryClusterArn;
  const findings = [
    global.status === 'available'
      ? ready(direction, 'global-cluster', `global database ${db.globalClusterId} is available`)
      : notReady(direction, 'global-cluster', `global database ${db.globalClusterId} is ${global.status}`),
    global.members.some((m) => m.arn === target)
      ? ready(direction, 'target-member', `${idOfArn(target)} is a member of ${db.globalClusterId}`)
      : notReady(direction, 'target-member', `${idOfArn(target)} is not a member of ${db.globalClusterId}`),
  ];
  if (direction === 'failover' && !global.members.some((m) => m.arn === target && m.writer)) {
    findings.push(lagFinding('failover', db, idOfArn(target), 'AuroraGlobalDBRPOLag', observed.lagSeconds));
  }
  return findings;
};

/** The calls a move would make, for the IAM check: the promotion or failover, and the repoint. */
export const databaseCalls = (
  service: ServiceConfig,
  input: R.ReadinessInput,
  homeRegion: string,
): R.RequiredCall[] => {
  const db = service.database;
  if (!db) return [];
  const { partition, account } = input;
  const repoint = (direction: R.ReadinessDirection): R.RequiredCall => ({
    direction,
    action: 'route53:ChangeResourceRecordSets',
    resource: `arn:${partition}:route53:::hostedzone/${db.endpoint.hostedZoneId}`,
    context: {
      'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
      'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
      'route53:ChangeResourceRecordSetsNormalizedRecordNames': [iamRecordName(db.endpoint.name)],
    },
  });
  const calls: R.RequiredCall[] = [repoint('failover'), repoint('failback')];
  if (db.kind === 'rds-replica') {
    const replica = rdsSiteOf(db, 'standby', homeRegion);
    calls.push({
      direction: 'failover',
      action: 'rds:PromoteReadReplica',
      resource: `arn:${partition}:rds:${replica.region}:${account}:db:${replica.id}`,
    });
  } else if (db.kind === 'aurora-cluster') {
    const resource = `arn:${partition}:rds:${db.region ?? homeRegion}:${account}:cluster:${db.clusterId}`;
    for (const direction of ['failover', 'failback'] as const) {
      calls.push({ direction, action: 'rds:FailoverDBCluster', resource });
    }
  } else {
    calls.push({
      direction: 'failover',
      action: 'rds:SwitchoverGlobalCluster',
      resource: `arn:${partition}:rds::${account}:global-cluster:${db.globalClusterId}`,
    });
    calls.push({
      direction: 'failover',
      action: 'rds:SwitchoverGlobalCluster',
      resource: db.secondaryClusterArn,
    });
  }
  return calls;
};

/** Database readiness from one observation towards the standby (rds-replica: both instances). */
export const assessDatabase: R.AssessReadiness<DatabaseObserved> = (service, observed, input) => {
  const db = service.database;
  if (!db) return { findings: [] };
  const findings =
    db.kind === 'rds-replica' && observed.kind === 'rds-replica'
      ? rdsReplica(db, observed, input)
      : db.kind === 'aurora-cluster' && observed.kind === 'aurora-cluster'
        ? auroraCluster(db, observed, input)
        : db.kind === 'aurora-global' && observed.kind === 'aurora-global'
          ? auroraGlobal(db, observed, input)
          : [];
  return { findings, calls: databaseCalls(service, input, observed.homeRegion) };
};
