import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsOnlyExampleConfig, inlineConfig, type Synthesized, synthesize } from './synth';

describe('the readiness check in the stack', () => {
  let synth: Synthesized;
  beforeAll(async () => {
    synth = synthesize(await dnsOnlyExampleConfig());
  });
  afterAll(() => synth?.cleanup());

  const logicalId = (element: unknown) => synth.stack.getLogicalId(element as CfnElement);

  it('runs the readiness function every 30 minutes by default', () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(30 minutes)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(synth.stack.readiness.handler.node.defaultChild), 'Arn'] },
        }),
      ],
    });
  });

  it('tells it which roles to simulate: the functions that act', () => {
    const fn = synth.templateJson.Resources as Record<
      string,
      { Properties: { Environment?: { Variables: Record<string, unknown> } } }
    >;
    const variables =
      fn[logicalId(synth.stack.readiness.handler.node.defaultChild)]?.Properties.Environment?.Variables;
    const roles = JSON.stringify(variables?.UNDERSTUDY_ACTING_ROLE_ARNS);
    expect(roles).toContain(logicalId(synth.stack.reconciler.handler.role?.node.defaultChild));
    expect(roles).toContain(logicalId(synth.stack.alarmTrigger?.handler.role?.node.defaultChild));
    expect(variables?.SLACK_WEBHOOK_SECRET_ARN).toBeDefined();
  });

  it("runs one at a time within its own share of the account's Route 53 rate", () => {
    const resources = synth.templateJson.Resources as Record<
      string,
      {
        Properties: {
          ReservedConcurrentExecutions?: number;
          Environment?: { Variables: Record<string, unknown> };
        };
      }
    >;
    const fn = resources[logicalId(synth.stack.readiness.handler.node.defaultChild)]?.Properties;
    expect(fn?.ReservedConcurrentExecutions).toBe(1);
    expect(fn?.Environment?.Variables.UNDERSTUDY_ROUTE53_PER_SECOND).toBe('0.1');
  });

  it('alarms (ReadinessFailing) while the control plane-wide Readiness metric is below 1', () => {
    expect(synth.stack.readiness.alarm).toBeDefined();
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'understudy-ReadinessFailing',
      Namespace: 'Understudy',
      MetricName: 'Readiness',
      Dimensions: [{ Name: 'service', Value: 'understudy' }],
      Statistic: 'Minimum',
      Period: 1800,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'ignore',
    });
  });
});

describe('a configured readiness interval', () => {
  it('sets the schedule and the alarm period', () => {
    const config = inlineConfig();
    const synth = synthesize({
      ...config,
      controlPlane: { ...config.controlPlane, readinessIntervalMinutes: 10 },
    });
    try {
      synth.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
      synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Readiness',
        Period: 600,
      });
    } finally {
      synth.cleanup();
    }
  });
});
