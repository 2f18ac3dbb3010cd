import {
  GetHealthCheckStatusCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
  type RRType,
} from '@aws-sdk/client-route-53';
import type { ServiceConfig } from '../../config/schema';
import type { Clock } from '../../core/clock';
import { classifyAwsError } from '../../core/errors';
import type { CapabilityStatus, Site } from '../../core/types';
import type { ActionResult, Capability } from '../../engine/capability';
import type { CapabilityContext } from '../../engine/module';
import { changeRecordSets, readChange } from '../../runtime/route53-change';
import {
  type ChangeRecordSetsAction,
  type DnsObserved,
  divergedRecords,
  type HealthCheckVerdict,
  healthChecksToVerify,
  planDns,
  type RecordSet,
  recordKey,
} from './planner';

export interface DnsCapabilityOptions {
  /** How long one run waits for Route 53 to report INSYNC before leaving it to the next run. */
  readonly verifyAttempts: number;
  readonly verifyIntervalMs: number;
}

const normalizeName = (name: string) => (name.endsWith('.') ? name : `${name}.`).toLowerCase();

/** Route 53 escapes some characters (e.g. `*` as \052) in names it returns. */
const unescapeName = (name: string) =>
  name.replace(/\\(\d{3})/g, (_m, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));

const fromRoute53 = (set: ResourceRecordSet): RecordSet => ({
  name: normalizeName(unescapeName(set.Name ?? '')),
  type: set.Type ?? '',
  setIdentifier: set.SetIdentifier,
  weight: set.Weight,
  ttl: set.TTL,
  values: set.ResourceRecords?.map((r) => r.Value ?? ''),
  aliasTarget: set.AliasTarget
    ? {
        dnsName: normalizeName(set.AliasTarget.DNSName ?? ''),
        hostedZoneId: set.AliasTarget.HostedZoneId ?? '',
        evaluateTargetHealth: set.AliasTarget.EvaluateTargetHealth ?? false,
      }
    : undefined,
  healthCheckId: set.HealthCheckId,
});

/**
 * Route 53 reports one observation per health checker; it treats the endpoint as healthy when more
 * than 18% of checkers do. We use the same rule so our gate agrees with Route 53's own failover.
 */
export const healthFromObservations = (statuses: readonly (string | undefined)[]): HealthCheckVerdict => {
  if (statuses.length === 0) return { healthy: false, detail: 'no health checker has reported yet' };
  const ok = statuses.filter((s) => s?.startsWith('Success')).length;
  const healthy = ok / statuses.length > 0.18;
  const sample = statuses.find((s) => (healthy ? s?.startsWith('Success') : !s?.startsWith('Success')));
  return {
    healthy,
    detail: `${ok}/${statuses.length} checkers report success${sample ? `; e.g. "${sample}"` : ''}`,
  };
};

/** The DNS capability: Route 53 reads and writes around the pure planner. */
export const dnsCapability = (
  route53: Route53Client,
  clock: Clock,
  options: DnsCapabilityOptions = { verifyAttempts: 10, verifyIntervalMs: 3_000 },
): Capability<DnsObserved, ChangeRecordSetsAction> => {
  const call = async <T>(operation: string, send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      throw classifyAwsError(`Route 53 ${operation}`, error);
    }
  };

  const readRecords = async (service: ServiceConfig): Promise<Record<string, RecordSet[]>> => {
    const dns = service.dns;
    if (!dns) return {};
    const records: Record<string, RecordSet[]> = {};
    // Sequential on purpose: Route 53 allows 5 requests per second per account, shared with everyone.
    for (const record of dns.records) {
      const out = await call('ListResourceRecordSets', () =>
        route53.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: dns.hostedZoneId,
            StartRecordName: record.name,
            StartRecordType: record.type,
            MaxItems: 20,
          }),
        ),
      );
      records[recordKey(record)] = (out.ResourceRecordSets ?? [])
        .map(fromRoute53)
        .filter((set) => set.name === record.name && set.type === record.type);
    }
    return records;
  };

  const readHealth = async (ids: readonly string[]): Promise<Record<string, HealthCheckVerdict>> => {
    const health: Record<string, HealthCheckVerdict> = {};
    for (const id of ids) {
      const out = await call('GetHealthCheckStatus', () =>
        route53.send(new GetHealthCheckStatusCommand({ HealthCheckId: id })),
      );
      health[id] = healthFromObservations(
        (out.HealthCheckObservations ?? []).map((o) => o.StatusReport?.Status),
      );
    }
    return health;
  };

  const readChangeOf = (id: string) => call('GetChange', () => readChange(route53, id));

  return {
    name: 'dns',

    async observe(
      service: ServiceConfig,
      target: Site,
      status: CapabilityStatus | undefined,
    ): Promise<DnsObserved> {
      const records = await readRecords(service);
      // Health is read only when traffic would move: an idle, converged run costs one read per record.
      const health =
        divergedRecords(service, target, records).length > 0
          ? await readHealth(healthChecksToVerify(service, target, records))
          : {};
      const changeId = status?.pending?.changeId;
      const pendingChange = changeId ? { id: changeId, status: await readChangeOf(changeId) } : undefined;
      return { records, health, pendingChange };
    },

    plan: planDns,

    async execute(action: ChangeRecordSetsAction): Promise<ActionResult> {
      const { changeId, status } = await call('ChangeResourceRecordSets', () =>
        changeRecordSets(
          route53,
          clock,
          {
            hostedZoneId: action.params.HostedZoneId,
            comment: action.params.ChangeBatch.Comment,
            changes: action.params.ChangeBatch.Changes.map((c) => ({
              Action: c.Action,
              ResourceRecordSet: {
                ...c.ResourceRecordSet,
                // The config schema admits only A, AAAA and CNAME.
                Type: c.ResourceRecordSet.Type as RRType,
                ResourceRecords: c.ResourceRecordSet.ResourceRecords?.map((r) => ({ ...r })),
              },
            })),
          },
          options,
        ),
      );
      const changes = action.params.ChangeBatch.Changes.length;
      return status === 'INSYNC'
        ? { verified: true, detail: `${changes} record set(s) written; change ${changeId} is INSYNC` }
        : {
            verified: false,
            detail: `${changes} record set(s) written; change ${changeId} still PENDING, verifying on the next run`,
            pending: { changeId },
          };
    },
  };
};

/** The DNS capability on the container's clients; loaded only when a function reconciles DNS. */
export const createDnsCapability = ({ clients, clock, changeVerify }: CapabilityContext) =>
  dnsCapability(clients.client(Route53Client), clock, changeVerify);
