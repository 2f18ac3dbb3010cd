import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { Route53Client, type RRType } from '@aws-sdk/client-route-53';
import type { ServiceConfig } from '../../config/schema';
import type { Clock } from '../../core/clock';
import { classifyAwsError } from '../../core/errors';
import type { CapabilityStatus, Site } from '../../core/types';
import type { ActionResult, Capability } from '../../engine/capability';
import type { CapabilityContext } from '../../engine/module';
import { changeRecordSets, readChange } from '../../runtime/route53-change';
import type { ListedRecordSet, RunScope } from '../../runtime/run-scope';
import { canonicalName, zoneRecordsReader } from '../../runtime/zone-records';
import { HEALTH_METRIC_REGION, type HealthReader, healthReader } from './health';
import {
  type ChangeRecordSetsAction,
  type DnsObserved,
  divergedRecords,
  healthChecksToVerify,
  planDns,
  type RecordSet,
  recordKey,
} from './planner';

export { healthFromObservations } from './health';

export interface DnsCapabilityOptions {
  /** How long one run waits for Route 53 to report INSYNC before leaving it to the next run. */
  readonly verifyAttempts: number;
  readonly verifyIntervalMs: number;
}

/** What the DNS capability reads through, beyond its Route 53 client. */
export interface DnsReads {
  /**
   * The run's shared reads: each hosted zone read once per run, for every service in it.
   * Default: a scope of one observe (one read per zone per service).
   */
  readonly run?: () => Pick<RunScope, 'zoneRecords' | 'shared'>;
  /**
   * CloudWatch in us-east-1, for the `AWS/Route53 HealthCheckStatus` metric read in batches.
   * Default: none; every health check is asked directly (GetHealthCheckStatus).
   */
  readonly cloudwatch?: CloudWatchClient;
}

const fromRoute53 = (set: ListedRecordSet): RecordSet => ({
  name: canonicalName(set.Name ?? ''),
  type: set.Type ?? '',
  setIdentifier: set.SetIdentifier,
  weight: set.Weight,
  ttl: set.TTL,
  values: set.ResourceRecords?.map((r) => r.Value ?? ''),
  aliasTarget: set.AliasTarget
    ? {
        dnsName: canonicalName(set.AliasTarget.DNSName ?? ''),
        hostedZoneId: set.AliasTarget.HostedZoneId ?? '',
        evaluateTargetHealth: set.AliasTarget.EvaluateTargetHealth ?? false,
      }
    : undefined,
  healthCheckId: set.HealthCheckId,
});

/** The verdicts of the given checks only: the planner sees what it asked for. */
const pick = <T>(all: Readonly<Record<string, T>>, ids: readonly string[]): Record<string, T> =>
  Object.fromEntries(ids.flatMap((id) => (all[id] === undefined ? [] : [[id, all[id]]])));

/** The DNS capability: Route 53 reads and writes around the pure planner. */
export const dnsCapability = (
  route53: Route53Client,
  clock: Clock,
  options: DnsCapabilityOptions = { verifyAttempts: 10, verifyIntervalMs: 3_000 },
  reads: DnsReads = {},
): Capability<DnsObserved, ChangeRecordSetsAction> => {
  const newHealthReader = () => healthReader(route53, reads.cloudwatch, clock);
  /** The run's scope, or one of its own for this observe. */
  const scope = (): Pick<RunScope, 'zoneRecords' | 'shared'> =>
    reads.run?.() ?? {
      zoneRecords: zoneRecordsReader(async () => route53),
      shared: (_key, create) => create(),
    };

  const call = async <T>(operation: string, send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      throw classifyAwsError(`Route 53 ${operation}`, error);
    }
  };

  /** Every configured record's sets, from one read of the service's zone (shared by the run). */
  const readRecords = async (
    service: ServiceConfig,
    run: Pick<RunScope, 'zoneRecords'>,
  ): Promise<Record<string, RecordSet[]>> => {
    const dns = service.dns;
    if (!dns) return {};
    const found = await Promise.all(
      dns.records.map((record) =>
        call('ListResourceRecordSets', () =>
          run.zoneRecords.find(dns.hostedZoneId, record.name, record.type),
        ),
      ),
    );
    return Object.fromEntries(
      dns.records.map((record, i) => [recordKey(record), (found[i] ?? []).map(fromRoute53)]),
    );
  };

  const readChangeOf = (id: string) => call('GetChange', () => readChange(route53, id));

  return {
    name: 'dns',

    async observe(
      service: ServiceConfig,
      target: Site,
      status: CapabilityStatus | undefined,
    ): Promise<DnsObserved> {
      const run = scope();
      const health = () => run.shared<HealthReader>('dns.health', newHealthReader);
      // A move just asked for (the last status was for the other side): the target's health is read
      // beside the records, not after them, so the alarm path waits one round trip instead of two.
      const moving = status?.active !== undefined && status.active !== target;
      const configured = (service.dns?.records ?? []).flatMap((r) => r[target].healthCheckId ?? []);
      const early = moving && configured.length > 0 ? health().read(configured) : undefined;
      early?.catch(() => undefined); // read again below if needed; never an unhandled rejection
      const records = await readRecords(service, run);
      // Health is read only when traffic would move (an idle, converged run reads no health), in
      // batches shared by the run.
      const needed = divergedRecords(service, target, records).length > 0;
      const wanted = needed ? healthChecksToVerify(service, target, records) : [];
      const verdicts =
        wanted.length === 0
          ? {}
          : early && wanted.every((id) => configured.includes(id))
            ? pick(await early, wanted)
            : await health().read(wanted);
      const changeId = status?.pending?.changeId;
      const pendingChange = changeId ? { id: changeId, status: await readChangeOf(changeId) } : undefined;
      return { records, health: verdicts, pendingChange };
    },

    plan: planDns,

    async execute(action: ChangeRecordSetsAction): Promise<ActionResult> {
      const write = call('ChangeResourceRecordSets', () =>
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
      // Later reads of this run must see the write, even one that failed half-way.
      const { changeId, status } = await write.finally(() =>
        reads.run?.().zoneRecords.forget(action.params.HostedZoneId),
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
export const createDnsCapability = ({ clients, clock, changeVerify, run }: CapabilityContext) =>
  dnsCapability(clients.client(Route53Client), clock, changeVerify, {
    run,
    cloudwatch: clients.client(CloudWatchClient, HEALTH_METRIC_REGION),
  });
