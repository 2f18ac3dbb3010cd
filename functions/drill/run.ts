import type { AuditEntry } from '../state/store';
import { type MotoServer, startMoto } from './emulator';
import { harnessClocksFollowRealTime } from './local-control-plane';
import { drillReport, emulatorAudit, writeDrillReport } from './report';
import { DRILL_SCENARIOS } from './scenarios';
import { type DrillScenario, DrillTimeline } from './timeline';

/**
 * The local failover drill: the real control plane, real AWS SDK v3 clients, an embedded AWS
 * emulator (moto) and a local Slack webhook sink. Each capability's scenario provisions its own
 * topology on a freshly reset emulator. Returns the process exit code: 0 only if every step passed.
 */
export const runDrill = async (
  scenarios: readonly DrillScenario[] = Object.values(DRILL_SCENARIOS),
): Promise<number> => {
  // The SDK warns that Node 20 support ends in 2027; the Lambdas run Node 22. Keep the timeline readable.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const timeline = new DrillTimeline();
  // Measured recovery in the report is then real in-process time, not a clock standing still.
  harnessClocksFollowRealTime();
  const audits = new Map<string, AuditEntry[]>();
  console.log(
    `understudy drill: ${scenarios.map((s) => s.name).join(', ')} failover and failback on a local AWS\n`,
  );
  let moto: MotoServer | undefined;
  try {
    const up = await timeline.step(
      'emulator',
      'start the local AWS (moto server on a free port)',
      async () => {
        moto = await startMoto();
        return { ok: true, detail: `${moto.endpoint} (pid ${moto.pid})` };
      },
    );
    for (const scenario of up && moto ? scenarios : []) {
      const endpoint = (moto as MotoServer).endpoint;
      console.log(`\n[${scenario.name}]`);
      await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      await scenario.run(timeline.context(scenario.name, endpoint));
      // Before the next scenario resets the emulator: the audit log its control plane wrote.
      try {
        audits.set(scenario.name, await emulatorAudit(endpoint));
      } catch (error) {
        console.error(`could not read ${scenario.name}'s audit log for the report: ${String(error)}`);
      }
    }
  } finally {
    await (moto as MotoServer | undefined)?.stop();
  }
  timeline.printSlack();
  const failed = timeline.steps.filter((s) => !s.ok);
  console.log(
    `\nTimeline: ${timeline.steps.length} steps in ${timeline.steps.reduce((sum, s) => sum + s.ms, 0)} ms; ` +
      (timeline.ok ? 'every failover and failback converged.' : `${failed.length} step(s) FAILED.`),
  );
  const report = await writeDrillReport(drillReport(timeline.steps, audits, new Date()));
  console.log(`\nExecution report (open it in a browser): ${report}`);
  return timeline.ok ? 0 : 1;
};
