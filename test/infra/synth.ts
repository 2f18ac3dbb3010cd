import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { loadConfigFile } from '../../functions/config/load';
import { type Config, parseConfig } from '../../functions/config/schema';
import { buildApp } from '../../infra/app';
import { REPO_ROOT } from '../../infra/control-function';
import type { UnderstudyStack } from '../../infra/understudy-stack';

/** The repository's example config, loaded the way `cdk synth` loads it. */
export const exampleConfig = (): Promise<Config> => loadConfigFile(join(REPO_ROOT, 'understudy.config.ts'));

/**
 * The example's web shop with only its DNS capability: the stack's core (trigger, reconciler, state,
 * DNS permissions) asserted exactly, without the other capabilities' resources in the count.
 */
export const dnsOnlyExampleConfig = async (): Promise<Config> => {
  const example = await exampleConfig();
  const shop = example.services.find((s) => s.name === 'shop');
  if (!shop?.dns) throw new Error('the example config lost its shop service or its dns section');
  const alarms = shop.alarms
    .filter((a) => a.scope !== 'instance' && (a.capabilities ?? ['dns']).includes('dns'))
    .map((a) => ({ ...a, capabilities: ['dns' as const] }));
  return { ...example, services: [{ ...shop, alarms, database: undefined, compute: undefined }] };
};

/**
 * A second runbook that exercises what the example does not: two services sharing a zone, a
 * wildcard and an alias record, a duplicated alarm, no Slack secret name (the stack creates one),
 * and non-default names and retention.
 */
export const inlineConfig = (): Config =>
  parseConfig(
    {
      controlPlane: {
        account: '222222222222',
        region: 'us-west-2',
        stackName: 'understudy-inline',
        stateTableName: 'inline-failover-state',
        maxEventAgeSeconds: 30,
        logRetentionDays: 90,
      },
      services: [
        {
          name: 'checkout',
          mode: 'auto',
          alarms: [{ name: 'zeta-checkout-down' }, { name: 'shared-region-down' }],
          dns: {
            hostedZoneId: '/hostedzone/ZSHARED123',
            records: [
              {
                name: 'Checkout.Example.org.',
                type: 'A',
                routing: 'weighted',
                primary: { values: ['192.0.2.1'], healthCheckId: '33333333-3333-4333-8333-333333333333' },
                standby: { values: ['192.0.2.2'], healthCheckId: '44444444-4444-4444-8444-444444444444' },
              },
            ],
          },
        },
        {
          name: 'assets',
          mode: 'approve',
          alarms: [{ name: 'shared-region-down' }, { name: 'alpha-assets-5xx' }],
          dns: {
            hostedZoneId: 'ZSHARED123',
            records: [
              {
                name: '*.assets.example.org',
                type: 'AAAA',
                routing: 'swap',
                primary: { values: ['2001:db8::1'] },
                standby: { values: ['2001:db8::2'] },
              },
            ],
          },
        },
        {
          name: 'api',
          alarms: [],
          dns: {
            hostedZoneId: 'ZOTHER456',
            records: [
              {
                name: 'api.example.net',
                type: 'A',
                routing: 'swap',
                primary: {
                  aliasTarget: { dnsName: 'primary-lb.example.net', hostedZoneId: 'Z35SXDOTRQ7X7K' },
                },
                standby: {
                  aliasTarget: { dnsName: 'standby-lb.example.net', hostedZoneId: 'Z1H1FL5HABSF5' },
                },
              },
            ],
          },
        },
      ],
    },
    'inline test config',
  );

/**
 * The context `cdk synth` gives the app: the feature flags from cdk.json and the CLI's asset
 * metadata, so an in-process synth renders the same template as the CLI.
 */
const cliContext = (): Record<string, unknown> => ({
  ...(JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> })
    .context,
  'aws:cdk:enable-asset-metadata': true,
});

export interface Synthesized {
  readonly stack: UnderstudyStack;
  readonly template: Template;
  readonly assembly: CloudAssembly;
  /** The template as written to the cloud assembly, for tools that read files. */
  readonly templateFile: string;
  readonly templateJson: Record<string, unknown>;
  /** Removes the temporary cloud assembly. */
  readonly cleanup: () => void;
}

/**
 * One in-process synth into a temporary directory (with the cdk-nag plugin, like `cdk synth`).
 * Bundling is the slow part; tests that only read the template leave it off.
 */
export const synthesize = (config: Config, options: { readonly bundle?: boolean } = {}): Synthesized => {
  const outdir = mkdtempSync(join(tmpdir(), 'understudy-infra-'));
  const { app, stack } = buildApp(config, {
    outdir,
    context: cliContext(),
    bundle: options.bundle ?? false,
  });
  const assembly = app.synth();
  const templateFile = join(assembly.directory, stack.templateFile);
  const templateJson = JSON.parse(readFileSync(templateFile, 'utf8')) as Record<string, unknown>;
  return {
    stack,
    // From the written file: Template.fromStack would synthesize (and bundle) a second time.
    template: Template.fromJSON(templateJson),
    assembly,
    templateFile,
    templateJson,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
};
