import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/control-function';
import { runProcess } from '../support/run-process';
import {
  exampleConfig,
  inlineConfig,
  multiRegionConfig,
  type Synthesized,
  switchedConfig,
  synthesize,
} from './synth';

/** Installed by `npm run emulator:install` (functions/drill/install-emulator.js); CI runs that first. */
const CFN_LINT = join(REPO_ROOT, '.venv', 'bin', 'cfn-lint');

/**
 * W3005 ("dependency already enforced by a GetAtt"): CDK makes each function depend on its whole
 * role construct so that it is only created once its policy exists; that also lists the role itself,
 * which the Role GetAtt already orders. Harmless, and not removable without dropping the policy
 * dependency, so it is the one check skipped.
 */
const IGNORED_CHECKS = ['W3005'];

/** cfn-lint's findings on one synthesized template file, checked against the Region it deploys to. */
const lint = async (templateFile: string, region: string) => {
  expect(existsSync(CFN_LINT), `${CFN_LINT} is missing: run npm run emulator:install`).toBe(true);
  const result = await runProcess(
    CFN_LINT,
    ['--format', 'parseable', '--regions', region, '--ignore-checks', ...IGNORED_CHECKS, '--', templateFile],
    { timeoutMs: 170_000 },
  );
  if (result.status !== 0) console.error(result.stdout, result.stderr, result.error ?? '');
  return { status: result.status, findings: result.stdout.trim() };
};

describe.each([
  ['the example config', exampleConfig],
  ['a config with shared zones and no Slack secret', async () => inlineConfig()],
  ['a config with switched DNS records', async () => switchedConfig()],
])('cfn-lint on the template for %s', (_name, config) => {
  let synth: Synthesized;

  beforeAll(async () => {
    synth = synthesize(await config());
  });
  afterAll(() => synth?.cleanup());

  it('finds no error, warning or informational finding', async () => {
    // Act
    const result = await lint(synth.templateFile, synth.stack.region);

    // Assess
    expect(result).toEqual({ status: 0, findings: '' });
  });
});

describe('cfn-lint on the alarm-forwarding templates of a config with alarms in other Regions', () => {
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthesize(multiRegionConfig());
  });
  afterAll(() => synth?.cleanup());

  it('finds no error, warning or informational finding in any of them', async () => {
    // Prepare
    expect(synth.forwarders.length).toBeGreaterThan(0);

    // Act
    const results = [];
    for (const f of synth.forwarders)
      results.push([f.stack.region, await lint(f.templateFile, f.stack.region)]);

    // Assess
    expect(results).toEqual(synth.forwarders.map((f) => [f.stack.region, { status: 0, findings: '' }]));
  });
});
