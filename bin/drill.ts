/**
 * The local failover drill (`npm run drill`): the real control plane, real AWS SDK v3 clients,
 * an embedded AWS emulator (moto) and a local Slack webhook sink. No AWS account, no network.
 *
 * What the emulator cannot do, the drill does and says so: it fails the primary's health check
 * (moto reports every check healthy) and builds the EventBridge alarm event (moto emits none).
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { createAlarmHandler } from '../functions/handlers/alarm';
import { createReconcileHandler } from '../functions/handlers/reconcile';
import type { AlarmOutcome } from '../functions/trigger/handle-alarm';
import {
  answerFor,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  setAlarmAndBuildEvent,
  supplyHealthCheckStatus,
} from '../test/support/local-aws';
import { type LocalControlPlane, startLocalControlPlane } from '../test/support/local-control-plane';
import { type MotoServer, startMoto } from '../test/support/moto';

interface Step {
  readonly name: string;
  readonly ms: number;
  readonly ok: boolean;
  readonly detail: string;
}

// The SDK warns that Node 20 support ends in 2027; the Lambdas run Node 22. Keep the timeline readable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const timeline: Step[] = [];
const started = Date.now();
const PRIMARY = '192.0.2.10';
const STANDBY = '198.51.100.10';

const context = {
  functionName: 'understudy-drill',
  awsRequestId: 'drill',
  invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:understudy-drill`,
  memoryLimitInMB: '256',
  getRemainingTimeInMillis: () => 60_000,
} as Context;

/** Runs one step, times it, and prints it as it completes. A step that throws fails the drill. */
const step = async (name: string, run: () => Promise<{ ok: boolean; detail: string }>) => {
  const t0 = performance.now();
  let result: { ok: boolean; detail: string };
  try {
    result = await run();
  } catch (error) {
    result = { ok: false, detail: `threw ${(error as Error).stack ?? String(error)}` };
  }
  const ms = Math.round(performance.now() - t0);
  timeline.push({ name, ms, ...result });
  console.log(`${result.ok ? '✓' : '✗'} ${name.padEnd(58)} ${String(ms).padStart(6)} ms  ${result.detail}`);
  return result.ok;
};

const expectAnswer = async (local: LocalControlPlane, failing: Set<string>, want: string) => {
  const got = await answerFor(
    local.clients.route53,
    local.topology.hostedZoneId,
    local.topology.recordName,
    'A',
    failing,
  );
  return { ok: got.length === 1 && got[0] === want, detail: `www answers ${got.join(', ') || '(nothing)'}` };
};

/**
 * The operator's command, run as its own process exactly as `npx understudy` runs it, against the
 * same local AWS (through AWS_ENDPOINT_URL) with the drill's config written to a file.
 */
const runCli = async (local: LocalControlPlane, args: string[]) => {
  const dir = mkdtempSync(join(tmpdir(), 'understudy-drill-'));
  try {
    const configFile = join(dir, 'understudy.config.mjs');
    writeFileSync(configFile, `export default ${JSON.stringify(local.topology.config, null, 2)};\n`);
    const child = spawn(process.execPath, ['bin/understudy.js', ...args, '--config', configFile], {
      env: { ...process.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
    if (code !== 0) console.error(stdout, stderr);
    return { code, stdout, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

const main = async (): Promise<number> => {
  console.log('understudy drill: alarm-driven DNS failover and failback on a local AWS\n');
  let moto: MotoServer | undefined;
  let local: LocalControlPlane | undefined;
  try {
    const motoUp = await step('start the local AWS (moto server on a free port)', async () => {
      moto = await startMoto();
      return { ok: true, detail: `${moto.endpoint} (pid ${moto.pid})` };
    });
    if (!motoUp || !moto) return 1;
    const endpoint = moto.endpoint;

    const failing = new Set<string>();
    await step('provision zone, health checks, alarm, state table, Slack', async () => {
      local = await startLocalControlPlane(endpoint, { maxAttempts: 3 });
      supplyHealthCheckStatus(local.clients.route53, failing);
      const t = local.topology;
      return {
        ok: true,
        detail: `zone ${t.hostedZoneId}, alarm ${t.alarmName}, Slack sink ${local.sink.url}`,
      };
    });
    if (!local) return 1;
    const l: LocalControlPlane = local;
    const invokeAlarm = createAlarmHandler(() => l.controlPlane());
    const invokeSchedule = createReconcileHandler(() => l.controlPlane());

    await step('scheduled run: the control plane creates the weighted pair', async () => {
      await invokeSchedule({}, context);
      return expectAnswer(l, failing, PRIMARY);
    });

    await step('primary fails its health check (supplied by the drill)', async () => {
      failing.add(l.topology.primaryHealthCheckId);
      const answer = await expectAnswer(l, failing, STANDBY);
      return { ok: answer.ok, detail: `Route 53 data plane alone: ${answer.detail} (zero-weight standby)` };
    });

    let event: unknown;
    await step('alarm goes to ALARM; EventBridge event delivered to the trigger', async () => {
      event = await setAlarmAndBuildEvent(
        l.clients.cloudwatch,
        l.topology.alarmName,
        'ALARM',
        'Threshold Crossed: primary health check failing',
      );
      const [outcome] = (await invokeAlarm(event, context)) as AlarmOutcome[];
      const ok = outcome?.kind === 'transitioned' && outcome.reports.every((r) => r.phase === 'converged');
      return {
        ok,
        detail: `${outcome?.kind}${outcome?.kind === 'transitioned' ? ` to epoch ${outcome.epoch}` : ''}`,
      };
    });

    await step('verify: weights flipped, the standby answers and is held', async () => {
      const record = await l.controlPlane().store.readService('shop');
      failing.delete(l.topology.primaryHealthCheckId); // even with the primary healthy again...
      const answer = await expectAnswer(l, failing, STANDBY); // ...the weights keep the standby serving
      failing.add(l.topology.primaryHealthCheckId);
      const ok =
        answer.ok &&
        record.desired.capabilities.dns?.active === 'standby' &&
        record.statuses.dns?.phase === 'converged';
      return {
        ok,
        detail: `${answer.detail}; desired epoch ${record.desired.epoch}, dns ${record.statuses.dns?.phase}`,
      };
    });

    await step('EventBridge delivers the same event again (at least once)', async () => {
      const [outcome] = (await invokeAlarm(event, context)) as AlarmOutcome[];
      return {
        ok: outcome?.kind === 'unchanged',
        detail: `${outcome?.kind}: duplicate ignored, no Route 53 write`,
      };
    });

    await step('primary recovers; alarm OK: failback is held, not automatic', async () => {
      failing.delete(l.topology.primaryHealthCheckId);
      const ok = await setAlarmAndBuildEvent(
        l.clients.cloudwatch,
        l.topology.alarmName,
        'OK',
        'Threshold Crossed: primary healthy',
      );
      const [outcome] = (await invokeAlarm(ok, context)) as AlarmOutcome[];
      const answer = await expectAnswer(l, failing, STANDBY);
      return { ok: outcome?.kind === 'held' && answer.ok, detail: `${outcome?.kind}; ${answer.detail}` };
    });

    await step('operator fails back: understudy failback shop', async () => {
      const cli = await runCli(l, ['failback', 'shop', '--as', 'drill']);
      const answer = await expectAnswer(l, failing, PRIMARY);
      const last = cli.stdout.trim().split('\n').at(-1) ?? '';
      return {
        ok: cli.code === 0 && answer.ok,
        detail: `exit ${cli.code}: ${last.trim().slice(0, 60)}; ${answer.detail}`,
      };
    });

    await step('idle scheduled run: reads only, changes nothing', async () => {
      const before = await l.controlPlane().store.readService('shop');
      await invokeSchedule({}, context);
      const after = await l.controlPlane().store.readService('shop');
      const ok =
        before.statuses.dns?.updatedAt === after.statuses.dns?.updatedAt && after.desired.epoch === 2;
      return {
        ok,
        detail: `epoch ${after.desired.epoch}, dns ${after.statuses.dns?.phase}, no status write`,
      };
    });

    await l.controlPlane().reporter.flush();
    printSlack(l);
  } finally {
    await local?.stop();
    await moto?.stop();
  }
  return timeline.every((s) => s.ok) ? 0 : 1;
};

const printSlack = (local: LocalControlPlane) => {
  console.log(`\nSlack messages received by the local webhook (${local.sink.messages.length}):`);
  for (const message of local.sink.messages) {
    const offset = ((message.at.getTime() - started) / 1000).toFixed(2);
    const [headline = '', ...rest] = (message.body.text ?? '').split('\n');
    console.log(`  +${offset.padStart(6)} s  ${headline.slice(0, 150)}${rest.length > 0 ? ' …' : ''}`);
  }
};

const code = await main();
const failed = timeline.filter((s) => !s.ok);
console.log(
  `\nTimeline: ${timeline.length} steps in ${timeline.reduce((sum, s) => sum + s.ms, 0)} ms; ` +
    (failed.length === 0 ? 'failover and failback converged.' : `${failed.length} step(s) FAILED.`),
);
process.exit(code);
