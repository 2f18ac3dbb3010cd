import * as z from 'zod';
import { CAPABILITY_MODULES } from '../capabilities/registry';
import type { CapabilityModule } from '../engine/module';
import { awsAccount, awsRegion, resourceName } from './fields';
import { formatIssues } from './issues';

/**
 * The runbook as code: one file describes every protected service.
 * Validated at `cdk synth` (bin/app.ts) and by the CLI; a Lambda function checks the seal synth put
 * on it (functions/runtime/bundled-config.ts). The shared fields live here; each capability's
 * section comes from its module (functions/capabilities/).
 */

type Modules = typeof CAPABILITY_MODULES;

export type CapabilityName = Modules[number]['name'];

/** Each module's config section, optional, under the module's name. */
type SectionShape<M extends readonly CapabilityModule[]> = {
  [K in M[number] as K['name']]: z.ZodOptional<K['section']>;
};

/** CloudFormation's limit for a stack name. */
const STACK_NAME_LIMIT = 128;

/** Built on first use, like every capability's section (see functions/capabilities/dns/config.ts). */
const controlPlaneSchema = z.lazy(() =>
  z.strictObject({
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
    /** Days an execution report stays in the report bucket before lifecycle expires it. */
    reportRetentionDays: z.number().int().min(1).max(3650).default(365),
    /** Name of a Secrets Manager secret holding the Slack incoming-webhook URL. */
    slackWebhookSecretName: z
      .string()
      .min(1)
      .max(512)
      .refine((name) => !name.startsWith('arn:'), {
        message:
          "give the secret's name, not its ARN (the stack derives the ARN; a pasted ARN would never match)",
      })
      .refine((name) => /^[A-Za-z0-9/_+=.@-]+$/.test(name), {
        message: 'must be a Secrets Manager secret name: letters, digits and / _ + = . @ -',
      })
      .optional(),
    logRetentionDays: z
      .union([z.literal(7), z.literal(14), z.literal(30), z.literal(90), z.literal(365)])
      .default(30),
    /** How often every service's readiness (would a failover work now) is evaluated (functions/readiness/). */
    readinessIntervalMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(30),
    /**
     * Who hears about the control plane's own alarms (infra/operator-alarms.ts): each address is
     * subscribed to the operator alarm topic by email (SNS asks the recipient to confirm once).
     */
    alarmEmails: z
      .array(z.email({ message: 'must be an email address' }))
      .max(20)
      .refine((emails) => new Set(emails.map((e) => e.toLowerCase())).size === emails.length, {
        message: 'lists an address twice',
      })
      .optional(),
  }),
);

/** The fields every service has, whatever its capabilities (the refinements' view of a service). */
interface SharedServiceFields {
  readonly name: string;
  readonly mode: 'auto' | 'approve' | 'dry-run';
  readonly alarms: readonly {
    readonly name: string;
    readonly scope: 'service' | 'instance';
    readonly capabilities?: readonly string[] | undefined;
    readonly region?: string | undefined;
  }[];
  readonly autoFailback?: { readonly afterStableMinutes: number } | undefined;
}

/**
 * The config schema for a list of capability modules: the shared service fields, each module's
 * section, and the rules across them. `configSchema` is this over the registry; tests build one with
 * a scratch module.
 */
export const buildConfigSchema = <const M extends readonly CapabilityModule[]>(modules: M) => {
  type Name = M[number]['name'];
  const names = modules.map((m) => m.name) as unknown as readonly [Name, ...Name[]];
  /** Modules whose per-server alarms replace one server instead of moving the service. */
  const perServer = modules.filter((m) => m.alarms?.perServer !== undefined).map((m) => m.name);
  const sections = Object.fromEntries(modules.map((m) => [m.name, m.section.optional()])) as SectionShape<M>;

  const alarmTrigger = z.strictObject({
    /** CloudWatch alarm name, exactly as in the alarm. */
    name: z.string().min(1).max(255),
    /** Which capabilities this alarm fails over; default: every capability the service configures. */
    capabilities: z.array(z.enum(names)).min(1).optional(),
    /**
     * service (default): the alarm watches the whole service. instance: it watches one server (a
     * metric with an InstanceId dimension, e.g. StatusCheckFailed); its ALARM replaces that one server
     * with a spare instead of moving the service (capabilities that declare per-server alarms only).
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
       * Recovery time objective: minutes from the alarm's state change to every moved capability
       * converged. Measured for every transition and reported against this target (functions/report/).
       */
      rtoMinutes: z
        .number()
        .int()
        .min(1)
        .max(7 * 24 * 60)
        .optional(),
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
      ...sections,
    })
    .superRefine((parsed, ctx) => {
      const svc = parsed as unknown as SharedServiceFields;
      const section = (name: string) => (parsed as Record<string, unknown>)[name];
      const configured = names.filter((c) => section(c) !== undefined);
      if (configured.length === 0) {
        ctx.addIssue({ code: 'custom', path: [], message: `configure at least one of: ${names.join(', ')}` });
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
        const moves: readonly string[] = alarm.capabilities ?? [];
        if (
          alarm.scope === 'instance' &&
          (!perServer.some((c) => section(c) !== undefined) || moves.some((c) => !perServer.includes(c)))
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['alarms', i, 'scope'],
            message: `alarm "${alarm.name}" watches one server: it needs a ${perServer.join(' or ')} section and moves ${perServer.join(', ')} only`,
          });
        }
        moves.forEach((cap, j) => {
          if (section(cap) === undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['alarms', i, 'capabilities', j],
              message: `alarm "${alarm.name}" fails over "${cap}", but the service has no "${cap}" section`,
            });
          }
        });
      });
    });

  return z
    .strictObject({ controlPlane: controlPlaneSchema, services: z.array(service).min(1) })
    .superRefine((parsed, ctx) => {
      const config = parsed as unknown as { readonly services: readonly SharedServiceFields[] };
      const seen = new Set<string>();
      // Two owners for one name would fight over it every minute.
      const owners = new Map<string, string>();
      const typesAt = new Map<string, { type: string; owner: string }>();
      config.services.forEach((svc, i) => {
        if (seen.has(svc.name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['services', i, 'name'],
            message: `duplicate service name "${svc.name}"`,
          });
        }
        seen.add(svc.name);
        for (const module of modules) {
          const section = (svc as unknown as Record<string, unknown>)[module.name];
          if (section === undefined) continue;
          for (const owned of module.ownedNames?.(section) ?? []) {
            const key = `${owned.hostedZoneId} ${owned.name} ${owned.type}`;
            const path = ['services', i, module.name, ...owned.path];
            // DNS allows no other record beside a CNAME of the same name: Route 53 would refuse the write.
            const name = `${owned.hostedZoneId} ${owned.name.replace(/\.$/, '').toLowerCase()}`;
            const other = typesAt.get(name);
            if (other && other.type !== owned.type && (other.type === 'CNAME' || owned.type === 'CNAME')) {
              ctx.addIssue({
                code: 'custom',
                path,
                message: `${owned.name} is a ${other.type} record of ${other.owner}; a CNAME cannot share its name with any other record type`,
              });
            }
            typesAt.set(name, { type: owned.type, owner: path.slice(0, -1).join('.') });
            const owner = owners.get(key);
            if (owner !== undefined) {
              ctx.addIssue({
                code: 'custom',
                path,
                message: `${owned.name} ${owned.type} is already managed by ${owner}; one name, one owner`,
              });
            } else {
              owners.set(key, path.slice(0, -1).join('.'));
            }
          }
        }
      });
      // Each other Region with alarms gets a forwarding stack named `<stackName>-alarms-<region>`; past
      // CloudFormation's 128 characters CDK would silently deploy it under a hashed name instead.
      const { controlPlane } = parsed as unknown as { controlPlane: { stackName: string; region: string } };
      const remote = new Set(
        config.services.flatMap((svc) => svc.alarms.map((a) => a.region ?? controlPlane.region)),
      );
      remote.delete(controlPlane.region);
      const longest = [...remote]
        .map((region) => `${controlPlane.stackName}-alarms-${region}`)
        .sort((a, b) => b.length - a.length)[0];
      if (longest !== undefined && longest.length > STACK_NAME_LIMIT) {
        ctx.addIssue({
          code: 'custom',
          path: ['controlPlane', 'stackName'],
          message: `is ${controlPlane.stackName.length} characters: the alarm-forwarding stack "${longest}" would be ${longest.length}, over CloudFormation's ${STACK_NAME_LIMIT}; use at most ${controlPlane.stackName.length - (longest.length - STACK_NAME_LIMIT)}`,
        });
      }
      for (const module of modules) {
        for (const issue of module.configIssues?.(parsed as never) ?? []) {
          ctx.addIssue({ code: 'custom', path: [...issue.path], message: issue.message });
        }
      }
    });
};

/** The config schema over the registry, built on first use (Lambda functions never build it). */
export const configSchema = z.lazy(() => buildConfigSchema(CAPABILITY_MODULES));
export const CAPABILITIES: readonly CapabilityName[] = CAPABILITY_MODULES.map((m) => m.name);

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ServiceConfig = Config['services'][number];
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
export const parseConfig = (input: unknown, source = 'config', schema: z.ZodType = configSchema): Config => {
  const result = schema.safeParse(input);
  if (result.success) return result.data as Config;
  // One wording everywhere (cdk synth, CLI, Lambda cold start): functions/config/issues.ts.
  const issues = formatIssues(result.error.issues, input, schema);
  throw new ConfigError(`Invalid ${source}:\n  - ${issues.join('\n  - ')}`, issues);
};

/** The Region an alarm lives in: its own `region`, or the control plane's. */
export const alarmRegionOf = (
  config: Pick<Config, 'controlPlane'>,
  alarm: { readonly region?: string | undefined },
): string => alarm.region ?? config.controlPlane.region;

/** The capabilities a service configures, in a stable order. */
export const capabilitiesOf = (
  svc: ServiceConfig,
  modules: readonly CapabilityModule[] = CAPABILITY_MODULES,
): CapabilityName[] =>
  modules
    .map((m) => m.name as CapabilityName)
    .filter((c) => (svc as Record<string, unknown>)[c] !== undefined);
