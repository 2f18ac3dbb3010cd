/**
 * The DNS drill: alarm-driven failover, a duplicate event, held failback and an operator's failback,
 * for a weighted pair, then the same for a switched record with Route 53's record API refused
 * (drill-switched.ts).
 * What moto cannot do, the drill does and says so: it fails the primary's health check (moto
 * reports every check healthy) and builds the EventBridge alarm event (moto emits none).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerFor, supplyHealthCheckStatus } from '../../drill/local-aws';
import { alarmPath } from '../../drill/local-control-plane';
import {
  type DrillContext,
  type DrillScenario,
  drillLambdaContext,
  drillOnTopology,
  truncateWords,
} from '../../drill/timeline';
import { createReconcileHandler } from '../../handlers/reconcile';
import { runSwitchedDrill } from './drill-switched';
import { type LocalControlPlane, startLocalControlPlane } from './local';

const PRIMARY = '192.0.2.10';
const STANDBY = '198.51.100.10';

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
    const child = spawn(
      process.execPath,
      ['bin/understudyctl.js', ...args, '--yes', '--config', configFile],
      {
        env: { ...process.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
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

export const dnsDrill: DrillScenario = {
  name: 'dns',
  async run(context: DrillContext) {
    const failing = new Set<string>();
    await drillOnTopology(
      context,
      'provision zone, health checks, alarm, state table, Slack',
      async () => {
        const local = await startLocalControlPlane(context.endpoint, { maxAttempts: 3 });
        supplyHealthCheckStatus(local.clients.route53, failing);
        const t = local.topology;
        return {
          local,
          detail: `zone ${t.hostedZoneId}, alarm ${t.alarmName}, Slack sink ${local.sink.url}`,
        };
      },
      async (l) => {
        const alarms = alarmPath(l.clients.cloudwatch, () => l.controlPlane());
        const invokeSchedule = createReconcileHandler(() => l.controlPlane());

        await context.step('scheduled run: the control plane creates the weighted pair', async () => {
          await invokeSchedule({}, drillLambdaContext);
          return expectAnswer(l, failing, PRIMARY);
        });

        await context.step('primary fails its health check (supplied by the drill)', async () => {
          failing.add(l.topology.primaryHealthCheckId);
          const answer = await expectAnswer(l, failing, STANDBY);
          return {
            ok: answer.ok,
            detail: `Route 53 data plane alone: ${answer.detail} (zero-weight standby)`,
          };
        });

        let event: unknown;
        await context.step('alarm goes to ALARM; EventBridge event delivered to the trigger', async () => {
          const set = await alarms.set(
            l.topology.alarmName,
            'ALARM',
            'Threshold Crossed: primary health check failing',
          );
          event = set.event;
          const [outcome] = set.outcomes;
          const ok =
            outcome?.kind === 'transitioned' && outcome.reports.every((r) => r.phase === 'converged');
          return {
            ok,
            detail: `${outcome?.kind}${outcome?.kind === 'transitioned' ? ` to epoch ${outcome.epoch}` : ''}`,
          };
        });

        await context.step('verify: weights flipped, the standby answers and is held', async () => {
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

        await context.step('EventBridge delivers the same event again (at least once)', async () => {
          const [outcome] = await alarms.deliver(event);
          return {
            ok: outcome?.kind === 'unchanged',
            detail: `${outcome?.kind}: duplicate ignored, no Route 53 write`,
          };
        });

        await context.step('primary recovers; alarm OK: failback is held, not automatic', async () => {
          failing.delete(l.topology.primaryHealthCheckId);
          const [outcome] = (
            await alarms.set(l.topology.alarmName, 'OK', 'Threshold Crossed: primary healthy')
          ).outcomes;
          const answer = await expectAnswer(l, failing, STANDBY);
          return { ok: outcome?.kind === 'held' && answer.ok, detail: `${outcome?.kind}; ${answer.detail}` };
        });

        await context.step('operator fails back: understudy failback shop', async () => {
          const cli = await runCli(l, ['failback', 'shop', '--as', 'drill']);
          const answer = await expectAnswer(l, failing, PRIMARY);
          const last = cli.stdout.trim().split('\n').at(-1) ?? '';
          return {
            ok: cli.code === 0 && answer.ok,
            detail: `exit ${cli.code}: ${truncateWords(last.trim(), 60)}; ${answer.detail}`,
          };
        });

        await context.step('idle scheduled run: reads only, changes nothing', async () => {
          const before = await l.controlPlane().store.readService('shop');
          await invokeSchedule({}, drillLambdaContext);
          const after = await l.controlPlane().store.readService('shop');
          const ok =
            before.statuses.dns?.updatedAt === after.statuses.dns?.updatedAt && after.desired.epoch === 2;
          return {
            ok,
            detail: `epoch ${after.desired.epoch}, dns ${after.statuses.dns?.phase}, no status write`,
          };
        });
      },
    );
    // The switched kind, on a freshly reset emulator, under its own heading.
    console.log('\n[dns: switched]');
    await fetch(`${context.endpoint}/moto-api/reset`, { method: 'POST' });
    await runSwitchedDrill(context);
  },
};
