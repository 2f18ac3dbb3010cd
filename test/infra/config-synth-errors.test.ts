import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, type ConfigInput, parseConfig } from '../../functions/config/schema';
import { buildApp } from '../../infra/app';
import { REPO_ROOT } from '../../infra/control-function';
import { runProcess } from '../support/run-process';
import { scaleConfigInput } from '../support/scale-config';
import { fullExampleInput } from '../unit/fixtures';

/**
 * Plausible but bad configs must never reach CDK and stop `cdk synth` with a stack trace: each is
 * either refused with a ConfigError naming the field, or synthesizes. The hunt builds every config in
 * process, without bundling and without cdk-nag (construction and template rendering are what throw),
 * so the whole table takes seconds.
 */

type Outcome =
  | { readonly kind: 'refused'; readonly issues: readonly string[] }
  | { readonly kind: 'synthesized' }
  | { readonly kind: 'crashed'; readonly error: string };

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** A turn of the event loop between synths, so the worker keeps answering vitest on a busy machine. */
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Validates and synthesizes a config the way bin/app.ts does (ConfigError = a message, no trace). */
const outcomeOf = async (input: ConfigInput): Promise<Outcome> => {
  await breathe();
  try {
    const config = parseConfig(input);
    const outdir = mkdtempSync(join(tmpdir(), 'understudy-config-hunt-'));
    outdirs.push(outdir);
    buildApp(config, { outdir, bundle: false, nag: false }).app.synth();
    return { kind: 'synthesized' };
  } catch (error) {
    if (error instanceof ConfigError) return { kind: 'refused', issues: error.issues };
    return { kind: 'crashed', error: String((error as Error).stack ?? error) };
  } finally {
    await breathe();
  }
};

type Service = ConfigInput['services'][number];
type Database = NonNullable<Service['database']>;

const example = (mutate: (input: ConfigInput) => void): ConfigInput => {
  const input = fullExampleInput();
  mutate(input);
  return input;
};
const service = (input: ConfigInput, name: string): Service => {
  const found = input.services.find((s) => s.name === name);
  if (!found) throw new Error(`the example has no service ${name}`);
  return found;
};
const shop = (input: ConfigInput) => service(input, 'shop');
const replica = (input: ConfigInput) => shop(input).database as Extract<Database, { kind: 'rds-replica' }>;
const compute = (input: ConfigInput) => {
  const section = shop(input).compute;
  if (!section) throw new Error('the example shop has a compute section');
  return section;
};
const mailService = (name: string, domain: string): Service => ({
  name,
  mode: 'auto',
  alarms: [{ name: `${name}-down` }],
  mail: { domain, hostedZoneId: 'Z0EXAMPLE0SHOP', primary: { host: `mx1.${domain}` } },
});

/** Configs that crashed `cdk synth` with a CDK stack trace before they were validated. */
const CRASHED_BEFORE: Record<string, () => ConfigInput> = {
  'two mail services whose names differ only in dashes (shop-mail, shopmail)': () =>
    example((input) => {
      input.services.push(mailService('shopmail', 'other.example.com'));
    }),
  'a replica lag alarm for a replica in another Region than the control plane': () =>
    example((input) => {
      replica(input).replicaRegion = 'eu-central-1';
    }),
  'more resources than one stack may hold (450 replica lag alarms)': () => {
    const input = scaleConfigInput({ services: 450, mailEvery: 1000 });
    for (const svc of input.services) {
      if (!svc.database) throw new Error('every generated service has a database');
      svc.database = {
        kind: 'rds-replica',
        primaryInstanceId: `${svc.name}-db-a`,
        primaryRegion: 'eu-west-1',
        replicaInstanceId: `${svc.name}-db-b`,
        replicaLagAlarm: true,
        endpoint: svc.database.endpoint,
      };
    }
    return input;
  },
  'more mail services than the held-mail bucket policy holds (100 services holding mail)': () =>
    scaleConfigInput({ services: 100, mailEvery: 1 }),
};

/** Plausible, unusual configs that must either be refused with a message or synthesize. */
const HUNT: Record<string, () => ConfigInput> = {
  ...CRASHED_BEFORE,
  'the example as it is': () => example(() => undefined),
  'a stack name of 128 characters (no mail)': () =>
    example((input) => {
      input.controlPlane.stackName = `u${'x'.repeat(127)}`;
      input.services = input.services.filter((s) => !s.mail);
    }),
  'a stack name ending in a dash': () =>
    example((input) => {
      input.controlPlane.stackName = 'understudy-';
    }),
  'a long stack name with an alarm in another Region (forwarder stack name over 128)': () =>
    example((input) => {
      input.controlPlane.stackName = `u${'x'.repeat(118)}`;
      input.services = input.services.filter((s) => !s.mail);
      shop(input).alarms?.push({ name: 'shop-health-check', region: 'us-east-1', capabilities: ['dns'] });
    }),
  'an alarm in a Region of another partition': () =>
    example((input) => {
      shop(input).alarms?.push({ name: 'shop-cn', region: 'cn-north-1', capabilities: ['dns'] });
    }),
  'an alarm in the control plane Region, named explicitly': () =>
    example((input) => {
      const alarm = shop(input).alarms?.[0];
      if (alarm) alarm.region = input.controlPlane.region;
    }),
  'the same alarm name in two Regions of one service': () =>
    example((input) => {
      shop(input).alarms?.push({
        name: 'shop-primary-unhealthy',
        region: 'us-east-1',
        capabilities: ['dns'],
      });
    }),
  'a Region CDK knows nothing about': () =>
    example((input) => {
      input.controlPlane.region = 'xx-nowhere-9';
      replica(input).replicaRegion = 'xx-nowhere-9';
      input.services = input.services.filter((s) => !s.mail);
    }),
  'a Slack secret name that looks like it has a generated suffix': () =>
    example((input) => {
      input.controlPlane.slackWebhookSecretName = 'understudy/slack-AbCdEf';
    }),
  'a Slack secret name of 512 characters': () =>
    example((input) => {
      input.controlPlane.slackWebhookSecretName = 'a'.repeat(512);
    }),
  'no Slack secret name (the stack creates one)': () =>
    example((input) => {
      delete input.controlPlane.slackWebhookSecretName;
    }),
  'a state table name of dots': () =>
    example((input) => {
      input.controlPlane.stateTableName = '...';
    }),
  'an Auto Scaling group name with a wildcard': () =>
    example((input) => {
      compute(input).standbyAutoScalingGroup = { name: 'web*', failoverCapacity: 2 };
    }),
  'an Auto Scaling group name with a newline and a slash': () =>
    example((input) => {
      compute(input).standbyAutoScalingGroup = { name: 'web/\nx', failoverCapacity: 2 };
    }),
  'a selector tag key with spaces, quotes and a wildcard': () =>
    example((input) => {
      compute(input).primaries = { tag: { key: 'a b/"c*', value: 'x' } };
    }),
  'an alarm name of 255 characters': () =>
    example((input) => {
      const alarm = shop(input).alarms?.[0];
      if (alarm) alarm.name = 'a'.repeat(255);
    }),
  'an alarm name with quotes, a newline and non-ASCII': () =>
    example((input) => {
      const alarm = shop(input).alarms?.[0];
      if (alarm) alarm.name = 'shöp "down"\n';
    }),
  'an alarm name with a wildcard, failing back by itself': () =>
    example((input) => {
      shop(input).autoFailback = { afterStableMinutes: 10 };
      const alarm = shop(input).alarms?.[0];
      if (alarm) alarm.name = 'shop*';
    }),
  'a compute-only service selected by tag': () =>
    example((input) => {
      input.services = [{ name: 'web', alarms: [{ name: 'web-down' }], compute: compute(input) }];
    }),
  'a compute-only service selected by id, no alarms': () =>
    example((input) => {
      input.services = [
        {
          name: 'web',
          compute: {
            targetGroupArns: compute(input).targetGroupArns,
            primaries: { instanceIds: ['i-0123456789abcdef0'] },
            standbys: { instanceIds: ['i-0123456789abcdef1'] },
          },
        },
      ];
    }),
  'a mail-only config': () =>
    example((input) => {
      input.services = [service(input, 'shop-mail')];
    }),
  'a mail-only config without alarms, MX published elsewhere': () =>
    example((input) => {
      const mail = service(input, 'shop-mail');
      mail.alarms = [];
      if (mail.mail) mail.mail.mxRecords = 'external';
      input.services = [mail];
    }),
  'a database-only config': () =>
    example((input) => {
      input.services = [{ name: 'db', database: replica(input) }];
    }),
  'a DNS-only swap record without health checks or alarms': () =>
    example((input) => {
      input.services = [
        {
          name: 'd',
          dns: {
            hostedZoneId: 'Z1',
            records: [
              {
                name: 'a.example.com',
                type: 'A',
                routing: 'swap',
                primary: { values: ['192.0.2.1'] },
                standby: { values: ['192.0.2.2'] },
              },
            ],
          },
        },
      ];
    }),
  'an Aurora global database with a secondary in another partition': () =>
    example((input) => {
      shop(input).database = {
        kind: 'aurora-global',
        globalClusterId: 'shop-global',
        primaryClusterArn: 'arn:aws:rds:eu-west-1:111111111111:cluster:shop-a',
        secondaryClusterArn: 'arn:aws-cn:rds:cn-north-1:111111111111:cluster:shop-b',
        endpoint: { hostedZoneId: 'Z0EXAMPLE0INTERNAL', name: 'db.shop.internal' },
      };
    }),
  'two services with replica lag alarms': () =>
    example((input) => {
      input.services.push({
        name: 'shop2',
        database: {
          ...replica(input),
          primaryInstanceId: 'shop2-db',
          replicaInstanceId: 'shop2-db-standby',
          endpoint: { hostedZoneId: 'Z0EXAMPLE0INTERNAL', name: 'db2.shop.internal' },
        },
      });
    }),
  'a mail service named with 40 characters': () =>
    example((input) => {
      service(input, 'shop-mail').name = 'm'.repeat(40);
    }),
  'a mail domain of 253 characters': () =>
    example((input) => {
      const mail = service(input, 'shop-mail').mail;
      if (mail) mail.domain = `${['a', 'b', 'c'].map((c) => c.repeat(63)).join('.')}.${'d'.repeat(61)}`;
    }),
  'two mail domains in one hosted zone': () =>
    example((input) => {
      input.services.push(mailService('other-mail', 'other.example.com'));
    }),
  'weighted set identifiers with a space and a wildcard': () =>
    example((input) => {
      const record = shop(input).dns?.records[0];
      if (record?.routing === 'weighted') record.setIdentifiers = { primary: 'a b', standby: '*' };
    }),
};

describe('configs that must not crash cdk synth', () => {
  it.each(Object.keys(HUNT))('%s: refused with a message, or synthesized', async (name) => {
    // Act
    const outcome = await outcomeOf((HUNT[name] as () => ConfigInput)());

    // Assess
    expect(outcome.kind, outcome.kind === 'crashed' ? outcome.error : name).not.toBe('crashed');
  });
});

describe('configs that crashed cdk synth with a stack trace are refused, naming the field', () => {
  const issuesOf = async (name: keyof typeof CRASHED_BEFORE): Promise<string> => {
    const outcome = await outcomeOf(CRASHED_BEFORE[name]?.() ?? fullExampleInput());
    if (outcome.kind !== 'refused') throw new Error(`${name}: ${outcome.kind}, not refused`);
    return outcome.issues.join('\n');
  };

  it('refuses two mail services whose names differ only in dashes', async () => {
    expect(
      await issuesOf('two mail services whose names differ only in dashes (shop-mail, shopmail)'),
    ).toMatch(
      /services\[shopmail\]\.name: "shopmail" and "shop-mail" both hold mail and differ only in dashes/,
    );
  });

  it('refuses a replica lag alarm for a replica in another Region', async () => {
    expect(
      await issuesOf('a replica lag alarm for a replica in another Region than the control plane'),
    ).toMatch(
      /services\[shop\]\.database\.replicaLagAlarm: the replica is in eu-central-1.*control plane's Region \(eu-west-2\)/,
    );
  });

  it('refuses a runbook with more resources than one stack may hold, saying which sections fill it', async () => {
    expect(await issuesOf('more resources than one stack may hold (450 replica lag alarms)')).toMatch(
      /^services: the control plane stack would hold about \d+ CloudFormation resources, over CloudFormation's 500 per stack; the most come from services\[\]\.database \(450 configured, \d+ resources\)/,
    );
  });

  it('refuses more mail services than the held-mail bucket policy holds (a stack trace before, now caught earlier)', async () => {
    expect(
      await issuesOf('more mail services than the held-mail bucket policy holds (100 services holding mail)'),
    ).toMatch(/services\[svc-\d+\]\.mail: the held-mail bucket's policy would be over S3's 20480 bytes/);
  });

  it('cdk synth (bin/app.ts) prints that message and exits 1, without a stack trace', async () => {
    // Prepare: a config module with no imports, 450 replica lag alarms
    const dir = mkdtempSync(join(tmpdir(), 'understudy-config-hunt-'));
    outdirs.push(dir);
    const file = join(dir, 'too-large.config.mjs');
    writeFileSync(
      file,
      `export default ${JSON.stringify(CRASHED_BEFORE['more resources than one stack may hold (450 replica lag alarms)']?.())};\n`,
    );

    // Act: the app as `cdk synth` runs it, bundling left off (the message comes before any synth)
    const result = await runProcess(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['bin/app.ts'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        UNDERSTUDY_CONFIG: file,
        CDK_OUTDIR: dir,
        CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [] }),
      },
      timeoutMs: 120_000,
    });

    // Assess
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^understudy: Config too large for one stack:\n {2}- services: /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
