import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlFunction } from '../../infra/control-function';
import { type Asset, assetOf, loadedAtInit } from './assets';
import { exampleConfig, type Synthesized, synthesize } from './synth';

/**
 * A sanity bound, not the budget: cold start is budgeted as module init time (npm run bench,
 * test/bench/init-time.ts). Every chunk a function might load, the whole AWS SDK client set included.
 */
const MAX_ASSET_CODE_BYTES = 4 * 1024 * 1024;

/**
 * What only an executor's client carries (its service's name, as each client's command builder names
 * it): none of it may load at init (see `loadedAtInit`).
 */
const CLIENT_MARKERS = {
  'Route 53': '"AWSDnsV20130401"',
  RDS: '"AmazonRDSv19"',
  EC2: '"AmazonEC2"',
  'ELB v2': '"ElasticLoadBalancing_v10"',
  'Auto Scaling': '"AutoScaling_2011_01_01"',
  SES: '"SimpleEmailService"',
  CloudWatch: '"GraniteServiceVersion20100801"',
  'Secrets Manager': '"secretsmanager"',
  S3: '"AmazonS3"',
};

describe('the bundled function code', () => {
  let synth: Synthesized;
  let assets: Asset[];

  beforeAll(async () => {
    // Prepare / Act: the one synth with bundling (esbuild, in-process), like `cdk synth`
    synth = synthesize(await exampleConfig(), { bundle: true });
    const functions: [string, ControlFunction | undefined][] = [
      ['alarm', synth.stack.alarmTrigger?.handler],
      ['reconcile', synth.stack.reconciler.handler],
      ['dispatch', synth.stack.reconciler.dispatcher],
      ['rds-event', synth.stack.capabilities.get('database')?.engineFunctions[0]],
      ['ec2-event', synth.stack.capabilities.get('compute')?.engineFunctions[0]],
      ['mail-recorder', synth.stack.capabilities.get('mail')?.otherFunctions[0]],
    ];
    assets = functions.map(([name, fn]) => assetOf(synth, name, fn));
    const kB = (files: string[]) => (files.reduce((sum, f) => sum + statSync(f).size, 0) / 1024).toFixed(0);
    console.log(
      `bundles (loaded at init / all code): ${assets.map((a) => `${a.name} ${kB(loadedAtInit(join(a.dir, 'index.mjs')))}/${kB(a.code)} kB`).join(', ')}`,
    );
  });
  afterAll(() => synth?.cleanup());

  it('is an ESM handler module split into chunks, each with a source map', () => {
    for (const asset of assets) {
      // Assess
      const index = join(asset.dir, 'index.mjs');
      expect(existsSync(index), `${asset.name} index.mjs`).toBe(true);
      expect(asset.code.length, `${asset.name} chunks`).toBeGreaterThan(1);
      for (const file of asset.code) expect(existsSync(`${file}.map`), `${file}.map`).toBe(true);
      // The banner gives bundled CommonJS dependencies a `require` inside ESM.
      expect(readFileSync(index, 'utf8')).toMatch(/^import \{ createRequire \} from 'module';/);
    }
  });

  it(`stays within a sanity bound of ${MAX_ASSET_CODE_BYTES / 1024 / 1024} MB of code per function`, () => {
    // Act
    const over = assets
      .map((a) => ({ name: a.name, bytes: a.code.reduce((sum, f) => sum + statSync(f).size, 0) }))
      .filter((a) => a.bytes > MAX_ASSET_CODE_BYTES);

    // Assess
    expect(over).toEqual([]);
  });

  it('loads no executor client at init: capabilities, Slack and alarm reads load on first use', () => {
    for (const asset of assets) {
      // Act
      const atInit = loadedAtInit(join(asset.dir, 'index.mjs'))
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n');
      const everything = asset.code.map((f) => readFileSync(f, 'utf8')).join('\n');

      // Assess: each marker exists somewhere in the asset (so its absence at init means something)
      const loaded = Object.entries(CLIENT_MARKERS)
        .filter(([, marker]) => atInit.includes(marker))
        .map(([client]) => client);
      expect({ name: asset.name, loaded }).toEqual({ name: asset.name, loaded: [] });
      if (asset.name === 'reconcile') {
        // The schedule may call every client: each is in its asset, to be loaded on first use.
        for (const [client, marker] of Object.entries(CLIENT_MARKERS)) {
          expect(everything.includes(marker), `${client} in the reconcile asset`).toBe(true);
        }
      }
    }
  });

  it('ships the validated config as config.json beside the code, sealed, and the code carries none of it', () => {
    for (const asset of assets) {
      // Act
      const config = readFileSync(join(asset.dir, 'config.json'), 'utf8');
      const seal = readFileSync(join(asset.dir, 'config.json.sha256'), 'utf8');
      const code = asset.code.map((f) => readFileSync(f, 'utf8')).join('\n');

      // Assess
      expect(seal).toBe(createHash('sha256').update(config).digest('hex'));
      expect(JSON.parse(config).services.map((s: { name: string }) => s.name)).toContain('shop');
      expect(config).toContain('Z0EXAMPLE0SHOP');
      expect(code).not.toContain('Z0EXAMPLE0SHOP');
      expect(code).not.toContain('www.shop.example.com');
      expect(`${config}\n${code}`).not.toMatch(/hooks\.slack\.com\/services/);
    }
  });

  it('loads in Node.js with nothing beside it, and its handler reads the config it ships', () => {
    // Prepare: a copy of each asset alone in a directory (no node_modules at all): any import the
    // bundle left out would fail here, as it would in Lambda.
    const runtime = mkdtempSync(join(tmpdir(), 'understudy-runtime-'));
    try {
      for (const asset of assets) {
        const task = join(runtime, asset.name);
        cpSync(asset.dir, task, { recursive: true });
        // Events that validate nothing: a handler that reads its config says so without calling AWS.
        const invoke = ['alarm', 'rds-event', 'ec2-event'].includes(asset.name);
        const script = [
          `const m = await import(${JSON.stringify(pathToFileURL(join(task, 'index.mjs')).href)});`,
          'console.log(typeof m.handler);',
          invoke
            ? "const context = { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 60000 };\n" +
              'console.log(JSON.stringify(await m.handler({}, context)));'
            : '',
        ].join('\n');

        // Act: a separate process, as Lambda would load it
        const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
          encoding: 'utf8',
          timeout: 60_000,
          cwd: task,
          env: {
            PATH: process.env.PATH ?? '',
            ...asset.environment,
            AWS_REGION: 'eu-west-2',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            POWERTOOLS_LOG_LEVEL: 'ERROR',
          },
        });

        // Assess
        const lines = result.stdout.trim().split('\n');
        expect({ name: asset.name, handler: lines[0], stderr: result.stderr }).toEqual({
          name: asset.name,
          handler: 'function',
          stderr: '',
        });
        if (asset.name === 'alarm')
          expect(JSON.parse(lines[1] ?? '')).toEqual([expect.objectContaining({ kind: 'ignored' })]);
        if (asset.name.endsWith('-event')) expect(JSON.parse(lines[1] ?? '')).toEqual([]);
      }
    } finally {
      rmSync(runtime, { recursive: true, force: true });
    }
  });

  it('refuses to run without its config file, and says why', () => {
    // Prepare
    const runtime = mkdtempSync(join(tmpdir(), 'understudy-runtime-'));
    const alarm = assets.find((a) => a.name === 'alarm');
    if (!alarm) throw new Error('no alarm asset');
    try {
      cpSync(alarm.dir, runtime, { recursive: true });
      rmSync(join(runtime, 'config.json'));
      const script = [
        `const m = await import(${JSON.stringify(pathToFileURL(join(runtime, 'index.mjs')).href)});`,
        "const context = { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 60000 };",
        'try { await m.handler({}, context); } catch (error) { console.log(error.message); }',
      ].join('\n');

      // Act
      const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: process.env.PATH ?? '', ...alarm.environment, AWS_REGION: 'eu-west-2' },
      });

      // Assess
      expect(result.stdout).toMatch(/this bundle carries no understudy config \(no .*config\.json\)/);
    } finally {
      rmSync(runtime, { recursive: true, force: true });
    }
  });
});
