/**
 * `npm run bench`: the speed and size targets, measured, not asserted in timed tests.
 *
 * 1. Each Lambda bundle, built as the stack builds it (infra/bundling.ts): module init (CPU time of
 *    loading the handler in a fresh process, median of 7 interleaved runs) <= 2.0x that of a bundle
 *    holding one bundled Route 53 client (test/bench/init-time.ts says how the runtime SDK is modelled).
 * 2. Alarm path against the local AWS: writes to the state table before the first Route 53 change
 *    (target: exactly one), sequential round trips before each capability's first mutating call
 *    (target: <= 2), and event-to-converged latency in-process (emulator, not AWS, timings).
 * 3. Idle scheduled run: writes (target: none), Route 53 requests per run: one service (target: one
 *    read of its zone) and 100 services in 5 zones (target: <= 2 x zones x pages, nothing per record).
 * 4. Region-wide failure (test/support/region-wide.ts): 1,000 services alarmed at once, the alarm
 *    function and the fanned-out schedule as deployed, 20 ms per AWS call: services converged within
 *    2 intervals, the account-wide Route 53 peak, idle Route 53 requests, peak memory.
 * Exits non-zero if a target is missed.
 */

import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateHealthCheckCommand, CreateHostedZoneCommand } from '@aws-sdk/client-route-53';
import { SetActiveReceiptRuleSetCommand } from '@aws-sdk/client-ses';
import type { Context } from 'aws-lambda';
import { serviceAlarmEvent, startLocalCompute } from '../../functions/capabilities/compute/local';
import { DB_ALARM, DB_REPLICA, startDatabaseControlPlane } from '../../functions/capabilities/database/local';
import { HEALTH_METRIC_REGION } from '../../functions/capabilities/dns/health';
import { type LocalControlPlane, startLocalControlPlane } from '../../functions/capabilities/dns/local';
import { MAIL_ALARM, startLocalMail } from '../../functions/capabilities/mail/local';
import { startLocalPrimary } from '../../functions/capabilities/mail/local-primary';
import { parseConfig } from '../../functions/config/schema';
import { startMoto } from '../../functions/drill/emulator';
import {
  createSlackSecret,
  createStateTable,
  localControlPlaneInput,
  setAlarmAndBuildEvent,
} from '../../functions/drill/local-aws';
import { harnessControlPlane, startHarness } from '../../functions/drill/local-control-plane';
import { isMutatingCall } from '../../functions/engine/call-guard';
import type { ControlPlane } from '../../functions/engine/engine';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
import type { ClientKit } from '../../functions/runtime/client-kit';
import { ZONE_PAGE_SIZE, zoneRecordsReader } from '../../functions/runtime/zone-records';
import { runRegionWide } from '../support/region-wide';
import {
  formatResults,
  INIT_RATIO_BUDGET,
  measureVariant,
  REFERENCE,
  VARIANTS,
  type Variant,
} from './init-time';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const results: { metric: string; value: string; target: string; ok: boolean }[] = [];
const record = (metric: string, value: string, target: string, ok: boolean) => {
  results.push({ metric, value, target, ok });
  console.log(`${ok ? '✓' : '✗'} ${metric}: ${value} (target ${target})`);
};

/** Init-time budget: every function's module init <= 2x a one-Route-53-client bundle, side by side. */
const initTimes = async () => {
  const runs = 7;
  const results = await measureVariant(VARIANTS[0] as Variant, runs);
  console.log(`module init, CPU time, median of ${runs} interleaved runs:\n${formatResults(results)}`);
  const reference = results.find((r) => r.name === REFERENCE);
  for (const result of results) {
    if (result.name === REFERENCE) continue;
    record(
      `${result.name} Lambda module init vs one bundled Route 53 client (median of ${runs})`,
      `${result.ratio.toFixed(2)}x (${result.cpuMs.toFixed(0)} ms vs ${reference?.cpuMs.toFixed(0)} ms CPU, ${result.rssMiB.toFixed(0)} MiB; ` +
        `every lazily loaded chunk too: ${result.allCpuMs.toFixed(0)} ms, ${result.allRssMiB.toFixed(0)} MiB)`,
      `<= ${INIT_RATIO_BUDGET.toFixed(1)}x`,
      result.ratio <= INIT_RATIO_BUDGET,
    );
  }
};

const context = {
  functionName: 'bench',
  awsRequestId: 'bench',
  getRemainingTimeInMillis: () => 60_000,
} as Context;

/** For runs that set a scenario up over many services, not measured against a Lambda's timeout. */
const setupContext = { ...context, getRemainingTimeInMillis: () => 600_000 } as Context;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

interface TracedCall {
  readonly command: string;
  readonly client: string;
  /** A conditional write: a ConditionExpression, or a transaction with one in any of its items. */
  readonly conditional: boolean;
  readonly start: number;
  /** When its first attempt left, after the SDK's retry step and the fence (the call guard). */
  sent: number;
  end: number;
}

const isConditional = (input: {
  ConditionExpression?: string;
  TransactItems?: Record<string, { ConditionExpression?: string } | undefined>[];
}) =>
  input.ConditionExpression !== undefined ||
  (input.TransactItems ?? []).some((item) =>
    Object.values(item).some((op) => op?.ConditionExpression !== undefined),
  );

/**
 * Records every SDK call the kit's clients make (those made already and those it makes later), with
 * when it started and ended, while a trace is active.
 */
const callTracer = (kit: ClientKit) => {
  let active: TracedCall[] | undefined;
  const traced = new WeakSet<object>();
  const sending = new WeakMap<object, TracedCall>();
  const trace = (client: { middlewareStack: LocalControlPlane['clients']['route53']['middlewareStack'] }) => {
    if (traced.has(client)) return;
    traced.add(client);
    client.middlewareStack.add(
      (next, ctx) => async (args) => {
        const calls = active;
        if (!calls) return next(args);
        const call: TracedCall = {
          command: ctx.commandName ?? '?',
          client: ctx.clientName ?? '?',
          conditional: isConditional(args.input as never),
          start: performance.now(),
          sent: Number.POSITIVE_INFINITY,
          end: Number.POSITIVE_INFINITY,
        };
        calls.push(call);
        sending.set(ctx as object, call);
        try {
          return await next(args);
        } finally {
          call.end = performance.now();
        }
      },
      { step: 'initialize', name: 'benchTrace', override: true },
    );
    client.middlewareStack.add(
      (next, ctx) => async (args) => {
        const call = sending.get(ctx as object);
        if (call && call.sent === Number.POSITIVE_INFINITY) call.sent = performance.now();
        return next(args);
      },
      { step: 'deserialize', name: 'benchTraceSent', override: true },
    );
  };
  const create = kit.client.bind(kit);
  (kit as { client: ClientKit['client'] }).client = (type, region) => {
    const client = create(type, region);
    trace(client as never);
    return client;
  };
  return {
    trace,
    start: () => {
      active = [];
      return active;
    },
  };
};

/** A tracer on every client of a local harness, those made already and those made later. */
const tracedClients = (clients: LocalControlPlane['clients']) => {
  const tracer = callTracer(clients.kit);
  for (const client of Object.values(clients)) if (client !== clients.kit) tracer.trace(client as never);
  return tracer;
};

/** UNDERSTUDY_BENCH_TRACE=1: every call with its start, sent and end times from `t0`. */
const printTrace = (calls: readonly TracedCall[], t0: number) => {
  if (!process.env.UNDERSTUDY_BENCH_TRACE) return;
  for (const c of calls)
    console.log(
      `  ${(c.start - t0).toFixed(1)}..${(c.sent - t0).toFixed(1)}..${(c.end - t0).toFixed(1)} ms ${c.client} ${c.command}`,
    );
};

/**
 * Sequential round trips before `call` left: the longest chain of calls, each started after the one
 * before it ended, that ended before `call`'s request was sent (its own fence reads included). Calls
 * made side by side count once.
 */
const roundTripsBefore = (calls: readonly TracedCall[], call: TracedCall): TracedCall[] => {
  const before = calls.filter((c) => c !== call && c.end <= call.sent).sort((a, b) => a.start - b.start);
  const chain = new Map<TracedCall, TracedCall[]>();
  for (const c of before) {
    const longest = before
      .filter((p) => p.end <= c.start)
      .map((p) => chain.get(p) ?? [])
      .reduce<TracedCall[]>((a, b) => (b.length > a.length ? b : a), []);
    chain.set(c, [...longest, c]);
  }
  return [...chain.values()].reduce<TracedCall[]>((a, b) => (b.length > a.length ? b : a), []);
};

/**
 * What Route 53 does on AWS and the emulator does not: publish each health check's status as the
 * `AWS/Route53 HealthCheckStatus` metric in us-east-1 (the primary failing, the standby healthy), so
 * the alarm path reads health as it would there, from the batched metric, not a direct
 * GetHealthCheckStatus after finding no datapoint.
 */
const publishHealthMetrics = async (local: LocalControlPlane) => {
  const cloudwatch = local.clients.kit.client(CloudWatchClient, HEALTH_METRIC_REGION);
  const { primaryHealthCheckId, standbyHealthCheckId } = local.topology;
  await cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: 'AWS/Route53',
      MetricData: [
        [primaryHealthCheckId, 0],
        [standbyHealthCheckId, 1],
      ].map(([id, value]) => ({
        MetricName: 'HealthCheckStatus',
        Dimensions: [{ Name: 'HealthCheckId', Value: String(id) }],
        Value: Number(value),
        Timestamp: new Date(),
      })),
    }),
  );
};

/** The chain before a call, as the report prints it. */
const chainText = (chain: readonly TracedCall[]) =>
  `${chain.length}: ${chain.map((c) => c.command.replace(/Command$/, '')).join(' → ')}`;

/** A capability's chain before its first mutating call on an alarm: at most 2 round trips. */
const recordFirstCall = (call: string, chain: readonly TracedCall[] | undefined) =>
  record(
    `sequential AWS round trips from the alarm event to ${call}`,
    chain ? chainText(chain) : 'no mutating call',
    '<= 2',
    chain !== undefined && chain.length <= 2,
  );

/**
 * Sequential round trips before each capability's first mutating call, on an alarm: the database
 * (an RDS read replica: the name is fenced first, then the promotion, a once-per-epoch call) and
 * compute (the standby set swapped into the target group), each on its own topology.
 */
const capabilityRoundTrips = async (endpoint: string) => {
  const traced = async (
    local: { clients: LocalControlPlane['clients']; controlPlane(): ControlPlane },
    event: () => Promise<unknown>,
  ) => {
    const tracer = tracedClients(local.clients);
    await createReconcileHandler(() => local.controlPlane())({}, context);
    const raw = await event();
    const calls = tracer.start();
    const t0 = performance.now();
    await createAlarmHandler(() => local.controlPlane())(raw, context);
    printTrace(calls, t0);
    const first = (test: (c: TracedCall) => boolean) => {
      const call = calls.find(test);
      return call ? roundTripsBefore(calls, call) : undefined;
    };
    return { first, mutating: (c: TracedCall) => isMutatingCall(c.client, c.command) };
  };

  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  const database = await startDatabaseControlPlane(endpoint);
  try {
    await database.publishLag(DB_REPLICA, 3);
    const { first, mutating } = await traced(database, () =>
      setAlarmAndBuildEvent(database.clients.cloudwatch, DB_ALARM, 'ALARM', 'bench', database.clock.now()),
    );
    recordFirstCall("the database's first mutating call (RDS replica: the name fenced)", first(mutating));
    const promote = first((c) => c.command === 'PromoteReadReplicaCommand');
    record(
      '... and to its promotion, a once-per-epoch call whose intent is recorded (fenced) before it leaves',
      promote ? chainText(promote) : 'no promotion',
      'informational',
      promote !== undefined,
    );
  } finally {
    await database.stop();
  }

  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  const primary = await startLocalPrimary();
  const mail = await startLocalMail(endpoint, primary);
  try {
    await primary.setMode('refuse');
    const { first, mutating } = await traced(mail, async () => {
      // After the first run: no rule set active (as the drill starts), so the failover's first call
      // is SES's SetActiveReceiptRuleSet.
      await mail.clients.ses.send(new SetActiveReceiptRuleSetCommand({}));
      return setAlarmAndBuildEvent(mail.clients.cloudwatch, MAIL_ALARM, 'ALARM', 'bench', mail.clock.now());
    });
    recordFirstCall("mail's first mutating call (SES made to hold the domain's mail)", first(mutating));
  } finally {
    await mail.stop();
    await primary.stop();
  }

  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  const compute = await startLocalCompute(endpoint);
  try {
    const { first, mutating } = await traced(compute, async () => serviceAlarmEvent(compute.clock.now()));
    recordFirstCall("compute's first mutating call (the standby set swapped in)", first(mutating));
  } finally {
    await compute.stop();
  }
};

const isWrite = (command: string) =>
  /^(Put|Update|Delete|TransactWrite|BatchWrite|ChangeResource)/.test(command);

/**
 * Route 53 reads grow with hosted zones, not records: an idle scheduled run of `services` services
 * (two weighted records each) spread over `zones` hosted zones, against the emulator.
 */
const zoneReads = async (endpoint: string, services: number, zones: number) => {
  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  const harness = await startHarness(endpoint, 3);
  try {
    const route53 = harness.clients.route53;
    const zoneIds: string[] = [];
    for (let z = 0; z < zones; z++) {
      const zone = await route53.send(
        new CreateHostedZoneCommand({
          Name: `zone${z}.bench.test`,
          CallerReference: `bench-${z}-${Date.now()}`,
        }),
      );
      zoneIds.push((zone.HostedZone?.Id ?? '').replace('/hostedzone/', ''));
    }
    const check = async (ip: string) =>
      (
        await route53.send(
          new CreateHealthCheckCommand({
            CallerReference: `bench-${ip}-${Date.now()}`,
            HealthCheckConfig: { Type: 'HTTPS', IPAddress: ip, Port: 443, ResourcePath: '/health' },
          }),
        )
      ).HealthCheck?.Id ?? '';
    const [primary, standby] = [await check('192.0.2.10'), await check('198.51.100.10')];
    const config = parseConfig({
      controlPlane: localControlPlaneInput(
        await createSlackSecret(harness.clients.secrets, harness.sink.url),
      ),
      services: Array.from({ length: services }, (_, i) => ({
        name: `svc-${i}`,
        mode: 'auto' as const,
        dns: {
          hostedZoneId: zoneIds[i % zones] ?? '',
          records: ['www', 'api'].map((label) => ({
            name: `${label}.svc-${i}.zone${i % zones}.bench.test`,
            type: 'A' as const,
            routing: 'weighted' as const,
            primary: { values: ['192.0.2.10'], healthCheckId: primary },
            standby: { values: ['198.51.100.10'], healthCheckId: standby },
          })),
        },
      })),
    });
    await createStateTable(harness.clients.dynamodb, config.controlPlane.stateTableName);
    const tracer = callTracer(harness.clients.kit);
    tracer.trace(route53 as never);
    const reconcile = createReconcileHandler(harnessControlPlane(harness, config));
    // The first run writes 100 services' first statuses one after another: on a busy machine the
    // emulator needs longer than a Lambda's minute, and the idle run after it is what is measured.
    await reconcile({}, setupContext);
    // Pages: each zone's record sets over the 300 a page holds (read before counting).
    let pages = 0;
    for (const zoneId of zoneIds) {
      const sets = await zoneRecordsReader(async () => route53).recordSets(zoneId);
      pages += Math.ceil(sets.length / ZONE_PAGE_SIZE);
    }
    const calls = tracer.start();
    await reconcile({}, setupContext);
    const requests = calls.filter((c) => c.client === 'Route53Client').length;
    record(
      `Route 53 requests in an idle scheduled run (${services} services x 2 weighted records, ${zones} zones)`,
      `${requests} (${zones} zones, ${pages} pages in all; ${(requests / 60).toFixed(3)} req/s at one run a minute)`,
      `<= 2 x zones x pages = ${2 * pages}, nothing per record`,
      requests <= 2 * pages,
    );
  } finally {
    await harness.stop();
  }
};

const controlPlaneRuns = async () => {
  const moto = await startMoto();
  try {
    const latencies: number[] = [];
    const runs = 10;
    for (let i = 0; i < runs; i++) {
      await fetch(`${moto.endpoint}/moto-api/reset`, { method: 'POST' });
      const local = await startLocalControlPlane(moto.endpoint, { maxAttempts: 3 });
      try {
        const tracer = tracedClients(local.clients);
        const reconcile = createReconcileHandler(() => local.controlPlane());
        await reconcile({}, context);
        await publishHealthMetrics(local);
        const calls = tracer.start();
        const event = await setAlarmAndBuildEvent(
          local.clients.cloudwatch,
          local.topology.alarmName,
          'ALARM',
          'bench',
        );
        calls.length = 0; // from the event on
        const t0 = performance.now();
        await createAlarmHandler(() => local.controlPlane())(event, context);
        latencies.push(performance.now() - t0);
        if (i < runs - 1) continue;

        const change = calls.find((c) => c.command === 'ChangeResourceRecordSetsCommand');
        const firstChange = change ? calls.indexOf(change) : -1;
        const before = calls.slice(0, Math.max(firstChange, 0));
        const conditional = before.filter((c) => c.conditional).length;
        const otherWrites = before.filter((c) => isWrite(c.command) && !c.conditional).length;
        record(
          'conditional state writes before the first Route 53 change',
          `${conditional} (the intent and the lease in one transaction; plus ${otherWrites} audit put(s) sent alongside the actions)`,
          'exactly 1',
          firstChange > 0 && conditional === 1,
        );
        const chain = change ? roundTripsBefore(calls, change) : [];
        printTrace(calls, t0);
        record(
          'sequential AWS round trips from the alarm event to the first Route 53 change',
          chainText(chain),
          '<= 2',
          change !== undefined && chain.length <= 2,
        );

        await reconcile({}, context);
        const idle = tracer.start();
        const t1 = performance.now();
        await reconcile({}, context);
        const idleMs = performance.now() - t1;
        const idleWrites = idle.filter((c) => isWrite(c.command)).length;
        const route53 = idle.filter((c) => /ResourceRecordSets|HealthCheck|GetChange/.test(c.command)).length;
        record('writes in an idle scheduled run', String(idleWrites), '0', idleWrites === 0);
        record(
          'Route 53 requests in an idle scheduled run (1 service, 2 records, 1 zone)',
          `${route53} per minute = ${(route53 / 60).toFixed(3)} req/s`,
          '1 (one read of the zone)',
          route53 === 1,
        );
        record(
          'idle scheduled run, in-process on the emulator',
          `${idleMs.toFixed(0)} ms`,
          'informational',
          true,
        );
      } finally {
        await local.stop();
      }
    }
    record(
      'alarm event to converged DNS, in-process on the emulator (median of 10)',
      `${median(latencies).toFixed(0)} ms`,
      'informational; on AWS add Route 53 propagation (usually under 60 s)',
      true,
    );
    await capabilityRoundTrips(moto.endpoint);
    // UNDERSTUDY_BENCH_ALARM_ONLY=1: just the alarm path's figures above, for a quick look.
    if (process.env.UNDERSTUDY_BENCH_ALARM_ONLY) return;
    await zoneReads(moto.endpoint, 100, 5);
    // On the same emulator: a second one started in this process is not reliably reached.
    await regionWide(moto.endpoint);
  } finally {
    await moto.stop();
  }
};

/**
 * The Region-wide failure (test/support/region-wide.ts): 1,000 services, 2 weighted records each, 5
 * zones, every alarm at once; production rates, concurrency and timeouts, 20 ms per AWS call.
 */
const regionWide = async (endpoint: string) => {
  {
    const intervals = 2;
    const r = await runRegionWide({
      endpoint,
      services: 1_000,
      zones: 5,
      latencyMs: 20,
      intervalMs: 60_000,
      intervals,
      progress: (line) => console.log(line),
    });
    const p = (q: number) => r.convergedAfterMs[Math.floor((r.convergedAfterMs.length - 1) * q)];
    record(
      `Region-wide: services converged on the standby within ${intervals} scheduled intervals (1,000 services, 5 zones, 20 ms per call)`,
      `${r.convergedInTime} of ${r.services} (alarm events handled: ${r.alarmsHandled}; first ${((p(0) ?? 0) / 1000).toFixed(1)} s, median ${((p(0.5) ?? 0) / 1000).toFixed(1)} s, last ${((p(1) ?? 0) / 1000).toFixed(1)} s; ` +
        `${r.failureRoute53} Route 53 and ${r.failureRequests} AWS requests in all, the emulator serving one at a time; ${r.itemsDispatched} items dispatched, ${r.workerInvocations} worker invocations)`,
      'all 1,000',
      r.convergedInTime === r.services,
    );
    record(
      'Region-wide: account-wide Route 53 peak, any 1 s, every simulated function together',
      `${r.peakRoute53PerSecond} in 1 s, ${r.peakRoute53InTwoSeconds} in 2 s (the shares allow ${r.allowedRoute53PerSecond.toFixed(2)}/s on average for the alarm function and workers; each process may send its one request at either edge of a 1 s window)`,
      '<= 10 in any 2 s (the account rate, 5/s)',
      r.peakRoute53InTwoSeconds <= 10,
    );
    record(
      `Region-wide: Route 53 requests in an idle scheduled run (${r.services} services x 2 weighted records, ${r.zones} zones, fanned out)`,
      `${r.idleRoute53} (${r.pages} pages in all)`,
      `<= 2 x zones x pages = ${2 * r.pages}, nothing per record`,
      r.idleRoute53 <= 2 * r.pages,
    );
    record(
      'Region-wide: peak memory of the 1,000-service run (this process: every simulated container and the harness)',
      `${r.peakRssMiB.toFixed(0)} MiB`,
      'informational',
      true,
    );
    console.log(
      `Region-wide phases (ms): ${JSON.stringify(r.phaseMs)}; failure-phase requests by command: ${JSON.stringify(r.failureByCommand)}; warnings: ${r.warnings} ${JSON.stringify(r.warningSamples)}`,
    );
  }
};

if (!process.env.UNDERSTUDY_BENCH_SKIP_INIT) await initTimes();
await controlPlaneRuns();
const heap = process.memoryUsage();
record('bench process peak RSS', `${(heap.rss / 1024 / 1024).toFixed(0)} MB`, 'informational', true);
const failed = results.filter((r) => !r.ok);
console.log(failed.length === 0 ? '\nAll targets met.' : `\n${failed.length} target(s) missed.`);
process.exit(failed.length === 0 ? 0 : 1);
