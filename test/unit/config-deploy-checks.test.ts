import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigInput, parseConfig } from '../../functions/config/schema';
import { fullExampleInput } from './fixtures';

/**
 * Configs that used to synthesize and then fail on deploy or in an incident: each must be refused at
 * validation (so at `cdk synth`) with a message naming the field.
 */
const issuesOf = (mutate: (input: ConfigInput) => void): string[] => {
  const input = structuredClone(fullExampleInput());
  mutate(input);
  try {
    parseConfig(input);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return [...error.issues];
  }
};

const service = (input: ConfigInput, name: string) => {
  const found = input.services.find((s) => s.name === name);
  if (!found) throw new Error(`the example has no service ${name}`);
  return found;
};

describe('configs that would fail on deploy or in an incident', () => {
  it('accepts the example as it is', () => {
    expect(issuesOf(() => undefined)).toEqual([]);
  });

  it('refuses a mixed-case RDS identifier (RDS stores it lowercase; the IAM ARN would not match)', () => {
    const issues = issuesOf((input) => {
      const db = service(input, 'shop').database as { replicaInstanceId?: string; writerInstanceId?: string };
      if (db.replicaInstanceId) db.replicaInstanceId = 'Orders-DB-Replica';
      else db.writerInstanceId = 'Orders-DB-1';
    });
    expect(issues.join('\n')).toMatch(/database\.\w+InstanceId.*must be lowercase/);
  });

  it('refuses a name that is an A record in one service and a CNAME in another', () => {
    const issues = issuesOf((input) => {
      const shop = service(input, 'shop');
      const record = shop.dns?.records[0];
      if (!record || !shop.dns) throw new Error('the example shop has a DNS record');
      input.services.push({
        name: 'shadow',
        dns: {
          hostedZoneId: shop.dns.hostedZoneId,
          records: [
            {
              name: record.name,
              type: record.type === 'CNAME' ? 'A' : 'CNAME',
              routing: 'swap',
              primary: { values: record.type === 'CNAME' ? ['192.0.2.1'] : ['a.example.com'] },
              standby: { values: record.type === 'CNAME' ? ['192.0.2.2'] : ['b.example.com'] },
            },
          ],
        },
      });
    });
    expect(issues.join('\n')).toMatch(/dns\.records.*name.*a CNAME cannot share its name/);
  });

  it("refuses a mail domain whose MX record set the stack writes where another service's CNAME is", () => {
    // Route 53 allows no MX beside a CNAME: the deploy (or the CNAME's UPSERT in an incident) would fail
    const issues = issuesOf((input) => {
      const mail = service(input, 'shop-mail').mail;
      if (!mail) throw new Error('the example shop-mail holds mail');
      mail.domain = 'api.shop.example.com';
    });
    expect(issues.join('\n')).toMatch(
      /services\[shop-mail\]\.mail\.domain: api\.shop\.example\.com is a CNAME record of services\.0\.dns\.records\.1; a CNAME cannot share its name/,
    );
  });

  it("refuses a stack name that makes the SES receipt rule set's name longer than 64 characters", () => {
    const issues = issuesOf((input) => {
      input.controlPlane.stackName = `understudy-${'x'.repeat(50)}`;
    });
    expect(issues.join('\n')).toMatch(/controlPlane\.stackName.*over SES's 64/);
  });

  it('refuses a stack name that makes an alarm-forwarding stack name longer than 128 characters', () => {
    // CDK would deploy it under a hashed name, not the documented <stackName>-alarms-<region>
    const issues = issuesOf((input) => {
      input.controlPlane.stackName = `u${'x'.repeat(118)}`;
      input.services = input.services.filter((s) => !s.mail);
      service(input, 'shop').alarms?.push({
        name: 'shop-health-check',
        region: 'us-east-1',
        capabilities: ['dns'],
      });
    });
    expect(issues.join('\n')).toMatch(
      /controlPlane\.stackName: is 119 characters: the alarm-forwarding stack "ux+-alarms-us-east-1" would be 136, over CloudFormation's 128; use at most 111/,
    );
  });

  it('accepts a 128-character stack name when every alarm is in the control plane Region', () => {
    const issues = issuesOf((input) => {
      input.controlPlane.stackName = `u${'x'.repeat(127)}`;
      input.services = input.services.filter((s) => !s.mail);
    });
    expect(issues).toEqual([]);
  });

  it('refuses a Slack secret given as an ARN, which would silently disable Slack', () => {
    const issues = issuesOf((input) => {
      input.controlPlane.slackWebhookSecretName =
        'arn:aws:secretsmanager:eu-west-2:111111111111:secret:understudy/slack-AbCdEf';
    });
    expect(issues.join('\n')).toMatch(/slackWebhookSecretName.*not its ARN/);
  });

  it('refuses a Slack secret name with characters Secrets Manager does not allow', () => {
    const issues = issuesOf((input) => {
      input.controlPlane.slackWebhookSecretName = 'understudy slack webhook';
    });
    expect(issues.join('\n')).toMatch(/slackWebhookSecretName.*Secrets Manager secret name/);
  });
});

describe('the held-mail bucket policy (one statement per service holding mail, S3 allows 20,480 bytes)', () => {
  const mailServices = (count: number, nameLength: number) =>
    Array.from({ length: count }, (_, i) => {
      const name = `m${String(i).padStart(nameLength - 1, '0')}`;
      return {
        name,
        mail: {
          domain: `${name}.example.com`,
          hostedZoneId: 'Z0EXAMPLE0SHOP',
          primary: { host: `mx.${name}.example.com` },
        },
      };
    });
  const issuesFor = (count: number, nameLength: number, stackName: string) => {
    try {
      parseConfig({
        controlPlane: { account: '111111111111', region: 'eu-west-2', stackName },
        services: mailServices(count, nameLength),
      });
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return [...error.issues];
    }
  };

  it('accepts 40 services with short names (the scale runbook)', () => {
    expect(issuesFor(40, 8, 'understudy-scale')).toEqual([]);
  });

  it('refuses 40 services with 40-character names under a long stack name, at the service that tips it over', () => {
    // 40 such statements render as about 21.9 kB: the template synthesizes, the deploy would fail
    const issues = issuesFor(40, 40, `u${'x'.repeat(53)}`);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(
      /^services\[m0+3\d\]\.mail: the held-mail bucket's policy would be over S3's 20480 bytes/,
    );
  });
});
