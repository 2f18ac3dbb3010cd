import * as z from 'zod';
import type { Config, ServiceConfig } from '../../config/schema';
import { eventTimeProblem } from '../../core/event-time';
import { clip } from '../../core/text';
import type { DatabaseConfig } from './config';
import { idOfArn, regionOfArn } from './planner';

/** The RDS event detail types that can change what the database planner decides. */
export const RDS_EVENT_DETAIL_TYPES = [
  'RDS DB Instance Event',
  'RDS DB Cluster Event',
  'RDS DB Global Cluster Event',
] as const;

/** EventBridge "RDS DB ... Event", as AWS emits it (only the fields we rely on). */
export const rdsEventSchema = z.object({
  version: z.string(),
  id: z.string(),
  source: z.literal('aws.rds'),
  account: z.string(),
  region: z.string(),
  time: z.iso.datetime(),
  'detail-type': z.enum(RDS_EVENT_DETAIL_TYPES),
  resources: z.array(z.string()),
  detail: z.object({
    SourceIdentifier: z.string().min(1),
    EventID: z.string().optional(),
    Message: z.string().optional(),
  }),
});

/** Every DB instance, cluster and global cluster identifier a database section names. */
export const databaseIdentifiers = (db: DatabaseConfig): string[] => {
  switch (db.kind) {
    case 'rds-replica':
      return [db.primaryInstanceId, db.replicaInstanceId];
    case 'aurora-cluster':
      return [db.clusterId, db.writerInstanceId, db.targetReaderInstanceId];
    case 'aurora-global':
      return [db.globalClusterId, idOfArn(db.primaryClusterArn), idOfArn(db.secondaryClusterArn)];
  }
};

/**
 * Every DB instance, cluster and global cluster a database section names, with the Regions its
 * events come from: the section's own Region settings (default: the control plane's Region), the
 * Region in a cluster's ARN, and either Region of a global database for the global cluster itself.
 */
export const databaseResources = (
  db: DatabaseConfig,
  homeRegion: string,
): { readonly id: string; readonly regions: readonly string[] }[] => {
  switch (db.kind) {
    case 'rds-replica':
      return [
        { id: db.primaryInstanceId, regions: [db.primaryRegion ?? homeRegion] },
        { id: db.replicaInstanceId, regions: [db.replicaRegion ?? homeRegion] },
      ];
    case 'aurora-cluster': {
      const regions = [db.region ?? homeRegion];
      return [db.clusterId, db.writerInstanceId, db.targetReaderInstanceId].map((id) => ({ id, regions }));
    }
    case 'aurora-global': {
      const primary = regionOfArn(db.primaryClusterArn);
      const secondary = regionOfArn(db.secondaryClusterArn);
      return [
        { id: db.globalClusterId, regions: [...new Set([primary, secondary])] },
        { id: idOfArn(db.primaryClusterArn), regions: [primary] },
        { id: idOfArn(db.secondaryClusterArn), regions: [secondary] },
      ];
    }
  }
};

export type RdsEventVerdict =
  | { readonly kind: 'ignore'; readonly reason: string }
  | { readonly kind: 'reconcile'; readonly services: readonly ServiceConfig[]; readonly reason: string };

/** A reason quotes the event (its message, a bad field): bounded, as it is logged. */
const MAX_REASON = 2_048;

/**
 * Which services' database capability an RDS event concerns. Pure. An event only wakes the
 * reconciler early (the schedule would run within a minute anyway), so it never changes intent;
 * still, only an event of this account, from a Region the resource lives in, dated neither too long
 * ago nor in the future, wakes anything.
 */
export const classifyRdsEvent = (raw: unknown, config: Config, now: Date): RdsEventVerdict => {
  const verdict = classify(raw, config, now);
  return { ...verdict, reason: clip(verdict.reason, MAX_REASON) };
};

const classify = (raw: unknown, config: Config, now: Date): RdsEventVerdict => {
  const parsed = rdsEventSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
      .join('; ');
    return { kind: 'ignore', reason: `not an RDS event: ${issues}` };
  }
  const event = parsed.data;
  const { account, region: home, maxEventAgeSeconds } = config.controlPlane;
  if (event.account !== account) {
    return { kind: 'ignore', reason: `RDS event from account ${event.account}, not ${account}` };
  }
  const untimely = eventTimeProblem(event.time, now, maxEventAgeSeconds);
  if (untimely) return { kind: 'ignore', reason: `RDS ${untimely}; the schedule covers it` };
  const { SourceIdentifier } = event.detail;
  // An ARN names its own account and Region (a global cluster's ARN has no Region): they must agree.
  if (SourceIdentifier.startsWith('arn:')) {
    const [, , , arnRegion, arnAccount] = SourceIdentifier.split(':');
    if ((arnRegion && arnRegion !== event.region) || (arnAccount && arnAccount !== account)) {
      return {
        kind: 'ignore',
        reason: `RDS event from ${event.account}/${event.region} about ${SourceIdentifier}, which is elsewhere`,
      };
    }
  }
  const source = idOfArn(SourceIdentifier);
  const named = config.services.flatMap((svc) =>
    svc.database === undefined
      ? []
      : [{ svc, resources: databaseResources(svc.database, home).filter((r) => r.id === source) }],
  );
  const concerned = named.filter((n) => n.resources.length > 0);
  if (concerned.length === 0) {
    return { kind: 'ignore', reason: `RDS resource ${source} protects no configured service` };
  }
  const services = concerned
    .filter((n) => n.resources.some((r) => r.regions.includes(event.region)))
    .map((n) => n.svc);
  if (services.length === 0) {
    const regions = [...new Set(concerned.flatMap((n) => n.resources.flatMap((r) => r.regions)))].sort();
    return {
      kind: 'ignore',
      reason: `RDS event from ${event.region} about ${source}, which is configured in ${regions.join(', ')} only`,
    };
  }
  return {
    kind: 'reconcile',
    services,
    reason:
      `${event['detail-type']} ${event.detail.EventID ?? ''} for ${source}: ${event.detail.Message ?? ''}`.trim(),
  };
};
