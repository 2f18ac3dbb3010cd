import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/schema';
import {
  bundledConfig,
  CONFIG_FILE,
  CONFIG_SEAL_FILE,
  readConfigFile,
  sealedConfigFiles,
} from '../../functions/runtime/bundled-config';
import { exampleInput } from './fixtures';

/** The config a function's asset carries as config.json (infra/bundling.ts writes it at synth). */
describe('the shipped config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'understudy-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const write = (files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return pathToFileURL(join(dir, CONFIG_FILE));
  };

  it('is read back as synth wrote it: the validated config, defaults applied', () => {
    // Prepare: what bundleFunction writes: the validated config and its seal
    const config = parseConfig(exampleInput());

    // Act
    const read = readConfigFile(write(sealedConfigFiles(config)));

    // Assess
    expect(read).toEqual(config);
  });

  it('with an intact seal, is used as synth validated it, without validating it again', () => {
    // Prepare: a sealed file the schema would refuse (no services): only a re-validation would notice
    const config = { ...parseConfig(exampleInput()), services: [] };

    // Act
    const read = readConfigFile(write(sealedConfigFiles(config as never)));

    // Assess
    expect(read.services).toEqual([]);
  });

  it('edited after synth (its seal no longer matches), is validated in full and refused, naming the field', () => {
    // Prepare: synth's files, then the config edited by hand
    const files = sealedConfigFiles(parseConfig(exampleInput()));
    const edited = JSON.parse(files[CONFIG_FILE] ?? '{}');
    edited.controlPlane.maxEventAgeSeconds = 5;

    // Act / Assess
    expect(() => readConfigFile(write({ ...files, [CONFIG_FILE]: JSON.stringify(edited) }))).toThrow(
      /bundled understudy config .*config\.json:\n.*controlPlane\.maxEventAgeSeconds/,
    );
    expect(files[CONFIG_SEAL_FILE]).toMatch(/^[0-9a-f]{64}$/);
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
