/**
 * The local failover drill (`npm run drill`): the real control plane, real AWS SDK v3 clients,
 * an embedded AWS emulator (moto) and a local Slack webhook sink. No AWS account, no network.
 * Each capability's scenario provisions its own topology on a freshly reset emulator.
 */
import { type DrillScenario, DrillTimeline } from '../test/support/drill';
import { computeDrill } from '../test/support/drill-compute';
import { databaseDrill } from '../test/support/drill-database';
import { dnsDrill } from '../test/support/drill-dns';
import { mailDrill } from '../test/support/drill-mail';
import { type MotoServer, startMoto } from '../test/support/moto';

// The SDK warns that Node 20 support ends in 2027; the Lambdas run Node 22. Keep the timeline readable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const scenarios: readonly DrillScenario[] = [dnsDrill, databaseDrill, computeDrill, mailDrill];

const timeline = new DrillTimeline();
console.log(
  `understudy drill: ${scenarios.map((s) => s.name).join(', ')} failover and failback on a local AWS\n`,
);
let moto: MotoServer | undefined;
try {
  const up = await timeline.step('emulator', 'start the local AWS (moto server on a free port)', async () => {
    moto = await startMoto();
    return { ok: true, detail: `${moto.endpoint} (pid ${moto.pid})` };
  });
  for (const scenario of up && moto ? scenarios : []) {
    const endpoint = (moto as MotoServer).endpoint;
    console.log(`\n[${scenario.name}]`);
    await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    await scenario.run(timeline.context(scenario.name, endpoint));
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
process.exit(timeline.ok ? 0 : 1);
