import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type LocalControlPlane, startLocalControlPlane } from '../../functions/capabilities/dns/local';
import type { ServiceConfig } from '../../functions/config/schema';
import { answerFor, LOCAL_ACCOUNT, LOCAL_REGION } from '../../functions/drill/local-aws';
import { reconcileService } from '../../functions/engine/engine';

/**
 * The operator CLI as operators run it: its own process (bin/understudyctl.js), the drill's config in
 * a file, real SDK clients (STS included) against the local AWS through AWS_ENDPOINT_URL.
 */
const endpoint = inject('motoEndpoint');
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let local: LocalControlPlane;
let dir: string;
let configFile: string;

const cli = (args: readonly string[], stdin: string) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    // `echo | understudyctl ...`: stdin is a pipe, not a terminal.
    const child = spawn(process.execPath, [join(root, 'bin', 'understudyctl.js'), ...args], {
      cwd: root,
      env: { ...process.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdin.end(stdin);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });

const www = () =>
  answerFor(local.clients.route53, local.topology.hostedZoneId, local.topology.recordName, 'A', new Set());
const desired = () => local.controlPlane().store.readService('shop');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'understudy-cli-it-'));
  configFile = join(dir, 'shop.config.mjs');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  local = await startLocalControlPlane(endpoint, { maxAttempts: 2 });
  writeFileSync(configFile, `export default ${JSON.stringify(local.topology.config, null, 2)};\n`);
  const cp = local.controlPlane();
  await reconcileService(cp, cp.config.services[0] as ServiceConfig);
  await cp.reporter.flush();
});

afterEach(async () => {
  await local?.stop();
});

describe('understudyctl failover against the local AWS', () => {
  it('`echo | understudyctl failover shop` (no terminal, no --yes) changes nothing and says why', async () => {
    const run = await cli(['failover', 'shop', '--config', configFile], '\n');

    expect(run.code).toBe(2);
    expect(run.stdout).toContain('stdin is not a terminal: pass --yes');
    expect(run.stdout).toContain('Nothing was changed');
    expect((await desired()).desired.epoch).toBe(0);
    expect(await www()).toEqual(['192.0.2.10']);
  });

  it('with --yes it prints account, Region and stack first, then fails over', async () => {
    const run = await cli(['failover', 'shop', '--yes', '--as', 'alice', '--config', configFile], '');

    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('failover shop:');
    expect(lines[1]).toMatch(new RegExp(`^ {2}AWS account {2}${LOCAL_ACCOUNT} \\(arn:aws:`));
    expect(lines[2]).toBe(`  Region       ${LOCAL_REGION}`);
    expect(lines[3]).toBe(`  stack        ${local.topology.config.controlPlane.stackName}`);
    expect(run.stdout).toContain('failover shop: desired state is now epoch 1');
    // The SDK's Node 20 deprecation warning is not an operator's concern.
    expect(run.stderr).not.toContain('NodeVersionSupportWarning');
    expect((await desired()).desired).toMatchObject({ epoch: 1, requestedBy: 'operator:alice' });
    expect(await www()).toEqual(['198.51.100.10']);
  });

  it('refuses without --config or UNDERSTUDY_CONFIG, before reaching AWS', async () => {
    const { UNDERSTUDY_CONFIG: _ignored, ...env } = process.env;
    const saved = process.env;
    process.env = env;
    try {
      const run = await cli(['status'], '');
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('no config given: pass --config <file> or set UNDERSTUDY_CONFIG');
    } finally {
      process.env = saved;
    }
  });

  it('names the missing state table and says to deploy first', async () => {
    const broken = join(dir, 'no-table.config.mjs');
    const config = local.topology.config;
    writeFileSync(
      broken,
      `export default ${JSON.stringify({ ...config, controlPlane: { ...config.controlPlane, stateTableName: 'never-deployed' } })};\n`,
    );
    const run = await cli(['status', '--config', broken], '');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ResourceNotFoundException');
    expect(run.stderr).toContain('the state table "never-deployed" does not exist in eu-west-2');
    expect(run.stderr).toContain('cdk deploy');
  });
});
