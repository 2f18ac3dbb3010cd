import * as z from 'zod';
import type { Config, ServiceConfig } from '../../config/schema';
import type { DatabaseConfig } from './config';
import { idOfArn } from './planner';

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

export type RdsEventVerdict =
  | { readonly kind: 'ignore'; readonly reason: string }
  | { readonly kind: 'reconcile'; readonly services: readonly ServiceConfig[]; readonly reason: string };

/**
 * Which services' database capability an RDS event concerns. Pure. An event only wakes the
 * reconciler early (the schedule would run within a minute anyway), so it never changes intent.
 */
export const classifyRdsEvent = (raw: unknown, config: Config): RdsEventVerdict => {
  const parsed = rdsEventSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
      .join('; ');
    return { kind: 'ignore', reason: `not an RDS event: ${issues}` };
  }
  const event = parsed.data;
  if (event.account !== config.controlPlane.account) {
    return {
      kind: 'ignore',
      reason: `RDS event from account ${event.account}, not ${config.controlPlane.account}`,
    };
  }
  const source = idOfArn(event.detail.SourceIdentifier);
  const services = config.services.filter(
    (svc) => svc.database !== undefined && databaseIdentifiers(svc.database).includes(source),
  );
  if (services.length === 0)
    return { kind: 'ignore', reason: `RDS resource ${source} protects no configured service` };
  return {
    kind: 'reconcile',
    services,
    reason:
      `${event['detail-type']} ${event.detail.EventID ?? ''} for ${source}: ${event.detail.Message ?? ''}`.trim(),
  };
};
