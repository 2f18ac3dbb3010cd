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

  it("refuses a stack name that makes the SES receipt rule set's name longer than 64 characters", () => {
    const issues = issuesOf((input) => {
      input.controlPlane.stackName = `understudy-${'x'.repeat(50)}`;
    });
    expect(issues.join('\n')).toMatch(/controlPlane\.stackName.*over SES's 64/);
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
