import { createHash } from 'node:crypto';
import { type Config, type ConfigInput, parseConfig } from '../../functions/config/schema';

/**
 * A generated runbook of `services` services in `zones` hosted zones, every capability represented,
 * for the scale tests (test/infra/scale.test.ts) and the Region-wide scenario:
 *
 * - dns: every service, two weighted A records (www and api) with a health check on each side, in
 *   zone `i % zones`;
 * - database: every service, cycling through an RDS read replica, an Aurora cluster failover and an
 *   Aurora global database; the endpoint CNAME in the service's zone;
 * - compute: every service, a target group of its own; servers by id for two thirds of them, by a
 *   tag for the rest, every fifth with a standby Auto Scaling group;
 * - mail: one service in `mailEvery` (a unique domain each): 40 of 1,000 by default. The mail
 *   capability's constructs grow per domain (a receipt rule, an identity, an MX record set, a Lambda
 *   permission, a held-mail bucket statement), so its own limits come first: the bucket policy
 *   (20 kB) at about 45 domains, SES's 200 receipt rules per rule set, 500 resources per stack;
 * - alarms: one per service; one in ten lives in us-east-1 (a Route 53 health-check alarm); one in
 *   four services fails back by itself.
 *
 * Ids are derived from the index, so the config is the same on every run.
 */
export interface ScaleConfigOptions {
  readonly services: number;
  /** @default 5 */
  readonly zones?: number;
  /** @default 25 (one service in 25 has a mail section) */
  readonly mailEvery?: number;
}

export const ACCOUNT = '111111111111';
export const REGION = 'eu-west-2';
export const PRIMARY_REGION = 'eu-west-1';

const hex = (seed: string, length: number) =>
  createHash('sha256').update(seed).digest('hex').slice(0, length);
const uuid = (seed: string) => {
  const h = hex(seed, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

export const zoneIdOf = (zone: number): string => `Z0SCALE${String(zone).padStart(3, '0')}`;
export const zoneNameOf = (zone: number): string => `zone${zone}.example.com`;
export const serviceNameOf = (i: number): string => `svc-${String(i).padStart(4, '0')}`;

export const scaleConfigInput = (options: ScaleConfigOptions): ConfigInput => {
  const zones = options.zones ?? 5;
  const mailEvery = options.mailEvery ?? 25;
  const services = Array.from({ length: options.services }, (_, i) => {
    const name = serviceNameOf(i);
    const zone = i % zones;
    const domain = `${name}.${zoneNameOf(zone)}`;
    const weighted = (label: string, octet: number) => ({
      name: `${label}.${domain}`,
      type: 'A' as const,
      routing: 'weighted' as const,
      ttl: 60,
      primary: { values: [`192.0.2.${octet}`], healthCheckId: uuid(`${name}-${label}-primary`) },
      standby: { values: [`198.51.100.${octet}`], healthCheckId: uuid(`${name}-${label}-standby`) },
    });
    const endpoint = { hostedZoneId: zoneIdOf(zone), name: `db.${domain}` };
    const database =
      i % 3 === 0
        ? {
            kind: 'rds-replica' as const,
            primaryInstanceId: `${name}-db-a`,
            primaryRegion: PRIMARY_REGION,
            replicaInstanceId: `${name}-db-b`,
            endpoint,
          }
        : i % 3 === 1
          ? {
              kind: 'aurora-cluster' as const,
              clusterId: `${name}-cluster`,
              writerInstanceId: `${name}-writer`,
              targetReaderInstanceId: `${name}-reader`,
              endpoint,
            }
          : {
              kind: 'aurora-global' as const,
              globalClusterId: `${name}-global`,
              primaryClusterArn: `arn:aws:rds:${PRIMARY_REGION}:${ACCOUNT}:cluster:${name}-a`,
              secondaryClusterArn: `arn:aws:rds:${REGION}:${ACCOUNT}:cluster:${name}-b`,
              endpoint,
            };
    const byTag = i % 3 === 2;
    const compute = {
      targetGroupArns: [
        `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/${name}-web/${hex(name, 16)}`,
      ],
      primaries: byTag
        ? { tag: { key: 'understudy-site', value: `${name}-primary` } }
        : { instanceIds: [`i-${hex(`${name}-p`, 17)}`] },
      standbys: byTag
        ? { tag: { key: 'understudy-site', value: `${name}-standby` } }
        : { instanceIds: [`i-${hex(`${name}-s`, 17)}`] },
      ...(i % 5 === 0 && {
        standbyAutoScalingGroup: { name: `${name}-standby-asg`, failoverCapacity: 2 },
      }),
    };
    const mail =
      i % mailEvery === 0
        ? {
            domain: `mail.${domain}`,
            hostedZoneId: zoneIdOf(zone),
            primary: { host: `mx.${domain}` },
          }
        : undefined;
    const autoFailback = i % 4 === 0;
    return {
      name,
      mode: autoFailback ? ('auto' as const) : ('approve' as const),
      alarms: [
        i % 10 === 0
          ? { name: `${name}-health-check`, region: 'us-east-1' }
          : { name: `${name}-primary-unhealthy` },
      ],
      ...(autoFailback && { autoFailback: { afterStableMinutes: 15 } }),
      dns: {
        hostedZoneId: zoneIdOf(zone),
        records: [weighted('www', (i % 250) + 1), weighted('api', (i % 250) + 1)],
      },
      database,
      compute,
      ...(mail && { mail }),
    };
  });
  return {
    controlPlane: {
      account: ACCOUNT,
      region: REGION,
      stackName: 'understudy-scale',
      slackWebhookSecretName: 'understudy/slack-webhook',
    },
    services,
  };
};

export const scaleConfig = (options: ScaleConfigOptions): Config =>
  parseConfig(scaleConfigInput(options), `generated ${options.services}-service config`);
