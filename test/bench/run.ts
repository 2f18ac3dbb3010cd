/**
 * `npm run bench`: the speed and size targets, measured, not asserted in timed tests.
 *
 * 1. Each Lambda bundle, built as the stack builds it (infra/bundling.ts): module init (CPU time of
 *    loading the handler in a fresh process, median of 7 interleaved runs) <= 2.0x that of a bundle
 *    holding one bundled Route 53 client (test/bench/init-time.ts says how the runtime SDK is modelled).
 * 2. Alarm path against the local AWS: writes to the state table before the first Route 53 change
 *    (target: exactly one), and event-to-converged latency in-process (emulator, not AWS, timings).
 * 3. Idle scheduled run: writes (target: none), Route 53 requests per run: one service (target: one
 *    read of its zone) and 100 services in 5 zones (target: <= 2 x zones x pages, nothing per record).
 * 4. Region-wide failure (test/support/region-wide.ts): 1,000 services alarmed at once, the alarm
 *    function and the fanned-out schedule as deployed, 20 ms per AWS call: services converged within
 *    2 intervals, the account-wide Route 53 peak, idle Route 53 requests, peak memory.
 * Exits non-zero if a target is missed.
 */

import { CreateHealthCheckCommand, CreateHostedZoneCommand } from '@aws-sdk/client-route-53';
import type { Context } from 'aws-lambda';
import { type LocalControlPlane, startLocalControlPlane } from '../../functions/capabilities/dns/local';
import { parseConfig } from '../../functions/config/schema';
import { startMoto } from '../../functions/drill/emulator';
import {
  createSlackSecret,
  createStateTable,
  localControlPlaneInput,
  setAlarmAndBuildEvent,
} from '../../functions/drill/local-aws';
import { harnessControlPlane, startHarness } from '../../functions/drill/local-control-plane';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** Records every SDK call a client makes, in order, with whether it was a conditional write. */
const traceCalls = (
  clients: { middlewareStack: LocalControlPlane['clients']['route53']['middlewareStack'] }[],
) => {
  const calls: { command: string; conditional: boolean }[] = [];
  for (const client of clients) {
    client.middlewareStack.add(
      (next, ctx) => async (args) => {
        const input = args.input as { ConditionExpression?: string };
        calls.push({ command: ctx.commandName ?? '?', conditional: input.ConditionExpression !== undefined });
        return next(args);
      },
      { step: 'initialize', name: `benchTrace${Math.random()}` },
    );
  }
  return calls;
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
    const reconcile = createReconcileHandler(harnessControlPlane(harness, config));
    await reconcile({}, context);
    // Pages: each zone's record sets over the 300 a page holds (read before counting).
    let pages = 0;
    for (const zoneId of zoneIds) {
      const sets = await zoneRecordsReader(async () => route53).recordSets(zoneId);
      pages += Math.ceil(sets.length / ZONE_PAGE_SIZE);
    }
    const calls = traceCalls([route53]);
    await reconcile({}, context);
    const requests = calls.length;
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
        const reconcile = createReconcileHandler(() => local.controlPlane());
        await reconcile({}, context);
        const calls = traceCalls([local.clients.dynamodb, local.clients.route53]);
        const event = await setAlarmAndBuildEvent(
          local.clients.cloudwatch,
          local.topology.alarmName,
          'ALARM',
          'bench',
        );
        const t0 = performance.now();
        await createAlarmHandler(() => local.controlPlane())(event, context);
        latencies.push(performance.now() - t0);
        if (i < runs - 1) continue;

        const firstChange = calls.findIndex((c) => c.command === 'ChangeResourceRecordSetsCommand');
        const before = calls.slice(0, firstChange);
        const conditional = before.filter((c) => c.conditional).length;
        const otherWrites = before.filter((c) => isWrite(c.command) && !c.conditional).length;
        record(
          'conditional state writes before the first Route 53 change',
          `${conditional} (plus ${otherWrites} audit put(s) sent alongside the actions)`,
          'exactly 1',
          firstChange > 0 && conditional === 1,
        );

        await reconcile({}, context);
        const idle = traceCalls([local.clients.dynamodb, local.clients.route53]);
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
      `${r.convergedInTime} of ${r.services} (alarm events handled: ${r.alarmsHandled}; first ${((p(0) ?? 0) / 1000).toFixed(1)} s, median ${((p(0.5) ?? 0) / 1000).toFixed(1)} s; ` +
        `${r.failureRoute53} Route 53 and ${r.failureRequests} AWS requests in all, the emulator serving one at a time; ${r.itemsDispatched} items dispatched, ${r.workerInvocations} worker invocations)`,
      'goal: all 1,000; informational (bound by the emulator here, by Route 53 at 4 req/s on AWS)',
      true,
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
      `Region-wide phases (ms): ${JSON.stringify(r.phaseMs)}; warnings: ${r.warnings} ${JSON.stringify(r.warningSamples)}`,
    );
  }
};

await initTimes();
await controlPlaneRuns();
const heap = process.memoryUsage();
record('bench process peak RSS', `${(heap.rss / 1024 / 1024).toFixed(0)} MB`, 'informational', true);
const failed = results.filter((r) => !r.ok);
console.log(failed.length === 0 ? '\nAll targets met.' : `\n${failed.length} target(s) missed.`);
process.exit(failed.length === 0 ? 0 : 1);
