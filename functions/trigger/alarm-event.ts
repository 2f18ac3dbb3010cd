import * as z from 'zod';
import { CAPABILITY_MODULES } from '../capabilities/registry';
import {
  alarmRegionOf,
  type CapabilityName,
  type Config,
  capabilitiesOf,
  type ServiceConfig,
} from '../config/schema';
import { eventTimeProblem } from '../core/event-time';
import { clip, MAX_ALARM_REASON } from '../core/text';
import type { CapabilityModule } from '../engine/module';

/** An ignored event's reason is logged only, but may quote the event: bounded all the same. */
const MAX_IGNORE_REASON = 2_048;

const alarmState = z.object({
  value: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
  reason: z.string().default(''),
  timestamp: z.string().optional(),
});

/**
 * The EventBridge envelope, as Powertools' parser defines it. Declared here rather than imported:
 * the parser's schemas import zod in a way esbuild cannot tree-shake (hundreds of kB per Lambda).
 */
const eventBridgeEnvelope = z.object({
  version: z.string(),
  id: z.string(),
  source: z.string(),
  account: z.string(),
  time: z.iso.datetime(),
  region: z.string(),
  resources: z.array(z.string()),
  'detail-type': z.string(),
  detail: z.unknown(),
  'replay-name': z.string().optional(),
});

/** EventBridge "CloudWatch Alarm State Change", as AWS emits it (only the fields we rely on). */
export const alarmStateChangeSchema = eventBridgeEnvelope.extend({
  source: z.literal('aws.cloudwatch'),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  detail: z.object({
    alarmName: z.string().min(1),
    state: alarmState,
    previousState: alarmState.optional(),
    /** The alarm's metric(s); a per-server alarm names its server in the InstanceId dimension. */
    configuration: z
      .object({
        metrics: z
          .array(
            z.object({
              metricStat: z
                .object({
                  metric: z.object({ dimensions: z.record(z.string(), z.string()).optional() }).optional(),
                })
                .optional(),
            }),
          )
          .optional(),
      })
      .optional(),
  }),
});

/** The one server a per-server alarm watches: the InstanceId dimension of its metric(s), if exactly one. */
export const alarmInstanceId = (event: AlarmStateChange): string | undefined => {
  const ids = new Set(
    (event.detail.configuration?.metrics ?? [])
      .map((m) => m.metricStat?.metric?.dimensions?.InstanceId)
      .filter((id): id is string => typeof id === 'string' && /^i-[0-9a-f]{8,17}$/.test(id)),
  );
  return ids.size === 1 ? [...ids][0] : undefined;
};

export type AlarmStateChange = z.infer<typeof alarmStateChangeSchema>;

/** What the trigger makes of one event, before it touches any state. Pure. */
export type AlarmVerdict =
  | { readonly kind: 'ignore'; readonly reason: string; readonly service?: string | undefined }
  | ServiceAlarmVerdict;

/** What an alarm's state means for one service it protects. */
export interface ServiceAlarmVerdict {
  readonly kind: 'alarm' | 'recovered' | 'insufficient-data';
  readonly service: ServiceConfig;
  readonly capabilities: CapabilityName[];
  readonly alarmName: string;
  readonly reason: string;
  /** Set for a per-server alarm (scope "instance"): the one server to replace with a spare. */
  readonly instanceId?: string | undefined;
}

/**
 * Decides, per protected service, what an event means. Anything we do not recognise is ignored
 * with a reason: an unknown or malformed event is never acted on.
 */
export const classifyAlarmEvent = (
  raw: unknown,
  config: Config,
  now: Date,
  modules: readonly CapabilityModule[] = CAPABILITY_MODULES,
): AlarmVerdict[] =>
  classify(raw, config, now, modules).map((v) =>
    v.kind === 'ignore' ? { ...v, reason: clip(v.reason, MAX_IGNORE_REASON) } : v,
  );

const classify = (
  raw: unknown,
  config: Config,
  now: Date,
  modules: readonly CapabilityModule[],
): AlarmVerdict[] => {
  const parsed = alarmStateChangeSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
      .join('; ');
    return [{ kind: 'ignore', reason: `not a CloudWatch alarm state change event: ${issues}` }];
  }
  const event = parsed.data;
  const { account, region, maxEventAgeSeconds } = config.controlPlane;
  if (event.account !== account) {
    return [
      {
        kind: 'ignore',
        reason: `event from ${event.account}/${event.region}, but this control plane watches ${account}/${region}`,
      },
    ];
  }
  // An alarm is identified by its name and its Region: the same name may exist in several Regions,
  // and only the configured one speaks for a service.
  const { alarmName, state } = event.detail;
  const regions = [
    ...new Set(
      config.services.flatMap((svc) =>
        svc.alarms.filter((a) => a.name === alarmName).map((a) => alarmRegionOf(config, a)),
      ),
    ),
  ].sort();
  if (regions.length > 0 && !regions.includes(event.region)) {
    return [
      {
        kind: 'ignore',
        reason: `event from ${event.account}/${event.region}, but alarm ${alarmName} is configured in ${regions.join(', ')} only`,
      },
    ];
  }
  const untimely = eventTimeProblem(event.time, now, maxEventAgeSeconds);
  if (untimely) return [{ kind: 'ignore', reason: `alarm ${alarmName}: ${untimely}` }];

  const verdicts: AlarmVerdict[] = [];
  for (const service of config.services) {
    const triggers = service.alarms.filter(
      (a) => a.name === alarmName && alarmRegionOf(config, a) === event.region,
    );
    if (triggers.length === 0) continue;
    const capabilities = [
      ...new Set(triggers.flatMap((t) => t.capabilities ?? capabilitiesOf(service, modules))),
    ] as CapabilityName[];
    // CloudWatch caps a reason at 1,023 characters; a forged event need not, and the reason ends up
    // in the desired state, the audit log and Slack (a DynamoDB item holds at most 400 KB).
    const stateReason = clip(state.reason, MAX_ALARM_REASON);
    const reason = `alarm ${alarmName} is ${state.value}${stateReason ? `: ${stateReason}` : ''}`;
    const kind = state.value === 'ALARM' ? 'alarm' : state.value === 'OK' ? 'recovered' : 'insufficient-data';
    if (triggers.every((t) => t.scope === 'instance')) {
      const instanceId = alarmInstanceId(event);
      // The capability whose per-server alarms replace one server (the schema allows no other here).
      const perServer = modules.find(
        (m) => m.alarms?.perServer && (service as Record<string, unknown>)[m.name] !== undefined,
      );
      const known =
        instanceId === undefined ? undefined : perServer?.alarms?.perServer?.isServer(service, instanceId);
      if (perServer === undefined || instanceId === undefined || known === false) {
        verdicts.push({
          kind: 'ignore',
          service: service.name,
          reason:
            instanceId === undefined
              ? `per-server alarm ${alarmName} names no single InstanceId dimension: cannot tell which server to replace`
              : `per-server alarm ${alarmName} watches ${instanceId}, which is not a server of ${service.name}`,
        });
        continue;
      }
      verdicts.push({
        kind,
        service,
        capabilities: [perServer.name as CapabilityName],
        alarmName,
        reason,
        instanceId,
      });
      continue;
    }
    verdicts.push({ kind, service, capabilities, alarmName, reason });
  }
  if (verdicts.length === 0) {
    return [{ kind: 'ignore', reason: `alarm ${alarmName} protects no configured service` }];
  }
  return verdicts;
};
