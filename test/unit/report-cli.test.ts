import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCommand } from '../../functions/cli/args';
import { runCommand } from '../../functions/cli/commands';
import { requestTransition } from '../../functions/engine/transition';
import { configWith, FakeCapability, FakeClock, onlyService, testControlPlane } from './fixtures';

const T0 = '2026-11-22T10:00:00.000Z';
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A control plane whose audit log holds one alarm failover, measured at 90 s against a 5-minute RTO. */
const afterFailover = async () => {
  const config = configWith({ mode: 'auto', rtoMinutes: 5 });
  const cp = testControlPlane({ config, capability: new FakeCapability(), clock: new FakeClock(T0) });
  await requestTransition(cp, onlyService(config), {
    service: 'shop',
    capabilities: ['dns'],
    target: 'standby',
    requestedBy: 'alarm:shop-primary-unhealthy',
    reason: 'primary down',
    ignoreCooldown: false,
    observedAt: '2026-11-22T09:58:30.000Z',
  });
  await cp.reporter.flush();
  return cp;
};

const command = (...argv: string[]) => {
  const parsed = parseCommand(argv);
  if (parsed.kind !== 'run') throw new Error(JSON.stringify(parsed));
  return parsed.command;
};

describe('understudyctl report <service> [epoch]', () => {
  it('parses the service, an optional epoch and --out', () => {
    expect(command('report', 'shop')).toEqual({
      name: 'report',
      service: 'shop',
      epoch: undefined,
      out: undefined,
    });
    expect(command('report', 'shop', '3', '--out', 'r')).toEqual({
      name: 'report',
      service: 'shop',
      epoch: 3,
      out: 'r',
    });
    expect(parseCommand(['report', 'shop', 'latest'])).toMatchObject({ kind: 'usage' });
  });

  it('writes the latest transition as HTML and JSON, with the recovery against the RTO', async () => {
    const cp = await afterFailover();
    const out = mkdtempSync(join(tmpdir(), 'understudy-report-'));
    dirs.push(out);

    const result = await runCommand(cp, command('report', 'shop', '--out', out), 'alice');

    expect(result.exitCode).toBe(0);
    expect(result.lines[0]).toBe('report shop epoch 1: recovered in 1 min 30 s, within the RTO of 5 min');
    const html = readFileSync(join(out, 'understudy-shop-epoch-1.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('data-lane="dns"');
    const doc = JSON.parse(readFileSync(join(out, 'understudy-shop-epoch-1.json'), 'utf8'));
    expect(doc.timeline.recovery).toEqual({ seconds: 90, rtoMinutes: 5, withinRto: true, rpoSeconds: {} });
    expect(doc.report.lanes).toEqual(['dns']);
  });

  it('says so, exit 1, for an epoch with no transition', async () => {
    const cp = await afterFailover();
    const result = await runCommand(cp, command('report', 'shop', '7'), 'alice');
    expect(result.exitCode).toBe(1);
    expect(result.lines[0]).toMatch(/no transition of shop to epoch 7 .*transitions found: 1/);
  });
});

describe('understudyctl status: the current transition against the RTO', () => {
  it('shows the measured recovery of the current epoch', async () => {
    const cp = await afterFailover();
    const result = await runCommand(cp, command('status', 'shop'), 'alice');
    expect(result.lines).toContain('  recovery of epoch 1: recovered in 1 min 30 s, within the RTO of 5 min');
    expect(result.json).toMatchObject({
      services: [{ recovery: { epoch: 1, seconds: 90, rtoMinutes: 5, withinRto: true } }],
    });
  });
});
