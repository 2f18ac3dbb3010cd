import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { Config } from '../functions/config/schema';

export interface ExecutionReportsProps {
  readonly config: Config;
}

/** Where the engine stores each transition's execution report (functions/report/aws.ts). */
export const REPORT_PREFIX = 'reports/';

/**
 * The execution reports' bucket: one HTML page and one JSON file per transition, under `reports/`.
 * Encrypted, TLS only, never public, versioned and retained (an auditor's record outlives the stack),
 * expired by lifecycle after `controlPlane.reportRetentionDays`. People open a report through the
 * console link in the Slack message, so reading it takes AWS sign-in and this bucket's IAM rights.
 */
export class ExecutionReports extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: ExecutionReportsProps) {
    super(scope, id);
    const retentionDays = props.config.controlPlane.reportRetentionDays;
    this.bucket = new Bucket(this, 'Bucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-reports',
          prefix: REPORT_PREFIX,
          expiration: Duration.days(retentionDays),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        { id: 'clear-delete-markers', expiredObjectDeleteMarker: true },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The only writer is the control plane, and each report it writes is announced in the audit log; S3 server access logs would need a second bucket recording the same facts. Reads are by signed-in people through the console (CloudTrail).',
    });
  }

  /** Lets an engine function store reports: its bucket's name, and s3:PutObject under reports/ only. */
  writeFrom(fn: LambdaFunction): void {
    fn.addEnvironment('REPORT_BUCKET_NAME', this.bucket.bucketName);
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['s3:PutObject'],
      resourceArns: [this.bucket.arnForObjects(`${REPORT_PREFIX}*`)],
    });
    if (!fn.role) return;
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnElement);
    Validations.of(fn.role).acknowledge({
      // cdk-nag names the finding after the unresolved ARN.
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${REPORT_PREFIX}*]`,
      reason:
        'Reports are written under one key per service and transition (reports/<service>/epoch-<n>.html and .json), created as transitions happen, so the prefix is the narrowest resource; only s3:PutObject is allowed.',
    });
  }
}
