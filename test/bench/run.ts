/**
 * `npm run bench`: the speed and size targets, measured, not asserted in timed tests.
 *
 * 1. Each Lambda bundle, built as the stack builds it (infra/bundling.ts): module init (CPU time of
 *    loading the handler in a fresh process, median of 7 interleaved runs) <= 2.0x that of a bundle
 *    holding one bundled Route 53 client (test/bench/init-time.ts says how the runtime SDK is modelled).
 * 2. Alarm path against the local AWS: writes to the state table before the first Route 53 change
 *    (target: exactly one), and event-to-converged latency in-process (emulator, not AWS, timings).
 * 3. Idle scheduled run: writes (target: none), Route 53 requests per run and the request rate the
 *    budget allows (target: far below Route 53's 5 requests per second).
 * Exits non-zero if a target is missed.
 */

import type { Context } from 'aws-lambda';
import { type LocalControlPlane, startLocalControlPlane } from '../../functions/capabilities/dns/local';
import { startMoto } from '../../functions/drill/emulator';
import { setAlarmAndBuildEvent } from '../../functions/drill/local-aws';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
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
      `${result.ratio.toFixed(2)}x (${result.cpuMs.toFixed(0)} ms vs ${reference?.cpuMs.toFixed(0)} ms CPU; ${(result.entryBytes / 1024).toFixed(0)} kB index.mjs)`,
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
          'Route 53 requests in an idle scheduled run (1 service, 2 records)',
          `${route53} per minute = ${(route53 / 60).toFixed(3)} req/s`,
          'far below the 5 req/s account limit (client budget 2 req/s)',
          route53 / 60 < 1,
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
  } finally {
    await moto.stop();
  }
};

await initTimes();
await controlPlaneRuns();
const heap = process.memoryUsage();
record('bench process peak RSS', `${(heap.rss / 1024 / 1024).toFixed(0)} MB`, 'informational', true);
const failed = results.filter((r) => !r.ok);
console.log(failed.length === 0 ? '\nAll targets met.' : `\n${failed.length} target(s) missed.`);
process.exit(failed.length === 0 ? 0 : 1);
