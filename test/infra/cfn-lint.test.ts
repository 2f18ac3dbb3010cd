import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/control-function';
import { exampleConfig, inlineConfig, type Synthesized, synthesize } from './synth';

/** Installed by `npm run emulator:install` (test/support/install-emulator.js); CI runs that first. */
const CFN_LINT = join(REPO_ROOT, '.venv', 'bin', 'cfn-lint');

/**
 * W3005 ("dependency already enforced by a GetAtt"): CDK makes each function depend on its whole
 * role construct so that it is only created once its policy exists; that also lists the role itself,
 * which the Role GetAtt already orders. Harmless, and not removable without dropping the policy
 * dependency, so it is the one check skipped.
 */
const IGNORED_CHECKS = ['W3005'];

describe.each([
  ['the example config', exampleConfig],
  ['a config with shared zones and no Slack secret', async () => inlineConfig()],
])('cfn-lint on the template for %s', (_name, config) => {
  let synth: Synthesized;

  beforeAll(async () => {
    synth = synthesize(await config());
  });
  afterAll(() => synth?.cleanup());

  it('finds no error, warning or informational finding', () => {
    // Prepare
    expect(existsSync(CFN_LINT), `${CFN_LINT} is missing: run npm run emulator:install`).toBe(true);

    // Act
    const result = spawnSync(
      CFN_LINT,
      ['--format', 'parseable', '--ignore-checks', ...IGNORED_CHECKS, '--', synth.templateFile],
      { encoding: 'utf8', timeout: 120_000 },
    );

    // Assess
    if (result.status !== 0) console.error(result.stdout, result.stderr, result.error ?? '');
    expect({ status: result.status, findings: result.stdout.trim() }).toEqual({ status: 0, findings: '' });
  });
});
