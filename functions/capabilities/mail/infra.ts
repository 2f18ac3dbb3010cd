import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IRole, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnRecordSet, PublicHostedZone } from 'aws-cdk-lib/aws-route53';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { CfnReceiptRule, CfnReceiptRuleSet, EmailIdentity, Identity } from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import type { CapabilityInfra, CapabilityResources } from '../../../infra/capability-infra';
import { ControlFunction } from '../../../infra/control-function';
import { acknowledgeCollapsed, compactPatterns, isPattern, MAX_LISTED } from '../../../infra/limits';
import type { Config, ServiceConfig } from '../../config/schema';
import {
  heldMailPrefix,
  inboundRegionOf,
  receiptRuleName,
  receiptRuleSetName,
  recorderPermissionId,
} from './config';

export interface MailFailoverProps {
  readonly config: Config;
  /** The state table the recorder writes held-mail records to. */
  readonly table: ITable;
}

type MailService = ServiceConfig & { mail: NonNullable<ServiceConfig['mail']> };

export const mailServicesOf = (config: Config): MailService[] =>
  config.services.filter((svc): svc is MailService => svc.mail !== undefined);

/**
 * SES as the backup MX of every configured mail domain: the MX record sets (primary preferred, the
 * SES inbound endpoint second), the domain identity SES needs to receive, an encrypted held-mail
 * bucket, and one receipt rule per domain that stores each message in S3 and then invokes the
 * recorder. The control plane (granted through `grantHandBack`) keeps the rule set active and hands
 * held mail back.
 *
 * Unlike DNS records, the MX records never flip (senders fall back to the backup by themselves),
 * so CloudFormation may own them: a later `cdk deploy` cannot undo anything the control plane did.
 */
export class MailFailover extends Construct implements CapabilityResources {
  readonly bucket: Bucket;
  readonly recorder: ControlFunction;
  /** The recorder has rights of its own (its bucket prefix, table writes), not the engine's. */
  readonly engineFunctions: readonly ControlFunction[] = [];
  readonly otherFunctions: readonly ControlFunction[];
  readonly ruleSet: CfnReceiptRuleSet;
  readonly rules: readonly CfnReceiptRule[];
  /** The held-mail key prefixes the functions may read or delete, each ending in `*`. */
  readonly heldPrefixes: readonly string[];
  private readonly config: Config;

  constructor(scope: Construct, id: string, props: MailFailoverProps) {
    super(scope, id);
    const { config } = props;
    this.config = config;
    const services = mailServicesOf(config);
    if (services.length === 0) throw new Error('MailFailover needs at least one service with a mail section');
    const stack = Stack.of(this);
    const retentionDays = Math.max(...services.map((svc) => svc.mail.retentionDays));

    this.bucket = new Bucket(this, 'HeldMail', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // A version survives an accidental overwrite or delete: held mail is the only copy.
      versioned: true,
      // Retained like the state table: deleting the stack must never delete undelivered mail.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          // Current objects are deleted by the control plane only (delivery + retention); the
          // lifecycle only clears what that deletion leaves behind, after the same retention.
          noncurrentVersionExpiration: Duration.days(retentionDays),
          expiredObjectDeleteMarker: true,
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Every write (SES) and delete (the control plane) of held mail is recorded per message in the state table and the audit log; S3 server access logs would need a second bucket holding the same facts.',
    });

    this.recorder = new ControlFunction(this, 'Recorder', {
      config,
      entry: 'functions/capabilities/mail/recorder-handler.ts',
      description: 'understudy: records each message SES holds for a primary mail server',
      timeout: Duration.seconds(30),
      // SES invokes it asynchronously; Lambda retries, then the event waits in the failure queue.
      retryAttempts: 2,
    });
    this.recorder.addEnvironment('HELD_MAIL_BUCKET', this.bucket.bucketName);
    this.otherFunctions = [this.recorder];
    props.table.grantWriteData(this.recorder);
    // Each service's messages live under its own prefix (held/<service>/<SES message id>): every
    // grant names those prefixes, collapsed to shared ones only past the short list a grant holds
    // (infra/limits.ts), so a 1,000-service runbook still fits one role's policy.
    this.heldPrefixes = compactPatterns(services.map((svc) => heldMailPrefix(svc.name))).map((prefix) =>
      isPattern(prefix) ? prefix : `${prefix}*`,
    );
    // HeadObject (the message's size) needs s3:GetObject; nothing else in S3.
    Grant.addToPrincipal({
      grantee: this.recorder,
      actions: ['s3:GetObject'],
      resourceArns: this.heldObjectArns(),
    });
    this.acknowledgeHeldPrefixes(this.recorder.role);

    const ruleSetName = receiptRuleSetName(config.controlPlane.stackName);
    this.ruleSet = new CfnReceiptRuleSet(this, 'RuleSet', { ruleSetName });
    this.rules = services.map((svc) => this.holdMailFor(svc, ruleSetName, stack));

    for (const svc of services) {
      const region = inboundRegionOf(svc.mail, config.controlPlane.region);
      if (svc.mail.mxRecords === 'create') {
        new CfnRecordSet(this, `Mx-${svc.name}`, {
          hostedZoneId: svc.mail.hostedZoneId,
          name: `${svc.mail.domain}.`,
          type: 'MX',
          ttl: String(svc.mail.mxTtl),
          resourceRecords: [
            `${svc.mail.primary.mxPriority} ${svc.mail.primary.host}.`,
            `${svc.mail.backupMxPriority} inbound-smtp.${region}.amazonaws.com.`,
          ],
        });
        // SES receives mail only for a verified domain; Easy DKIM's records go in the same zone.
        new EmailIdentity(this, `Identity-${svc.name}`, {
          identity: Identity.publicHostedZone(
            PublicHostedZone.fromHostedZoneAttributes(this, `Zone-${svc.name}`, {
              hostedZoneId: svc.mail.hostedZoneId,
              zoneName: svc.mail.domain,
            }),
          ),
        });
      } else {
        new EmailIdentity(this, `Identity-${svc.name}`, { identity: Identity.domain(svc.mail.domain) });
      }
    }
  }

  /** One rule per domain: store the raw message under the service's prefix, then record it. */
  private holdMailFor(svc: MailService, ruleSetName: string, stack: Stack): CfnReceiptRule {
    const ruleName = receiptRuleName(svc.name);
    const prefix = heldMailPrefix(svc.name);
    const ruleArn = `arn:${stack.partition}:ses:${stack.region}:${stack.account}:receipt-rule-set/${ruleSetName}:receipt-rule/${ruleName}`;
    // SES may write only this rule's prefix of this bucket, and only for this account's rule.
    const policy = this.bucket.addToResourcePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        principals: [new ServicePrincipal('ses.amazonaws.com')],
        resources: [this.bucket.arnForObjects(`${prefix}*`)],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': ruleArn },
        },
      }),
    );
    const permission = recorderPermissionId(svc.name);
    this.recorder.addPermission(permission, {
      principal: new ServicePrincipal('ses.amazonaws.com'),
      sourceAccount: stack.account,
      sourceArn: ruleArn,
    });
    const rule = new CfnReceiptRule(this, `Rule-${svc.name}`, {
      ruleSetName,
      rule: {
        name: ruleName,
        enabled: true,
        recipients: [svc.mail.domain],
        // Spam and virus verdicts are recorded, never used to drop mail: the primary's filters decide.
        scanEnabled: true,
        tlsPolicy: 'Optional',
        actions: [
          { s3Action: { bucketName: this.bucket.bucketName, objectKeyPrefix: prefix } },
          { lambdaAction: { functionArn: this.recorder.functionArn, invocationType: 'Event' } },
        ],
      },
    });
    rule.node.addDependency(this.ruleSet);
    if (policy.policyDependable) rule.node.addDependency(policy.policyDependable);
    const invoke = this.recorder.node.tryFindChild(permission);
    if (invoke) rule.node.addDependency(invoke);
    return rule;
  }

  /** The reads of mail readiness (functions/capabilities/mail/readiness.ts): SES takes no resource ARN for them. */
  grantReadiness(fn: IFunction): void {
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['ses:GetIdentityVerificationAttributes', 'ses:DescribeReceiptRuleSet'],
      resourceArns: ['*'],
    });
  }

  /** What the reconcile and alarm functions need to keep SES holding mail and to hand it back. */
  grantReconcile(fn: IFunction): void {
    // Read (to deliver) and delete (after delivery + retention) only the configured services' held mail.
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['s3:GetObject', 's3:DeleteObject'],
      resourceArns: this.heldObjectArns(),
    });
    // SES's receipt-rule APIs support no resource-level permissions: IAM allows only "*".
    Grant.addToPrincipal({
      grantee: fn,
      actions: [
        'ses:DescribeActiveReceiptRuleSet',
        'ses:SetActiveReceiptRuleSet',
        'ses:DescribeReceiptRule',
        'ses:UpdateReceiptRule',
      ],
      resourceArns: ['*'],
    });
    this.acknowledgeHeldPrefixes(fn.role);
  }

  /** The held-mail objects of the configured services: one ARN per service prefix (or shared prefix). */
  private heldObjectArns(): string[] {
    return this.heldPrefixes.map((prefix) => this.bucket.arnForObjects(prefix));
  }

  private acknowledgeHeldPrefixes(role: IRole | undefined): void {
    acknowledgeCollapsed(
      role,
      this.heldObjectArns(),
      mailServicesOf(this.config).length <= MAX_LISTED
        ? "Held messages are stored under per-message keys SES chooses (its message ids) below each service's own prefix held/<service>/, so that prefix is the narrowest resource."
        : 'Held messages are stored under per-message keys SES chooses (its message ids) below held/<service>/; with more mail services than a grant lists, their prefixes are granted as the shortest shared prefixes, which cover every configured service and, at most, others whose names begin the same way.',
    );
  }
}

export const mailInfra: CapabilityInfra = {
  name: 'mail',
  deploy: (scope, { config, table }) => new MailFailover(scope, 'MailFailover', { config, table }),
};
