/**
 * The compute drill: a failed server replaced by a spare, a whole-tier swap, and the operator's
 * failback to the original membership. What moto cannot do, the drill does and says so: it builds
 * the EventBridge alarm and instance-state events (moto emits none); moto itself starts instances
 * and passes target health checks at once.
 */
import { runCommand } from '../../cli/commands';
import { alarmPath } from '../../drill/local-control-plane';
import { drillLambdaContext, drillScenario, truncateWords } from '../../drill/timeline';
import { createReconcileHandler } from '../../handlers/reconcile';
import { createResourceEventHandler } from '../../handlers/resource-event';
import { QUARANTINE_TAG } from './config';
import { instanceStateEvent, serverAlarmEvent, serviceAlarmEvent, startLocalCompute } from './local';

const short = (ids: readonly string[]) => ids.map((id) => id.slice(-4)).join(' ');

export const computeDrill = drillScenario(
  'compute',
  'provision 3 primaries, 3 spares (1 stopped), target group, alarms',
  async (endpoint) => {
    const local = await startLocalCompute(endpoint, {
      primaries: 3,
      standbys: 3,
      stoppedStandbys: 1,
      maxAttempts: 3,
      stopStandbysOnFailback: true,
    });
    const t = local.topology;
    return {
      local,
      detail: `primaries ${short(t.primaries)}, spares ${short(t.standbys)}`,
    };
  },
  async (l, context) => {
    const { primaries, standbys } = l.topology;
    const alarms = alarmPath(l.clients.cloudwatch, () => l.controlPlane());
    const schedule = () => createReconcileHandler(() => l.controlPlane())({}, drillLambdaContext);
    /** Scheduled runs, a minute apart, until compute converges; returns how many it took. */
    const converge = async () => {
      for (let run = 1; run <= 8; run++) {
        l.clock.advance(60_000);
        await schedule();
        if ((await l.controlPlane().store.readService('web')).statuses.compute?.phase === 'converged')
          return run;
      }
      return -1;
    };
    const failed = primaries[0] as string;

    await context.step('scheduled run: the primaries serve, as configured', async () => {
      const runs = await converge();
      const members = await l.members();
      return {
        ok: runs > 0 && members.join() === primaries.join(),
        detail: `web target group: ${short(members)}`,
      };
    });

    let serverEvent: unknown;
    await context.step(
      `StatusCheckFailed alarm on ${failed.slice(-4)} (event built by the drill)`,
      async () => {
        serverEvent = serverAlarmEvent(failed, l.clock.now());
        const [outcome] = await alarms.deliver(serverEvent);
        return {
          ok: outcome?.kind === 'transitioned',
          detail: `${outcome?.kind}${outcome?.kind === 'transitioned' ? ` to epoch ${outcome.epoch}: replace ${failed.slice(-4)}` : ''}`,
        };
      },
    );

    await context.step('the spare is registered, healthy, then the failed one leaves', async () => {
      const runs = await converge();
      const members = await l.members();
      const spares = members.filter((id) => standbys.includes(id));
      const quarantine = (await l.instance(failed)).tags[QUARANTINE_TAG];
      const ok = runs > 0 && spares.length === 1 && !members.includes(failed) && quarantine === '1';
      return {
        ok,
        detail: `${runs} run(s); members ${short(members)}; ${failed.slice(-4)} quarantined=${quarantine}, still ${(await l.instance(failed)).state}`,
      };
    });

    await context.step('EventBridge delivers the same alarm again (at least once)', async () => {
      const [outcome] = await alarms.deliver(serverEvent);
      return {
        ok: outcome?.kind === 'unchanged',
        detail: `${outcome?.kind}: duplicate ignored, no second swap`,
      };
    });

    await context.step('service-level alarm: the whole standby tier takes over', async () => {
      const [outcome] = await alarms.deliver(serviceAlarmEvent(l.clock.now()));
      const stopped = standbys[standbys.length - 1]; // provisioned stopped: the alarm's step started it
      // The stopped spare is started by the alarm's own step; its "running" event reconciles at once.
      const reports = await createResourceEventHandler(
        () => l.controlPlane(),
        () => 'compute',
      )(instanceStateEvent(stopped as string, 'running', l.clock.now()), drillLambdaContext);
      const runs = await converge();
      const members = await l.members();
      const ok = outcome?.kind === 'transitioned' && runs > 0 && members.join() === [...standbys].join();
      return {
        ok,
        detail: `epoch ${outcome?.kind === 'transitioned' ? outcome.epoch : '?'}; state-change event -> ${(reports as unknown[]).length} reconcile(s); members ${short(members)}`,
      };
    });

    await context.step('operator fails back: understudy failback web', async () => {
      const cp = l.controlPlane();
      const result = await runCommand(
        cp,
        { name: 'failback', service: 'web', capabilities: undefined, as: 'drill' } as never,
        'drill',
      );
      await cp.reporter.flush();
      const runs = await converge();
      const members = await l.members();
      const spareStates = await Promise.all(standbys.map(async (id) => (await l.instance(id)).state));
      const ok = runs > 0 && members.join() === primaries.join() && spareStates.every((s) => s === 'stopped');
      return {
        ok,
        detail: `${truncateWords(result.lines[0] ?? '', 50)}; members ${short(members)}; spares ${spareStates.join(', ')}`,
      };
    });

    await context.step('idle scheduled run: reads only, changes nothing', async () => {
      const before = await l.controlPlane().store.readService('web');
      await schedule();
      const after = await l.controlPlane().store.readService('web');
      const ok = before.statuses.compute?.updatedAt === after.statuses.compute?.updatedAt;
      return {
        ok,
        detail: `epoch ${after.desired.epoch}, compute ${after.statuses.compute?.phase}, no status write`,
      };
    });
  },
);
