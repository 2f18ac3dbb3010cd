import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  type MetricAlarm,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  type HealthCheck,
  ListHealthChecksCommand,
  ListTagsForResourcesCommand,
  Route53Client,
  type RRType,
} from '@aws-sdk/client-route-53';
import type { Config, ServiceConfig } from '../../config/schema';
import type { Clock } from '../../core/clock';
import { classifyAwsError } from '../../core/errors';
import type { CapabilityStatus, Site } from '../../core/types';
import type { ActionResult, Capability } from '../../engine/capability';
import type { CapabilityContext } from '../../engine/module';
import type { CapabilityReadiness, ReadinessInput } from '../../readiness/finding';
import { changeRecordSets, readChange } from '../../runtime/route53-change';
import type { ListedRecordSet, RunScope } from '../../runtime/run-scope';
import { canonicalName, zoneRecordsReader } from '../../runtime/zone-records';
import { HEALTH_METRIC_REGION, type HealthReader, healthReader } from './health';
import {
  type DnsAction,
  type DnsObserved,
  divergedRecords,
  healthChecksToVerify,
  type PublishSwitchAction,
  planDns,
  type RecordSet,
  recordKey,
  SWITCH_PUBLISHED,
  type SwitchObserved,
  switchChecksToVerify,
  switchedRecordsToWrite,
  switchNeedsFlip,
} from './planner';
import { assessDns, readinessHealthChecks } from './readiness';
// The switch's names and tags, as the stack creates them (one place for both sides).
import * as switchContract from './switch';

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
  /**
   * For `routing: 'switched'` records: the config (the switch's names derive from the stack name) and
   * CloudWatch in the control plane's own Region, where the switch is read and flipped.
   */
  readonly switches?: {
    readonly config: Config;
    readonly cloudwatch: CloudWatchClient;
  };
}

/** ListTagsForResources takes at most 10 ids per call. */
const TAG_IDS_PER_CALL = 10;
/** How long the ids of a service's calculated switch checks are believed without looking again. */
export const SWITCH_CHECKS_TTL_MS = 60 * 60_000;
/** DescribeAlarms takes at most 100 alarm names per call. */
export const ALARM_NAMES_PER_CALL = 100;

/**
 * Every switch alarm of the config, read once per run in calls of 100 names: the scheduled run
 * reconciles services one after another, so the first service's read fetches them all and the others
 * share it (one DescribeAlarms per run for up to 100 switched services).
 */
const readSwitchAlarms = async (
  cloudwatch: CloudWatchClient,
  config: Config,
): Promise<Map<string, MetricAlarm>> => {
  const names = [
    ...new Set(
      config.services
        .filter((svc) => switchContract.switchedRecordsOf(svc).length > 0)
        .map((svc) => switchContract.switchAlarmName(config, svc)),
    ),
  ];
  const found = new Map<string, MetricAlarm>();
  for (let i = 0; i < names.length; i += ALARM_NAMES_PER_CALL) {
    let token: string | undefined;
    do {
      const out = await cloudwatch.send(
        new DescribeAlarmsCommand({
          AlarmNames: names.slice(i, i + ALARM_NAMES_PER_CALL),
          MaxRecords: ALARM_NAMES_PER_CALL,
          NextToken: token,
        }),
      );
      for (const alarm of out.MetricAlarms ?? []) if (alarm.AlarmName) found.set(alarm.AlarmName, alarm);
      token = out.NextToken;
    } while (token);
  }
  return found;
};

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

/** The DNS capability: Route 53 reads and writes around the pure planner. */
export const dnsCapability = (
  route53: Route53Client,
  clock: Clock,
  options: DnsCapabilityOptions = { verifyAttempts: 10, verifyIntervalMs: 3_000 },
  reads: DnsReads = {},
): Capability<DnsObserved, DnsAction> => {
  const newHealthReader = () => healthReader(route53, reads.cloudwatch, clock);
  /** Calculated switch check ids found, by service, and when: kept for SWITCH_CHECKS_TTL_MS. */
  const foundChecks = new Map<
    string,
    { readonly at: number; readonly checks: Readonly<Record<string, string>> }
  >();
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

  /** The switch's position from its alarm (in the control plane's Region); never throws. */
  const readSwitch = async (
    service: ServiceConfig,
    run: Pick<RunScope, 'shared'>,
  ): Promise<SwitchObserved> => {
    const switches = reads.switches;
    const config = switches?.config ?? {
      controlPlane: { stackName: 'understudy' } as Config['controlPlane'],
    };
    const names = {
      namespace: switchContract.switchNamespace(config),
      alarmName: switchContract.switchAlarmName(config, service),
    };
    if (!switches) {
      return {
        ...names,
        state: 'unreadable',
        detail: 'this control plane has no CloudWatch client for switches',
      };
    }
    try {
      const alarms = await run.shared('dns.switchAlarms', () =>
        readSwitchAlarms(switches.cloudwatch, switches.config),
      );
      const alarm = alarms.get(names.alarmName);
      if (!alarm)
        return { ...names, state: 'missing', detail: `the switch alarm ${names.alarmName} does not exist` };
      const at = alarm.StateUpdatedTimestamp
        ? ` since ${new Date(alarm.StateUpdatedTimestamp).toISOString()}`
        : '';
      switch (alarm.StateValue) {
        case 'OK':
          return {
            ...names,
            state: 'primary',
            detail: `alarm ${names.alarmName} is OK${at}: the primary may serve`,
          };
        case 'ALARM':
          return {
            ...names,
            state: 'standby',
            detail: `alarm ${names.alarmName} is ALARM${at}: the standby serves`,
          };
        default:
          return {
            ...names,
            state: 'insufficient-data',
            detail: `alarm ${names.alarmName} has no data${at}; Route 53 keeps its last known status`,
          };
      }
    } catch (error) {
      return {
        ...names,
        state: 'unreadable',
        detail: `the switch alarm ${names.alarmName} could not be read: ${classifyAwsError('CloudWatch DescribeAlarms', error).message}`,
      };
    }
  };

  /** Every health check of the account, listed once per run (only when a switched record must be written). */
  const listHealthChecks = async (): Promise<HealthCheck[]> => {
    const checks: HealthCheck[] = [];
    let marker: string | undefined;
    do {
      const out = await call('ListHealthChecks', () =>
        route53.send(new ListHealthChecksCommand({ Marker: marker, MaxItems: 1000 })),
      );
      checks.push(...(out.HealthChecks ?? []));
      marker = out.IsTruncated ? out.NextMarker : undefined;
    } while (marker);
    return checks;
  };

  /**
   * The calculated switch check of each primary-site check of the service: a CALCULATED health check
   * with that site check among its children and the stack's tag for this service.
   */
  const findSwitchChecks = async (
    service: ServiceConfig,
    run: Pick<RunScope, 'shared'>,
  ): Promise<Pick<SwitchObserved, 'checks' | 'checksError'>> => {
    const config = reads.switches?.config;
    if (!config) return { checksError: 'this control plane has no switch configuration' };
    try {
      const all = await run.shared('dns.healthChecks', listHealthChecks);
      const sites = switchContract.switchedSiteChecksOf(service);
      const candidates = all.filter(
        (c) =>
          c.HealthCheckConfig?.Type === 'CALCULATED' &&
          (c.HealthCheckConfig.ChildHealthChecks ?? []).some((child) => sites.includes(child)),
      );
      const tagged = new Set<string>();
      for (let i = 0; i < candidates.length; i += TAG_IDS_PER_CALL) {
        const ids = candidates.slice(i, i + TAG_IDS_PER_CALL).flatMap((c) => (c.Id ? [c.Id] : []));
        const out = await call('ListTagsForResources', () =>
          route53.send(new ListTagsForResourcesCommand({ ResourceType: 'healthcheck', ResourceIds: ids })),
        );
        for (const set of out.ResourceTagSets ?? []) {
          const value = set.Tags?.find((t) => t.Key === switchContract.SWITCH_TAG)?.Value;
          if (set.ResourceId && value === switchContract.switchTagValue(config, service))
            tagged.add(set.ResourceId);
        }
      }
      const checks: Record<string, string> = {};
      for (const site of sites) {
        const found = candidates.find(
          (c) => c.Id && tagged.has(c.Id) && c.HealthCheckConfig?.ChildHealthChecks?.includes(site),
        );
        if (found?.Id) checks[site] = found.Id;
      }
      return { checks };
    } catch (error) {
      return { checksError: classifyAwsError('Route 53 health check lookup', error).message };
    }
  };

  const publishSwitch = async (action: PublishSwitchAction): Promise<ActionResult> => {
    if (!reads.switches) throw new Error('this control plane has no CloudWatch client for switches');
    // No Timestamp: CloudWatch stamps the datapoint when it receives it, so the alarm sees it now.
    await reads.switches.cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: action.params.Namespace,
        MetricData: action.params.MetricData.map((d) => ({
          ...d,
          Dimensions: d.Dimensions.map((x) => ({ ...x })),
        })),
      }),
    );
    const { alarmName, site } = action.switch;
    return {
      verified: false,
      detail: `switch set to the ${site} (${action.params.MetricData[0]?.MetricName} = ${action.params.MetricData[0]?.Value}); waiting for alarm ${alarmName} to show it`,
      pending: { [SWITCH_PUBLISHED]: site, [`${SWITCH_PUBLISHED}At`]: clock.now().toISOString() },
    };
  };

  return {
    name: 'dns',

    async observe(
      service: ServiceConfig,
      target: Site,
      status: CapabilityStatus | undefined,
    ): Promise<DnsObserved> {
      const run = scope();
      // One health reader for this observe: the run's, shared by every service of the run.
      const reader = run.shared<HealthReader>('dns.health', newHealthReader);
      // A move just asked for (the last status was for the other side): the target's health is asked
      // for beside the records, not after them (the alarm path waits one round trip instead of two);
      // the reads below then share these requests.
      if (status?.active !== undefined && status.active !== target) {
        const early = (service.dns?.records ?? []).flatMap((r) => r[target].healthCheckId ?? []);
        if (early.length > 0) reader.read(early).catch(() => undefined); // asked again below if it fails
      }
      const switched = switchContract.switchedRecordsOf(service).length > 0;
      let records: Record<string, RecordSet[]> = {};
      let recordsUnreadable: string | undefined;
      try {
        records = await readRecords(service, run);
      } catch (error) {
        // Route 53's API down: a switched service can still be switched, which needs no record.
        if (!switched) throw error;
        recordsUnreadable = classifyAwsError('Route 53 ListResourceRecordSets', error).message;
      }
      let sw: SwitchObserved | undefined;
      if (switched) {
        sw = await readSwitch(service, run);
        // The check ids are looked up in Route 53 when a switched record must be written, and otherwise
        // at most once per SWITCH_CHECKS_TTL_MS, so a record left pointing at a check the stack replaced
        // is noticed. A failed lookup is no reason not to switch: the written check is then adopted.
        const known = foundChecks.get(service.name);
        const now = clock.now().getTime();
        if (
          recordsUnreadable === undefined &&
          (switchedRecordsToWrite(service, records).length > 0 ||
            !known ||
            now - known.at >= SWITCH_CHECKS_TTL_MS)
        ) {
          const found = await findSwitchChecks(service, run);
          if (found.checks) foundChecks.set(service.name, { at: now, checks: found.checks });
          sw = { ...sw, ...found };
        } else if (known) {
          sw = { ...sw, checks: known.checks };
        }
      }
      if (recordsUnreadable !== undefined) {
        // Only the switch can move: its gate is the target check of every switched record.
        const flip = switchNeedsFlip(service, target, { records, health: {}, switch: sw });
        const ids = switchContract
          .switchedRecordsOf(service)
          .flatMap((r) => (r[target].healthCheckId ? [r[target].healthCheckId] : []));
        const health = flip ? await reader.read(ids) : {};
        return { records, health, recordsUnreadable, ...(sw && { switch: sw }) };
      }
      const moves =
        switched &&
        (switchNeedsFlip(service, target, { records, health: {}, switch: sw }) ||
          switchedRecordsToWrite(service, records, sw?.checks).length > 0);
      // Health is read only when traffic would move (an idle, converged run reads no health), in
      // batches shared by the run.
      const health =
        divergedRecords(service, target, records).length > 0 || moves
          ? await reader.read([
              ...healthChecksToVerify(service, target, records),
              ...(moves ? switchChecksToVerify(service, target, records) : []),
            ])
          : {};
      const changeId = status?.pending?.changeId;
      const pendingChange = changeId ? { id: changeId, status: await readChangeOf(changeId) } : undefined;
      return { records, health, pendingChange, ...(sw && { switch: sw }) };
    },

    plan: planDns,

    async execute(action: DnsAction): Promise<ActionResult> {
      if (action.api === 'cloudwatch:PutMetricData') return publishSwitch(action);
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
      // Later reads of this run must see the write: an accepted one is applied to the run's copy of the
      // zone, one whose outcome is unknown makes the next read list the zone again.
      const zone = () => reads.run?.().zoneRecords;
      const { changeId, status } = await write.catch((error: unknown) => {
        zone()?.forget(action.params.HostedZoneId);
        throw error;
      });
      zone()?.written(action.params.HostedZoneId, action.params.ChangeBatch.Changes);
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
export const createDnsCapability = ({ config, clients, clock, changeVerify, run }: CapabilityContext) =>
  dnsCapability(clients.client(Route53Client), clock, changeVerify, {
    run,
    cloudwatch: clients.client(CloudWatchClient, HEALTH_METRIC_REGION),
    // The switch lives in the control plane's own Region: flipping it needs nothing from us-east-1.
    switches: { config, cloudwatch: clients.client(CloudWatchClient) },
  });

/** DNS readiness (functions/readiness/): the health checks of the sides a move would go to. */
export const dnsReadiness = async (
  { config, clients, clock }: CapabilityContext,
  service: ServiceConfig,
  input: ReadinessInput,
): Promise<CapabilityReadiness> => {
  const ids = readinessHealthChecks(service, input.active);
  const reader = healthReader(
    clients.client(Route53Client),
    clients.client(CloudWatchClient, HEALTH_METRIC_REGION),
    clock,
  );
  const health = ids.length > 0 ? await reader.read(ids) : {};
  return assessDns(service, health, input, config);
};
