import type { CapabilityModule } from '../../engine/module';
import { DATABASE_PARAMS, databaseConfigIssues, databaseSection } from './config';
import { classifyRdsEvent, RDS_EVENT_DETAIL_TYPES } from './rds-event';

/** Database: promote the standby (RDS replica, Aurora cluster or global database), then repoint its name. */
export const databaseModule: CapabilityModule<'database', typeof databaseSection> = {
  name: 'database',
  summary: 'promote the standby database and repoint its endpoint name once it is writable',
  section: databaseSection,
  configIssues: databaseConfigIssues,
  ownedNames: (db) => [
    {
      hostedZoneId: db.endpoint.hostedZoneId,
      name: db.endpoint.name,
      type: db.endpoint.type,
      path: ['endpoint', 'name'],
    },
  ],
  flags: [
    {
      flag: 'accept-data-loss',
      param: DATABASE_PARAMS.acceptDataLoss,
      help: "database: promote even if the replica's lag is over maxReplicaLagSeconds or unknown (the writes it has not received are lost); kept with the intent",
    },
    {
      flag: 'allow-delayed-replica',
      param: DATABASE_PARAMS.allowDelayedReplica,
      help: 'database: promote a replica configured as delayedReplica (never done automatically); kept with the intent',
    },
  ],
  events: {
    pattern: { source: ['aws.rds'], detailType: RDS_EVENT_DETAIL_TYPES },
    classify: classifyRdsEvent,
  },
  create: async (context) => (await import('./rds')).createDatabaseCapability(context),
  readiness: async (context, service, input) =>
    (await import('./rds')).databaseReadiness(context, service, input),
};
