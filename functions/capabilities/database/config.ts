import * as z from 'zod';
import { awsRegion, dnsName, hostedZoneId } from '../../config/fields';

/**
 * The `database` section of a service: which database is promoted on failover, and the name the
 * application connects through, which must always follow the writer.
 */

/**
 * Built on first use (`z.lazy`): constructing every schema is about a fifth of a Lambda
 * function's module init, and the functions never parse a config (synth validated it; see
 * functions/runtime/bundled-config.ts). Only synth and the CLI pay for it.
 */
export const databaseSection = z.lazy(() => {
  // RDS identifiers: 1-63 letters, digits or hyphens, starting with a letter, no double or trailing hyphen.
  // RDS stores them in lowercase, so a mixed-case one would never match the IAM ARNs the stack writes.
  const dbIdentifier = z
    .string()
    .regex(
      /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$/,
      'must be an RDS identifier: 1-63 letters, digits or hyphens, starting with a letter',
    )
    .refine((id) => id === id.toLowerCase(), {
      message: 'must be lowercase: RDS stores identifiers in lowercase, and IAM compares ARNs exactly',
    });
  const clusterArn = z
    .string()
    .regex(
      /^arn:aws[a-z-]*:rds:[a-z]{2}(-[a-z]+)+-\d:\d{12}:cluster:[a-zA-Z][a-zA-Z0-9-]{0,62}$/,
      'must be an Aurora DB cluster ARN such as arn:aws:rds:eu-west-1:123456789012:cluster:shop',
    );

  /** The name the application connects to; a CNAME the control plane points at the current writer. */
  const endpoint = z.strictObject({
    hostedZoneId,
    name: dnsName,
    type: z.literal('CNAME').default('CNAME'),
    /** Short, so clients follow a repoint quickly; RTO includes this TTL. */
    ttl: z.number().int().min(0).max(3600).default(30),
  });

  const common = {
    endpoint,
    /** The readiness gate: the newest replica lag reading must be at most this (operators may override). */
    maxReplicaLagSeconds: z.number().min(0).max(86_400).default(30),
    /** A replica kept behind on purpose (protection against user mistakes): never promoted automatically. */
    delayedReplica: z.boolean().default(false),
    /**
     * Recovery point objective: the writes the service may lose in a failover, in seconds. The lag gate
     * (`maxReplicaLagSeconds`) caps what a promotion can lose, so it must not exceed this.
     */
    rpoSeconds: z.number().int().min(0).max(86_400).optional(),
  };

  const rdsReplica = z.strictObject({
    kind: z.literal('rds-replica'),
    /** The writer on the primary site. */
    primaryInstanceId: dbIdentifier,
    /** Region of the primary instance; default: controlPlane.region. */
    primaryRegion: awsRegion.optional(),
    /** Its read replica on the standby site, promoted on failover. */
    replicaInstanceId: dbIdentifier,
    /** Region of the replica; default: controlPlane.region. */
    replicaRegion: awsRegion.optional(),
    /**
     * After the new writer is writable and before the name announces it, isolate the old writer if it
     * is still reachable: swap its security groups for a quarantine group, or stop it.
     */
    fenceOldPrimary: z.enum(['none', 'quarantine-security-group', 'stop']).default('none'),
    quarantineSecurityGroupId: z
      .string()
      .regex(/^sg-[0-9a-f]{8,17}$/, 'must be a security group id such as sg-0123456789abcdef0')
      .optional(),
    /** Create a CloudWatch alarm on the replica's ReplicaLag above maxReplicaLagSeconds (infra only). */
    replicaLagAlarm: z.boolean().default(false),
    ...common,
  });

  const auroraCluster = z.strictObject({
    kind: z.literal('aurora-cluster'),
    clusterId: dbIdentifier,
    /** Region of the cluster; default: controlPlane.region. */
    region: awsRegion.optional(),
    /** The instance that writes while the primary serves (the failback target). */
    writerInstanceId: dbIdentifier,
    /** The reader promoted to writer on failover (FailoverDBCluster's target). */
    targetReaderInstanceId: dbIdentifier,
    ...common,
  });

  const auroraGlobal = z.strictObject({
    kind: z.literal('aurora-global'),
    globalClusterId: dbIdentifier,
    /** The cluster that writes while the primary serves. */
    primaryClusterArn: clusterArn,
    /** The secondary cluster promoted on failover. */
    secondaryClusterArn: clusterArn,
    ...common,
  });

  return z.discriminatedUnion('kind', [rdsReplica, auroraCluster, auroraGlobal]).superRefine((db, ctx) => {
    if (db.rpoSeconds !== undefined && db.maxReplicaLagSeconds > db.rpoSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxReplicaLagSeconds'],
        message: `must not exceed rpoSeconds (${db.rpoSeconds}): the lag gate would let a failover lose more writes than the RPO allows`,
      });
    }
    if (db.kind === 'rds-replica') {
      if (db.primaryInstanceId === db.replicaInstanceId && db.primaryRegion === db.replicaRegion) {
        ctx.addIssue({
          code: 'custom',
          path: ['replicaInstanceId'],
          message: 'the replica must be another instance than the primary',
        });
      }
      if (db.fenceOldPrimary === 'quarantine-security-group' && !db.quarantineSecurityGroupId) {
        ctx.addIssue({
          code: 'custom',
          path: ['quarantineSecurityGroupId'],
          message: 'fenceOldPrimary "quarantine-security-group" needs the quarantine security group id',
        });
      }
    }
    if (db.kind === 'aurora-cluster' && db.writerInstanceId === db.targetReaderInstanceId) {
      ctx.addIssue({
        code: 'custom',
        path: ['targetReaderInstanceId'],
        message: 'the failover target must be another instance than the writer',
      });
    }
    if (db.kind === 'aurora-global' && db.primaryClusterArn === db.secondaryClusterArn) {
      ctx.addIssue({
        code: 'custom',
        path: ['secondaryClusterArn'],
        message: 'the secondary cluster must be another cluster than the primary',
      });
    }
  });
});

export type DatabaseConfig = z.output<typeof databaseSection>;

/** Checks that need the control plane, for the config schema's top-level refinement. */
export const databaseConfigIssues = (config: {
  readonly controlPlane: { readonly region: string };
  readonly services: readonly { readonly database?: DatabaseConfig | undefined }[];
}): { path: (string | number)[]; message: string }[] =>
  config.services.flatMap((svc, i) => {
    const db = svc.database;
    if (db?.kind !== 'rds-replica' || !db.replicaLagAlarm) return [];
    const home = config.controlPlane.region;
    const region = db.replicaRegion ?? home;
    if (region === home) return [];
    // The stack creates the alarm in its own Region, and CloudFormation alarms read only that Region's
    // metrics: CDK stops with a stack trace ("Cannot create an Alarm in region ...").
    return [
      {
        path: ['services', i, 'database', 'replicaLagAlarm'],
        message: `the replica is in ${region}, but the alarm would be created in the control plane's Region (${home}), and a CloudWatch alarm can only watch a metric of its own Region: create the ReplicaLag alarm in ${region} yourself and set replicaLagAlarm to false`,
      },
    ];
  });
export type RdsReplicaConfig = Extract<DatabaseConfig, { kind: 'rds-replica' }>;
export type AuroraClusterConfig = Extract<DatabaseConfig, { kind: 'aurora-cluster' }>;
export type AuroraGlobalConfig = Extract<DatabaseConfig, { kind: 'aurora-global' }>;

/** Operator qualifiers of a database intent (TransitionRequest.params); alarms never set them. */
export const DATABASE_PARAMS = {
  /** Promote even if the replica lag is over budget or unknown: the operator accepts losing those writes. */
  acceptDataLoss: 'acceptDataLoss',
  /** Promote a replica configured as delayed. */
  allowDelayedReplica: 'allowDelayedReplica',
} as const;
