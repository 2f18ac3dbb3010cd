import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CfnElement } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlFunction } from '../../infra/control-function';
import { runProcess } from '../support/run-process';
import { exampleConfig, type Synthesized, synthesize } from './synth';

/** Cold start grows with the bundle; the bench reports the same figure. */
const MAX_BUNDLE_BYTES = 250 * 1024;

interface Bundle {
  readonly name: string;
  readonly dir: string;
  readonly file: string;
  readonly bytes: number;
}

describe('the bundled function code', () => {
  let synth: Synthesized;
  let bundles: Bundle[];

  beforeAll(async () => {
    // Prepare / Act: the one synth with bundling (esbuild, locally), like `cdk synth`
    synth = synthesize(await exampleConfig(), { bundle: true });
    const functions: [string, ControlFunction | undefined][] = [
      ['alarm', synth.stack.alarmTrigger?.handler],
      ['reconcile', synth.stack.reconciler.handler],
      ['rds-event', synth.stack.capabilities.get('database')?.engineFunctions[0]],
      ['ec2-event', synth.stack.capabilities.get('compute')?.engineFunctions[0]],
      ['mail-recorder', synth.stack.capabilities.get('mail')?.otherFunctions[0]],
    ];
    bundles = functions.map(([name, fn]) => {
      if (!fn) throw new Error(`no ${name} function in the stack`);
      const logicalId = synth.stack.getLogicalId(fn.node.defaultChild as CfnElement);
      const resources = synth.templateJson.Resources as Record<string, { Metadata: Record<string, string> }>;
      const assetPath = resources[logicalId]?.Metadata['aws:asset:path'];
      if (!assetPath) throw new Error(`${name}: no asset path in the template metadata`);
      const dir = join(synth.assembly.directory, assetPath);
      const file = join(dir, 'index.mjs');
      return { name, dir, file, bytes: existsSync(file) ? statSync(file).size : -1 };
    });
    console.log(
      `bundle sizes: ${bundles.map((b) => `${b.name} index.mjs ${(b.bytes / 1024).toFixed(1)} kB`).join(', ')}`,
    );
  });
  afterAll(() => synth?.cleanup());

  it('is one ESM file per function, with a source map', () => {
    for (const bundle of bundles) {
      // Assess
      expect(bundle.bytes, `${bundle.file} missing`).toBeGreaterThan(0);
      expect(existsSync(join(bundle.dir, 'index.mjs.map')), `${bundle.name} source map`).toBe(true);
      // The banner gives bundled CommonJS dependencies a `require` inside ESM.
      expect(readFileSync(bundle.file, 'utf8')).toMatch(/^import \{ createRequire \} from 'module';/);
    }
  });

  it(`stays within ${MAX_BUNDLE_BYTES / 1024} kB per function`, () => {
    // Act
    const over = bundles
      .filter((b) => b.bytes > MAX_BUNDLE_BYTES)
      .map((b) => `${b.name}: ${(b.bytes / 1024).toFixed(1)} kB`);

    // Assess
    expect(over, `bundles over the ${MAX_BUNDLE_BYTES / 1024} kB budget`).toEqual([]);
  });

  it('carries the validated config and no webhook URL', () => {
    for (const bundle of bundles) {
      // Act
      const code = readFileSync(bundle.file, 'utf8');

      // Assess
      expect(code).toContain('Z0EXAMPLE0SHOP');
      expect(code).toContain('www.shop.example.com.');
      expect(code).not.toMatch(/hooks\.slack\.com\/services/);
    }
  });

  it('loads in Node.js as an ES module with nothing but the runtime-provided AWS SDK beside it', async () => {
    // Prepare: like Lambda's Node.js runtime, which resolves @aws-sdk/* (and only that) from its
    // own node_modules for ES modules too. Any other external import would fail to load here.
    const runtime = mkdtempSync(join(tmpdir(), 'understudy-runtime-'));
    try {
      mkdirSync(join(runtime, 'node_modules'));
      symlinkSync(join(process.cwd(), 'node_modules', '@aws-sdk'), join(runtime, 'node_modules', '@aws-sdk'));
      for (const bundle of bundles) {
        const task = join(runtime, bundle.name);
        mkdirSync(task);
        copyFileSync(bundle.file, join(task, 'index.mjs'));

        // Act: a separate process, as Lambda would load it (no AWS calls happen at import)
        const result = await runProcess(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import(${JSON.stringify(pathToFileURL(join(task, 'index.mjs')).href)}); console.log(typeof m.handler);`,
          ],
          {
            timeoutMs: 120_000,
            env: {
              ...process.env,
              AWS_REGION: 'eu-west-2',
              AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            },
          },
        );

        // Assess
        expect({ name: bundle.name, stdout: result.stdout.trim(), stderr: result.stderr }).toEqual({
          name: bundle.name,
          stdout: 'function',
          stderr: '',
        });
      }
    } finally {
      rmSync(runtime, { recursive: true, force: true });
    }
  });
});
