/**
 * The `[dns: switched]` drill: a switched service fails over on an alarm and back on an operator's
 * command while the local Route 53 refuses every ChangeResourceRecordSets and GetChange once the
 * records exist (injected in the harness's client). What moto cannot do, the drill does and says so:
 * it evaluates the switch alarm from the metric the control plane publishes and derives each health
 * check's verdict (switch-local.ts), and it fails the primary's own health check; the answers are
 * computed from the record sets moto holds and those verdicts.
 */
import { ChangeResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { main } from '../../cli/main';
import { countCalls, LOCAL_ACCOUNT } from '../../drill/local-aws';
import { alarmPath } from '../../drill/local-control-plane';
import { type DrillContext, drillLambdaContext, drillOnTopology, truncateWords } from '../../drill/timeline';
import { createReconcileHandler } from '../../handlers/reconcile';
import { PRIMARY_IP, refuseRoute53Changes, STANDBY_IP, startSwitchedControlPlane } from './switch-local';

export const runSwitchedDrill = async (context: DrillContext): Promise<void> => {
  let refusing = false;
  let refused = new Map<string, number>();
  let route53Calls = new Map<string, number>();
  let cloudwatchCalls = new Map<string, number>();
  await drillOnTopology(
    context,
    'provision zone, health checks and the switch (alarm, alarm health check, calculated check)',
    async () => {
      const local = await startSwitchedControlPlane(context.endpoint, { maxAttempts: 3 });
      refused = refuseRoute53Changes(local.clients.route53, () => (refusing ? 'changes' : 'none'));
      route53Calls = countCalls(local.clients.route53);
      cloudwatchCalls = countCalls(local.clients.cloudwatch);
      const t = local.topology;
      return {
        local,
        detail: `zone ${t.hostedZoneId}, switch alarm ${t.switch.alarmName}, calculated check ${Object.values(t.switch.calculated).join(', ')}`,
      };
    },
    async (l) => {
      const alarms = alarmPath(l.clients.cloudwatch, () => l.controlPlane());
      const invokeSchedule = createReconcileHandler(() => l.controlPlane());
      const www = async (want: string) => {
        const got = await l.answer();
        return {
          ok: got.length === 1 && got[0] === want,
          detail: `www answers ${got.join(', ') || '(nothing)'}`,
        };
      };
      const dnsStatus = async () => (await l.controlPlane().store.readService('shop')).statuses.dns;
      const changes = () =>
        `ChangeResourceRecordSets attempted ${route53Calls.get('ChangeResourceRecordSetsCommand') ?? 0}x, GetChange ${route53Calls.get('GetChangeCommand') ?? 0}x`;

      await context.step('scheduled run: the records are written once, the switch published on', async () => {
        await invokeSchedule({}, drillLambdaContext);
        const answer = await www(PRIMARY_IP);
        const written = route53Calls.get('ChangeResourceRecordSetsCommand') ?? 0;
        return {
          ok: answer.ok && written === 1,
          detail: `${answer.detail}; ${written} record change, PutMetricData ${cloudwatchCalls.get('PutMetricDataCommand') ?? 0}x; switch alarm ${l.evaluator.alarmStates.get(l.topology.switch.alarmName)} (evaluated by the drill)`,
        };
      });

      await context.step('scheduled run: the switch alarm shows the primary: converged', async () => {
        await invokeSchedule({}, drillLambdaContext);
        const status = await dnsStatus();
        return {
          ok: status?.phase === 'converged',
          detail: `dns ${status?.phase}: ${truncateWords(status?.detail ?? '', 60)}`,
        };
      });

      await context.step(
        'Route 53 now refuses ChangeResourceRecordSets and GetChange (injected)',
        async () => {
          refusing = true;
          const error = await l.clients.route53
            .send(
              new ChangeResourceRecordSetsCommand({
                HostedZoneId: l.topology.hostedZoneId,
                ChangeBatch: { Changes: [] },
              }),
            )
            .then(
              () => undefined,
              (e: unknown) => e as Error,
            );
          refused.clear();
          route53Calls.clear();
          cloudwatchCalls.clear();
          return {
            ok: error !== undefined,
            detail: `a test change: ${truncateWords(error?.message ?? 'accepted!', 70)}`,
          };
        },
      );

      await context.step('primary fails its health check (supplied by the drill)', async () => {
        l.failing.add(l.topology.primaryHealthCheckId);
        const answer = await www(STANDBY_IP);
        return {
          ok: answer.ok,
          detail: `Route 53 data plane alone: ${answer.detail} (the calculated check fails)`,
        };
      });

      await context.step('alarm goes to ALARM: the switch is turned off, no record edited', async () => {
        const [outcome] = (
          await alarms.set(l.topology.alarmName, 'ALARM', 'Threshold Crossed: primary health check failing')
        ).outcomes;
        const puts = cloudwatchCalls.get('PutMetricDataCommand') ?? 0;
        return {
          ok: outcome?.kind === 'transitioned' && puts === 1,
          detail: `${outcome?.kind}${outcome?.kind === 'transitioned' ? ` to epoch ${outcome.epoch}` : ''}; PutMetricData ${puts}x; ${changes()}`,
        };
      });

      await context.step('the switch alarm evaluates (drill); the standby answers, held', async () => {
        l.failing.delete(l.topology.primaryHealthCheckId); // even with the primary healthy again...
        const answer = await www(STANDBY_IP); // ...the switch keeps the standby serving
        l.failing.add(l.topology.primaryHealthCheckId);
        await invokeSchedule({}, drillLambdaContext);
        const status = await dnsStatus();
        return {
          ok: answer.ok && status?.phase === 'converged' && status.active === 'standby',
          detail: `${answer.detail}; switch alarm ${l.evaluator.alarmStates.get(l.topology.switch.alarmName)}; dns ${status?.phase} on the ${status?.active}`,
        };
      });

      await context.step('primary recovers; alarm OK: failback is held, not automatic', async () => {
        l.failing.delete(l.topology.primaryHealthCheckId);
        const [outcome] = (await alarms.set(l.topology.alarmName, 'OK', 'Threshold Crossed: primary healthy'))
          .outcomes;
        const answer = await www(STANDBY_IP);
        return { ok: outcome?.kind === 'held' && answer.ok, detail: `${outcome?.kind}; ${answer.detail}` };
      });

      await context.step(
        'operator fails back: understudy failback shop (in-process, Route 53 still refusing)',
        async () => {
          const out: string[] = [];
          const code = await main(
            ['failback', 'shop', '--yes', '--as', 'drill', '--config', 'switched.config.mjs'],
            {
              controlPlane: () => l.controlPlane(),
              loadConfig: async () => l.topology.config,
              callerIdentity: async () => ({
                account: LOCAL_ACCOUNT,
                arn: `arn:aws:iam::${LOCAL_ACCOUNT}:user/drill`,
              }),
              stdout: (t) => out.push(t),
              stderr: (t) => out.push(t),
              stdinIsTTY: false,
              env: {},
            },
          );
          const answer = await www(PRIMARY_IP);
          const dnsLine =
            out
              .join('')
              .split('\n')
              .find((line) => line.includes('shop/dns')) ?? '';
          // exit 1 is expected here: the command returns while the switch waits for its alarm to evaluate.
          return {
            ok: answer.ok && /waiting for (its )?alarm/.test(dnsLine),
            detail: `exit ${code}: ${truncateWords(dnsLine.trim(), 60)}; then ${answer.detail}`,
          };
        },
      );

      await context.step('scheduled run: converged on the primary; no record change was needed', async () => {
        await invokeSchedule({}, drillLambdaContext);
        const status = await dnsStatus();
        const attempted =
          (route53Calls.get('ChangeResourceRecordSetsCommand') ?? 0) +
          (route53Calls.get('GetChangeCommand') ?? 0);
        return {
          ok:
            status?.phase === 'converged' &&
            status.active === 'primary' &&
            attempted === 0 &&
            refused.size === 0,
          detail: `dns ${status?.phase} on the ${status?.active}, epoch ${status?.epoch}; PutMetricData ${cloudwatchCalls.get('PutMetricDataCommand') ?? 0}x; ${changes()}`,
        };
      });
    },
  );
};
