/**
 * The Region-wide failure, on the local emulator: `services` services (two weighted records each,
 * in `zones` hosted zones) whose alarms all fire at once, handled by the production handlers as the
 * stack deploys them, simulated in one process:
 *
 * - the alarm function: ROUTE53_SHARES.alarm.concurrency containers (its reserved concurrency), each
 *   with its own client kit and Route 53 budget, taking the alarm events one at a time;
 * - the schedule: one tick per interval invokes the dispatcher, whose work items go to an in-process
 *   queue (SQS), from which ROUTE53_SHARES.worker.concurrency worker containers (the event source's
 *   maxConcurrency) take batches of WORKER_BATCH_SIZE;
 * - every AWS call waits a fixed latency (SDK middleware) after its Route 53 budget, and every
 *   Route 53 request is counted with its time, across all containers: the account's view.
 *
 * Phases: a warm-up dispatch (every service's first status), an idle dispatch (its Route 53
 * requests counted), then the failure: every alarm at t0, ticks at t0, t0 + interval, ...; at t0 +
 * `intervals` intervals nothing new starts, in-flight invocations finish, and each service's DNS
 * status says when it converged on the standby. `rateScale` multiplies every Route 53 rate (the
 * tests run a 100-service version at 5x the rates in a fifth of the interval).
 */

import {
  CloudWatchClient,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  type Change,
  ChangeResourceRecordSetsCommand,
  CreateHealthCheckCommand,
  CreateHostedZoneCommand,
} from '@aws-sdk/client-route-53';
import type { Context, SQSEvent } from 'aws-lambda';
import { desiredRecordSets } from '../../functions/capabilities/dns/planner';
import { type Config, parseConfig } from '../../functions/config/schema';
import { systemClock } from '../../functions/core/clock';
import { localLambdaContext } from '../../functions/drill/lambda-context';
import {
  alarmStateChangeEvent,
  createSlackSecret,
  createStateTable,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  localControlPlaneInput,
} from '../../functions/drill/local-aws';
import { type LocalHarness, recordingLog, startHarness } from '../../functions/drill/local-control-plane';
import type { WorkItem } from '../../functions/engine/fan-out';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createDispatchHandler } from '../../functions/handlers/dispatch';
import { createReconcileWorkerHandler } from '../../functions/handlers/reconcile-worker';
import { type ClientKit, createClientKit } from '../../functions/runtime/client-kit';
import { cloudWatchAlarmStates, containerControlPlanes } from '../../functions/runtime/control-plane';
import { ROUTE53_SHARES } from '../../functions/runtime/route53-shares';
import { ZONE_PAGE_SIZE } from '../../functions/runtime/zone-records';
import { DynamoStateStore } from '../../functions/state/store';
import { WORKER_BATCH_SIZE, WORKER_TIMEOUT } from '../../infra/reconciler';

export interface RegionWideOptions {
  readonly endpoint: string;
  readonly services: number;
  readonly zones: number;
  /** Added to every AWS call, after its Route 53 budget. */
  readonly latencyMs: number;
  /** The scheduled interval (production: 60 s). */
  readonly intervalMs: number;
  /** How long the failure phase runs, in intervals. */
  readonly intervals: number;
  /** Multiplies every Route 53 rate (default 1: production). */
  readonly rateScale?: number;
  readonly progress?: (line: string) => void;
}

export interface RegionWideResult {
  readonly services: number;
  readonly zones: number;
  /** ListResourceRecordSets pages of all zones together. */
  readonly pages: number;
  /** Route 53 requests of one idle scheduled run (dispatch and every worker). */
  readonly idleRoute53: number;
  /** Services converged on the standby within `intervals` intervals of the alarms. */
  readonly convergedInTime: number;
  /** When each converged service converged, ms after the alarms (sorted). */
  readonly convergedAfterMs: readonly number[];
  readonly alarmsHandled: number;
  /** Route 53 requests during the failure phase, and the most in any one second. */
  readonly failureRoute53: number;
  /** Every AWS request during the failure phase (the emulator's load), and by command. */
  readonly failureRequests: number;
  readonly failureByCommand: Readonly<Record<string, number>>;
  readonly peakRoute53PerSecond: number;
  /** The most in any two seconds (the shares' average holds over windows longer than one slot). */
  readonly peakRoute53InTwoSeconds: number;
  /** What the shares allow at most (concurrency x rate of the simulated functions). */
  readonly allowedRoute53PerSecond: number;
  readonly itemsDispatched: number;
  readonly itemsHandedBack: number;
  readonly workerInvocations: number;
  /** Peak resident memory of this process during the scenario (every simulated container). */
  readonly peakRssMiB: number;
  readonly warnings: number;
  /** The distinct warning and error messages (at most 5), with their first details. */
  readonly warningSamples: readonly string[];
  readonly phaseMs: Readonly<Record<'setup' | 'warmup' | 'idle' | 'failure', number>>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const context = (timeoutMs: number): Context => {
  const started = Date.now();
  return { ...localLambdaContext, getRemainingTimeInMillis: () => timeoutMs - (Date.now() - started) };
};

/** Every Route 53 request any simulated container sent, with its time. */
interface Route53Meter {
  readonly sentAt: number[];
  /** Every AWS request of any service (the emulator serves them one at a time). */
  all: number;
  /** Requests by command (e.g. DynamoDB Query), for the report. */
  readonly byCommand: Map<string, number>;
}

/**
 * One simulated container's client kit: its own Route 53 budget at `perSecond`, every call delayed
 * by `latencyMs` after the budget, every Route 53 request counted on `meter`.
 */
const containerKit = (perSecond: number, latencyMs: number, meter: Route53Meter): ClientKit => {
  const kit = createClientKit({ region: LOCAL_REGION, maxAttempts: 3, route53PerSecond: perSecond });
  const seen = new WeakSet<object>();
  return {
    region: kit.region,
    client(type, region) {
      const client = kit.client(type, region);
      if (seen.has(client)) return client;
      seen.add(client);
      const route53 = client.config.serviceId === 'Route 53';
      client.middlewareStack.add(
        (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
          async (args: unknown) => {
            if (route53) meter.sentAt.push(Date.now());
            meter.all++;
            const command = `${client.config.serviceId} ${(context.commandName ?? '?').replace(/Command$/, '')}`;
            meter.byCommand.set(command, (meter.byCommand.get(command) ?? 0) + 1);
            await sleep(latencyMs);
            return next(args);
          },
        { step: 'finalizeRequest', priority: 'low', name: 'benchLatency', override: true },
      );
      return client;
    },
  };
};

/** The most entries of `times` (ms, any order) in any window of `windowMs`. */
export const peakInWindow = (times: readonly number[], windowMs: number): number => {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
};

const zoneName = (z: number) => `zone${z}.region.test`;
const alarmName = (i: number) => `svc-${String(i).padStart(4, '0')}-primary-unhealthy`;

const scenarioConfig = (
  services: number,
  zoneIds: readonly string[],
  checks: { primary: string; standby: string },
  secret: string,
): Config =>
  parseConfig(
    {
      controlPlane: localControlPlaneInput(secret),
      services: Array.from({ length: services }, (_, i) => {
        const name = `svc-${String(i).padStart(4, '0')}`;
        const zone = i % zoneIds.length;
        return {
          name,
          mode: 'auto' as const,
          alarms: [{ name: alarmName(i) }],
          dns: {
            hostedZoneId: zoneIds[zone] ?? '',
            records: ['www', 'api'].map((label) => ({
              name: `${label}.${name}.${zoneName(zone)}`,
              type: 'A' as const,
              routing: 'weighted' as const,
              ttl: 60,
              primary: { values: ['192.0.2.10'], healthCheckId: checks.primary },
              standby: { values: ['198.51.100.10'], healthCheckId: checks.standby },
            })),
          },
        };
      }),
    },
    `generated ${services}-service Region-wide config`,
  );

/** Creates every service's record sets on the primary, one change batch per zone (setup, not measured). */
const createRecords = async (harness: LocalHarness, config: Config) => {
  const byZone = new Map<string, Change[]>();
  for (const service of config.services) {
    const dns = service.dns;
    if (!dns) continue;
    const changes = byZone.get(dns.hostedZoneId) ?? [];
    for (const record of dns.records) {
      for (const set of desiredRecordSets(service, record, 'primary')) {
        changes.push({
          Action: 'UPSERT',
          ResourceRecordSet: {
            Name: set.name,
            Type: set.type as 'A',
            SetIdentifier: set.setIdentifier,
            Weight: set.weight,
            HealthCheckId: set.healthCheckId,
            TTL: set.ttl,
            ResourceRecords: (set.values ?? []).map((Value) => ({ Value })),
          },
        });
      }
    }
    byZone.set(dns.hostedZoneId, changes);
  }
  for (const [zoneId, changes] of byZone) {
    for (let i = 0; i < changes.length; i += 500) {
      await harness.clients.route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: { Changes: changes.slice(i, i + 500) },
        }),
      );
    }
  }
  return [...byZone.values()].reduce(
    (pages, changes) => pages + Math.ceil((changes.length + 2) / ZONE_PAGE_SIZE),
    0,
  );
};

/** Each service's alarm in CloudWatch, so the scheduled run can read its state (OK at first). */
const createAlarms = async (harness: LocalHarness, services: number) => {
  const cloudwatch = harness.clients.kit.client(CloudWatchClient);
  for (let i = 0; i < services; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, services - i) }, (_, k) =>
        cloudwatch.send(
          new PutMetricAlarmCommand({
            AlarmName: alarmName(i + k),
            Namespace: 'AWS/Route53',
            MetricName: 'HealthCheckStatus',
            Statistic: 'Minimum',
            Period: 60,
            EvaluationPeriods: 1,
            Threshold: 1,
            ComparisonOperator: 'LessThanThreshold',
          }),
        ),
      ),
    );
  }
};

/** Every alarm to ALARM at once, as CloudWatch would in a Region-wide failure. */
const setAlarmsToAlarm = async (harness: LocalHarness, services: number) => {
  const cloudwatch = harness.clients.kit.client(CloudWatchClient);
  for (let i = 0; i < services; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, services - i) }, (_, k) =>
        cloudwatch.send(
          new SetAlarmStateCommand({
            AlarmName: alarmName(i + k),
            StateValue: 'ALARM',
            StateReason: 'Region-wide failure',
          }),
        ),
      ),
    );
  }
};

/** AWS publishes each health check's status in us-east-1; moto does not, so the harness does. */
const publishHealth = async (harness: LocalHarness, checks: { primary: string; standby: string }) => {
  const usEast1 = harness.clients.kit.client(CloudWatchClient, 'us-east-1');
  await usEast1.send(
    new PutMetricDataCommand({
      Namespace: 'AWS/Route53',
      MetricData: [
        ['primary', 0],
        ['standby', 1],
      ].map(([side, value]) => ({
        MetricName: 'HealthCheckStatus',
        Dimensions: [{ Name: 'HealthCheckId', Value: checks[side as 'primary' | 'standby'] }],
        Value: value as number,
        Timestamp: new Date(),
      })),
    }),
  );
};

export const runRegionWide = async (options: RegionWideOptions): Promise<RegionWideResult> => {
  const say = options.progress ?? (() => undefined);
  const scale = options.rateScale ?? 1;
  const t = performance.now();
  const phaseMs = { setup: 0, warmup: 0, idle: 0, failure: 0 };
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 200);

  await fetch(`${options.endpoint}/moto-api/reset`, { method: 'POST' });
  const harness = await startHarness(options.endpoint, 3);
  try {
    const route53 = harness.clients.route53;
    const zoneIds: string[] = [];
    for (let z = 0; z < options.zones; z++) {
      const zone = await route53.send(
        new CreateHostedZoneCommand({ Name: zoneName(z), CallerReference: `region-${z}-${Date.now()}` }),
      );
      zoneIds.push((zone.HostedZone?.Id ?? '').replace('/hostedzone/', ''));
    }
    const check = async (ip: string) =>
      (
        await route53.send(
          new CreateHealthCheckCommand({
            CallerReference: `region-${ip}-${Date.now()}`,
            HealthCheckConfig: { Type: 'HTTPS', IPAddress: ip, Port: 443, ResourcePath: '/health' },
          }),
        )
      ).HealthCheck?.Id ?? '';
    const checks = { primary: await check('192.0.2.10'), standby: await check('198.51.100.10') };
    const secret = await createSlackSecret(harness.clients.secrets, harness.sink.url);
    const config = scenarioConfig(options.services, zoneIds, checks, secret);
    await createStateTable(harness.clients.dynamodb, config.controlPlane.stateTableName);
    const pages = await createRecords(harness, config);
    await createAlarms(harness, options.services);
    phaseMs.setup = performance.now() - t;
    say(
      `setup: ${options.services} services in ${options.zones} zones (${pages} pages) in ${(phaseMs.setup / 1000).toFixed(1)} s`,
    );

    // The simulated functions.
    const meter: Route53Meter = { sentAt: [], all: 0, byCommand: new Map() };
    const log = recordingLog();
    const container = (perSecond: number) => {
      const clients = containerKit(perSecond * scale, options.latencyMs, meter);
      return {
        clients,
        controlPlanes: containerControlPlanes({
          config,
          clients,
          log,
          clock: systemClock,
          notifier: harness.sink.notifier(config, clients, log),
          runName: 'region-wide',
        }),
      };
    };
    const queue: { message: WorkItem; receiveCount: number; id: number }[] = [];
    let messageIds = 0;
    const dispatcher = container(ROUTE53_SHARES.worker.perSecond);
    const dispatch = createDispatchHandler(
      dispatcher.controlPlanes,
      () => async (items) => {
        for (const message of items) queue.push({ message, receiveCount: 1, id: messageIds++ });
      },
      () => options.intervalMs,
    );
    let itemsDispatched = 0;
    const tick = async () => {
      // The dispatcher's 30 s covers 1,000 reads of DynamoDB; the emulator, serving one request at a
      // time, needs longer, so the simulated dispatcher gets 5 minutes.
      const out = (await dispatch({}, context(300_000))) as { dispatched: number; unfinished: number };
      itemsDispatched += out.dispatched;
      say(
        `  dispatch at ${((performance.now() - t) / 1000).toFixed(1)} s: ${out.dispatched} items, ${out.unfinished} unfinished first`,
      );
    };

    let stopping = false;
    let busyWorkers = 0;
    let workerInvocations = 0;
    let itemsHandedBack = 0;
    const workers = Array.from({ length: ROUTE53_SHARES.worker.concurrency }, () => {
      const { clients, controlPlanes } = container(ROUTE53_SHARES.worker.perSecond);
      const handler = createReconcileWorkerHandler(controlPlanes, () => cloudWatchAlarmStates(clients));
      return async () => {
        while (!stopping) {
          const batch = queue.splice(0, WORKER_BATCH_SIZE);
          if (batch.length === 0) {
            await sleep(10);
            continue;
          }
          busyWorkers++;
          workerInvocations++;
          try {
            const event: SQSEvent = {
              Records: batch.map((b) => ({
                messageId: String(b.id),
                body: JSON.stringify(b.message),
                attributes: { ApproximateReceiveCount: String(b.receiveCount) },
              })) as SQSEvent['Records'],
            };
            const out = (await handler(event, context(WORKER_TIMEOUT.toMilliseconds()))) as {
              batchItemFailures: { itemIdentifier: string }[];
            };
            itemsHandedBack += out.batchItemFailures.length;
          } finally {
            busyWorkers--;
          }
        }
      };
    });
    const workerLoops = workers.map((w) => w());
    const drained = async () => {
      while (queue.length > 0 || busyWorkers > 0) await sleep(20);
    };

    // Warm-up: every service's first status (records already on the primary).
    let mark = performance.now();
    await tick();
    await drained();
    phaseMs.warmup = performance.now() - mark;
    say(`warm-up dispatch drained in ${(phaseMs.warmup / 1000).toFixed(1)} s`);

    // An idle scheduled run: its Route 53 requests.
    mark = performance.now();
    const before = meter.sentAt.length;
    await tick();
    await drained();
    const idleRoute53 = meter.sentAt.length - before;
    phaseMs.idle = performance.now() - mark;
    say(`idle dispatch: ${idleRoute53} Route 53 requests, drained in ${(phaseMs.idle / 1000).toFixed(1)} s`);

    // The failure: every alarm at once.
    await publishHealth(harness, checks);
    await setAlarmsToAlarm(harness, options.services);
    const t0 = Date.now();
    mark = performance.now();
    const failureStart = meter.sentAt.length;
    const allStart = meter.all;
    meter.byCommand.clear();
    const events = config.services.map((_, i) =>
      alarmStateChangeEvent({
        alarmName: alarmName(i),
        account: LOCAL_ACCOUNT,
        region: LOCAL_REGION,
        value: 'ALARM',
        previousValue: 'OK',
        reason: 'Region-wide failure',
        at: new Date(t0),
      }),
    );
    let alarmsHandled = 0;
    const alarmLoops = Array.from({ length: ROUTE53_SHARES.alarm.concurrency }, async () => {
      const { controlPlanes } = container(ROUTE53_SHARES.alarm.perSecond);
      const handler = createAlarmHandler(controlPlanes);
      while (!stopping) {
        const event = events.shift();
        if (!event) return;
        await handler(event, context(60_000));
        alarmsHandled++;
      }
    });
    const windowMs = options.intervals * options.intervalMs;
    const ticks = (async () => {
      for (let k = 0; k < options.intervals; k++) {
        const at = t0 + k * options.intervalMs;
        if (Date.now() < at) await sleep(at - Date.now());
        if (stopping) return;
        await tick();
      }
    })();
    await sleep(Math.max(0, t0 + windowMs - Date.now()));
    stopping = true;
    queue.length = 0;
    await Promise.all([...alarmLoops, ...workerLoops, ticks]);
    phaseMs.failure = performance.now() - mark;
    const failureTimes = meter.sentAt.slice(failureStart);
    const failureRequests = meter.all - allStart;

    // Each service's DNS status: converged on the standby, and when.
    const store = new DynamoStateStore(
      harness.clients.dynamodb,
      config.controlPlane.stateTableName,
      config.controlPlane.auditRetentionDays,
      () => 'bench',
    );
    const convergedAfterMs: number[] = [];
    for (let i = 0; i < config.services.length; i += 50) {
      const records = await Promise.all(
        config.services.slice(i, i + 50).map((s) => store.readService(s.name)),
      );
      for (const record of records) {
        const dns = record.statuses.dns;
        if (
          dns &&
          dns.epoch === record.desired.epoch &&
          dns.epoch > 0 &&
          dns.phase === 'converged' &&
          dns.active === 'standby'
        ) {
          convergedAfterMs.push(Date.parse(dns.updatedAt) - t0);
        }
      }
    }
    convergedAfterMs.sort((a, b) => a - b);
    const { worker, alarm } = ROUTE53_SHARES;
    return {
      services: options.services,
      zones: options.zones,
      pages,
      idleRoute53,
      convergedInTime: convergedAfterMs.filter((ms) => ms <= windowMs).length,
      convergedAfterMs,
      alarmsHandled,
      failureRoute53: failureTimes.length,
      failureRequests,
      failureByCommand: Object.fromEntries([...meter.byCommand].sort((a, b) => b[1] - a[1])),
      peakRoute53PerSecond: peakInWindow(failureTimes, 1000),
      peakRoute53InTwoSeconds: peakInWindow(failureTimes, 2000),
      allowedRoute53PerSecond:
        scale * (worker.concurrency * worker.perSecond + alarm.concurrency * alarm.perSecond),
      itemsDispatched,
      itemsHandedBack,
      workerInvocations,
      peakRssMiB: Math.max(peakRss, process.memoryUsage().rss) / 1024 / 1024,
      warnings: log.lines.filter((l) => l.level === 'warn' || l.level === 'error').length,
      warningSamples: [
        ...new Map(
          log.lines
            .filter((l) => l.level === 'warn' || l.level === 'error')
            .map((l) => [l.message, `${l.message} ${JSON.stringify(l.extra).slice(0, 300)}`] as const),
        ).values(),
      ].slice(0, 5),
      phaseMs,
    };
  } finally {
    clearInterval(sampler);
    await harness.stop();
  }
};
