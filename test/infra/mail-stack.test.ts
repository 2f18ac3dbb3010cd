import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldMailPolicyBytes } from '../../functions/capabilities/mail/config';
import { parseConfig } from '../../functions/config/schema';
import { MAX_LISTED } from '../../infra/limits';
import { type Synthesized, synthesize } from './synth';

const config = () =>
  parseConfig(
    {
      controlPlane: {
        account: '111111111111',
        region: 'eu-west-1',
        slackWebhookSecretName: 'understudy/slack',
      },
      services: [
        {
          name: 'shop',
          mode: 'auto',
          alarms: [{ name: 'shop-mail-down', capabilities: ['mail'] }],
          mail: {
            domain: 'shop.example.com',
            hostedZoneId: 'Z0EXAMPLE0SHOP',
            primary: { host: 'mx1.shop.example.com', tls: 'starttls' },
            retentionDays: 14,
          },
        },
      ],
    },
    'mail infra test config',
  );

type Statement = { Action: string | string[]; Resource: unknown; Principal?: unknown; Condition?: unknown };
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('the mail capability in the stack', () => {
  let synth: Synthesized;
  beforeAll(() => {
    // Prepare / Act: one synth with cdk-nag (an unacknowledged finding fails it)
    synth = synthesize(config());
  });
  afterAll(() => synth?.cleanup());

  it('publishes the MX pair: the primary preferred, SES inbound of the Region as the backup', () => {
    synth.template.hasResourceProperties('AWS::Route53::RecordSet', {
      HostedZoneId: 'Z0EXAMPLE0SHOP',
      Name: 'shop.example.com.',
      Type: 'MX',
      ResourceRecords: ['10 mx1.shop.example.com.', '20 inbound-smtp.eu-west-1.amazonaws.com.'],
    });
  });

  it('keeps held mail in an encrypted, private, TLS-only, retained bucket', () => {
    synth.template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 14 }, Status: 'Enabled' }),
          ],
        },
      }),
    });
    const policies = heldMailBucketPolicies(synth);
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    expect(
      statements.some(
        (s) => actions(s).includes('s3:*') && JSON.stringify(s.Condition).includes('aws:SecureTransport'),
      ),
    ).toBe(true);
  });

  it('lets SES write only its prefix, only for this account and this rule', () => {
    const statements = heldMailBucketPolicies(synth).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    const ses = statements.filter((s) => JSON.stringify(s.Principal ?? {}).includes('ses.amazonaws.com'));
    expect(ses).toHaveLength(1);
    expect(actions(ses[0] as Statement)).toEqual(['s3:PutObject']);
    expect(JSON.stringify(ses[0]?.Resource)).toContain('/held/shop/*');
    expect(JSON.stringify(ses[0]?.Condition)).toContain('aws:SourceAccount');
    expect(JSON.stringify(ses[0]?.Condition)).toContain(
      'receipt-rule-set/understudy-held-mail:receipt-rule/shop-hold',
    );
  });

  it('stores each message in S3, then invokes the recorder, from one enabled rule that scans but never drops', () => {
    synth.template.hasResourceProperties('AWS::SES::ReceiptRuleSet', { RuleSetName: 'understudy-held-mail' });
    synth.template.hasResourceProperties('AWS::SES::ReceiptRule', {
      RuleSetName: 'understudy-held-mail',
      Rule: {
        Name: 'shop-hold',
        Enabled: true,
        Recipients: ['shop.example.com'],
        ScanEnabled: true,
        Actions: [
          { S3Action: { BucketName: Match.anyValue(), ObjectKeyPrefix: 'held/shop/' } },
          { LambdaAction: { FunctionArn: Match.anyValue(), InvocationType: 'Event' } },
        ],
      },
    });
    const invoke = Object.values(
      synth.template.findResources('AWS::Lambda::Permission', {
        Properties: { Principal: 'ses.amazonaws.com', SourceAccount: '111111111111' },
      }),
    );
    expect(invoke).toHaveLength(1);
    expect(JSON.stringify(invoke[0]?.Properties.SourceArn)).toContain('receipt-rule/shop-hold');
    synth.template.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'shop.example.com' });
  });

  it("lets the functions read and delete only in the held-mail bucket, under the service's own prefix", () => {
    const policies = Object.values(synth.template.findResources('AWS::IAM::Policy'));
    const s3Statements = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .filter((s) => actions(s).some((a) => a.startsWith('s3:')))
      // The execution reports' put under reports/ (test/infra/report-bucket.test.ts asserts it).
      .filter((s) => !JSON.stringify(s.Resource).includes('ReportsBucket'));
    expect(s3Statements.length).toBeGreaterThan(0);
    for (const s of s3Statements) {
      expect(actions(s).every((a) => ['s3:GetObject', 's3:DeleteObject'].includes(a))).toBe(true);
      const resource = JSON.stringify(s.Resource);
      expect(resource).toContain('MailFailoverHeldMail');
      expect(resource).toContain('/held/shop/*');
      expect(resource).not.toContain('/held/*');
    }
    // Only the reconcile and alarm functions may delete; the recorder only reads (HeadObject).
    const deleters = s3Statements.filter((s) => actions(s).includes('s3:DeleteObject'));
    expect(deleters.length).toBeGreaterThanOrEqual(1);
  });
});

/** A runbook whose services (by name) each hold mail, each with a domain of its own. */
const mailConfig = (names: readonly string[]) =>
  parseConfig(
    {
      controlPlane: {
        account: '111111111111',
        region: 'eu-west-1',
        slackWebhookSecretName: 'understudy/slack',
      },
      services: names.map((name) => ({
        name,
        mode: 'auto',
        alarms: [{ name: `${name}-mail-down` }],
        mail: {
          domain: `${name}.example.com`,
          hostedZoneId: 'Z0EXAMPLE0SHOP',
          primary: { host: `mx.${name}.example.com` },
        },
      })),
    },
    'mail prefixes test config',
  );

/** The key patterns (after the bucket ARN) each role is granted S3 actions on. */
/** The held-mail bucket's policy (the one that lets SES write), not the reports bucket's. */
const heldMailBucketPolicies = (synth: Synthesized) =>
  Object.values(synth.template.findResources('AWS::S3::BucketPolicy')).filter((p) =>
    JSON.stringify(p).includes('ses.amazonaws.com'),
  );

const heldGrants = (synth: Synthesized): Map<string, { actions: string[]; keys: string[] }> => {
  const grants = new Map<string, { actions: string[]; keys: string[] }>();
  for (const policy of Object.values(synth.template.findResources('AWS::IAM::Policy'))) {
    const role = JSON.stringify(policy.Properties.Roles);
    for (const s of policy.Properties.PolicyDocument.Statement as Statement[]) {
      const s3 = actions(s).filter((a) => a.startsWith('s3:'));
      // The execution reports' bucket (infra/report-bucket.ts) is asserted in report-bucket.test.ts.
      if (s3.length === 0 || JSON.stringify(s.Resource).includes('/reports/')) continue;
      const keys = [s.Resource]
        .flat()
        .map((r) => /"\/(held\/[^"]*)"/.exec(JSON.stringify(r))?.[1] ?? JSON.stringify(r));
      const grant = grants.get(role) ?? { actions: [], keys: [] };
      grants.set(role, {
        actions: [...new Set([...grant.actions, ...s3])].sort(),
        keys: [...grant.keys, ...keys].sort(),
      });
    }
  }
  return grants;
};

describe("held mail grants name each service's own prefix", () => {
  const syntheses: Synthesized[] = [];
  afterAll(() => {
    for (const synth of syntheses) synth.cleanup();
  });

  it('grants the recorder and the hand-back only held/<service>/* of the configured services', () => {
    // Act: with cdk-nag, as cdk synth (each prefix is acknowledged by name)
    const synth = synthesize(mailConfig(['blog', 'shop']));
    syntheses.push(synth);
    const grants = [...heldGrants(synth).values()];

    // Assess: the recorder reads, the reconcile and alarm functions read and delete; all the same prefixes
    expect(grants.length).toBeGreaterThanOrEqual(2);
    for (const grant of grants) expect(grant.keys).toEqual(['held/blog/*', 'held/shop/*']);
    expect(grants.filter((g) => g.actions.includes('s3:DeleteObject')).length).toBeGreaterThanOrEqual(1);
    expect(grants.some((g) => g.actions.join() === 's3:GetObject')).toBe(true);
    // The config's estimate of the bucket policy (it refuses a runbook past S3's limit) never falls short
    const rendered = heldMailBucketPolicies(synth).map(
      (p) => JSON.stringify(p.Properties.PolicyDocument).length,
    );
    expect(rendered).toHaveLength(1);
    expect(heldMailPolicyBytes('understudy', ['blog', 'shop'])).toBeGreaterThanOrEqual(
      rendered[0] ?? Infinity,
    );
  });

  it(`collapses to shared prefixes only past ${MAX_LISTED} services, still covering every one and never held/*`, () => {
    // Prepare
    const names = Array.from({ length: MAX_LISTED + 4 }, (_, i) => `mail-${String(i).padStart(2, '0')}`);

    // Act
    const synth = synthesize(mailConfig(names));
    syntheses.push(synth);

    // Assess
    const rendered = heldMailBucketPolicies(synth)
      .map((p) => JSON.stringify(p.Properties.PolicyDocument).length)
      .at(0);
    expect(heldMailPolicyBytes('understudy', names)).toBeGreaterThanOrEqual(rendered ?? Infinity);
    for (const grant of heldGrants(synth).values()) {
      expect(grant.keys.length).toBeLessThanOrEqual(MAX_LISTED);
      expect(grant.keys).not.toContain('held/*');
      for (const name of names) {
        const key = `held/${name}/message-id`;
        expect(
          grant.keys.some((p) => key.startsWith(p.slice(0, -1))),
          name,
        ).toBe(true);
      }
    }
  });
});
