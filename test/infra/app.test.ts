import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/control-function';
import { runProcess } from '../support/run-process';

/** A runbook with one bad field: the hosted zone id. No imports, so it loads from anywhere. */
const BROKEN_CONFIG = `export default {
  controlPlane: { account: '111111111111', region: 'eu-west-2' },
  services: [
    {
      name: 'shop',
      dns: {
        hostedZoneId: 'not-a-zone',
        records: [
          { name: 'www.shop.example.com', type: 'A', routing: 'swap',
            primary: { values: ['192.0.2.10'] }, standby: { values: ['198.51.100.10'] } },
        ],
      },
    },
  ],
};
`;

/** The CLI must work offline without credentials: no notices fetch, no telemetry. */
const cliEnv = (extra: Record<string, string> = {}) => {
  const env: Record<string, string | undefined> = {
    ...process.env,
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    ...extra,
  };
  for (const key of ['AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'])
    delete env[key];
  return env;
};

const run = (command: string, args: string[], env = cliEnv()) =>
  runProcess(command, args, { cwd: REPO_ROOT, timeoutMs: 170_000, env });

describe('bin/app.ts', () => {
  let dir: string;
  let brokenConfig: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'understudy-app-'));
    brokenConfig = join(dir, 'broken.config.ts');
    writeFileSync(brokenConfig, BROKEN_CONFIG);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops `cdk synth -c config=…` on a bad config with a message that names the field', async () => {
    // Act
    const result = await run('npx', [
      'cdk',
      'synth',
      '--no-notices',
      '-o',
      join(dir, 'out'),
      '-c',
      `config=${brokenConfig}`,
    ]);

    // Assess
    expect(result.status, result.stderr).not.toBe(0);
    expect(result.stderr).toContain('services[shop].dns.hostedZoneId: must be a Route 53 hosted zone id');
    // A config mistake is the operator's to fix: a message, not a stack trace.
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(dir, 'out', 'manifest.json'))).toBe(false);
  });

  it('reads the config file from UNDERSTUDY_CONFIG when no context is given', async () => {
    // Act
    const result = await run(
      'npx',
      ['tsx', 'bin/app.ts'],
      cliEnv({ UNDERSTUDY_CONFIG: brokenConfig, CDK_OUTDIR: join(dir, 'env-out') }),
    );

    // Assess
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(brokenConfig);
    expect(result.stderr).toContain('services[shop].dns.hostedZoneId');
  });

  it('synthesizes the example config offline with `cdk synth -q`', async () => {
    // Prepare
    const out = join(dir, 'example-out');

    // Act: the real entry point, default config file, bundling and cdk-nag included
    const result = await run('npx', ['cdk', 'synth', '-q', '--no-notices', '-o', out]);

    // Assess
    expect(result.status, result.stderr).toBe(0);
    const template = JSON.parse(readFileSync(join(out, 'understudy.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties?: unknown }>;
    };
    const resources = Object.values(template.Resources);
    // alarm trigger, scheduled dispatcher, reconcile worker, RDS events, EC2 events, held-mail recorder,
    // readiness check
    expect(resources.filter((r) => r.Type === 'AWS::Lambda::Function')).toHaveLength(7);
    // The only records the template owns never flip: the MX pair and the SES identity's DKIM
    // tokens. Every record the control plane moves (DNS failover names, the database endpoint) is
    // left to it, so a later deploy cannot undo a failover.
    const owned = resources
      .filter((r) => r.Type === 'AWS::Route53::RecordSet')
      .map((r) => (r.Properties as { Type?: string; Name?: unknown } | undefined) ?? {});
    expect(owned.filter((r) => r.Type === 'MX').map((r) => r.Name)).toEqual(['shop.example.com.']);
    for (const record of owned.filter((r) => r.Type !== 'MX')) {
      expect(record.Type).toBe('CNAME');
      expect(JSON.stringify(record.Name)).toMatch(/DkimDNSTokenName[123]/);
    }
  });
});
