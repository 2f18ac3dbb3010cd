import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyViolation } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app';
import {
  exampleConfig,
  inlineConfig,
  multiRegionConfig,
  type Synthesized,
  switchedConfig,
  synthesize,
} from './synth';

interface Acknowledgement {
  readonly id: string;
  readonly reason: string;
}

/** Every cdk-nag acknowledgement written to the template (`cdk_nag.rules_to_suppress`), per resource. */
const acknowledgementsIn = (template: Record<string, unknown>): [string, Acknowledgement][] =>
  Object.entries(template.Resources as Record<string, { Metadata?: Record<string, unknown> }>).flatMap(
    ([logicalId, resource]) =>
      (
        (resource.Metadata?.cdk_nag as { rules_to_suppress?: Acknowledgement[] } | undefined)
          ?.rules_to_suppress ?? []
      ).map((ack): [string, Acknowledgement] => [logicalId, ack]),
  );

const describeViolations = (violations: readonly PolicyViolation[]) =>
  violations.map(
    (v) =>
      `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.resourceLogicalId ?? (r as { constructPath?: string }).constructPath).join(', ')}: ${v.description}`,
  );

/** The findings we accept, each for a reason written next to the construct that needs it. */
const EXPECTED_ACKNOWLEDGEMENTS = [
  'AwsSolutions-IAM5[Resource::*]',
  'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]',
  'AwsSolutions-L1',
  // The execution reports' bucket (infra/report-bucket.ts): keys per transition, and no access-log bucket.
  'AwsSolutions-IAM5[Resource::<ReportsBucket95FE29A2.Arn>/reports/*]',
  'AwsSolutions-S1',
  'AwsSolutions-SQS3',
  'Serverless-LambdaDLQ',
  'Serverless-LambdaEventSourceMappingDestination',
  'Serverless-LambdaLatestVersion',
  'Serverless-SQSRedrivePolicy',
];

/** Both packs the synth runs, run directly too: the synth fails only on errors, not on warnings. */
const PACKS = [
  () => new AwsSolutionsChecks(undefined, { verbose: true }),
  () => new ServerlessChecks(undefined, { verbose: true }),
];

/**
 * The only actions any role may hold on Resource "*": each is one IAM offers no resource-level
 * permission for. The `IAM5[Resource::*]` acknowledgement covers exactly these; a new grant on "*"
 * (say ec2:TerminateInstances) fails here instead of hiding behind it.
 */
const WILDCARD_ACTIONS = [
  'autoscaling:DescribeAutoScalingGroups',
  'cloudwatch:GetMetricData',
  // The DNS switch: PutMetricData is limited by its namespace condition instead; ListHealthChecks lists.
  'cloudwatch:PutMetricData',
  'ec2:DescribeInstances',
  'elasticloadbalancing:DescribeTargetHealth',
  'route53:ListHealthChecks',
  'ses:DescribeActiveReceiptRuleSet',
  'ses:DescribeReceiptRule',
  // Readiness reads (SES v1 receipt-rule and identity-verification reads take no resource ARN).
  'ses:DescribeReceiptRuleSet',
  'ses:GetIdentityVerificationAttributes',
  'ses:SetActiveReceiptRuleSet',
  'ses:UpdateReceiptRule',
  'xray:PutTelemetryRecords',
  'xray:PutTraceSegments',
];

type Statement = { Action: string | string[]; Resource: unknown };

/** Every action granted on Resource "*" by any policy in the template. */
const wildcardActionsIn = (template: Record<string, unknown>): string[] =>
  [
    ...new Set(
      Object.values(
        template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>,
      )
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
        .filter((st) => [st.Resource].flat().includes('*'))
        .flatMap((st) => [st.Action].flat()),
    ),
  ].sort();

/** The example also protects a database, a web tier and mail; their constructs explain these. */
const EXPECTED_FOR_EXAMPLE = [
  ...EXPECTED_ACKNOWLEDGEMENTS,
  'AwsSolutions-IAM5[Resource::<MailFailoverHeldMail90F558D9.Arn>/held/shop-mail/*]',
  'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:eu-west-2:111111111111:instance/*]',
];

describe.each([
  ['the example config', exampleConfig, EXPECTED_FOR_EXAMPLE],
  [
    'a config without a Slack secret name',
    async () => inlineConfig(),
    [...EXPECTED_ACKNOWLEDGEMENTS, 'AwsSolutions-SMG4'],
  ],
  [
    'a config with switched DNS records',
    async () => switchedConfig(),
    [
      ...EXPECTED_ACKNOWLEDGEMENTS,
      'AwsSolutions-SMG4',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::healthcheck/*]',
    ],
  ],
])('cdk-nag AwsSolutions on the stack for %s', (_name, config, expectedIds) => {
  let synth: Synthesized;

  beforeAll(async () => {
    // Prepare / Act: synthesize() registers the checks exactly as bin/app.ts does; a finding would throw here
    synth = synthesize(await config());
  });
  afterAll(() => synth?.cleanup());

  it.each(PACKS.map((pack) => [pack().name, pack]))(
    'reports no unacknowledged %s error or warning',
    (_n, pack) => {
      // Act
      const report = pack().validateScope(synth.stack);

      // Assess
      expect(describeViolations(report.violations)).toEqual([]);
      expect(report.success).toBe(true);
    },
  );

  it('grants on Resource "*" only the actions IAM allows no narrower resource for', () => {
    expect(wildcardActionsIn(synth.templateJson).filter((a) => !WILDCARD_ACTIONS.includes(a))).toEqual([]);
  });

  it('leaves no failed plugin in the validation report of the synth', () => {
    // Prepare: the report lists only plugins that found something; 'the cdk-nag gate' below shows it runs
    const file = join(synth.assembly.directory, 'validation-report.json');

    // Act
    const report = JSON.parse(readFileSync(file, 'utf8')) as {
      pluginReports: { pluginName: string; conclusion: string }[];
    };

    // Assess
    expect(report.pluginReports.filter((r) => r.conclusion !== 'success')).toEqual([]);
  });

  it('gives every acknowledgement a specific reason', () => {
    // Act
    const acknowledgements = acknowledgementsIn(synth.templateJson);

    // Assess
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const [logicalId, { id, reason }] of acknowledgements) {
      expect(id, logicalId).toMatch(/^(AwsSolutions-|Serverless-)/);
      expect(reason.length, `${logicalId} ${id}: "${reason}"`).toBeGreaterThanOrEqual(60);
    }
    expect([...new Set(acknowledgements.map(([, ack]) => ack.id))].sort()).toEqual([...expectedIds].sort());
  });
});

describe('cdk-nag AwsSolutions on the alarm-forwarding stacks', () => {
  let synth: Synthesized;

  beforeAll(() => {
    // Prepare / Act: the app's checks cover every stack; a finding in a forwarding stack would throw here
    synth = synthesize(multiRegionConfig());
  });
  afterAll(() => synth?.cleanup());

  it('reports no error or warning, and acknowledges only that its dead-letter queue has none itself', () => {
    // Prepare
    expect(synth.forwarders.length).toBeGreaterThan(0);

    for (const forwarder of synth.forwarders) {
      for (const pack of PACKS) {
        // Act
        const report = pack().validateScope(forwarder.stack);

        // Assess
        expect(describeViolations(report.violations), forwarder.stack.stackName).toEqual([]);
        expect(report.success).toBe(true);
      }
      const acknowledged = acknowledgementsIn(forwarder.templateJson).map(([, ack]) => ack);
      expect(acknowledged.map((ack) => ack.id)).toEqual(['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']);
      for (const ack of acknowledged) expect(ack.reason.length).toBeGreaterThanOrEqual(60);
    }
  });

  it('leaves no failed plugin in the validation report of the synth', () => {
    // Act
    const report = JSON.parse(
      readFileSync(join(synth.assembly.directory, 'validation-report.json'), 'utf8'),
    ) as { pluginReports: { pluginName: string; conclusion: string }[] };

    // Assess
    expect(report.pluginReports.filter((r) => r.conclusion !== 'success')).toEqual([]);
  });
});

describe('the cdk-nag gate', () => {
  it('fails the synth on an unacknowledged finding', async () => {
    // Prepare: an unencrypted queue without TLS enforcement or a DLQ
    const outdir = mkdtempSync(join(tmpdir(), 'understudy-nag-'));
    const { app, stack } = buildApp(await exampleConfig(), { bundle: false, outdir });
    new Queue(stack, 'CarelessQueue');

    try {
      // Act
      const report = new AwsSolutionsChecks().validateScope(stack);

      // Assess
      expect(report.violations.map((v) => v.ruleName)).toEqual(
        expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']),
      );
      expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
