import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/schema';
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
    const policies = Object.values(synth.template.findResources('AWS::S3::BucketPolicy'));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    expect(
      statements.some(
        (s) => actions(s).includes('s3:*') && JSON.stringify(s.Condition).includes('aws:SecureTransport'),
      ),
    ).toBe(true);
  });

  it('lets SES write only its prefix, only for this account and this rule', () => {
    const statements = Object.values(synth.template.findResources('AWS::S3::BucketPolicy')).flatMap(
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

  it('lets the functions read and delete only in the held-mail bucket', () => {
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
      expect(resource).toContain('/held/*');
    }
    // Only the reconcile and alarm functions may delete; the recorder only reads (HeadObject).
    const deleters = s3Statements.filter((s) => actions(s).includes('s3:DeleteObject'));
    expect(deleters.length).toBeGreaterThanOrEqual(1);
  });
});
