import type { ServiceConfig } from '../../config/schema';
import { otherSite, type Site } from '../../core/types';
import type { CapabilityPlan, PlanInput, PlannedAction } from '../../engine/capability';
import type { DnsRecordConfig, RecordSide } from './config';

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
}

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
  record.routing === 'weighted' && record.setIdentifiers
    ? record.setIdentifiers
    : { primary: `${service.name}-primary`, standby: `${service.name}-standby` };

/** The record sets that express "`site` serves this name". */
export const desiredRecordSets = (
  service: ServiceConfig,
  record: DnsRecordConfig,
  site: Site,
): RecordSet[] => {
  const body = (side: RecordSide) =>
    side.aliasTarget
      ? { aliasTarget: { ...side.aliasTarget } }
      : { ttl: record.ttl, values: [...(side.values ?? [])] };
  if (record.routing === 'swap') {
    return [{ name: record.name, type: record.type, ...body(record[site]) }];
  }
  const ids = setIdentifiersOf(service, record);
  return (['primary', 'standby'] as const).map((side) => ({
    name: record.name,
    type: record.type,
    setIdentifier: ids[side],
    weight: side === site ? 1 : 0,
    healthCheckId: record[side].healthCheckId,
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
  if (record.routing !== 'weighted') return [];
  const ids = Object.values(setIdentifiersOf(service, record));
  return observed.filter(
    (o) => o.setIdentifier !== undefined && !ids.includes(o.setIdentifier) && (o.weight ?? 0) > 0,
  );
};

/** Records whose observed state differs from what `target` needs. */
export const divergedRecords = (
  service: ServiceConfig,
  target: Site,
  records: Readonly<Record<string, readonly RecordSet[]>>,
): DnsRecordConfig[] =>
  (service.dns?.records ?? []).filter(
    (record) =>
      !recordConverged(desiredRecordSets(service, record, target), records[recordKey(record)] ?? []),
  );

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

/**
 * The DNS planner: desired site + what Route 53 reports -> the one change batch that converges, or
 * why it must wait or refuse. Pure; every safety rule for DNS lives here.
 *
 * - Converged records make no write (idempotent; an idle run only reads).
 * - Readiness: traffic never moves to a site whose health check is not healthy.
 * - Never all-off: a weighted pair is always written whole, in one atomic batch, with exactly one
 *   side at weight 1; the zero-weight side still answers if every non-zero record turns unhealthy.
 */
export const planDns = (input: PlanInput<DnsObserved>): CapabilityPlan<ChangeRecordSetsAction> => {
  const { service, target, epoch, observed } = input;
  const dns = service.dns;
  if (!dns) return { kind: 'converged', detail: 'no dns section configured' };

  const diverged = divergedRecords(service, target, observed.records);
  if (diverged.length === 0) {
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

  // The detail names the checks but not their live checker counts, so a refusal that persists is
  // reported once, not again every time the count of reporting checkers wobbles.
  const unready = healthChecksToVerify(service, target, observed.records)
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

  const changes = diverged.flatMap((record) => desiredRecordSets(service, record, target).map(toChange));
  const names = diverged.map((r) => `${r.name} ${r.type}`).join(', ');
  const leaving = otherSite(target);
  return {
    kind: 'act',
    detail: `route ${names} to the ${target}`,
    actions: [
      {
        capability: 'dns',
        api: 'route53:ChangeResourceRecordSets',
        reason:
          `desired state (epoch ${epoch}) says the ${target} serves; ${diverged.length} record(s) still ` +
          `differ (serving the ${leaving}, drifted, or missing). One atomic batch upserts each whole pair.`,
        params: {
          HostedZoneId: dns.hostedZoneId,
          ChangeBatch: {
            Comment: `understudy ${service.name} epoch ${epoch}: ${target} serves`.slice(0, 256),
            Changes: changes,
          },
        },
      },
    ],
  };
};
