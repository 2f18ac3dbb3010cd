import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/schema';
import { bundledConfig, CONFIG_FILE, readConfigFile } from '../../functions/runtime/bundled-config';
import { exampleInput } from './fixtures';

/** The config a function's asset carries as config.json (infra/bundling.ts writes it at synth). */
describe('the shipped config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'understudy-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is read and validated again, as written at synth', () => {
    // Prepare: what bundleFunction writes: the validated config, defaults applied
    const file = join(dir, CONFIG_FILE);
    const config = parseConfig(exampleInput());
    writeFileSync(file, JSON.stringify(config));

    // Act
    const read = readConfigFile(pathToFileURL(file));

    // Assess
    expect(read).toEqual(config);
  });

  it('names the file and the field when it does not validate', () => {
    // Prepare
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify({ ...exampleInput(), services: [{ name: 'x', dns: {} }] }));

    // Act / Assess
    expect(() => readConfigFile(pathToFileURL(file))).toThrow(/bundled understudy config .*broken\.json/);
  });

  it('refuses to start a function whose code carries no config, and says how to build one', () => {
    // Act / Assess: unbundled, no config.json sits beside functions/runtime/bundled-config.ts
    expect(() => bundledConfig()).toThrow(
      /this bundle carries no understudy config \(no .*config\.json\): build it with the understudy CDK stack/,
    );
  });
});
