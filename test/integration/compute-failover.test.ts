import { afterEach, describe, expect, inject, it } from 'vitest';
import { QUARANTINE_TAG } from '../../functions/capabilities/compute/config';
import {
  instanceStateEvent,
  type LocalCompute,
  serverAlarmEvent,
  serviceAlarmEvent,
  startLocalCompute,
} from '../../functions/capabilities/compute/local';
import { runCommand } from '../../functions/cli/commands';
import { main as cliMain } from '../../functions/cli/main';
import { localLambdaContext as lambdaContext } from '../../functions/drill/lambda-context';
import { countCalls } from '../../functions/drill/local-aws';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
import { createResourceEventHandler } from '../../functions/handlers/resource-event';
import type { AlarmOutcome } from '../../functions/trigger/handle-alarm';

const endpoint = inject('motoEndpoint');

let local: LocalCompute;
let elbCalls: Map<string, number>;
let ec2Calls: Map<string, number>;

const start = async (options: Parameters<typeof startLocalCompute>[1] = {}) => {
  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  local = await startLocalCompute(endpoint, options);
  // countCalls is typed for Route 53's client; any SDK v3 client's middleware stack takes it.
  elbCalls = countCalls(local.clients.elbv2 as unknown as Parameters<typeof countCalls>[0]);
  ec2Calls = countCalls(local.clients.ec2 as unknown as Parameters<typeof countCalls>[0]);
};

afterEach(async () => {
  await local?.stop();
});

const deliver = (event: unknown) =>
  createAlarmHandler(() => local.controlPlane())(event, lambdaContext) as Promise<AlarmOutcome[]>;
const scheduledRun = () =>
  createReconcileHandler(() => local.controlPlane())({}, lambdaContext) as Promise<{ phase: string }[]>;
const state = () => local.controlPlane().store.readService('web');
const slackTexts = () => local.sink.messages.map((m) => m.body.text ?? '');
const writes = (counts: Map<string, number>) =>
  [...counts.entries()].filter(([name]) => !name.startsWith('Describe')).reduce((n, [, c]) => n + c, 0);

/** Scheduled runs, one a minute, until compute converges or refuses (moto applies everything at once). */
const settle = async (maxRuns = 6) => {
  for (let run = 0; run < maxRuns; run++) {
    local.clock.advance(60_000);
    const [report] = await scheduledRun();
    if (report?.phase === 'converged' || report?.phase === 'refused') return report.phase;
  }
  return (await state()).statuses.compute?.phase;
};

describe('compute failover against the local AWS', () => {
  it('an idle, converged tier: the scheduled run only reads', async () => {
    await start();
    const { primaries } = local.topology;

    expect(await settle()).toBe('converged');
    elbCalls.clear();
    ec2Calls.clear();
    await scheduledRun();

    expect(writes(elbCalls) + writes(ec2Calls)).toBe(0);
    expect(elbCalls.get('DescribeTargetHealthCommand')).toBe(1);
    expect(await local.members()).toEqual([...primaries]);
  });

  it('a per-server alarm swaps exactly one spare in and the failed server out, and quarantines it', async () => {
    await start({ primaries: 3, standbys: 2 });
    const { primaries, standbys } = local.topology;
    const failed = primaries[1] as string;

    const [outcome] = await deliver(serverAlarmEvent(failed, local.clock.now()));
    expect(outcome).toMatchObject({ kind: 'transitioned', epoch: 1, changed: ['compute'] });
    expect(await settle()).toBe('converged');

    const members = await local.members();
    const spares = members.filter((id) => standbys.includes(id));
    expect(spares).toHaveLength(1);
    expect(members).toEqual([...primaries.filter((id) => id !== failed), ...spares].sort());
    expect((await local.instance(failed)).tags[QUARANTINE_TAG]).toBe('1');
    expect((await local.instance(failed)).state).toBe('running'); // examined, never terminated
    const record = await state();
    expect(record.desired.capabilities.compute).toMatchObject({
      active: 'primary',
      params: { replace: [failed] },
    });
    expect(elbCalls.get('RegisterTargetsCommand')).toBe(1);
    expect(elbCalls.get('DeregisterTargetsCommand')).toBe(1);
  });

  it('starts a stopped spare first, registers it once running, and only then takes the failed one out', async () => {
    await start({ primaries: 2, standbys: 1, stoppedStandbys: 1 });
    const { primaries, standbys } = local.topology;
    const failed = primaries[0] as string;
    const spare = standbys[0] as string;
    expect((await local.instance(spare)).state).toBe('stopped');

    const [outcome] = await deliver(serverAlarmEvent(failed, local.clock.now()));

    // The alarm's own step: only the start; the failed server still serves.
    expect(outcome?.kind === 'transitioned' && outcome.reports[0]?.plan?.kind).toBe('act');
    expect(
      outcome?.kind === 'transitioned' &&
        (outcome.reports[0]?.plan?.kind === 'act' ? outcome.reports[0].plan.actions.map((a) => a.api) : []),
    ).toEqual(['ec2:StartInstances']);
    expect(await local.members()).toEqual([...primaries]);
    expect((await local.instance(spare)).state).toBe('running');

    expect(await settle()).toBe('converged');
    expect(await local.members()).toEqual([primaries[1], spare].sort());
  });

  it('turns 20 concurrent copies of one per-server alarm into one transition and one swap', async () => {
    await start({ primaries: 2, standbys: 2 });
    const failed = local.topology.primaries[0] as string;
    const event = serverAlarmEvent(failed, local.clock.now());

    const outcomes = (await Promise.all(Array.from({ length: 20 }, () => deliver(event)))).flat();
    expect(await settle()).toBe('converged');
    // The same alarm again, later: still nothing new.
    const [again] = await deliver(event);

    expect(outcomes.filter((o) => o.kind === 'transitioned')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'unchanged')).toHaveLength(19);
    expect(again?.kind).toBe('unchanged');
    expect((await state()).desired.epoch).toBe(1);
    expect(elbCalls.get('RegisterTargetsCommand')).toBe(1);
    expect(elbCalls.get('DeregisterTargetsCommand')).toBe(1);
    expect((await local.members()).filter((id) => local.topology.standbys.includes(id))).toHaveLength(1);
  });

  it('approve mode: a per-server alarm only asks; `understudy replace` is the approval, through the same path', async () => {
    await start({ mode: 'approve', primaries: 3, standbys: 2 });
    const { primaries, standbys } = local.topology;
    const failed = primaries[0] as string;

    const [asked] = await deliver(serverAlarmEvent(failed, local.clock.now()));
    expect(asked).toMatchObject({ kind: 'planned' });
    expect(slackTexts().some((t) => t.includes(`npx --no-install understudyctl replace web ${failed}`))).toBe(
      true,
    );
    expect(elbCalls.get('RegisterTargetsCommand') ?? 0).toBe(0);

    // The operator's command, through the CLI's own entry point, on the same local AWS.
    const out: string[] = [];
    const run = (argv: string[]) =>
      cliMain(argv, {
        stdout: (line: string) => out.push(line),
        stderr: (line: string) => out.push(line),
        loadConfig: async () => local.topology.config,
        controlPlane: () => local.controlPlane(),
        userName: () => 'alice',
      });
    // --yes: no terminal here; the account shown and checked is moto's, through STS.
    await run(['replace', 'web', failed, '--yes', '--config', 'local.config.ts']);
    const again = await run(['replace', 'web', failed, '--yes', '--config', 'local.config.ts']);
    expect(await settle()).toBe('converged');

    const members = await local.members();
    expect(members).not.toContain(failed);
    expect(members.filter((id) => standbys.includes(id))).toHaveLength(1);
    expect(elbCalls.get('RegisterTargetsCommand')).toBe(1);
    expect(again).toBe(0); // the same replacement twice is one replacement
    const record = await state();
    expect(record.desired.requestedBy).toBe('operator:alice');
    expect(record.desired.capabilities.compute?.params).toEqual({ replace: [failed] });
  });

  it('a second failed server is a new transition and takes a second spare', async () => {
    await start({ primaries: 2, standbys: 2 });
    const [p1, p2] = local.topology.primaries as [string, string];

    await deliver(serverAlarmEvent(p1, local.clock.now()));
    await settle();
    const [second] = await deliver(serverAlarmEvent(p2, local.clock.now()));
    expect(await settle()).toBe('converged');

    expect(second).toMatchObject({ kind: 'transitioned', epoch: 2 });
    expect(await local.members()).toEqual([...local.topology.standbys]);
    expect((await local.instance(p2)).tags[QUARANTINE_TAG]).toBe('2');
  });

  it('a service alarm swaps the whole standby set in and every primary out', async () => {
    await start({ primaries: 3, standbys: 2, stoppedStandbys: 1 });
    const { primaries, standbys } = local.topology;

    const [outcome] = await deliver(serviceAlarmEvent(local.clock.now()));
    expect(outcome).toMatchObject({ kind: 'transitioned', epoch: 1, changed: ['compute'] });
    expect(await settle()).toBe('converged');

    expect(await local.members()).toEqual([...standbys]);
    for (const id of primaries) expect((await local.instance(id)).tags[QUARANTINE_TAG]).toBe('1');
    expect(slackTexts().some((t) => t.includes('Converged'))).toBe(true);
  });

  it('a spare that never becomes healthy: the failed server stays in service and the refusal is reported once', async () => {
    await start({ primaries: 2, standbys: 1 });
    const { primaries, standbys } = local.topology;
    const failed = primaries[0] as string;
    const spare = standbys[0] as string;
    // moto reports every registered target healthy at once; the harness supplies the load balancer's
    // verdict on this spare instead: its health checks keep failing.
    local.health.set(spare, 'unhealthy');

    await deliver(serverAlarmEvent(failed, local.clock.now()));
    expect(await settle()).toBe('refused');
    await settle(3); // more runs: the same refusal, not repeated

    expect(await local.members()).toEqual([...primaries, spare].sort());
    expect(elbCalls.get('DeregisterTargetsCommand') ?? 0).toBe(0);
    expect((await local.instance(failed)).tags[QUARANTINE_TAG]).toBeUndefined();
    const status = (await state()).statuses.compute;
    expect(status?.phase).toBe('refused');
    expect(status?.detail).toContain(`${spare} is unhealthy`);
    expect(status?.detail).toContain(`${failed} kept in web`);
    expect(slackTexts().filter((t) => t.includes(`${failed} kept in web`))).toHaveLength(1);

    // The spare recovers: the next run completes the replacement.
    local.health.delete(spare);
    expect(await settle()).toBe('converged');
    expect(await local.members()).toEqual([primaries[1], spare].sort());
  });

  it('failback restores the original membership after a whole-tier swap, releasing the quarantine', async () => {
    await start({ primaries: 2, standbys: 2, stopStandbysOnFailback: true });
    const { primaries, standbys } = local.topology;
    await deliver(serviceAlarmEvent(local.clock.now()));
    expect(await settle()).toBe('converged');

    const cp = local.controlPlane();
    const result = await runCommand(
      cp,
      { name: 'failback', service: 'web', capabilities: undefined, as: 'alice' } as never,
      'alice',
    );
    await cp.reporter.flush();
    expect(result.lines[0]).toContain('epoch 2');
    expect(await settle()).toBe('converged');

    expect(await local.members()).toEqual([...primaries]);
    for (const id of primaries) expect((await local.instance(id)).tags[QUARANTINE_TAG]).toBeUndefined();
    for (const id of standbys) expect((await local.instance(id)).state).toBe('stopped');
  });

  it('failback also undoes a per-server replacement: the server is back and the spare out', async () => {
    await start({ primaries: 2, standbys: 1 });
    const { primaries, standbys } = local.topology;
    await deliver(serverAlarmEvent(primaries[0] as string, local.clock.now()));
    expect(await settle()).toBe('converged');
    expect(await local.members()).toContain(standbys[0]);

    const cp = local.controlPlane();
    await runCommand(
      cp,
      { name: 'failback', service: 'web', capabilities: ['compute'], as: 'alice' } as never,
      'alice',
    );
    await cp.reporter.flush();
    expect(await settle()).toBe('converged');

    expect(await local.members()).toEqual([...primaries]);
    expect((await state()).desired.capabilities.compute?.params).toBeUndefined();
  });

  it('a standby reaching running reconciles compute at once, without waiting for the schedule', async () => {
    await start({ primaries: 2, standbys: 1, stoppedStandbys: 1 });
    const { primaries, standbys } = local.topology;
    await deliver(serverAlarmEvent(primaries[0] as string, local.clock.now()));
    expect((await local.instance(standbys[0] as string)).state).toBe('running');

    const reports = (await createResourceEventHandler(
      () => local.controlPlane(),
      () => 'compute',
    )(instanceStateEvent(standbys[0] as string, 'running', local.clock.now()), lambdaContext)) as {
      phase: string;
    }[];
    const ignored = await createResourceEventHandler(
      () => local.controlPlane(),
      () => 'compute',
    )({ source: 'aws.ec2', detail: 'not an event' }, lambdaContext);

    expect(reports.map((r) => r.phase)).toEqual(['waiting']);
    expect(await local.members()).toContain(standbys[0]);
    expect(ignored).toEqual([]);
  });
});
