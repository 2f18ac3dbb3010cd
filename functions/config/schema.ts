import * as z from 'zod';
import { computeSection } from '../capabilities/compute/config';
import { databaseSection } from '../capabilities/database/config';
import { mailConfigIssues, mailSection } from '../capabilities/mail/config';
import { awsAccount, awsRegion, dnsName, hostedZoneId, resourceName } from './fields';

/**
 * The runbook as code: one file describes every protected service.
 * Validated at `cdk synth` (bin/app.ts), by the CLI, and once at Lambda cold start.
 */

export const CAPABILITIES = ['dns', 'database', 'compute', 'mail'] as const;
export type CapabilityName = (typeof CAPABILITIES)[number];

const aliasTarget = z.strictObject({
  dnsName,
  hostedZoneId,
  evaluateTargetHealth: z.boolean().default(true),
});

/** Where one side (primary or standby) of a record points. */
const recordSide = z
  .strictObject({
    values: z.array(z.string().min(1)).min(1).max(100).optional(),
    aliasTarget: aliasTarget.optional(),
    healthCheckId: z.string().uuid('must be a Route 53 health check id (a UUID)').optional(),
  })
  .refine((side) => (side.values === undefined) !== (side.aliasTarget === undefined), {
    message: 'give exactly one of values or aliasTarget',
  });

const recordType = z.enum(['A', 'AAAA', 'CNAME']);

const weightedRecord = z.strictObject({
  name: dnsName,
  type: recordType,
  /** Weighted pair switched by weight 1/0 <-> 0/1; Route 53 health checks fail over even without us. */
  routing: z.literal('weighted'),
  ttl: z.number().int().min(0).max(86_400).default(60),
  primary: recordSide,
  standby: recordSide,
  setIdentifiers: z
    .strictObject({ primary: z.string().min(1).max(128), standby: z.string().min(1).max(128) })
    .optional(),
});

const swapRecord = z.strictObject({
  name: dnsName,
  type: recordType,
  /** A plain record whose value is replaced; for names with no health check. */
  routing: z.literal('swap'),
  ttl: z.number().int().min(0).max(86_400).default(60),
  primary: recordSide,
  standby: recordSide,
});

const dnsRecord = z.discriminatedUnion('routing', [weightedRecord, swapRecord]).superRefine((record, ctx) => {
  if (record.type === 'CNAME') {
    for (const side of ['primary', 'standby'] as const) {
      if ((record[side].values?.length ?? 0) > 1) {
        ctx.addIssue({
          code: 'custom',
          path: [side, 'values'],
          message: 'a CNAME record takes exactly one value',
        });
      }
    }
  }
  if (record.routing !== 'weighted') return;
  if (record.setIdentifiers && record.setIdentifiers.primary === record.setIdentifiers.standby) {
    ctx.addIssue({
      code: 'custom',
      path: ['setIdentifiers', 'standby'],
      message: 'primary and standby need different set identifiers',
    });
  }
  for (const side of ['primary', 'standby'] as const) {
    if (!record[side].healthCheckId) {
      ctx.addIssue({
        code: 'custom',
        path: [side, 'healthCheckId'],
        message:
          'a weighted record needs a health check on both sides, or Route 53 cannot fail over without the control plane',
      });
    }
  }
});

const dnsSection = z.strictObject({
  hostedZoneId,
  records: z.array(dnsRecord).min(1),
});

const alarmTrigger = z.strictObject({
  /** CloudWatch alarm name, exactly as in the alarm. */
  name: z.string().min(1).max(255),
  /** Which capabilities this alarm fails over; default: every capability the service configures. */
  capabilities: z.array(z.enum(CAPABILITIES)).min(1).optional(),
  /**
   * service (default): the alarm watches the whole service. instance: it watches one server (a
   * metric with an InstanceId dimension, e.g. StatusCheckFailed); its ALARM replaces that one server
   * with a spare (compute only) instead of moving the service.
   */
  scope: z.enum(['service', 'instance']).default('service'),
  /**
   * The Region the alarm lives in (same account); default: controlPlane.region. Another Region's alarm
   * reaches the control plane through a forwarding rule the app deploys there (infra/alarm-forwarder.ts),
   * e.g. a Route 53 health-check alarm, whose metric exists only in us-east-1.
   */
  region: awsRegion.optional(),
});

const service = z
  .strictObject({
    name: resourceName,
    description: z.string().max(200).optional(),
    /** auto: act on alarms; approve: plan and notify, act on an operator's command; dry-run: only plan. */
    mode: z.enum(['auto', 'approve', 'dry-run']).default('approve'),
    /** One automatic transition per capability per window: stops flapping. */
    cooldownMinutes: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 60)
      .default(30),
    alarms: z.array(alarmTrigger).default([]),
    /**
     * Opt-in automatic failback (mode auto only); absent: failback stays explicit. A capability on the
     * standby moves back once every alarm covering it has been OK for `afterStableMinutes` and its
     * cooldown has passed (functions/engine/auto-failback.ts).
     */
    autoFailback: z
      .strictObject({
        afterStableMinutes: z
          .number()
          .int()
          .min(5)
          .max(7 * 24 * 60),
      })
      .optional(),
    dns: dnsSection.optional(),
    database: databaseSection.optional(),
    compute: computeSection.optional(),
    mail: mailSection.optional(),
  })
  .superRefine((svc, ctx) => {
    const configured = CAPABILITIES.filter((c) => svc[c] !== undefined);
    if (configured.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `configure at least one of: ${CAPABILITIES.join(', ')}`,
      });
    }
    if (svc.autoFailback !== undefined && svc.mode !== 'auto') {
      ctx.addIssue({
        code: 'custom',
        path: ['autoFailback'],
        message: `autoFailback needs mode "auto" (the service's mode is "${svc.mode}"): only an automatic service fails back by itself`,
      });
    }
    if (svc.autoFailback !== undefined && svc.alarms.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['autoFailback'],
        message:
          'autoFailback needs at least one alarm: the alarms being OK is what says the primary is healthy',
      });
    }
    svc.alarms.forEach((alarm, i) => {
      if (
        alarm.scope === 'instance' &&
        (svc.compute === undefined || alarm.capabilities?.some((c) => c !== 'compute'))
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['alarms', i, 'scope'],
          message: `alarm "${alarm.name}" watches one server: it needs a compute section and moves compute only`,
        });
      }
      alarm.capabilities?.forEach((cap, j) => {
        if (svc[cap] === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['alarms', i, 'capabilities', j],
            message: `alarm "${alarm.name}" fails over "${cap}", but the service has no "${cap}" section`,
          });
        }
      });
    });
  });

export const configSchema = z
  .strictObject({
    controlPlane: z.strictObject({
      /** The account and Region the control plane runs in: deploy it in the standby Region. */
      account: awsAccount,
      region: awsRegion,
      stackName: z
        .string()
        .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/)
        .default('understudy'),
      stateTableName: z
        .string()
        .regex(/^[a-zA-Z0-9_.-]{3,255}$/)
        .default('understudy-state'),
      /** Alarm events older than this are stale and ignored (EventBridge may retry for up to 24 h). */
      maxEventAgeSeconds: z.number().int().min(30).max(86_400).default(600),
      auditRetentionDays: z.number().int().min(1).max(3650).default(90),
      /** Name of a Secrets Manager secret holding the Slack incoming-webhook URL. */
      slackWebhookSecretName: z.string().min(1).max(512).optional(),
      logRetentionDays: z
        .union([z.literal(7), z.literal(14), z.literal(30), z.literal(90), z.literal(365)])
        .default(30),
    }),
    services: z.array(service).min(1),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    // Two owners for one name would fight over it every minute.
    const owners = new Map<string, string>();
    config.services.forEach((svc, i) => {
      if (seen.has(svc.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', i, 'name'],
          message: `duplicate service name "${svc.name}"`,
        });
      }
      seen.add(svc.name);
      svc.dns?.records.forEach((record, j) => {
        const key = `${svc.dns?.hostedZoneId} ${record.name} ${record.type}`;
        const owner = owners.get(key);
        if (owner !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['services', i, 'dns', 'records', j, 'name'],
            message: `${record.name} ${record.type} is already managed by ${owner}; one name, one owner`,
          });
        } else {
          owners.set(key, `services.${i}.dns.records.${j}`);
        }
      });
      const endpoint = svc.database?.endpoint;
      if (endpoint) {
        const key = `${endpoint.hostedZoneId} ${endpoint.name} ${endpoint.type}`;
        const owner = owners.get(key);
        if (owner !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['services', i, 'database', 'endpoint', 'name'],
            message: `${endpoint.name} ${endpoint.type} is already managed by ${owner}; one name, one owner`,
          });
        } else {
          owners.set(key, `services.${i}.database.endpoint`);
        }
      }
    });
    for (const issue of mailConfigIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ServiceConfig = Config['services'][number];
export type DnsConfig = NonNullable<ServiceConfig['dns']>;
export type DnsRecordConfig = DnsConfig['records'][number];
export type RecordSide = DnsRecordConfig['primary'];
export type Mode = ServiceConfig['mode'];

/** Typed helper so an editor checks `understudy.config.ts` as it is written. */
export const defineConfig = (config: ConfigInput): ConfigInput => config;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: readonly string[],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Validates a config; throws a ConfigError whose message names every bad field and why. */
export const parseConfig = (input: unknown, source = 'config'): Config => {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    return `${field}: ${issue.message}`;
  });
  throw new ConfigError(`Invalid ${source}:\n  - ${issues.join('\n  - ')}`, issues);
};

/** The Region an alarm lives in: its own `region`, or the control plane's. */
export const alarmRegionOf = (
  config: Pick<Config, 'controlPlane'>,
  alarm: { readonly region?: string | undefined },
): string => alarm.region ?? config.controlPlane.region;

/** The capabilities a service configures, in a stable order. */
export const capabilitiesOf = (svc: ServiceConfig): CapabilityName[] =>
  CAPABILITIES.filter((c) => svc[c] !== undefined);
