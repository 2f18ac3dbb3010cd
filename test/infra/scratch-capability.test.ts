import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CAPABILITY_MODULES } from '../../functions/capabilities/registry';
import { parseCommand } from '../../functions/cli/args';
import { runCommand } from '../../functions/cli/commands';
import { buildConfigSchema, type Config, parseConfig } from '../../functions/config/schema';
import { describePlan } from '../../functions/engine/describe';
import type { ControlPlane } from '../../functions/engine/engine';
import { reconcileService } from '../../functions/engine/engine';
import { Reporter } from '../../functions/engine/reporter';
import { planTransition, requestTransition } from '../../functions/engine/transition';
import { buildApp } from '../../infra/app';
import { CAPABILITY_INFRA } from '../../infra/capabilities';
import { NoopWorld, noopInfra, noopModule } from '../support/noop-capability';
import { FakeClock, FakeStore, RecordingNotifier } from '../unit/fixtures';

/**
 * Adding a capability is a folder and a registry line: here a scratch module is handed to the shared
 * code as data (config schema, stack, engine, plan), and no shared file is edited for it.
 */
const world = new NoopWorld();
const noop = noopModule(world);
const modules = [...CAPABILITY_MODULES, noop];

const config = (): Config =>
  parseConfig(
    {
      controlPlane: { account: '111111111111', region: 'eu-west-2', stackName: 'understudy-scratch' },
      services: [{ name: 'lab', mode: 'auto', noop: { label: 'lab-switch' } }],
    },
    'scratch config',
    buildConfigSchema(modules),
  );

const controlPlane = (cfg: Config): ControlPlane & { store: FakeStore } => {
  const store = new FakeStore();
  const log = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  };
  return {
    config: cfg,
    modules,
    store,
    capability: async (name) => await modules.find((m) => m.name === name)?.create({} as never),
    reporter: new Reporter(store, new RecordingNotifier(), log),
    clock: new FakeClock('2026-12-01T10:00:00.000Z'),
    log,
  };
};

describe('a scratch capability added only through the registry lists', () => {
  it('is validated by the config schema, naming its field', () => {
    expect(config().services[0]).toMatchObject({ noop: { label: 'lab-switch' } });
    expect(() =>
      parseConfig(
        {
          controlPlane: { account: '111111111111', region: 'eu-west-2' },
          services: [{ name: 'lab', noop: { label: '' } }],
        },
        'scratch config',
        buildConfigSchema(modules),
      ),
    ).toThrow(/noop\.label/);
  });

  it('synthesizes: its infra is deployed and the functions that reconcile it are granted its rights', () => {
    const { app, stack } = buildApp(config(), {
      modules,
      infra: { ...CAPABILITY_INFRA, noop: noopInfra },
      bundle: false,
    });
    const assembly = app.synth();
    const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
    template.resourceCountIs('AWS::SSM::Parameter', 1);
    const reconcileRole = stack.getLogicalId(stack.reconciler.handler.role?.node.defaultChild as CfnElement);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: reconcileRole }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'ssm:GetParameter' })]),
      },
    });
    expect([...stack.capabilities.keys()]).toEqual(['noop']);
  });

  it('appears in `understudy plan`, parsed and run by the real CLI code', async () => {
    const cp = controlPlane(config());
    const parsed = parseCommand(['plan', 'lab', '--capability', 'noop', '--config', 'scratch.ts'], modules);
    if (parsed.kind !== 'run') throw new Error(`not parsed: ${JSON.stringify(parsed)}`);

    const result = await runCommand(cp, parsed.command, 'test');

    expect(result.exitCode).toBe(0);
    expect(result.lines.join('\n')).toContain('noop: noop:Switch because the standby should serve');
  });

  it('appears in the plan, and the engine reconciles it to the standby and back', async () => {
    const cfg = config();
    const cp = controlPlane(cfg);
    const service = cfg.services[0];
    if (!service) throw new Error('no service');
    const request = {
      service: 'lab',
      capabilities: ['noop' as never],
      target: 'standby' as const,
      requestedBy: 'operator:test',
      reason: 'scratch failover',
      ignoreCooldown: true,
    };

    const { decision, reports } = await planTransition(cp, service, request);
    const plan = describePlan(decision, reports);
    expect(plan.join('\n')).toContain('noop: noop:Switch because the standby should serve');

    const outcome = await requestTransition(cp, service, request);
    expect(outcome.kind).toBe('transitioned');
    expect(world.serving.get('lab')).toBe('standby');
    const idle = await reconcileService(cp, service);
    expect(idle.map((r) => r.phase)).toEqual(['converged']);
    expect(world.switches).toEqual([{ service: 'lab', to: 'standby', epoch: 1 }]);
  });
});
