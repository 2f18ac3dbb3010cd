import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateDBInstanceReadReplicaCommand,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  FailoverDBClusterCommand,
  FailoverGlobalClusterCommand,
  ModifyDBInstanceCommand,
  PromoteReadReplicaCommand,
  RDSClient,
  StopDBInstanceCommand,
  SwitchoverGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import { type Change, Route53Client } from '@aws-sdk/client-route-53';
import type { ServiceConfig } from '../../config/schema';
import type { Clock } from '../../core/clock';
import { classifyAwsError, SupersededError } from '../../core/errors';
import type { Log } from '../../core/log';
import { type CapabilityStatus, otherSite, type Site } from '../../core/types';
import type { ActionResult, Capability } from '../../engine/capability';
import type { CapabilityContext } from '../../engine/module';
import type { CapabilityReadiness, ReadinessInput } from '../../readiness/finding';
import { sdkErrorName } from '../../runtime/client-kit';
import { newestDatapoint } from '../../runtime/metric-data';
import { changeRecordSets, readChange } from '../../runtime/route53-change';
import type { ZoneRecords } from '../../runtime/run-scope';
import { zoneRecordsReader } from '../../runtime/zone-records';
import type { DatabaseConfig } from './config';
import {
  type DatabaseAction,
  type DatabaseObserved,
  type DbInstanceView,
  type EndpointView,
  globalSiteOf,
  idOfArn,
  normalizeTarget,
  PENDING,
  planDatabase,
  rdsSiteOf,
  regionOfArn,
  type UpsertEndpointAction,
} from './planner';
import { assessDatabase } from './readiness';

/** Clients per Region: a replica or a global database's secondary may live in another Region. */
export interface DatabaseClients {
  rds(region: string): RDSClient;
  cloudwatch(region: string): CloudWatchClient;
  readonly route53: Route53Client;
  /**
   * The run's Route 53 record sets, each hosted zone read once per run and shared with every service
   * and capability in it (functions/runtime/zone-records.ts). Default: one zone read per observe.
   */
  readonly zoneRecords?: () => ZoneRecords;
}

export interface DatabaseCapabilityOptions {
  /** The control plane's Region, where instances without a configured Region live. */
  readonly homeRegion: string;
  /** How long one run waits for a repoint to be INSYNC before leaving it to the next run. */
  readonly verifyAttempts: number;
  readonly verifyIntervalMs: number;
}

/** RDS says "not found" with these names (DescribeDBInstances, DescribeDBClusters, DescribeGlobalClusters). */
const NOT_FOUND = new Set([
  'DBInstanceNotFoundFault',
  'DBClusterNotFoundFault',
  'GlobalClusterNotFoundFault',
]);

const LAG_WINDOW_MS = 5 * 60_000;

const toView = (instance: DBInstance): DbInstanceView => ({
  id: instance.DBInstanceIdentifier ?? '',
  arn: instance.DBInstanceArn ?? '',
  status: instance.DBInstanceStatus ?? 'unknown',
  address: instance.Endpoint?.Address,
  replicaOf: instance.ReadReplicaSourceDBInstanceIdentifier || undefined,
  securityGroupIds: (instance.VpcSecurityGroups ?? [])
    .map((g) => g.VpcSecurityGroupId ?? '')
    .filter((id) => id.length > 0),
  instanceClass: instance.DBInstanceClass,
});

/** The database capability: RDS, CloudWatch and Route 53 reads and writes around the pure planner. */
export const databaseCapability = (
  clients: DatabaseClients,
  clock: Clock,
  log: Log,
  options: DatabaseCapabilityOptions,
): Capability<DatabaseObserved, DatabaseAction> => {
  const call = async <T>(operation: string, send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      throw classifyAwsError(operation, error);
    }
  };
  /** A read whose "not found" is an observation, not a failure. */
  const find = async <T>(operation: string, send: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await send();
    } catch (error) {
      if (NOT_FOUND.has(sdkErrorName(error) ?? '')) return undefined;
      throw classifyAwsError(operation, error);
    }
  };

  const describeInstance = async (id: string, region: string): Promise<DbInstanceView | undefined> => {
    const out = await find('RDS DescribeDBInstances', () =>
      clients.rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })),
    );
    const instance = out?.DBInstances?.find((i) => i.DBInstanceIdentifier === id);
    return instance ? toView(instance) : undefined;
  };

  /** The newest datapoint of the last five minutes, in seconds (Aurora metrics are in milliseconds). */
  const readLag = async (
    region: string,
    metric: 'ReplicaLag' | 'AuroraReplicaLag' | 'AuroraGlobalDBRPOLag',
    dimension: { Name: string; Value: string },
  ): Promise<number | undefined> => {
    const now = clock.now();
    const out = await call('CloudWatch GetMetricData', () =>
      clients.cloudwatch(region).send(
        new GetMetricDataCommand({
          StartTime: new Date(now.getTime() - LAG_WINDOW_MS),
          // A little ahead: the newest datapoint is stamped up to "now", and EndTime is exclusive.
          EndTime: new Date(now.getTime() + 60_000),
          ScanBy: 'TimestampDescending',
          MetricDataQueries: [
            {
              Id: 'lag',
              MetricStat: {
                Metric: { Namespace: 'AWS/RDS', MetricName: metric, Dimensions: [dimension] },
                Period: 60,
                Stat: 'Maximum',
              },
            },
          ],
        }),
      ),
    );
    const newest = newestDatapoint(out.MetricDataResults?.[0]);
    if (!newest) return undefined;
    const seconds = metric === 'ReplicaLag' ? newest.value : newest.value / 1000;
    // The reading goes to the log, not into the plan's detail, so Slack is not re-notified as it wobbles.
    log.info('replica lag', { metric, [dimension.Name]: dimension.Value, seconds });
    return seconds;
  };

  const readEndpoint = async (
    db: DatabaseConfig,
    status: CapabilityStatus | undefined,
  ): Promise<EndpointView> => {
    const records = clients.zoneRecords?.() ?? zoneRecordsReader(async () => clients.route53);
    const [set] = await call('Route 53 ListResourceRecordSets', () =>
      records.find(db.endpoint.hostedZoneId, db.endpoint.name, 'CNAME'),
    );
    const value = set?.ResourceRecords?.[0]?.Value;
    const changeId = status?.pending?.[PENDING.change];
    return {
      target: value ? normalizeTarget(value) : undefined,
      pendingChange: changeId
        ? { id: changeId, status: await readChange(clients.route53, changeId) }
        : undefined,
    };
  };

  const observe = async (
    service: ServiceConfig,
    target: Site,
    status: CapabilityStatus | undefined,
  ): Promise<DatabaseObserved> => {
    const db = service.database;
    if (!db) throw new Error(`service ${service.name} has no database section`);
    const homeRegion = options.homeRegion;
    // A move in question (the last status is not this target's convergence, e.g. just after an alarm):
    // every read goes out at once, lag included, one round trip in all. An idle run reads only what
    // it needs, one read after another.
    const moving = status?.phase !== 'converged' || status.active !== target;

    if (db.kind === 'rds-replica') {
      const tgtSite = rdsSiteOf(db, target, homeRegion);
      const srcSite = rdsSiteOf(db, otherSite(target), homeRegion);
      const lag = () =>
        readLag(tgtSite.region, 'ReplicaLag', { Name: 'DBInstanceIdentifier', Value: tgtSite.id });
      const [endpoint, tgt, src, earlyLag] = await Promise.all([
        readEndpoint(db, status),
        describeInstance(tgtSite.id, tgtSite.region),
        describeInstance(srcSite.id, srcSite.region),
        // Settled here, thrown below only if the lag turns out to matter.
        moving
          ? lag().then(
              (seconds) => () => seconds,
              (error: unknown) => () => {
                throw error;
              },
            )
          : undefined,
      ]);
      // Lag matters only while the target is a replica that may be promoted: idle runs skip it.
      const promotable = tgt?.replicaOf !== undefined && tgt.status === 'available';
      const lagSeconds = promotable ? (earlyLag ? earlyLag() : await lag()) : undefined;
      const instances = { [target]: tgt, [otherSite(target)]: src } as Record<
        Site,
        DbInstanceView | undefined
      >;
      return { kind: 'rds-replica', homeRegion, instances, lagSeconds, endpoint };
    }

    const endpoint = await readEndpoint(db, status);
    if (db.kind === 'aurora-cluster') {
      const region = db.region ?? homeRegion;
      const wanted = target === 'standby' ? db.targetReaderInstanceId : db.writerInstanceId;
      const out = await find('RDS DescribeDBClusters', () =>
        clients.rds(region).send(new DescribeDBClustersCommand({ DBClusterIdentifier: db.clusterId })),
      );
      const cluster = out?.DBClusters?.find((c) => c.DBClusterIdentifier === db.clusterId);
      const members = (cluster?.DBClusterMembers ?? []).map((m) => ({
        id: m.DBInstanceIdentifier ?? '',
        writer: m.IsClusterWriter === true,
      }));
      const isWriter = members.some((m) => m.id === wanted && m.writer);
      const instance = cluster && !isWriter ? await describeInstance(wanted, region) : undefined;
      const lagSeconds =
        instance?.status === 'available'
          ? await readLag(region, 'AuroraReplicaLag', { Name: 'DBInstanceIdentifier', Value: wanted })
          : undefined;
      return {
        kind: 'aurora-cluster',
        homeRegion,
        cluster: cluster && { status: cluster.Status ?? 'unknown', endpoint: cluster.Endpoint, members },
        targetInstanceStatus: instance?.status,
        lagSeconds,
        endpoint,
      };
    }

    // aurora-global: the global cluster is described from the target's Region (it answers in any member's).
    const wanted = globalSiteOf(db, target);
    const region = regionOfArn(wanted);
    const out = await find('RDS DescribeGlobalClusters', () =>
      clients
        .rds(region)
        .send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: db.globalClusterId })),
    );
    const global = out?.GlobalClusters?.find((g) => g.GlobalClusterIdentifier === db.globalClusterId);
    const members = (global?.GlobalClusterMembers ?? []).map((m) => ({
      arn: m.DBClusterArn ?? '',
      writer: m.IsWriter === true,
    }));
    const clusterEndpoints: Record<string, string | undefined> = {};
    for (const arn of [db.primaryClusterArn, db.secondaryClusterArn]) {
      const described = await find('RDS DescribeDBClusters', () =>
        clients.rds(regionOfArn(arn)).send(new DescribeDBClustersCommand({ DBClusterIdentifier: arn })),
      );
      clusterEndpoints[arn] = described?.DBClusters?.[0]?.Endpoint;
    }
    const isWriter = members.some((m) => m.arn === wanted && m.writer);
    const lagSeconds =
      global && !isWriter
        ? await readLag(region, 'AuroraGlobalDBRPOLag', {
            Name: 'DBClusterIdentifier',
            Value: idOfArn(wanted),
          })
        : undefined;
    return {
      kind: 'aurora-global',
      homeRegion,
      global: global && { status: global.Status ?? 'unknown', members },
      clusterEndpoints,
      lagSeconds,
      endpoint,
    };
  };

  const upsertEndpoint = async (action: UpsertEndpointAction): Promise<ActionResult> => {
    const p = action.params;
    const changes: Change[] = [
      {
        Action: 'UPSERT',
        ResourceRecordSet: { Name: p.Name, Type: 'CNAME', TTL: p.TTL, ResourceRecords: [{ Value: p.Value }] },
      },
    ];
    const write = changeRecordSets(
      clients.route53,
      clock,
      { hostedZoneId: p.HostedZoneId, comment: p.Comment, changes },
      // A fence is not waited for: the promotion that follows takes minutes, and the repoint is verified.
      action.step === 'fence' ? false : options,
    );
    // Later reads of this run must see the write: an accepted one is applied to the run's copy of the
    // zone, one whose outcome is unknown makes the next read list the zone again.
    const { changeId, status } = await write.catch((error: unknown) => {
      clients.zoneRecords?.().forget(p.HostedZoneId);
      throw error;
    });
    clients.zoneRecords?.().written(p.HostedZoneId, changes);
    if (action.step === 'fence') {
      return {
        verified: false,
        detail: `${p.Name} fenced (points at ${p.Value}); change ${changeId}`,
        pending: { [PENDING.fenced]: String(action.epoch) },
      };
    }
    return status === 'INSYNC'
      ? { verified: true, detail: `${p.Name} points at ${p.Value}; change ${changeId} is INSYNC` }
      : {
          verified: false,
          detail: `${p.Name} points at ${p.Value}; change ${changeId} still PENDING, verifying on the next run`,
          pending: { [PENDING.change]: changeId },
        };
  };

  const execute = async (
    action: DatabaseAction,
    context: { readonly service: ServiceConfig; readonly epoch: number },
  ): Promise<ActionResult> => {
    // The engine fences the plan on the epoch; this keeps a step of another epoch from ever running.
    if (action.epoch !== context.epoch) {
      throw new SupersededError(
        `${action.api} belongs to epoch ${action.epoch}, but the desired state is at epoch ${context.epoch}: not run`,
      );
    }
    const region = action.region ?? options.homeRegion;
    const rds = () => clients.rds(region);
    const epoch = String(action.epoch);
    switch (action.api) {
      case 'route53:ChangeResourceRecordSets':
        return upsertEndpoint(action);
      case 'rds:PromoteReadReplica':
        await call('RDS PromoteReadReplica', () =>
          rds().send(new PromoteReadReplicaCommand({ ...action.params })),
        );
        return {
          verified: false,
          detail: `promotion of ${action.params.DBInstanceIdentifier} issued; waiting until it is writable`,
          pending: { [PENDING.promoted]: epoch },
        };
      case 'rds:CreateDBInstanceReadReplica': {
        const source = action.params.SourceDBInstanceIdentifier;
        await call('RDS CreateDBInstanceReadReplica', () =>
          rds().send(
            new CreateDBInstanceReadReplicaCommand({
              ...action.params,
              // Across Regions the SDK presigns the request in the source's Region.
              ...(source.startsWith('arn:') && { SourceRegion: regionOfArn(source) }),
            }),
          ),
        );
        return {
          verified: false,
          detail: `read replica ${action.params.DBInstanceIdentifier} of ${idOfArn(source)} is being created`,
          pending: { [PENDING.reprotect]: epoch },
        };
      }
      case 'rds:ModifyDBInstance':
        await call('RDS ModifyDBInstance', () =>
          rds().send(
            new ModifyDBInstanceCommand({
              ...action.params,
              VpcSecurityGroupIds: [...action.params.VpcSecurityGroupIds],
            }),
          ),
        );
        return {
          verified: true,
          detail: `${action.params.DBInstanceIdentifier} quarantined (security groups ${action.params.VpcSecurityGroupIds.join(', ')})`,
        };
      case 'rds:StopDBInstance':
        await call('RDS StopDBInstance', () => rds().send(new StopDBInstanceCommand({ ...action.params })));
        return { verified: true, detail: `${action.params.DBInstanceIdentifier} is stopping` };
      case 'rds:FailoverDBCluster':
        await call('RDS FailoverDBCluster', () =>
          rds().send(new FailoverDBClusterCommand({ ...action.params })),
        );
        return {
          verified: false,
          detail: `failover of ${action.params.DBClusterIdentifier} to ${action.params.TargetDBInstanceIdentifier} issued`,
          pending: { [PENDING.failover]: epoch },
        };
      case 'rds:FailoverGlobalCluster':
      case 'rds:SwitchoverGlobalCluster': {
        const managed = action.api === 'rds:FailoverGlobalCluster';
        await call(`RDS ${managed ? 'FailoverGlobalCluster' : 'SwitchoverGlobalCluster'}`, () =>
          rds().send(
            managed
              ? new FailoverGlobalClusterCommand({ ...action.params })
              : new SwitchoverGlobalClusterCommand({ ...action.params }),
          ),
        );
        return {
          verified: false,
          detail: `${managed ? 'managed failover' : 'switchover'} of ${action.params.GlobalClusterIdentifier} to ${idOfArn(action.params.TargetDbClusterIdentifier)} issued`,
          pending: { [PENDING.failover]: epoch },
        };
      }
    }
  };

  return { name: 'database', observe, plan: planDatabase, execute };
};

/** The database capability on the container's clients; loaded only when a function reconciles databases. */
export const createDatabaseCapability = ({
  config,
  clients,
  clock,
  log,
  changeVerify,
  run,
}: CapabilityContext) =>
  databaseCapability(
    {
      rds: (region) => clients.client(RDSClient, region),
      cloudwatch: (region) => clients.client(CloudWatchClient, region),
      route53: clients.client(Route53Client),
      zoneRecords: () => run().zoneRecords,
    },
    clock,
    log,
    { homeRegion: config.controlPlane.region, ...changeVerify },
  );

/** Database readiness (functions/readiness/): one observation towards the move's target, assessed purely. */
export const databaseReadiness = async (
  context: CapabilityContext,
  service: ServiceConfig,
  input: ReadinessInput,
): Promise<CapabilityReadiness> => {
  const observed = await createDatabaseCapability(context).observe(
    service,
    otherSite(input.active),
    undefined,
  );
  return assessDatabase(service, observed, input);
};
