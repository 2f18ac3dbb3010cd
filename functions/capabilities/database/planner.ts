import type { ServiceConfig } from '../../config/schema';
import { operatorCommand } from '../../core/operator-command';
import { otherSite, type Site } from '../../core/types';
import { type CapabilityPlan, intended, type PlanInput, type PlannedAction } from '../../engine/capability';
import type { AuroraClusterConfig, AuroraGlobalConfig, DatabaseConfig, RdsReplicaConfig } from './config';

/*
 * The database planner: desired site + what RDS, CloudWatch and Route 53 report -> the next safe
 * step, or why it must wait or refuse. Pure (no AWS SDK, not even its types): every safety rule for
 * databases lives here, and every decision is made from what is observed now, so a crash anywhere
 * is finished by the next run. The capability status' `pending` only remembers what cannot be
 * observed: that a promotion or failover was already intended in this epoch. The engine records it
 * before the call (PlannedAction.once), so a run that dies in the call leaves it; the planner then
 * waits for AWS to show the promotion, and issues it again only if AWS still shows none after the
 * grace period (ONCE_GRACE_MS): then the call provably never took effect.
 */

/** One DB instance as the planner sees it. */
export interface DbInstanceView {
  readonly id: string;
  readonly arn: string;
  /** DBInstanceStatus: available, modifying, backing-up, rebooting, creating, stopped, ... */
  readonly status: string;
  /** Endpoint.Address; absent while the instance is being created. */
  readonly address?: string | undefined;
  /** ReadReplicaSourceDBInstanceIdentifier (an id, or an ARN across Regions); absent on a writer. */
  readonly replicaOf?: string | undefined;
  readonly securityGroupIds: readonly string[];
  readonly instanceClass?: string | undefined;
}

/** The endpoint name as Route 53 holds it. */
export interface EndpointView {
  /** The CNAME's target, normalised (lowercase, trailing dot); undefined when the record is missing. */
  readonly target?: string | undefined;
  /** An earlier repoint not yet verified INSYNC. */
  readonly pendingChange?: { readonly id: string; readonly status: 'PENDING' | 'INSYNC' } | undefined;
}

export interface RdsReplicaObserved {
  readonly kind: 'rds-replica';
  /** The control plane's Region: where instances without a configured Region live. */
  readonly homeRegion: string;
  readonly instances: Readonly<Record<Site, DbInstanceView | undefined>>;
  /** Newest ReplicaLag of the target-site instance, in seconds; read only while it is a replica. */
  readonly lagSeconds?: number | undefined;
  readonly endpoint: EndpointView;
}

export interface AuroraClusterObserved {
  readonly kind: 'aurora-cluster';
  readonly homeRegion: string;
  readonly cluster?:
    | {
        readonly status: string;
        readonly endpoint?: string | undefined;
        readonly members: readonly { readonly id: string; readonly writer: boolean }[];
      }
    | undefined;
  /** Status of the instance that should become the writer. */
  readonly targetInstanceStatus?: string | undefined;
  /** Newest AuroraReplicaLag of that instance, in seconds. */
  readonly lagSeconds?: number | undefined;
  readonly endpoint: EndpointView;
}

export interface AuroraGlobalObserved {
  readonly kind: 'aurora-global';
  readonly homeRegion: string;
  readonly global?:
    | {
        readonly status: string;
        readonly members: readonly { readonly arn: string; readonly writer: boolean }[];
      }
    | undefined;
  /** Writer endpoint of each member cluster, by ARN. */
  readonly clusterEndpoints: Readonly<Record<string, string | undefined>>;
  /** Newest AuroraGlobalDBRPOLag of the target cluster, in seconds. */
  readonly lagSeconds?: number | undefined;
  readonly endpoint: EndpointView;
}

export type DatabaseObserved = RdsReplicaObserved | AuroraClusterObserved | AuroraGlobalObserved;

interface BaseAction<Api extends string, P extends Readonly<Record<string, unknown>>> extends PlannedAction {
  readonly capability: 'database';
  readonly api: Api;
  /** The epoch this step belongs to: the executor refuses a step from another epoch. */
  readonly epoch: number;
  /** The Region the call goes to (Route 53 is global: the control plane's own). */
  readonly region?: string | undefined;
  readonly params: P;
}

export type UpsertEndpointAction = BaseAction<
  'route53:ChangeResourceRecordSets',
  {
    readonly HostedZoneId: string;
    readonly Name: string;
    readonly Type: 'CNAME';
    readonly TTL: number;
    readonly Value: string;
    readonly Comment: string;
  }
> & {
  /** A fence is not announced, so it is not waited for; a repoint is verified INSYNC. */
  readonly step: 'fence' | 'repoint';
};

export type DatabaseAction =
  | UpsertEndpointAction
  | BaseAction<'rds:PromoteReadReplica', { readonly DBInstanceIdentifier: string }>
  | BaseAction<
      'rds:CreateDBInstanceReadReplica',
      {
        readonly DBInstanceIdentifier: string;
        readonly SourceDBInstanceIdentifier: string;
        readonly DBInstanceClass?: string | undefined;
      }
    >
  | BaseAction<
      'rds:ModifyDBInstance',
      {
        readonly DBInstanceIdentifier: string;
        readonly VpcSecurityGroupIds: readonly string[];
        readonly ApplyImmediately: true;
      }
    >
  | BaseAction<'rds:StopDBInstance', { readonly DBInstanceIdentifier: string }>
  | BaseAction<
      'rds:FailoverDBCluster',
      { readonly DBClusterIdentifier: string; readonly TargetDBInstanceIdentifier: string }
    >
  | BaseAction<
      'rds:FailoverGlobalCluster',
      {
        readonly GlobalClusterIdentifier: string;
        readonly TargetDbClusterIdentifier: string;
        readonly AllowDataLoss: true;
      }
    >
  | BaseAction<
      'rds:SwitchoverGlobalCluster',
      { readonly GlobalClusterIdentifier: string; readonly TargetDbClusterIdentifier: string }
    >;

/** What the name points at while a promotion is under way: nothing (RFC 6761 reserves `.invalid`). */
export const fenceTarget = (epoch: number): string => `understudy-fenced-epoch-${epoch}.invalid.`;
export const isFenceTarget = (target: string | undefined): boolean =>
  target !== undefined && /^understudy-fenced(-epoch-\d+)?\.invalid\.$/.test(target);

export const normalizeTarget = (name: string): string =>
  (name.endsWith('.') ? name : `${name}.`).toLowerCase();

/** pending keys: what was issued in which epoch (values are strings: the status store keeps strings). */
export const PENDING = {
  promoted: 'promotedEpoch',
  failover: 'failoverEpoch',
  fenced: 'fencedEpoch',
  reprotect: 'reprotectEpoch',
  change: 'changeId',
} as const;

/**
 * True while a once-per-epoch call recorded as intended must be waited for: AWS shows it under way
 * (`underWay`), or it was recorded so recently that AWS may not show it yet. Past the grace period
 * with nothing to show, it never took effect: the plan issues it again.
 */
const awaitIntended = (input: PlanInput<unknown>, key: string, underWay: boolean): boolean => {
  const record = intended(input, key);
  return record.kind === 'intended' && (underWay || record.recent);
};

/** A note on an action issued again because the first never showed in AWS. */
const again = (input: PlanInput<unknown>, key: string): string => {
  const record = intended(input, key);
  return record.kind === 'intended'
    ? `. Recorded as intended at ${record.at ?? 'an unknown time'}, but AWS never showed it: it did not take effect, so it is issued again`
    : '';
};

/** The instance id serving each site of an rds-replica pair, and its Region. */
export const rdsSiteOf = (db: RdsReplicaConfig, site: Site, homeRegion: string) =>
  site === 'primary'
    ? { id: db.primaryInstanceId, region: db.primaryRegion ?? homeRegion }
    : { id: db.replicaInstanceId, region: db.replicaRegion ?? homeRegion };

/** The cluster ARN serving each site of a global database. */
export const globalSiteOf = (db: AuroraGlobalConfig, site: Site): string =>
  site === 'primary' ? db.primaryClusterArn : db.secondaryClusterArn;

export const regionOfArn = (arn: string): string => arn.split(':')[3] ?? '';
export const idOfArn = (arn: string): string => arn.split(':').at(-1) ?? arn;

/** True when `replicaOf` (an id, or an ARN across Regions) names `source`. */
const replicates = (replica: DbInstanceView, source: DbInstanceView): boolean =>
  replica.replicaOf !== undefined && (replica.replicaOf === source.id || replica.replicaOf === source.arn);

const writable = (instance: DbInstanceView | undefined): boolean =>
  instance !== undefined && instance.status === 'available' && instance.replicaOf === undefined;

const flag = (input: PlanInput<unknown>, key: string): boolean => input.intent?.params?.[key] === true;

/**
 * The readiness gate on a candidate's lag and kind. Details carry the budget, never the reading,
 * so a refusal that persists is reported once, not again every time the lag wobbles.
 */
const gate = (
  input: PlanInput<unknown>,
  db: DatabaseConfig,
  candidate: string,
  lagSeconds: number | undefined,
  metric: string,
): string | undefined => {
  if (db.delayedReplica && !flag(input, 'allowDelayedReplica')) {
    return (
      `${candidate} is a delayed replica (kept behind on purpose): it is promoted only on an operator's ` +
      `explicit command: ${operatorCommand('failover', input.service.name, '--allow-delayed-replica')}`
    );
  }
  if (flag(input, 'acceptDataLoss')) return undefined;
  const override = `; an operator may accept the loss: ${operatorCommand('failover', input.service.name, '--accept-data-loss')}`;
  if (lagSeconds === undefined) {
    return `${candidate}'s ${metric} is unknown (no datapoint in the last 5 minutes), so the writes it would lose are unknown${override}`;
  }
  if (lagSeconds < 0) return `${candidate} reports that replication is not running (${metric} -1)${override}`;
  if (lagSeconds > db.maxReplicaLagSeconds) {
    return `${candidate}'s ${metric} is over the budget of ${db.maxReplicaLagSeconds} s${override}`;
  }
  return undefined;
};

const refuse = (target: Site, why: string): CapabilityPlan<DatabaseAction> => ({
  kind: 'refuse',
  detail: `will not make the ${target} the database writer: ${why}. Nothing changed; checking again on every run`,
});

const upsert = (
  service: ServiceConfig,
  db: DatabaseConfig,
  epoch: number,
  step: 'fence' | 'repoint',
  value: string,
  reason: string,
): UpsertEndpointAction => ({
  capability: 'database',
  api: 'route53:ChangeResourceRecordSets',
  step,
  epoch,
  reason,
  params: {
    HostedZoneId: db.endpoint.hostedZoneId,
    Name: db.endpoint.name,
    Type: 'CNAME',
    TTL: db.endpoint.ttl,
    Value: value,
    Comment: `understudy ${service.name} epoch ${epoch}: ${step} ${db.endpoint.name}`.slice(0, 256),
  },
});
/** The one step that announces the new writer: point the endpoint name at it, verified INSYNC. */
const repointTo = (
  service: ServiceConfig,
  db: DatabaseConfig,
  epoch: number,
  detail: string,
  value: string,
  why: string,
) =>
  ({
    kind: 'act',
    detail,
    actions: [upsert(service, db, epoch, 'repoint', value, why)],
  }) as const;

/** The fence step before a promotion: the name resolves to nothing until the new writer is announced. */
const fenceBefore = (service: ServiceConfig, db: DatabaseConfig, epoch: number, why: string) =>
  upsert(service, db, epoch, 'fence', fenceTarget(epoch), why);

/** A repoint made in an earlier run that Route 53 has not propagated yet. */
const pendingRepoint = (endpoint: EndpointView): CapabilityPlan<DatabaseAction> | undefined =>
  endpoint.pendingChange?.status === 'PENDING'
    ? {
        kind: 'wait',
        detail: `change ${endpoint.pendingChange.id} is written but Route 53 has not propagated it yet (PENDING)`,
      }
    : undefined;

const planRdsReplica = (
  input: PlanInput<RdsReplicaObserved>,
  db: RdsReplicaConfig,
): CapabilityPlan<DatabaseAction> => {
  const { service, target, epoch, observed } = input;
  const home = observed.homeRegion;
  const tgtSite = rdsSiteOf(db, target, home);
  const srcSite = rdsSiteOf(db, otherSite(target), home);
  const tgt = observed.instances[target];
  const src = observed.instances[otherSite(target)];
  const name = db.endpoint.name;
  const at = observed.endpoint.target;
  const pointsAt = (instance: DbInstanceView | undefined) =>
    instance?.address !== undefined && at === normalizeTarget(instance.address);

  if (!tgt) {
    // Re-protection, for an operator's failback only (target primary with an intent): the primary
    // site has no database any more, so a new replica of the writer is created there first.
    if (input.intent && src && writable(src) && target === 'primary') {
      return reprotect(input, src, srcSite, tgtSite, 'failing back needs');
    }
    return refuse(target, `DB instance ${tgtSite.id} does not exist`);
  }

  if (writable(tgt)) {
    if (pointsAt(tgt)) {
      const waiting = pendingRepoint(observed.endpoint);
      if (waiting) return waiting;
      const isolate = isolation(input, db, src, srcSite.region);
      if (isolate) {
        return { kind: 'act', detail: `isolate the old writer ${src?.id}`, actions: [isolate] };
      }
      // Back on the primary after a failback, and the standby's stale copy is gone: protect again.
      if (!src && input.intent && target === 'primary') {
        return reprotect(input, tgt, tgtSite, srcSite, 'protection needs');
      }
      return { kind: 'converged', detail: convergedDetail(input.service.name, target, tgt, src, name) };
    }
    if (src && writable(src) && !isFenceTarget(at) && at !== undefined) {
      // Two standalone writers and the name on the other: the target diverged from it (a promoted
      // replica never follows its old source again). Moving the name would lose the other's writes.
      return refuse(
        target,
        `${tgt.id} is a standalone database that no longer replicates from ${src.id}, which the name ${name} ` +
          `points at; moving the name would lose every write made to ${src.id} since. Re-protect first: ` +
          `rename or delete ${tgt.id} (keep a snapshot); ` +
          (target === 'primary'
            ? `the failback then creates a new read replica ${tgt.id} of ${src.id}, waits for zero lag and switches`
            : `while the primary serves, the next run then creates a new read replica ${tgt.id} of ${src.id}`),
      );
    }
    // The name is fenced (a crash came between promotion and repoint), missing, or on a replica.
    const isolate = isolation(input, db, src, srcSite.region);
    const repoint = upsert(
      service,
      db,
      epoch,
      'repoint',
      normalizeTarget(tgt.address ?? ''),
      `${tgt.id} is writable (available, no longer a replica); point ${name} at it and verify INSYNC`,
    );
    if (tgt.address === undefined) return { kind: 'wait', detail: `${tgt.id} has no endpoint address yet` };
    return {
      kind: 'act',
      detail: `point ${name} at the writer ${tgt.id} on the ${target}`,
      actions: isolate ? [isolate, repoint] : [repoint],
    };
  }

  // The target is a replica (or not available): promotion territory.
  if (tgt.replicaOf !== undefined && (!src || !replicates(tgt, src))) {
    return refuse(
      target,
      `${tgt.id} replicates from ${tgt.replicaOf}, not from the ${otherSite(target)}'s ${srcSite.id}`,
    );
  }
  if (awaitIntended(input, PENDING.promoted, tgt.status !== 'available')) {
    return {
      kind: 'wait',
      detail: `promotion of ${tgt.id} issued at epoch ${epoch}; waiting until it is writable (status ${tgt.status})`,
    };
  }
  if (tgt.status !== 'available') {
    // modifying, backing-up, rebooting, creating, ...: RDS refuses to promote in these states.
    return { kind: 'wait', detail: `${tgt.id} is ${tgt.status}; it can be promoted once it is available` };
  }
  if (tgt.replicaOf === undefined) {
    return refuse(target, `${tgt.id} is neither a writer nor a replica`);
  }
  const unready = gate(input, db, tgt.id, observed.lagSeconds, 'ReplicaLag');
  if (unready) return refuse(target, unready);

  const fenced = isFenceTarget(at);
  const planned = target === 'primary' && input.intent !== undefined;
  const fence = fenceBefore(
    service,
    db,
    epoch,
    `before ${tgt.id} is promoted, ${name} stops pointing at the writer ${src?.id ?? srcSite.id}: it resolves ` +
      'to nothing until the new writer is announced, so no client writes to a database about to be abandoned',
  );
  if (planned && !fenced && at !== undefined) {
    // A planned switch back: fence writes first, then promote only once the replica has caught up.
    return {
      kind: 'act',
      detail: `fence ${name}, then promote ${tgt.id} once it has caught up`,
      actions: [fence],
    };
  }
  if (planned && !flag(input, 'acceptDataLoss') && observed.lagSeconds !== 0) {
    return {
      kind: 'wait',
      detail: `${name} is fenced; waiting for ${tgt.id} to catch up (zero ReplicaLag) before promoting`,
    };
  }
  const promote: DatabaseAction = {
    capability: 'database',
    api: 'rds:PromoteReadReplica',
    epoch,
    region: tgtSite.region,
    reason:
      `desired state (epoch ${epoch}) says the ${target} writes; ${tgt.id} is available, replicates from ` +
      `${src?.id}, and passed the readiness gate. Issued once per epoch; the next runs wait until it is writable` +
      again(input, PENDING.promoted),
    params: { DBInstanceIdentifier: tgt.id },
    once: PENDING.promoted,
  };
  return {
    kind: 'act',
    detail: `promote ${tgt.id} to writer on the ${target}`,
    actions: fenced || at === undefined ? [promote] : [fence, promote],
  };
};

/** The old writer's isolation step, when the config asks for it and it is still reachable. */
const isolation = (
  input: PlanInput<unknown>,
  db: RdsReplicaConfig,
  old: DbInstanceView | undefined,
  region: string,
): DatabaseAction | undefined => {
  // Only after a transition (never on a fresh service), only a reachable writer (a replica takes no writes).
  if (!input.intent || !old || !writable(old) || db.fenceOldPrimary === 'none') return undefined;
  if (db.fenceOldPrimary === 'stop') {
    return {
      capability: 'database',
      api: 'rds:StopDBInstance',
      epoch: input.epoch,
      region,
      reason: `fenceOldPrimary is "stop": the old writer ${old.id} is still reachable; stopping it ends writes from connections that outlived the repoint`,
      params: { DBInstanceIdentifier: old.id },
    };
  }
  const sg = db.quarantineSecurityGroupId ?? '';
  if (old.securityGroupIds.length === 1 && old.securityGroupIds[0] === sg) return undefined;
  return {
    capability: 'database',
    api: 'rds:ModifyDBInstance',
    epoch: input.epoch,
    region,
    reason:
      `fenceOldPrimary is "quarantine-security-group": the old writer ${old.id} is still reachable; its security ` +
      `groups are replaced by ${sg} so no client can reach it (data kept)`,
    params: { DBInstanceIdentifier: old.id, VpcSecurityGroupIds: [sg], ApplyImmediately: true },
  };
};

/** Creates a read replica of `writer` on the site that has none (once per epoch). */
const reprotect = (
  input: PlanInput<unknown>,
  writer: DbInstanceView,
  writerSite: { readonly id: string; readonly region: string },
  site: { readonly id: string; readonly region: string },
  why: string,
): CapabilityPlan<DatabaseAction> => {
  if (awaitIntended(input, PENDING.reprotect, false)) {
    return { kind: 'wait', detail: `creating read replica ${site.id} of ${writer.id}` };
  }
  return {
    kind: 'act',
    detail: `re-protect: create read replica ${site.id} of the writer ${writer.id}`,
    actions: [
      {
        capability: 'database',
        api: 'rds:CreateDBInstanceReadReplica',
        epoch: input.epoch,
        region: site.region,
        reason:
          `a promoted replica cannot be demoted, so ${why} a new read replica of the writer ${writer.id}; ` +
          "it is created with the writer's instance class and caught up by RDS before any switch uses it" +
          again(input, PENDING.reprotect),
        once: PENDING.reprotect,
        params: {
          DBInstanceIdentifier: site.id,
          // Across Regions RDS takes the source's ARN.
          SourceDBInstanceIdentifier: site.region === writerSite.region ? writer.id : writer.arn,
          DBInstanceClass: writer.instanceClass,
        },
      },
    ],
  };
};

const convergedDetail = (
  service: string,
  target: Site,
  tgt: DbInstanceView,
  src: DbInstanceView | undefined,
  name: string,
): string => {
  const base = `${name} points at the writer ${tgt.id} on the ${target}`;
  if (src && replicates(src, tgt)) return `${base}; ${src.id} replicates from it (${src.status})`;
  // A promoted replica cannot be demoted: say how to get protection back, every time it is true.
  const stale = src ? ` (${src.id} is a standalone copy that stopped at the failover)` : '';
  const clear = src ? `rename or delete ${src.id} (keep a snapshot), then ` : '';
  return target === 'standby'
    ? `${base}. Unprotected: no replica of ${tgt.id} on the primary${stale}. To re-protect and switch back: ` +
        `${clear}${operatorCommand('failback', service)} creates a new read replica of ${tgt.id} on the primary, waits ` +
        'for zero lag, fences the name, promotes it and repoints the name'
    : `${base}. Unprotected: no replica of ${tgt.id} on the standby${stale}. To re-protect: ${clear}the next ` +
        'run creates a new read replica on the standby';
};

const planAuroraCluster = (
  input: PlanInput<AuroraClusterObserved>,
  db: AuroraClusterConfig,
): CapabilityPlan<DatabaseAction> => {
  const { service, target, epoch, observed } = input;
  const wanted = target === 'standby' ? db.targetReaderInstanceId : db.writerInstanceId;
  const cluster = observed.cluster;
  if (!cluster) return refuse(target, `Aurora cluster ${db.clusterId} does not exist`);
  const member = cluster.members.find((m) => m.id === wanted);
  if (!member) return refuse(target, `${wanted} is not a member of cluster ${db.clusterId}`);
  const region = db.region ?? observed.homeRegion;

  if (member.writer && cluster.status === 'available') {
    // The cluster endpoint follows the writer by itself; the name only has to point at it.
    const clusterEndpoint = cluster.endpoint ? normalizeTarget(cluster.endpoint) : undefined;
    if (!clusterEndpoint) return { kind: 'wait', detail: `cluster ${db.clusterId} has no endpoint yet` };
    if (observed.endpoint.target === clusterEndpoint) {
      return (
        pendingRepoint(observed.endpoint) ?? {
          kind: 'converged',
          detail: `${wanted} writes in cluster ${db.clusterId}; ${db.endpoint.name} points at its cluster endpoint`,
        }
      );
    }
    return repointTo(
      service,
      db,
      epoch,
      `point ${db.endpoint.name} at cluster ${db.clusterId}'s writer endpoint`,
      clusterEndpoint,
      `the cluster endpoint always names the current writer (${wanted})`,
    );
  }
  if (awaitIntended(input, PENDING.failover, cluster.status !== 'available')) {
    return {
      kind: 'wait',
      detail: `failover to ${wanted} issued at epoch ${epoch}; waiting until it writes (cluster ${cluster.status})`,
    };
  }
  if (cluster.status !== 'available') {
    return { kind: 'wait', detail: `cluster ${db.clusterId} is ${cluster.status}` };
  }
  if (observed.targetInstanceStatus !== 'available') {
    return {
      kind: 'wait',
      detail: `${wanted} is ${observed.targetInstanceStatus ?? 'unknown'}; it can take over once it is available`,
    };
  }
  const unready = gate(input, db, wanted, observed.lagSeconds, 'AuroraReplicaLag');
  if (unready) return refuse(target, unready);
  return {
    kind: 'act',
    detail: `fail cluster ${db.clusterId} over to ${wanted}`,
    actions: [
      {
        capability: 'database',
        api: 'rds:FailoverDBCluster',
        epoch,
        region,
        reason:
          `desired state (epoch ${epoch}) says ${wanted} writes. Aurora demotes the old writer to a reader and moves ` +
          'the cluster endpoint itself, so it fences the old writer; issued once per epoch' +
          again(input, PENDING.failover),
        params: { DBClusterIdentifier: db.clusterId, TargetDBInstanceIdentifier: wanted },
        once: PENDING.failover,
      },
    ],
  };
};

const planAuroraGlobal = (
  input: PlanInput<AuroraGlobalObserved>,
  db: AuroraGlobalConfig,
): CapabilityPlan<DatabaseAction> => {
  const { service, target, epoch, observed } = input;
  const wanted = globalSiteOf(db, target);
  const global = observed.global;
  if (!global) return refuse(target, `global database ${db.globalClusterId} does not exist`);
  const member = global.members.find((m) => m.arn === wanted);
  if (!member) return refuse(target, `${wanted} is not a member of global database ${db.globalClusterId}`);
  const at = observed.endpoint.target;

  if (member.writer && global.status === 'available') {
    const writerEndpoint = observed.clusterEndpoints[wanted];
    if (!writerEndpoint) return { kind: 'wait', detail: `${idOfArn(wanted)} has no writer endpoint yet` };
    if (at === normalizeTarget(writerEndpoint)) {
      return (
        pendingRepoint(observed.endpoint) ?? {
          kind: 'converged',
          detail: `${idOfArn(wanted)} is the global database's writer; ${db.endpoint.name} points at it`,
        }
      );
    }
    return repointTo(
      service,
      db,
      epoch,
      `point ${db.endpoint.name} at the writer cluster ${idOfArn(wanted)}`,
      normalizeTarget(writerEndpoint),
      `${idOfArn(wanted)} is the writer of ${db.globalClusterId}; announce it and verify INSYNC`,
    );
  }
  if (global.status !== 'available' || awaitIntended(input, PENDING.failover, false)) {
    return {
      kind: 'wait',
      detail: `waiting for ${idOfArn(wanted)} to become the writer (global database ${global.status})`,
    };
  }
  // A planned move back (operator's failback) switches over without data loss; a failover to the
  // standby is unplanned: the primary Region may be gone, so only a managed failover can help.
  const planned = target === 'primary';
  const unready = planned
    ? undefined
    : gate(input, db, idOfArn(wanted), observed.lagSeconds, 'AuroraGlobalDBRPOLag');
  if (unready) return refuse(target, unready);
  const fence = fenceBefore(
    service,
    db,
    epoch,
    `before ${idOfArn(wanted)} is promoted, ${db.endpoint.name} stops pointing at the old writer`,
  );
  const move: DatabaseAction = planned
    ? {
        capability: 'database',
        api: 'rds:SwitchoverGlobalCluster',
        epoch,
        region: regionOfArn(wanted),
        reason:
          `planned move back (epoch ${epoch}): Aurora waits until ${idOfArn(wanted)} is fully synchronised, so no data is lost` +
          again(input, PENDING.failover),
        params: { GlobalClusterIdentifier: db.globalClusterId, TargetDbClusterIdentifier: wanted },
        once: PENDING.failover,
      }
    : {
        capability: 'database',
        api: 'rds:FailoverGlobalCluster',
        epoch,
        region: regionOfArn(wanted),
        reason:
          `unplanned failover (epoch ${epoch}) to ${idOfArn(wanted)}, whose RPO lag passed the gate; ` +
          'writes not yet replicated are lost (AllowDataLoss). Aurora fences the old primary when it returns' +
          again(input, PENDING.failover),
        params: {
          GlobalClusterIdentifier: db.globalClusterId,
          TargetDbClusterIdentifier: wanted,
          AllowDataLoss: true,
        },
        once: PENDING.failover,
      };
  return {
    kind: 'act',
    detail: `${planned ? 'switch' : 'fail'} global database ${db.globalClusterId} over to ${idOfArn(wanted)}`,
    actions: isFenceTarget(at) || at === undefined ? [move] : [fence, move],
  };
};

/** The database planner, dispatching on the configured kind. */
export const planDatabase = (input: PlanInput<DatabaseObserved>): CapabilityPlan<DatabaseAction> => {
  const db = input.service.database;
  if (!db) return { kind: 'converged', detail: 'no database section configured' };
  const observed = input.observed;
  if (db.kind === 'rds-replica' && observed.kind === 'rds-replica') {
    return planRdsReplica({ ...input, observed }, db);
  }
  if (db.kind === 'aurora-cluster' && observed.kind === 'aurora-cluster') {
    return planAuroraCluster({ ...input, observed }, db);
  }
  if (db.kind === 'aurora-global' && observed.kind === 'aurora-global') {
    return planAuroraGlobal({ ...input, observed }, db);
  }
  return refuse(input.target, `observed a ${observed.kind}, but the config describes a ${db.kind}`);
};
