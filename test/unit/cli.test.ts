import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CAPABILITY_MODULES } from '../../functions/capabilities/registry';
import { parseCommand } from '../../functions/cli/args';
import { explainError } from '../../functions/cli/errors';
import { formatReport, formatStatus, type ServiceStatusView } from '../../functions/cli/format';
import { type CliIo, cliLog, main, operatorName } from '../../functions/cli/main';
import { noProgress } from '../../functions/cli/progress';
import { type Config, parseConfig } from '../../functions/config/schema';
import { RetryableError, TerminalError } from '../../functions/core/errors';
import type { DesiredState } from '../../functions/core/types';
import type { AuditEntry } from '../../functions/state/store';
import {
  exampleInput,
  FakeCapability,
  FakeClock,
  FakeStore,
  fullExampleInput,
  RecordingNotifier,
  type TestControlPlane,
  testControlPlane,
} from './fixtures';

const NOW = '2026-11-22T10:00:00.000Z';

/** The example config with a second, dry-run service `lab`. */
const cliConfig = (): Config => {
  const input = exampleInput();
  const shop = input.services[0];
  if (!shop) throw new Error('example config has no service');
  const lab = structuredClone(shop);
  // Its own zone: one name has one owner.
  if (lab.dns) lab.dns.hostedZoneId = 'Z0EXAMPLE0LAB';
  input.services.push({ ...lab, name: 'lab', mode: 'dry-run', alarms: [] });
  return parseConfig(input);
};

/** The whole example (its shop has a compute section, so `replace` applies). */
const computeConfig = (): Config => parseConfig(fullExampleInput());

const onStandby = (service: string, epoch: number, changedAt: string): DesiredState => ({
  service,
  epoch,
  capabilities: { dns: { active: 'standby', epoch, changedAt } },
  requestedBy: 'alarm:shop-primary-unhealthy',
  requestedAt: changedAt,
  reason: 'alarm shop-primary-unhealthy is ALARM',
});

/** A store whose audit writes land only after a real timer: proves the CLI flushes the Reporter. */
class SlowAuditStore extends FakeStore {
  override async appendAudit(entry: AuditEntry): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 20));
    await super.appendAudit(entry);
  }
}

interface Harness {
  readonly io: CliIo;
  readonly out: () => string;
  readonly err: () => string;
  readonly json: () => Record<string, unknown>;
  readonly store: FakeStore;
  readonly capability: FakeCapability;
  readonly notifier: RecordingNotifier;
  readonly made: { region: string; cp: TestControlPlane }[];
  readonly run: (...argv: string[]) => Promise<number>;
}

const harness = (
  options: {
    store?: FakeStore;
    config?: Config;
    env?: Record<string, string | undefined>;
    io?: Partial<CliIo>;
  } = {},
): Harness => {
  const config = options.config ?? cliConfig();
  const store = options.store ?? new FakeStore();
  const capability = new FakeCapability();
  const notifier = new RecordingNotifier();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const made: { region: string; cp: TestControlPlane }[] = [];
  const io: CliIo = {
    stdout: (text) => stdout.push(text),
    stderr: (text) => stderr.push(text),
    loadConfig: async () => config,
    env: options.env ?? { USER: 'alice', UNDERSTUDY_CONFIG: 'team.config.ts' },
    userName: () => 'os-user',
    callerIdentity: async () => ({
      account: config.controlPlane.account,
      arn: `arn:aws:sts::${config.controlPlane.account}:assumed-role/ops/alice`,
    }),
    stdinIsTTY: false,
    progress: noProgress,
    controlPlane: (cfg, { region, log }) => {
      const fake = testControlPlane({ config: cfg, store, capability, notifier, clock: new FakeClock(NOW) });
      // The engine logs through the CLI's logger, as with the real factory.
      const cp = { ...fake, log };
      made.push({ region, cp });
      return cp;
    },
    ...options.io,
  };
  return {
    io,
    store,
    capability,
    notifier,
    made,
    out: () => stdout.join(''),
    err: () => stderr.join(''),
    json: () => JSON.parse(stdout.join('')) as Record<string, unknown>,
    run: (...argv) => main(argv, io),
  };
};

describe('parseCommand', () => {
  it('parses a module command (compute: replace) with one or more instance ids, once each', () => {
    expect(
      parseCommand(['replace', 'web', 'i-0123456789abcdef0', 'i-0123456789abcdef1', 'i-0123456789abcdef0']),
    ).toMatchObject({
      kind: 'run',
      command: {
        name: 'module-command',
        capability: 'compute',
        verb: 'replace',
        service: 'web',
        values: ['i-0123456789abcdef0', 'i-0123456789abcdef1'],
        yes: false,
      },
    });
  });

  it.each([
    [['replace', 'web'], /which servers/],
    [['replace', 'web', 'web-1'], /not an EC2 instance id/],
    [['replace', 'web', 'i-0123456789abcdef0', '--capability', 'dns'], /unknown option '--capability'/],
    [['failover', 'web', 'i-0123456789abcdef0'], /failover: too many arguments/],
  ])('rejects %j', (argv, message) => {
    const parsed = parseCommand(argv);
    expect(parsed.kind).toBe('usage');
    expect(parsed.kind === 'usage' ? parsed.message : '').toMatch(message);
  });

  it('parses status with defaults, and with a service, --audit, --json and --config', () => {
    expect(parseCommand(['status'])).toEqual({
      kind: 'run',
      command: { name: 'status', service: undefined, audit: 0, watch: false, intervalSeconds: 5 },
      options: { configFile: undefined, region: undefined, json: false, verbose: false },
    });
    expect(parseCommand(['status', 'shop', '--audit', '5', '--json', '--config', 'x.ts'])).toMatchObject({
      kind: 'run',
      command: { name: 'status', service: 'shop', audit: 5 },
      options: { configFile: 'x.ts', json: true },
    });
    expect(parseCommand(['--config', 'x.ts', 'status', '--watch', '--interval', '2'])).toMatchObject({
      command: { name: 'status', watch: true, intervalSeconds: 2 },
      options: { configFile: 'x.ts' },
    });
  });

  it('parses plan with --to, repeated and comma-separated --capability, --region and --as', () => {
    expect(parseCommand(['plan', 'shop', '--to', 'primary', '--capability', 'dns'])).toMatchObject({
      kind: 'run',
      command: { name: 'plan', service: 'shop', to: 'primary', capabilities: ['dns'] },
    });
    expect(
      parseCommand(['plan', 'shop', '--capability', 'dns,dns', '--capability=dns', '--region', 'us-east-1']),
    ).toMatchObject({
      kind: 'run',
      command: { name: 'plan', to: undefined, capabilities: ['dns'] },
      options: { region: 'us-east-1' },
    });
    expect(parseCommand(['plan', 'shop', '--as', 'bob'])).toMatchObject({
      command: { name: 'plan', capabilities: undefined, as: 'bob' },
    });
  });

  it('parses failover, failback (with --yes or -y), reconcile and validate', () => {
    expect(parseCommand(['failover', 'shop', '--as', 'bob', '--verbose'])).toMatchObject({
      kind: 'run',
      command: { name: 'failover', service: 'shop', as: 'bob', capabilities: undefined, yes: false },
      options: { verbose: true },
    });
    expect(parseCommand(['failback', 'shop', '--capability', 'dns', '-y'])).toMatchObject({
      kind: 'run',
      command: { name: 'failback', service: 'shop', capabilities: ['dns'], as: undefined, yes: true },
    });
    expect(parseCommand(['reconcile'])).toMatchObject({ command: { name: 'reconcile', service: undefined } });
    expect(parseCommand(['reconcile', 'shop'])).toMatchObject({
      command: { name: 'reconcile', service: 'shop' },
    });
    expect(parseCommand(['validate', '--config', 'mine.ts'])).toEqual({
      kind: 'run',
      command: { name: 'validate' },
      options: { configFile: 'mine.ts', region: undefined, json: false, verbose: false },
    });
  });

  it("turns each module's operator flags into intent params, from the registry", () => {
    const flags = CAPABILITY_MODULES.flatMap((m) => m.flags ?? []);
    expect(flags.length).toBeGreaterThan(0);
    for (const flag of flags) {
      expect(parseCommand(['failover', 'shop', `--${flag.flag}`])).toMatchObject({
        command: { name: 'failover', params: { [flag.param]: true } },
      });
      const parsed = parseCommand(['status', `--${flag.flag}`]);
      expect(parsed).toMatchObject({ kind: 'usage' });
    }
  });

  it('reads flags and commands from the modules it is given, naming no capability itself', () => {
    const scratch = {
      name: 'queue',
      summary: 'drain a queue',
      section: {} as never,
      flags: [{ flag: 'drop-poison', param: 'dropPoison', help: 'queue: drop poison messages' }],
      commands: [
        {
          name: 'drain',
          args: '<queue-url>...',
          help: 'Drains these queues.',
          parseArgs: (args: readonly string[]) =>
            args.length > 0
              ? { ok: true as const, values: args }
              : { ok: false as const, message: 'which queues?' },
          request: () => {
            throw new Error('not called by the parser');
          },
        },
      ],
      create: async () => {
        throw new Error('not called by the parser');
      },
    };
    expect(parseCommand(['failover', 'shop', '--drop-poison'], [scratch])).toMatchObject({
      command: { name: 'failover', params: { dropPoison: true } },
    });
    expect(parseCommand(['drain', 'shop', 'q1', '--yes'], [scratch])).toMatchObject({
      command: { name: 'module-command', capability: 'queue', verb: 'drain', values: ['q1'], yes: true },
    });
    expect(parseCommand(['drain', 'shop'], [scratch])).toMatchObject({
      kind: 'usage',
      message: 'which queues?',
    });
    expect(parseCommand(['replace', 'shop', 'i-0123456789abcdef0'], [scratch])).toMatchObject({
      kind: 'usage',
      message: expect.stringContaining("unknown command 'replace'"),
    });
  });

  it('answers --help and -h with the help of the command asked about', () => {
    const top = parseCommand(['--help']);
    expect(top.kind).toBe('help');
    const text = top.kind === 'help' ? top.text : '';
    expect(text).toContain('Exit codes:');
    expect(text).toMatch(/failover \[options\] <service>/);
    expect(text).toMatch(/replace \[options\] <service>/);

    const failover = parseCommand(['failover', 'shop', '-h']);
    const failoverText = failover.kind === 'help' ? failover.text : '';
    expect(failoverText).toContain('Usage: understudyctl failover [options] <service>');
    expect(failoverText).toContain('--yes');
    expect(failoverText).toContain('--accept-data-loss');
    // The per-server swap is its own command: its help never appears under failover or failback.
    expect(failoverText).not.toMatch(/instance-id|spares/);
    const failback = parseCommand(['failback', '--help']);
    expect(failback.kind === 'help' ? failback.text : '').not.toMatch(/instance-id|spares/);

    const replace = parseCommand(['replace', '--help']);
    const replaceText = replace.kind === 'help' ? replace.text : '';
    expect(replaceText).toContain('Usage: understudyctl replace [options] <service> <instance-id>...');
    expect(replaceText).toContain('quarantined by tag');
    expect(replaceText).not.toContain('--capability');
  });

  it.each([
    [[], /no command given/],
    [['explode'], /unknown command 'explode'/],
    [['plan'], /plan: missing required argument 'service'/],
    [['failover'], /failover: missing required argument 'service'/],
    [['status', 'shop', 'extra'], /status: too many arguments/],
    [['plan', 'shop', '--to', 'sideways'], /--to must be standby or primary/],
    [['plan', 'shop', '--capability', 'storage'], /unknown capability "storage" \(known: dns, /],
    [['status', '--accept-data-loss'], /status: unknown option '--accept-data-loss'/],
    [['failover', 'shop', '--to', 'primary'], /failover: unknown option '--to'/],
    [['plan', 'shop', '--yes'], /plan: unknown option '--yes'/],
    [['reconcile', '--audit', '3'], /reconcile: unknown option '--audit'/],
    [['status', '--audit', '0'], /--audit must be a whole number/],
    [['status', '--audit', 'many'], /--audit must be a whole number/],
    [['status', '--interval', '3'], /--interval needs --watch/],
    [['status', '--watch', '--interval', '0'], /--interval must be a whole number/],
    [['failover', 'shop', '--as', 'eve smith'], /--as must be/],
    [['status', '--frobnicate'], /unknown option '--frobnicate'/],
    [['status', '--config'], /--config/],
  ])('rejects %j', (argv, message) => {
    const parsed = parseCommand(argv);
    expect(parsed.kind).toBe('usage');
    if (parsed.kind === 'usage') expect(parsed.message).toMatch(message);
  });

  it('remembers --json on a usage error so the error can be JSON too', () => {
    expect(parseCommand(['plan', '--json'])).toMatchObject({ kind: 'usage', json: true });
  });

  it('names no capability in the CLI sources: flags and commands come from the registry', () => {
    const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'functions', 'cli');
    const names = [
      ...CAPABILITY_MODULES.map((m) => m.name),
      ...CAPABILITY_MODULES.flatMap((m) => (m.flags ?? []).flatMap((f) => [f.flag, f.param])),
      ...CAPABILITY_MODULES.flatMap((m) => (m.commands ?? []).map((c) => c.name)),
    ];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(join(dir, file), 'utf8')
        // String.prototype.replace is a method, not the per-server command.
        .replace(/\.replace\(/g, '.(');
      for (const name of names) {
        expect(source, `${file} names "${name}"`).not.toMatch(
          new RegExp(`['"\`]${name}['"\`]|--${name}\\b|\\b${name}\\b`),
        );
      }
    }
  });
});

describe('formatting', () => {
  const view: ServiceStatusView = {
    service: 'shop',
    mode: 'auto',
    cooldownMinutes: 30,
    epoch: 3,
    requestedBy: 'operator:alice',
    requestedAt: NOW,
    reason: 'operator alice asked for failover',
    capabilities: [
      {
        capability: 'dns',
        desired: 'standby',
        changedAt: NOW,
        status: {
          phase: 'waiting',
          detail: 'change C1 PENDING',
          epoch: 2,
          active: 'primary',
          updatedAt: NOW,
        },
      },
    ],
    audit: [
      {
        service: 'shop',
        at: NOW,
        kind: 'decision',
        epoch: 3,
        source: 'operator:alice',
        message: 'moving dns to the standby',
      },
    ],
  };

  it('formatStatus shows mode, epoch, desired site, status, staleness and audit', () => {
    const text = formatStatus([view]).join('\n');
    expect(text).toContain('shop: mode auto, epoch 3, cooldown 30 min');
    expect(text).toContain('by operator:alice: operator alice asked for failover');
    expect(text).toContain(`dns: desired standby since ${NOW}`);
    expect(text).toContain(`waiting at ${NOW} [recorded for epoch 2, not the current 3`);
    expect(text).toContain('change C1 PENDING');
    expect(text).toContain(`${NOW} decision (epoch 3, operator:alice): moving dns to the standby`);
  });

  it('formatStatus says when no reconciler has recorded a status', () => {
    const fresh = {
      ...view,
      capabilities: [
        { capability: 'dns' as const, desired: 'primary' as const, changedAt: undefined, status: undefined },
      ],
    };
    expect(formatStatus([fresh]).join('\n')).toContain('no status recorded yet');
  });

  it('formatReport names service, capability, epoch, phase and detail', () => {
    expect(
      formatReport({
        service: 'shop',
        capability: 'dns',
        epoch: 4,
        phase: 'refused',
        detail: 'standby unhealthy',
      }),
    ).toBe('  shop/dns (epoch 4): refused: standby unhealthy');
    expect(
      formatReport({
        service: 'lab',
        capability: 'dns',
        epoch: 0,
        phase: 'planned',
        detail: 'move',
        plan: { kind: 'act', detail: 'move', actions: [] },
      }),
    ).toBe('  lab/dns (epoch 0): planned (act): move');
  });
});

describe('operatorName and cliLog', () => {
  it('takes --as, else $USER, else the OS account, else "unknown"', () => {
    expect(operatorName('bob', { USER: 'alice' }, () => 'os')).toBe('bob');
    expect(operatorName(undefined, { USER: 'alice' }, () => 'os')).toBe('alice');
    expect(operatorName(undefined, { USER: ' ' }, () => 'os')).toBe('os');
    expect(
      operatorName(undefined, {}, () => {
        throw new Error('no passwd entry');
      }),
    ).toBe('unknown');
  });

  it('is quiet by default: warnings once each, no info', () => {
    const lines: string[] = [];
    const log = cliLog((t) => lines.push(t), false);
    log.info('audit entry');
    log.warn('Slack notification failed; carrying on', { error: 'no secret' });
    log.warn('Slack notification failed; carrying on', { error: 'no secret' });
    log.error('could not reconcile service', { service: 'shop' });
    expect(lines).toEqual([
      'understudyctl: warning: Slack notification failed; carrying on: no secret\n',
      'understudyctl: error: could not reconcile service\n',
    ]);
  });

  it('writes every entry as a JSON line with --verbose', () => {
    const lines: string[] = [];
    cliLog((t) => lines.push(t), true).info('hello', { service: 'shop' });
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 'info', message: 'hello', service: 'shop' });
  });
});

describe('main: status', () => {
  it('prints each service, reading the region from the config unless --region overrides it', async () => {
    const h = harness();
    h.store.seed(onStandby('shop', 2, NOW));

    expect(await h.run('status')).toBe(0);
    expect(h.out()).toContain('shop: mode auto, epoch 2');
    expect(h.out()).toContain('lab: mode dry-run, epoch 0');
    expect(h.made[0]?.region).toBe('eu-west-2');

    expect(await h.run('status', 'shop', '--region', 'us-east-1')).toBe(0);
    expect(h.made[1]?.region).toBe('us-east-1');
  });

  it('--json --audit N gives the desired state, statuses and the newest N audit entries', async () => {
    const h = harness();
    for (const n of [1, 2, 3]) {
      await h.store.appendAudit({ service: 'shop', at: NOW, kind: 'action', epoch: n, message: `step ${n}` });
    }
    expect(await h.run('status', 'shop', '--audit', '2', '--json')).toBe(0);
    const doc = h.json();
    expect(doc).toMatchObject({
      command: 'status',
      exitCode: 0,
      services: [
        {
          service: 'shop',
          mode: 'auto',
          epoch: 0,
          capabilities: [{ capability: 'dns', desired: 'primary' }],
          audit: [{ message: 'step 3' }, { message: 'step 2' }],
        },
      ],
    });
    expect((doc.services as { audit: unknown[] }[])[0]?.audit).toHaveLength(2);
  });
});

describe('main: plan', () => {
  it('plans a failover of a service on the primary and changes nothing', async () => {
    const h = harness();
    expect(await h.run('plan', 'shop')).toBe(0);
    expect(h.out()).toContain('plan for shop: failover of dns to the standby');
    expect(h.out()).toContain('dynamodb:PutItem desired state -> epoch 1, dns on the standby');
    expect(h.out()).toContain('dns: fake:Move because the standby should serve');
    expect(h.out()).toContain('to carry it out: npx --no-install understudyctl failover shop');
    expect(h.capability.executed).toEqual([]);
    expect(h.store.intentWrites() + h.store.count('writeStatus') + h.store.count('appendAudit')).toBe(0);
  });

  it('defaults --to to the primary when the capabilities are on the standby', async () => {
    const h = harness();
    h.store.seed(onStandby('shop', 1, NOW));
    h.capability.serving = 'standby';
    expect(await h.run('plan', 'shop', '--json')).toBe(0);
    expect(h.json()).toMatchObject({
      command: 'plan',
      target: 'primary',
      capabilities: ['dns'],
      epoch: 1,
      decision: { kind: 'transition', changed: ['dns'], next: { epoch: 2, requestedBy: 'operator:alice' } },
      reports: [{ capability: 'dns', phase: 'planned', plan: { kind: 'act' } }],
      blocked: false,
    });
    expect(h.capability.planned).toEqual([{ target: 'primary', epoch: 2 }]);
  });

  it('exits 1 when a capability would refuse, and says so', async () => {
    const h = harness();
    h.capability.standbyReady = false;
    expect(await h.run('plan', 'shop', '--to', 'standby')).toBe(1);
    expect(h.out()).toContain('dns: refuse: standby health check is unhealthy');
    expect(h.out()).toContain('not ready');
  });
});

describe('main: failover and failback', () => {
  it('records the operator intent inside the cooldown, acts, flushes the audit, exits 0', async () => {
    // Prepare: dns went back to the primary 5 minutes ago, well inside the 30-minute cooldown.
    const store = new SlowAuditStore();
    const h = harness({ store });
    store.seed({
      ...onStandby('shop', 2, '2026-11-22T09:55:00.000Z'),
      capabilities: { dns: { active: 'primary', epoch: 2, changedAt: '2026-11-22T09:55:00.000Z' } },
    });

    // Act
    const code = await h.run('failover', 'shop', '--as', 'bob', '--yes');

    // Assess
    expect(code).toBe(0);
    expect(store.desired.get('shop')).toMatchObject({
      epoch: 3,
      requestedBy: 'operator:bob',
      reason: 'operator bob asked for failover',
      capabilities: { dns: { active: 'standby', epoch: 3 } },
    });
    expect(h.capability.executed).toHaveLength(1);
    expect(h.out()).toContain('failover shop: desired state is now epoch 3, dns on the standby');
    expect(h.out()).toContain('shop/dns (epoch 3): converged');
    // The audit writes are slower than the command: only a flush before returning gets them in.
    expect(store.audit.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['decision', 'action', 'completed']),
    );
    expect(h.notifier.sent.length).toBeGreaterThan(0);
  });

  it('takes the operator from $USER when --as is not given', async () => {
    const h = harness({ env: { USER: 'carol', UNDERSTUDY_CONFIG: 'team.config.ts' } });
    expect(await h.run('failover', 'shop', '--yes')).toBe(0);
    expect(h.store.desired.get('shop')?.requestedBy).toBe('operator:carol');
  });

  it('fails back to the primary with --json output', async () => {
    const h = harness();
    h.store.seed(onStandby('shop', 1, NOW));
    h.capability.serving = 'standby';
    expect(await h.run('failback', 'shop', '--json', '--yes')).toBe(0);
    expect(h.json()).toMatchObject({
      command: 'failback',
      target: 'primary',
      exitCode: 0,
      outcome: { kind: 'transitioned', epoch: 2, changed: ['dns'] },
      reports: [{ capability: 'dns', phase: 'converged' }],
    });
    expect(h.capability.serving).toBe('primary');
  });

  it('refuses in dry-run mode: prints the plan, writes nothing, exits 1', async () => {
    const h = harness();
    expect(await h.run('failover', 'lab')).toBe(1);
    expect(h.out()).toContain('refused: lab is in dry-run mode');
    expect(h.out()).toContain('dns: fake:Move because the standby should serve');
    expect(h.store.desired.has('lab')).toBe(false);
    expect(h.capability.executed).toEqual([]);
    expect(h.store.count('appendAudit')).toBe(0);
  });

  it('exits 1 when a safety check refuses, though the intent is recorded', async () => {
    const h = harness();
    h.capability.standbyReady = false;
    expect(await h.run('failover', 'shop', '--yes')).toBe(1);
    expect(h.store.desired.get('shop')?.epoch).toBe(1);
    expect(h.out()).toContain('shop/dns (epoch 1): refused: standby health check is unhealthy');
    expect(h.out()).toContain('not converged yet');
  });

  it('exits 1 while a change is still waiting to be verified', async () => {
    const h = harness();
    h.capability.verifyImmediately = false;
    expect(await h.run('failover', 'shop', '--json', '--yes')).toBe(1);
    expect(h.json()).toMatchObject({ exitCode: 1, reports: [{ phase: 'waiting' }] });
  });

  it('when already desired, reconciles once more and exits by the result', async () => {
    const h = harness();
    h.store.seed(onStandby('shop', 4, NOW));
    h.capability.verifyImmediately = false;

    expect(await h.run('failover', 'shop', '--yes')).toBe(1);
    expect(h.out()).toContain('nothing to record, already on standby (epoch 4)');
    expect(h.out()).toContain('shop/dns (epoch 4): waiting');
    expect(h.store.desired.get('shop')?.epoch).toBe(4);

    h.capability.verifyImmediately = true;
    expect(await h.run('failover', 'shop', '--yes')).toBe(0);
    expect(h.store.intentWrites()).toBe(0);
  });
});

describe('main: reconcile', () => {
  it('reconciles every service, planning only the dry-run one, exit 0 when converged', async () => {
    const h = harness();
    h.store.seed(onStandby('shop', 1, NOW));
    expect(await h.run('reconcile', '--json')).toBe(0);
    expect(h.json()).toMatchObject({
      exitCode: 0,
      unreached: [],
      reports: [
        { service: 'shop', phase: 'converged' },
        { service: 'lab', phase: 'planned' },
      ],
    });
    // shop moved to the standby; lab (dry-run, desired primary) was not touched.
    expect(h.capability.executed.map((e) => e.action.params.to)).toEqual(['standby']);
  });

  it('reconciles one service and exits 1 when it is not converged', async () => {
    const h = harness();
    h.store.seed(onStandby('shop', 1, NOW));
    h.capability.standbyReady = false;
    expect(await h.run('reconcile', 'shop')).toBe(1);
    expect(h.out()).toContain('shop/dns (epoch 1): refused');
  });

  it('exits 1 and names a service it could not read', async () => {
    const store = new (class extends FakeStore {
      override async readService(service: string) {
        if (service === 'lab')
          throw new RetryableError('DynamoDB Query failed: ThrottlingException: slow down');
        return super.readService(service);
      }
    })();
    const h = harness({ store });
    expect(await h.run('reconcile')).toBe(1);
    expect(h.out()).toContain('reconciled 1 of 2 service(s)');
    expect(h.out()).toContain('lab: could not be read');
    expect(h.err()).toContain('understudyctl: error: could not reconcile service');
  });
});

describe('main: errors', () => {
  it('exits 2 for an unknown service or an unconfigured capability, before touching AWS', async () => {
    const h = harness();
    expect(await h.run('failover', 'nope')).toBe(2);
    expect(h.err()).toContain('no service "nope" in the config (services: shop, lab)');
    expect(h.made).toEqual([]);
  });

  it('exits 2 on usage errors, with JSON on stdout under --json', async () => {
    const h = harness();
    expect(await h.run('plan', '--json')).toBe(2);
    expect(h.err()).toContain("plan: missing required argument 'service'");
    expect(h.json()).toMatchObject({ error: { kind: 'usage' }, exitCode: 2 });
  });

  it('prints help and exits 0', async () => {
    const h = harness();
    expect(await h.run('--help')).toBe(0);
    expect(h.out()).toContain('Exit codes:');
    expect(await h.run('replace', '--help')).toBe(0);
    expect(h.out()).toContain('Usage: understudyctl replace');
  });

  it('exits 2 with the ConfigError that names the bad field, loading a real config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'understudy-cli-'));
    const file = join(dir, 'bad.config.mjs');
    writeFileSync(
      file,
      `export default ${JSON.stringify({ ...exampleInput(), controlPlane: { account: '123', region: 'eu-west-2' } })};`,
    );
    const { loadConfig: _ignored, ...io } = harness().io;
    const stderr: string[] = [];
    expect(await main(['status', '--config', file], { ...io, stderr: (t) => stderr.push(t) })).toBe(2);
    expect(stderr.join('')).toContain('controlPlane.account: must be a 12-digit AWS account id');
  });

  it('exits 1 with a one-line error when AWS cannot be reached, still flushing', async () => {
    const store = new (class extends FakeStore {
      override async readService(): Promise<never> {
        throw new RetryableError(
          'DynamoDB Query failed: Error: connect ECONNREFUSED 127.0.0.1:1\n    at stack',
        );
      }
    })();
    const h = harness({ store });
    expect(await h.run('plan', 'shop')).toBe(1);
    expect(h.err()).toBe(
      'understudyctl: plan failed: DynamoDB Query failed: Error: connect ECONNREFUSED 127.0.0.1:1\n',
    );
    expect(h.out()).toBe('');
  });
});

describe('main: commands that change things ask first', () => {
  const writes = (h: Harness) =>
    h.store.intentWrites() + h.store.count('writeStatus') + h.store.count('appendAudit');

  it('without a terminal and without --yes: refuses, says to pass --yes, changes nothing (exit 2)', async () => {
    const h = harness();
    expect(await h.run('failover', 'shop')).toBe(2);
    expect(h.out()).toContain('stdin is not a terminal: pass --yes');
    expect(h.out()).toContain('Nothing was changed');
    expect(writes(h)).toBe(0);
    expect(h.capability.executed).toEqual([]);
  });

  it('with --yes: prints account, Region, stack, table, service, mode and the plan first, then acts', async () => {
    const h = harness();
    expect(await h.run('failover', 'shop', '--yes')).toBe(0);
    const out = h.out();
    const order = ['AWS account  111111111111', 'Region       eu-west-2', 'stack        understudy'].map(
      (t) => out.indexOf(t),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(out).toContain('state table  understudy-state');
    expect(out).toContain('service      shop (mode auto; dns)');
    expect(out).toContain('action       failover of dns to the standby');
    expect(out).toContain('plan:\n  dynamodb:PutItem desired state -> epoch 1');
    expect(out.indexOf('Region')).toBeLessThan(out.indexOf('failover shop: desired state is now epoch 1'));
    expect(h.store.desired.get('shop')?.epoch).toBe(1);
  });

  it('at a terminal: asks for the service name; the right name goes ahead', async () => {
    const questions: string[] = [];
    const h = harness({
      io: {
        stdinIsTTY: true,
        ask: async (q) => {
          questions.push(q);
          return ' shop ';
        },
      },
    });
    expect(await h.run('failover', 'shop', '--capability', 'dns')).toBe(0);
    expect(questions).toEqual(['Type the service name (shop) to go ahead: ']);
    expect(h.out()).toContain('AWS account  111111111111');
    expect(h.store.desired.get('shop')?.requestedBy).toBe('operator:alice');
  });

  it('at a terminal: any other answer cancels and changes nothing (exit 1)', async () => {
    const h = harness({ io: { stdinIsTTY: true, ask: async () => 'lab' } });
    expect(await h.run('failover', 'shop', '--json')).toBe(1);
    expect(h.json()).toMatchObject({
      outcome: { kind: 'not-confirmed', reason: expect.stringContaining('"lab" is not "shop"') },
      exitCode: 1,
    });
    // With --json the preview went to stderr, so stdout stays one JSON document.
    expect(h.err()).toContain('AWS account  111111111111');
    expect(writes(h)).toBe(0);
  });

  it('module commands ask too (compute: replace)', async () => {
    const h = harness({ config: computeConfig() });
    expect(await h.run('replace', 'shop', 'i-0123456789abcdef0')).toBe(2);
    expect(h.out()).toContain('pass --yes');
    expect(writes(h)).toBe(0);
  });

  it('refuses credentials for another account than the config, before any other AWS call', async () => {
    const h = harness({
      io: {
        callerIdentity: async () => ({ account: '999999999999', arn: 'arn:aws:iam::999999999999:user/bob' }),
      },
    });
    expect(await h.run('failover', 'shop', '--yes')).toBe(2);
    expect(h.err()).toContain('your AWS credentials are for account 999999999999');
    expect(h.err()).toContain('control plane is in account 111111111111');
    expect(h.made).toEqual([]);
  });

  it('plan, status and reconcile need no confirmation', async () => {
    const h = harness();
    expect(await h.run('plan', 'shop')).toBe(0);
    expect(await h.run('status')).toBe(0);
    expect(h.out()).not.toContain('AWS account');
  });
});

describe('main: which config', () => {
  it('refuses without --config or UNDERSTUDY_CONFIG: the example config never meets AWS by default', async () => {
    const loaded: string[] = [];
    const h = harness({
      env: { USER: 'alice' },
      io: {
        loadConfig: async (file) => {
          loaded.push(file);
          return cliConfig();
        },
      },
    });
    expect(await h.run('status')).toBe(2);
    expect(h.err()).toContain('no config given: pass --config <file> or set UNDERSTUDY_CONFIG');
    expect(loaded).toEqual([]);
    expect(h.made).toEqual([]);

    expect(await h.run('status', '--config', 'mine.ts')).toBe(0);
    expect(loaded).toEqual(['mine.ts']);
  });

  it('takes UNDERSTUDY_CONFIG like cdk does, --config first', async () => {
    const loaded: string[] = [];
    const h = harness({
      env: { USER: 'alice', UNDERSTUDY_CONFIG: 'from-env.ts' },
      io: {
        loadConfig: async (file) => {
          loaded.push(file);
          return cliConfig();
        },
      },
    });
    await h.run('status');
    await h.run('status', '--config', 'flag.ts');
    expect(loaded).toEqual(['from-env.ts', 'flag.ts']);
  });

  it('validate checks a config offline and says what it holds; it may read the example', async () => {
    const loaded: string[] = [];
    const h = harness({
      env: {},
      io: {
        loadConfig: async (file) => {
          loaded.push(file);
          return cliConfig();
        },
        callerIdentity: async () => {
          throw new Error('validate must not call AWS');
        },
      },
    });
    expect(await h.run('validate')).toBe(0);
    expect(loaded).toEqual(['understudy.config.ts']);
    expect(h.out()).toContain('understudy.config.ts: valid');
    expect(h.out()).toContain('shop (mode auto): dns');
    expect(h.made).toEqual([]);
  });

  it('validate exits 2 with every issue of a broken file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'understudy-cli-'));
    const file = join(dir, 'broken.config.mjs');
    const input = exampleInput();
    (input.services[0] as { name: string }).name = 'x'.repeat(45);
    writeFileSync(
      file,
      `export default ${JSON.stringify({ ...input, controlPlane: { account: '123', region: 'eu-west-2' } })};`,
    );
    const { loadConfig: _ignored, ...io } = harness().io;
    const stderr: string[] = [];
    expect(await main(['validate', '--config', file], { ...io, stderr: (t) => stderr.push(t) })).toBe(2);
    expect(stderr.join('')).toContain('controlPlane.account: must be a 12-digit AWS account id');
    expect(stderr.join('')).toContain(`services[${'x'.repeat(45)}].name: must be at most 40 characters long`);
  });
});

describe('main: status --watch', () => {
  it('prints the status again after each interval, as many times as asked', async () => {
    const sleeps: number[] = [];
    const h = harness({ io: { watch: { iterations: 3, sleep: async (ms) => void sleeps.push(ms) } } });
    expect(await h.run('status', 'shop', '--watch', '--interval', '2')).toBe(0);
    expect(h.out().match(/shop: mode auto/g)).toHaveLength(3);
    expect(h.out()).toContain('(every 2 s; Ctrl-C to stop)');
    expect(sleeps).toEqual([2000, 2000]);
  });

  it('stops when interrupted, and prints one JSON line per round with --json', async () => {
    const stop = new AbortController();
    const h = harness({
      io: {
        watch: {
          signal: stop.signal,
          sleep: async () => {
            stop.abort();
          },
        },
      },
    });
    expect(await h.run('status', '--watch', '--json')).toBe(0);
    const lines = h.out().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      command: 'status',
      services: expect.arrayContaining([expect.objectContaining({ service: 'shop' })]),
    });
  });
});

describe('explainError: errors that say what to do', () => {
  const context = { region: 'eu-west-2', stateTableName: 'understudy-state', stackName: 'understudy' };
  const sdkError = (name: string, message: string) => Object.assign(new Error(message), { name });

  it('a missing state table names the table and says to deploy first', () => {
    const error = new TerminalError(
      'DynamoDB Query failed: ResourceNotFoundException: Requested resource not found',
      {
        cause: sdkError('ResourceNotFoundException', 'Requested resource not found'),
      },
    );
    const { message, hint } = explainError(error, context);
    expect(message).toBe('DynamoDB Query failed: ResourceNotFoundException: Requested resource not found');
    expect(hint).toContain('the state table "understudy-state" does not exist in eu-west-2');
    expect(hint).toContain('cdk deploy');
  });

  it('missing credentials name AWS_PROFILE and AWS_REGION', () => {
    const error = new RetryableError(
      'DynamoDB Query failed: CredentialsProviderError: Could not load credentials from any providers',
      {
        cause: sdkError('CredentialsProviderError', 'Could not load credentials from any providers'),
      },
    );
    const { hint } = explainError(error, context);
    expect(hint).toContain('AWS_PROFILE');
    expect(hint).toContain('AWS_REGION');
  });

  it('other errors keep their first line and give no advice it does not have', () => {
    expect(explainError(new Error('socket hang up\n  at stack'), context)).toEqual({
      message: 'socket hang up',
    });
  });

  it('main prints the hint under the error and exits 1', async () => {
    const store = new (class extends FakeStore {
      override async readService(): Promise<never> {
        throw new TerminalError(
          'DynamoDB Query failed: ResourceNotFoundException: Requested resource not found',
          {
            cause: sdkError('ResourceNotFoundException', 'Requested resource not found'),
          },
        );
      }
    })();
    const h = harness({ store });
    expect(await h.run('status')).toBe(1);
    expect(h.err()).toContain(
      'understudyctl: status failed: DynamoDB Query failed: ResourceNotFoundException',
    );
    expect(h.err()).toContain('understudyctl: what to do: the state table "understudy-state" does not exist');
  });
});
