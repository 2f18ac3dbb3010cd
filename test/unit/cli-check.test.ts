import { describe, expect, it } from 'vitest';
import { CAPABILITY_MODULES } from '../../functions/capabilities/registry';
import { parseCommand } from '../../functions/cli/args';
import { type CliIo, main } from '../../functions/cli/main';
import { noProgress } from '../../functions/cli/progress';
import { parseConfig } from '../../functions/config/schema';
import type { CapabilityModule } from '../../functions/engine/module';
import { Reporter } from '../../functions/engine/reporter';
import type { ReadinessPlane } from '../../functions/readiness/engine';
import { type CapabilityReadiness, notReady, ready, skipped } from '../../functions/readiness/finding';
import {
  FakeClock,
  FakeStore,
  minimalInput,
  RecordingLog,
  RecordingNotifier,
  testControlPlane,
} from './fixtures';

const config = parseConfig(minimalInput());
const first = CAPABILITY_MODULES[0];

const cli = (answer: () => CapabilityReadiness) => {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const store = new FakeStore();
  const notifier = new RecordingNotifier();
  const clock = new FakeClock();
  const plane = (): ReadinessPlane => ({
    config,
    modules: [{ ...first, readiness: async () => answer() } as CapabilityModule],
    store,
    reporter: new Reporter(store, notifier, new RecordingLog()),
    clock,
    log: new RecordingLog(),
    context: {} as never,
    shared: {
      slack: async () => ready('failover', 'slack-secret', 'secret holds a Slack webhook URL'),
      permissions: async (calls) =>
        calls.length > 0 ? [skipped('failover', 'permissions', 'no role to simulate is known here')] : [],
    },
  });
  const io: CliIo = {
    stdout: (t) => stdout.push(t),
    stderr: (t) => stderr.push(t),
    loadConfig: async () => config,
    env: { USER: 'alice', UNDERSTUDY_CONFIG: 'team.config.ts' },
    progress: noProgress,
    controlPlane: (cfg) => testControlPlane({ config: cfg, store, notifier, clock }),
    readinessPlane: plane,
  };
  return {
    store,
    notifier,
    out: () => stdout.join(''),
    err: () => stderr.join(''),
    run: (...argv: string[]) => main(argv, io),
  };
};

describe('understudy check', () => {
  it('parses, with an optional service', () => {
    expect(parseCommand(['check'])).toMatchObject({
      kind: 'run',
      command: { name: 'check', service: undefined },
    });
    expect(parseCommand(['check', 'shop'])).toMatchObject({
      kind: 'run',
      command: { name: 'check', service: 'shop' },
    });
  });

  it('exits 0 when every capability is ready, listing skipped checks as skipped', async () => {
    const c = cli(() => ({
      findings: [ready('failover', 'standby-health', 'passes')],
      calls: [{ direction: 'failover', action: 'route53:ChangeResourceRecordSets', resource: '*' }],
    }));
    expect(await c.run('check', 'shop')).toBe(0);
    expect(c.out()).toBe(
      [
        'shop: ready',
        `  ${first.name}: skipped failover permissions: no role to simulate is known here`,
        '  shared: ready',
        '',
      ].join('\n'),
    );
  });

  it('exits 1 when a capability is not ready, one line per reason', async () => {
    const c = cli(() => ({
      findings: [
        notReady('failover', 'standby-health', 'www.shop.example.com. A: the standby health check fails'),
        notReady('failback', 'primary-health', 'www.shop.example.com. A: the primary health check fails'),
        ready('failover', 'other', 'fine'),
      ],
    }));
    expect(await c.run('check')).toBe(1);
    expect(c.out().split('\n')).toEqual([
      'shop: NOT READY',
      `  ${first.name}: NOT READY failover standby-health: www.shop.example.com. A: the standby health check fails`,
      `  ${first.name}: NOT READY failback primary-health: www.shop.example.com. A: the primary health check fails`,
      '  shared: ready',
      '',
    ]);
    // Recorded and told like the schedule's check; status shows it.
    expect(c.notifier.sent.map((e) => e.kind)).toEqual(['readiness']);
    expect(await c.run('status', 'shop')).toBe(0);
    expect(c.out()).toContain(`readiness ${first.name}: NOT READY since`);
  });

  it('refuses an unknown service as a usage error', async () => {
    const c = cli(() => ({ findings: [] }));
    expect(await c.run('check', 'nope')).toBe(2);
    expect(c.err()).toMatch(/no service "nope"/);
  });

  it('exits 1 with --json too, and prints the verdicts as JSON', async () => {
    const c = cli(() => ({ findings: [notReady('failover', 'x', 'broken')] }));
    expect(await c.run('check', '--json')).toBe(1);
    expect(JSON.parse(c.out())).toMatchObject({
      command: 'check',
      exitCode: 1,
      services: [{ service: 'shop', verdict: 'not-ready' }],
    });
  });
});
