import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { loadConfigFile } from '../../functions/config/load';
import { type Config, parseConfig } from '../../functions/config/schema';
import type { AlarmForwarderStack } from '../../infra/alarm-forwarder';
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
 * an address for the operator alarms, and non-default names and retention.
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
        alarmEmails: ['oncall@example.org'],
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
 * A runbook with `routing: 'switched'` records (functions/capabilities/dns/switch.ts): two services,
 * one with two switched names behind two primary-site checks and a weighted name beside them, so the
 * stack creates two switches (alarm and switch check each) and three calculated checks.
 */
export const switchedConfig = (): Config =>
  parseConfig(
    {
      controlPlane: { account: '444444444444', region: 'eu-west-2', stackName: 'understudy-switched' },
      services: [
        {
          name: 'shop',
          mode: 'auto',
          alarms: [{ name: 'shop-primary-unhealthy' }],
          dns: {
            hostedZoneId: 'ZSWITCH1',
            records: [
              {
                name: 'www.shop.example.com',
                type: 'A',
                routing: 'switched',
                primary: { values: ['192.0.2.1'], healthCheckId: '77777777-7777-4777-8777-777777777777' },
                standby: { values: ['192.0.2.2'], healthCheckId: '88888888-8888-4888-8888-888888888888' },
              },
              {
                name: 'img.shop.example.com',
                type: 'CNAME',
                routing: 'switched',
                primary: {
                  values: ['img-primary.example.com'],
                  healthCheckId: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
                },
                standby: {
                  values: ['img-standby.example.com'],
                  healthCheckId: '88888888-8888-4888-8888-888888888888',
                },
              },
              {
                name: 'legacy.shop.example.com',
                type: 'A',
                routing: 'weighted',
                primary: { values: ['192.0.2.1'], healthCheckId: '77777777-7777-4777-8777-777777777777' },
                standby: { values: ['192.0.2.2'], healthCheckId: '88888888-8888-4888-8888-888888888888' },
              },
            ],
          },
        },
        {
          name: 'blog',
          mode: 'approve',
          alarms: [],
          dns: {
            hostedZoneId: 'ZSWITCH1',
            records: [
              {
                name: 'blog.example.com',
                type: 'A',
                routing: 'switched',
                primary: { values: ['192.0.2.3'], healthCheckId: '77777777-7777-4777-8777-777777777777' },
                standby: { values: ['192.0.2.4'], healthCheckId: '88888888-8888-4888-8888-888888888888' },
              },
            ],
          },
        },
      ],
    },
    'switched test config',
  );

/**
 * A runbook whose alarms live in three Regions: a Route 53 health-check alarm in us-east-1 (the only
 * Region with that metric), one of the same name in the primary Region eu-west-1 for another service,
 * a primary-Region alarm shared by both, and a local alarm in the control plane's Region.
 */
export const multiRegionConfig = (): Config =>
  parseConfig(
    {
      controlPlane: { account: '333333333333', region: 'eu-west-2', stackName: 'understudy-multi' },
      services: [
        {
          name: 'shop',
          mode: 'auto',
          alarms: [
            { name: 'shop-health-check', region: 'us-east-1' },
            { name: 'shop-5xx' },
            { name: 'primary-region-down', region: 'eu-west-1' },
          ],
          dns: {
            hostedZoneId: 'ZMULTI1',
            records: [
              {
                name: 'www.shop.example.com',
                type: 'A',
                routing: 'weighted',
                primary: { values: ['192.0.2.1'], healthCheckId: '55555555-5555-4555-8555-555555555555' },
                standby: { values: ['192.0.2.2'], healthCheckId: '66666666-6666-4666-8666-666666666666' },
              },
            ],
          },
        },
        {
          name: 'blog',
          alarms: [
            { name: 'shop-health-check', region: 'eu-west-1' },
            { name: 'blog-health-check', region: 'us-east-1' },
            { name: 'primary-region-down', region: 'eu-west-1' },
          ],
          dns: {
            hostedZoneId: 'ZMULTI1',
            records: [
              {
                name: 'blog.example.com',
                type: 'CNAME',
                routing: 'swap',
                primary: { values: ['blog-primary.example.com'] },
                standby: { values: ['blog-standby.example.com'] },
              },
            ],
          },
        },
      ],
    },
    'multi-Region test config',
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

/** One synthesized alarm-forwarding stack (infra/alarm-forwarder.ts), as written to the assembly. */
export interface SynthesizedForwarder {
  readonly stack: AlarmForwarderStack;
  readonly template: Template;
  readonly templateFile: string;
  readonly templateJson: Record<string, unknown>;
}

export interface Synthesized {
  readonly stack: UnderstudyStack;
  /** The alarm-forwarding stacks, one per other Region with configured alarms, sorted by Region. */
  readonly forwarders: SynthesizedForwarder[];
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
  const { app, stack, alarmForwarders } = buildApp(config, {
    outdir,
    context: cliContext(),
    bundle: options.bundle ?? false,
  });
  const assembly = app.synth();
  const templateFile = join(assembly.directory, stack.templateFile);
  const templateJson = JSON.parse(readFileSync(templateFile, 'utf8')) as Record<string, unknown>;
  const forwarders = alarmForwarders.map((forwarder) => {
    const file = join(assembly.directory, forwarder.templateFile);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    return { stack: forwarder, template: Template.fromJSON(json), templateFile: file, templateJson: json };
  });
  return {
    stack,
    forwarders,
    // From the written file: Template.fromStack would synthesize (and bundle) a second time.
    template: Template.fromJSON(templateJson),
    assembly,
    templateFile,
    templateJson,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
};

/**
 * The stack's alarms that are not the control plane's own (infra/operator-alarms.ts, and the
 * ReadinessFailing alarm of infra/readiness.ts): those a capability makes, by logical id.
 */
export const capabilityAlarmIds = (synth: Pick<Synthesized, 'template'>): string[] =>
  Object.keys(synth.template.findResources('AWS::CloudWatch::Alarm')).filter(
    (id) => !id.startsWith('OperatorAlarms') && !id.startsWith('Readiness'),
  );
