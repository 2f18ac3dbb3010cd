import type { ServiceConfig } from '../../config/schema';
import { otherSite, type Site } from '../../core/types';
import type { CapabilityPlan, PlanInput, PlannedAction } from '../../engine/capability';
import type { DnsRecordConfig, RecordSide } from './config';
import {
  isSwitched,
  SWITCH_DIMENSION,
  SWITCH_METRIC,
  type SwitchedRecordConfig,
  switchedRecordsOf,
  switchValueFor,
} from './switch';

/** A Route 53 record set as observed or desired, in the planner's own terms (no SDK types). */
export interface RecordSet {
  readonly name: string;
  readonly type: string;
  readonly setIdentifier?: string | undefined;
  readonly weight?: number | undefined;
  readonly ttl?: number | undefined;
  readonly values?: readonly string[] | undefined;
  readonly aliasTarget?:
    | { readonly dnsName: string; readonly hostedZoneId: string; readonly evaluateTargetHealth: boolean }
    | undefined;
  readonly healthCheckId?: string | undefined;
}

export interface HealthCheckVerdict {
  readonly healthy: boolean;
  readonly detail: string;
}

export interface DnsObserved {
  /** Record sets found for each configured record, keyed by `recordKey`. */
  readonly records: Readonly<Record<string, readonly RecordSet[]>>;
  /** Health of the checks the planner asked about (only those of a site traffic would move to). */
  readonly health: Readonly<Record<string, HealthCheckVerdict>>;
  /** Status of the change made by an earlier run, if it was not yet verified. */
  readonly pendingChange?: { readonly id: string; readonly status: 'PENDING' | 'INSYNC' } | undefined;
  /** The service's switch, read only when it has `routing: 'switched'` records. */
  readonly switch?: SwitchObserved | undefined;
  /**
   * Why the record sets could not be read (Route 53's API failing), for a service with switched
   * records: its switch can still be flipped, since flipping it needs no record. Then `records` is empty.
   */
  readonly recordsUnreadable?: string | undefined;
}

/**
 * The switch as CloudWatch shows it (its alarm, in the control plane's Region), and the ids of its
 * calculated health checks. `insufficient-data`: the alarm has no datapoint yet (Route 53 keeps the
 * last known status, healthy for a new check); `unreadable`: the alarm could not be read; `missing`:
 * the stack has not created it.
 */
export interface SwitchObserved {
  readonly state: Site | 'insufficient-data' | 'unreadable' | 'missing';
  readonly detail: string;
  /** Where the switch lives: its metric's namespace and its alarm (functions/capabilities/dns/switch.ts). */
  readonly namespace: string;
  readonly alarmName: string;
  /**
   * The calculated switch health check of each primary-site check, when they were looked up (only if
   * a switched record must be written); `checksError` says why a lookup failed.
   */
  readonly checks?: Readonly<Record<string, string>> | undefined;
  readonly checksError?: string | undefined;
}

/** Flips the service's switch: one PutMetricData in the control plane's own Region (data plane). */
export interface PublishSwitchAction extends PlannedAction {
  readonly capability: 'dns';
  readonly api: 'cloudwatch:PutMetricData';
  readonly params: {
    readonly Namespace: string;
    readonly MetricData: readonly {
      readonly MetricName: string;
      readonly Dimensions: readonly { readonly Name: string; readonly Value: string }[];
      readonly Value: number;
      readonly Unit: 'None';
      readonly StorageResolution: 60;
    }[];
  };
  /** The alarm that will evaluate it, and the site it makes serve (for the result's detail). */
  readonly switch: { readonly alarmName: string; readonly site: Site };
}

export type DnsAction = ChangeRecordSetsAction | PublishSwitchAction;

/** The status bookkeeping of a published switch position, kept until the alarm shows it. */
export const SWITCH_PUBLISHED = 'switchPublished';
/** A published position the alarm does not show after this long is published again. */
export const SWITCH_REPUBLISH_MS = 5 * 60_000;

export interface ChangeRecordSetsAction extends PlannedAction {
  readonly capability: 'dns';
  readonly api: 'route53:ChangeResourceRecordSets';
  readonly params: {
    readonly HostedZoneId: string;
    readonly ChangeBatch: { readonly Comment: string; readonly Changes: readonly RecordChange[] };
  };
}

export interface RecordChange {
  readonly Action: 'UPSERT';
  readonly ResourceRecordSet: {
    readonly Name: string;
    readonly Type: string;
    readonly SetIdentifier?: string;
    readonly Weight?: number;
    readonly TTL?: number;
    readonly ResourceRecords?: readonly { readonly Value: string }[];
    readonly AliasTarget?: {
      readonly DNSName: string;
      readonly HostedZoneId: string;
      readonly EvaluateTargetHealth: boolean;
    };
    readonly HealthCheckId?: string;
  };
}

export const recordKey = (record: Pick<DnsRecordConfig, 'name' | 'type'>): string =>
  `${record.name} ${record.type}`;

export const setIdentifiersOf = (service: ServiceConfig, record: DnsRecordConfig): Record<Site, string> =>
  record.routing !== 'swap' && record.setIdentifiers
    ? record.setIdentifiers
    : { primary: `${service.name}-primary`, standby: `${service.name}-standby` };

/**
 * The record sets that express "`site` serves this name". A switched record's sets are the same
 * whatever the site (the switch moves traffic): the primary at weight 1 behind its calculated switch
 * check (`switchChecks`, by primary-site check; left out when unknown), the standby at weight 0
 * behind its own check.
 */
export const desiredRecordSets = (
  service: ServiceConfig,
  record: DnsRecordConfig,
  site: Site,
  switchChecks?: Readonly<Record<string, string>>,
): RecordSet[] => {
  const body = (side: RecordSide) =>
    side.aliasTarget
      ? { aliasTarget: { ...side.aliasTarget } }
      : { ttl: record.ttl, values: [...(side.values ?? [])] };
  if (record.routing === 'swap') {
    return [{ name: record.name, type: record.type, ...body(record[site]) }];
  }
  const ids = setIdentifiersOf(service, record);
  const switched = isSwitched(record);
  const serving: Site = switched ? 'primary' : site;
  const checkOf = (side: Site) =>
    switched && side === 'primary'
      ? switchChecks?.[record.primary.healthCheckId ?? '']
      : record[side].healthCheckId;
  return (['primary', 'standby'] as const).map((side) => ({
    name: record.name,
    type: record.type,
    setIdentifier: ids[side],
    weight: side === serving ? 1 : 0,
    healthCheckId: checkOf(side),
    ...body(record[side]),
  }));
};

const normalizeName = (name: string) => (name.endsWith('.') ? name : `${name}.`).toLowerCase();

const sameRecordSet = (a: RecordSet, b: RecordSet): boolean =>
  normalizeName(a.name) === normalizeName(b.name) &&
  a.type === b.type &&
  (a.setIdentifier ?? null) === (b.setIdentifier ?? null) &&
  (a.weight ?? null) === (b.weight ?? null) &&
  (a.healthCheckId ?? null) === (b.healthCheckId ?? null) &&
  (a.aliasTarget
    ? b.aliasTarget !== undefined &&
      normalizeName(a.aliasTarget.dnsName) === normalizeName(b.aliasTarget.dnsName) &&
      a.aliasTarget.hostedZoneId === b.aliasTarget.hostedZoneId &&
      a.aliasTarget.evaluateTargetHealth === b.aliasTarget.evaluateTargetHealth
    : b.aliasTarget === undefined &&
      (a.ttl ?? null) === (b.ttl ?? null) &&
      [...(a.values ?? [])].sort().join('\n') === [...(b.values ?? [])].sort().join('\n'));

/** True when every desired record set is there exactly as desired. */
export const recordConverged = (desired: readonly RecordSet[], observed: readonly RecordSet[]): boolean =>
  desired.every((d) =>
    observed.some((o) => (o.setIdentifier ?? null) === (d.setIdentifier ?? null) && sameRecordSet(o, d)),
  );

/** Same endpoint: the same alias target, or the same set of values. Weight, TTL and health check aside. */
const sameEndpoint = (a: RecordSet, b: RecordSet): boolean =>
  a.aliasTarget || b.aliasTarget
    ? a.aliasTarget !== undefined &&
      b.aliasTarget !== undefined &&
      normalizeName(a.aliasTarget.dnsName) === normalizeName(b.aliasTarget.dnsName) &&
      a.aliasTarget.hostedZoneId === b.aliasTarget.hostedZoneId
    : [...(a.values ?? [])].sort().join('\n') === [...(b.values ?? [])].sort().join('\n');

/**
 * Which site answers for a record now: for a weighted pair, the only side with a non-zero weight,
 * provided it still points where the config says; for a plain record, the side whose endpoint it
 * carries. Undefined when that is unclear (both or neither side live, missing, or drifted).
 */
export const servingSite = (
  service: ServiceConfig,
  record: DnsRecordConfig,
  observed: readonly RecordSet[],
): Site | undefined => {
  const sites = ['primary', 'standby'] as const;
  const wanted = (site: Site) => desiredRecordSets(service, record, site);
  if (record.routing === 'swap') {
    const [only] = observed;
    if (!only || observed.length !== 1) return undefined;
    return sites.find((site) => wanted(site).some((w) => sameEndpoint(only, w)));
  }
  const ids = setIdentifiersOf(service, record);
  const live = sites.filter((side) => (observed.find((o) => o.setIdentifier === ids[side])?.weight ?? 0) > 0);
  const [side] = live;
  if (!side || live.length !== 1) return undefined;
  const set = observed.find((o) => o.setIdentifier === ids[side]);
  const want = wanted(side).find((w) => w.setIdentifier === ids[side]);
  return set && want && sameEndpoint(set, want) ? side : undefined;
};

/** Weighted record sets on a managed name that are not ours and still take traffic. */
export const unmanagedLiveSets = (
  service: ServiceConfig,
  record: DnsRecordConfig,
  observed: readonly RecordSet[],
): RecordSet[] => {
  if (record.routing === 'swap') return [];
  const ids = Object.values(setIdentifiersOf(service, record));
  return observed.filter(
    (o) => o.setIdentifier !== undefined && !ids.includes(o.setIdentifier) && (o.weight ?? 0) > 0,
  );
};

/** Records moved by writing them (weighted, swap) whose observed state differs from what `target` needs. */
export const divergedRecords = (
  service: ServiceConfig,
  target: Site,
  records: Readonly<Record<string, readonly RecordSet[]>>,
): DnsRecordConfig[] =>
  (service.dns?.records ?? []).filter(
    (record) =>
      !isSwitched(record) &&
      !recordConverged(desiredRecordSets(service, record, target), records[recordKey(record)] ?? []),
  );

/**
 * True when a switched record is written as it should be: the standby exactly (weight 0, its own
 * check), the primary at weight 1 with its endpoint and behind its calculated switch check. When the
 * check ids were not looked up (the records looked right, so no Route 53 lookup was made), any check
 * on the primary other than its bare site check is taken as the switch check it was written with.
 */
export const switchedRecordInPlace = (
  service: ServiceConfig,
  record: SwitchedRecordConfig,
  observed: readonly RecordSet[],
  switchChecks?: Readonly<Record<string, string>>,
): boolean => {
  const ids = setIdentifiersOf(service, record);
  const [primary, standby] = desiredRecordSets(service, record, 'primary', switchChecks);
  if (!primary || !standby || !recordConverged([standby], observed)) return false;
  if (primary.healthCheckId !== undefined) return recordConverged([primary], observed);
  const found = observed.find((o) => o.setIdentifier === ids.primary);
  return (
    found !== undefined &&
    found.healthCheckId !== undefined &&
    found.healthCheckId !== record.primary.healthCheckId &&
    recordConverged([{ ...primary, healthCheckId: found.healthCheckId }], observed)
  );
};

/** The service's switched records that must be written (missing, drifted, or not behind the switch). */
export const switchedRecordsToWrite = (
  service: ServiceConfig,
  records: Readonly<Record<string, readonly RecordSet[]>>,
  switchChecks?: Readonly<Record<string, string>>,
): SwitchedRecordConfig[] =>
  switchedRecordsOf(service).filter(
    (record) => !switchedRecordInPlace(service, record, records[recordKey(record)] ?? [], switchChecks),
  );

/**
 * Health checks that must be healthy before the switch (or a switched record's repair) may send
 * traffic to `target`: the target side's own check of each switched record, except a record that
 * does not exist yet while the primary is the target (creating it moves no traffic).
 */
export const switchChecksToVerify = (
  service: ServiceConfig,
  target: Site,
  records: Readonly<Record<string, readonly RecordSet[]>>,
): string[] => [
  ...new Set(
    switchedRecordsOf(service).flatMap((record) => {
      if ((records[recordKey(record)] ?? []).length === 0 && target === 'primary') return [];
      const id = record[target].healthCheckId;
      return id === undefined ? [] : [id];
    }),
  ),
];

/** True when the service's switch does not (or may not) say `target` serves. */
export const switchNeedsFlip = (service: ServiceConfig, target: Site, observed: DnsObserved): boolean =>
  switchedRecordsOf(service).length > 0 && observed.switch?.state !== target;

/**
 * Health checks that must be healthy before traffic may move to `target`: those of the target
 * side of every diverged record that does not already serve from the target. A record that does not
 * exist yet and is being created on the primary needs no gate: creating it moves no traffic.
 */
export const healthChecksToVerify = (
  service: ServiceConfig,
  target: Site,
  records: Readonly<Record<string, readonly RecordSet[]>>,
): string[] => {
  const ids = new Set<string>();
  for (const record of divergedRecords(service, target, records)) {
    const observed = records[recordKey(record)] ?? [];
    if (observed.length === 0 && target === 'primary') continue;
    if (servingSite(service, record, observed) === target) continue;
    const id = record[target].healthCheckId;
    if (id) ids.add(id);
  }
  return [...ids];
};

const toChange = (set: RecordSet): RecordChange => ({
  Action: 'UPSERT',
  ResourceRecordSet: {
    Name: set.name,
    Type: set.type,
    ...(set.setIdentifier !== undefined && { SetIdentifier: set.setIdentifier, Weight: set.weight ?? 0 }),
    ...(set.aliasTarget
      ? {
          AliasTarget: {
            DNSName: set.aliasTarget.dnsName,
            HostedZoneId: set.aliasTarget.hostedZoneId,
            EvaluateTargetHealth: set.aliasTarget.evaluateTargetHealth,
          },
        }
      : { TTL: set.ttl ?? 60, ResourceRecords: (set.values ?? []).map((Value) => ({ Value })) }),
    ...(set.healthCheckId !== undefined && { HealthCheckId: set.healthCheckId }),
  },
});

/** The PutMetricData that sets the service's switch to `site`. */
export const publishSwitchAction = (
  service: ServiceConfig,
  where: Pick<SwitchObserved, 'namespace' | 'alarmName'>,
  site: Site,
  epoch: number,
  why: string,
): PublishSwitchAction => ({
  capability: 'dns',
  api: 'cloudwatch:PutMetricData',
  reason:
    `desired state (epoch ${epoch}) says the ${site} serves; ${why}. One data-plane call in the ` +
    `control plane's Region; Route 53 follows the switch's alarm, no record is edited.`,
  params: {
    Namespace: where.namespace,
    MetricData: [
      {
        MetricName: SWITCH_METRIC,
        Dimensions: [{ Name: SWITCH_DIMENSION, Value: service.name }],
        Value: switchValueFor(site, epoch),
        Unit: 'None',
        StorageResolution: 60,
      },
    ],
  },
  switch: { alarmName: where.alarmName, site },
});

/** True when the target's switch position was published recently: it is waited for, not published again. */
const publishedRecently = (input: PlanInput<DnsObserved>): boolean => {
  const published = input.status?.pending?.[SWITCH_PUBLISHED];
  const at = Date.parse(input.status?.pending?.[`${SWITCH_PUBLISHED}At`] ?? '');
  return published === input.target && input.now.getTime() - at < SWITCH_REPUBLISH_MS;
};

/** The wait while the switch's alarm has not yet shown a position just published. */
const evaluatingPlan = (input: PlanInput<DnsObserved>): CapabilityPlan<DnsAction> => ({
  kind: 'wait',
  code: 'switch-evaluating',
  detail:
    `the switch was set to the ${input.target} at ${input.status?.pending?.[`${SWITCH_PUBLISHED}At`]}; waiting for ` +
    `its alarm ${input.observed.switch?.alarmName} to evaluate it (standard resolution: about a minute), then Route 53's health checks follow`,
});

/**
 * When Route 53's API cannot even list the records: the switch alone, which needs no record. Nothing
 * is written to Route 53; every switched record's target check gates the flip (no record is known
 * to be missing, so none is exempt).
 */
const planSwitchOnly = (input: PlanInput<DnsObserved>, why: string): CapabilityPlan<DnsAction> => {
  const { service, target, epoch, observed } = input;
  const sw = observed.switch;
  const unread = `the record sets could not be read (${why})`;
  if (switchedRecordsOf(service).length === 0 || sw === undefined) {
    return { kind: 'refuse', detail: `will not act: ${unread}; checking again on every run` };
  }
  if (sw.state === target) {
    return {
      kind: 'wait',
      code: 'records-unreadable',
      detail: `the switch says the ${target} serves; ${unread}, so they are checked again on the next run`,
    };
  }
  if (sw.state === 'missing') {
    return {
      kind: 'refuse',
      code: 'switch-missing',
      detail: `will not route to the ${target}: ${sw.detail}`,
    };
  }
  const gated = [
    ...new Set(
      switchedRecordsOf(service).flatMap((r) => (r[target].healthCheckId ? [r[target].healthCheckId] : [])),
    ),
  ];
  const unready = gated.filter((id) => observed.health[id]?.healthy !== true);
  if (unready.length > 0) {
    return {
      kind: 'refuse',
      detail: `will not route to the ${target}: ${unready.map((id) => `health check ${id} is ${observed.health[id] ? 'unhealthy' : 'not known'}`).join('; ')}. Traffic stays where it is; checking again on every run`,
    };
  }
  if (publishedRecently(input)) return evaluatingPlan(input);
  const others = (service.dns?.records ?? []).filter((r) => !isSwitched(r)).length;
  return {
    kind: 'act',
    detail: `switch ${service.name} to the ${target} (${unread}${others > 0 ? `; its ${others} other record(s) are left as they are` : ''})`,
    actions: [publishSwitchAction(service, sw, target, epoch, `${unread}, but the switch needs none`)],
  };
};

/**
 * The DNS planner: desired site + what Route 53 (and, for switched records, the switch's alarm)
 * reports -> the writes that converge, or why it must wait or refuse. Pure; every safety rule for DNS
 * lives here.
 *
 * - Converged records make no write (idempotent; an idle run only reads).
 * - Readiness: traffic never moves to a site whose health check is not healthy.
 * - Never all-off: a weighted pair is always written whole, in one atomic batch, with exactly one
 *   side at weight 1; the zero-weight side still answers if every non-zero record turns unhealthy.
 *   A switched pair is always the primary at weight 1 and the standby at weight 0, never edited to
 *   fail over: the switch only vetoes the primary, so with the switch off the standby answers, and if
 *   the standby is unhealthy too Route 53 treats every record as healthy and answers the primary.
 */
export const planDns = (input: PlanInput<DnsObserved>): CapabilityPlan<DnsAction> => {
  const { service, target, epoch, observed } = input;
  const dns = service.dns;
  if (!dns) return { kind: 'converged', detail: 'no dns section configured' };

  if (observed.recordsUnreadable !== undefined) return planSwitchOnly(input, observed.recordsUnreadable);
  const sw = observed.switch;
  const switchChecks = sw?.checks;
  const diverged = divergedRecords(service, target, observed.records);
  const toWrite = switchedRecordsToWrite(service, observed.records, switchChecks);
  const flip = switchNeedsFlip(service, target, observed);
  if (diverged.length === 0 && toWrite.length === 0 && !flip) {
    if (observed.pendingChange?.status === 'PENDING') {
      return {
        kind: 'wait',
        detail: `change ${observed.pendingChange.id} is written but Route 53 has not propagated it yet (PENDING)`,
      };
    }
    return { kind: 'converged', detail: `all ${dns.records.length} record(s) answer with the ${target}` };
  }

  const strangers = dns.records.flatMap((record) =>
    unmanagedLiveSets(service, record, observed.records[recordKey(record)] ?? []).map(
      (set) => `${record.name} ${record.type} set "${set.setIdentifier}" (weight ${set.weight})`,
    ),
  );
  if (strangers.length > 0) {
    return {
      kind: 'refuse',
      detail:
        `will not route to the ${target}: record sets this control plane does not manage still take traffic ` +
        `(${strangers.join(', ')}), so flipping our pair would not move it. Remove them, or adopt them with setIdentifiers`,
    };
  }

  if ((flip || toWrite.length > 0) && sw === undefined) {
    return {
      kind: 'refuse',
      detail: 'the switch of the switched records was not read; checking again on every run',
    };
  }
  if ((flip || toWrite.length > 0) && sw?.state === 'missing') {
    return {
      kind: 'refuse',
      code: 'switch-missing',
      detail:
        `will not route to the ${target}: ${sw.detail}. The stack creates the switch (alarm and health checks) ` +
        `of every service with switched records: deploy it (cdk deploy), then the next run continues`,
    };
  }
  const unwired = toWrite.filter((r) => switchChecks?.[r.primary.healthCheckId ?? ''] === undefined);
  if (unwired.length > 0) {
    return {
      kind: 'refuse',
      code: 'switch-checks-unknown',
      detail:
        `will not write ${unwired.map((r) => `${r.name} ${r.type}`).join(', ')}: the switch's calculated health ` +
        `check is not known (${sw?.checksError ?? `no health check tagged for ${service.name} combines the primary's check with the switch`}). ` +
        'Deploy the stack, which creates it; traffic stays where it is',
    };
  }

  // The detail names the checks but not their live checker counts, so a refusal that persists is
  // reported once, not again every time the count of reporting checkers wobbles.
  const gated = [
    ...new Set([
      ...healthChecksToVerify(service, target, observed.records),
      ...(flip || toWrite.length > 0 ? switchChecksToVerify(service, target, observed.records) : []),
    ]),
  ];
  const unready = gated
    .map((id) => ({ id, verdict: observed.health[id] }))
    .filter((h) => h.verdict?.healthy !== true);
  if (unready.length > 0) {
    const why = unready
      .map((h) => `health check ${h.id} is ${h.verdict ? 'unhealthy' : 'not known'}`)
      .join('; ');
    return {
      kind: 'refuse',
      detail: `will not route to the ${target}: ${why}. Traffic stays where it is; checking again on every run`,
    };
  }

  const actions: DnsAction[] = [];
  const evaluating = flip && publishedRecently(input);
  if (flip && !evaluating && sw) {
    const why =
      sw.state === 'insufficient-data' || sw.state === 'unreadable'
        ? `the switch's position is not known (${sw.detail}), so it is published`
        : `the switch says the ${sw.state} serves`;
    // First: a data-plane call, so it is made even when Route 53's API refuses the record writes below.
    actions.push(publishSwitchAction(service, sw, target, epoch, why));
  }
  const changes = [
    ...diverged.flatMap((record) => desiredRecordSets(service, record, target).map(toChange)),
    ...toWrite.flatMap((record) => desiredRecordSets(service, record, target, switchChecks).map(toChange)),
  ];
  const written = [...diverged, ...toWrite];
  if (changes.length > 0) {
    actions.push({
      capability: 'dns',
      api: 'route53:ChangeResourceRecordSets',
      reason:
        `desired state (epoch ${epoch}) says the ${target} serves; ${written.length} record(s) still ` +
        `differ (serving the ${otherSite(target)}, drifted, or missing). One atomic batch upserts each whole pair.`,
      params: {
        HostedZoneId: dns.hostedZoneId,
        ChangeBatch: {
          Comment: `understudy ${service.name} epoch ${epoch}: ${target} serves`.slice(0, 256),
          Changes: changes,
        },
      },
    });
  }
  if (actions.length === 0) return evaluatingPlan(input);
  const names = written.map((r) => `${r.name} ${r.type}`).join(', ');
  const detail =
    flip && !evaluating
      ? `switch ${service.name} to the ${target}${written.length > 0 ? ` and write ${names}` : ''}`
      : `route ${names} to the ${target}`;
  return { kind: 'act', detail, actions };
};
