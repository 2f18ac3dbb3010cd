import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsOnlyExampleConfig, type Synthesized, synthesize } from './synth';

/** The execution reports' bucket (infra/report-bucket.ts): issue 11's template assertions. */
describe('the execution report bucket', () => {
  let synth: Synthesized;
  let bucketId: string;

  beforeAll(async () => {
    synth = synthesize(await dnsOnlyExampleConfig());
    bucketId = synth.stack.getLogicalId(synth.stack.reports.bucket.node.defaultChild as CfnElement);
  });
  afterAll(() => synth?.cleanup());

  it('is encrypted, not public, versioned and retained', () => {
    synth.template.hasResource('AWS::S3::Bucket', {
      Properties: {
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
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    expect(Object.keys(synth.template.findResources('AWS::S3::Bucket'))).toContain(bucketId);
  });

  it('refuses every request without TLS', () => {
    synth.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('expires reports after the configured retention, old versions and unfinished uploads too', () => {
    const bucket = synth.template.findResources('AWS::S3::Bucket')[bucketId] as {
      Properties: { LifecycleConfiguration: { Rules: Record<string, unknown>[] } };
    };
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Id: 'expire-reports',
          Prefix: 'reports/',
          Status: 'Enabled',
          ExpirationInDays: 365,
          NoncurrentVersionExpiration: { NoncurrentDays: 30 },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        }),
        expect.objectContaining({ ExpiredObjectDeleteMarker: true, Status: 'Enabled' }),
      ]),
    );
  });

  it('lets each engine function put reports under reports/ only, and tells it the bucket', () => {
    for (const fn of [synth.stack.reconciler.handler, synth.stack.alarmTrigger?.handler]) {
      if (!fn) throw new Error('the example has an alarm trigger');
      const role = synth.stack.getLogicalId(fn.role?.node.defaultChild as CfnElement);
      synth.template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: Match.arrayWith([{ Ref: role }]),
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Effect: 'Allow',
              Action: 's3:PutObject',
              Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/reports/*']] },
            },
          ]),
        },
      });
      synth.template.hasResourceProperties('AWS::Lambda::Function', {
        Role: { 'Fn::GetAtt': [role, 'Arn'] },
        Environment: { Variables: Match.objectLike({ REPORT_BUCKET_NAME: { Ref: bucketId } }) },
      });
    }
    synth.template.hasOutput('ReportBucketName', { Value: { Ref: bucketId } });
  });
});
