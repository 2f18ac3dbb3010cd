import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilityAlarmIds, inlineConfig, type Synthesized, switchedConfig, synthesize } from './synth';

/**
 * The switches of `routing: 'switched'` records (functions/capabilities/dns/infra.ts): per service an
 * alarm on the metric the control plane publishes, a Route 53 health check that follows the alarm,
 * and one calculated check per primary-site check; IAM for the switch limited to its namespace.
 */

type Statement = { Action: string | string[]; Resource: unknown; Condition?: Record<string, unknown> };

const statementsWith = (synth: Synthesized, action: string): Statement[] =>
  Object.values(
    synth.templateJson.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>,
  )
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((st) => [st.Action].flat().includes(action));

describe('the DNS switch resources of a config with switched records', () => {
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthesize(switchedConfig());
  });
  afterAll(() => synth?.cleanup());

  it('creates one alarm per switched service that holds its last position when no data arrives', () => {
    // Besides the control plane's own alarms (test/infra/operator-alarms.test.ts).
    expect(capabilityAlarmIds(synth)).toHaveLength(2);
    for (const service of ['shop', 'blog']) {
      synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `understudy-switched-switch-${service}`,
        Metrics: [
          {
            Id: 'm',
            MetricStat: {
              Metric: {
                Namespace: 'Understudy/understudy-switched/Switch',
                MetricName: 'PrimaryServes',
                Dimensions: [{ Name: 'Service', Value: service }],
              },
              Period: 60,
              Stat: 'Maximum',
            },
            ReturnData: false,
          },
          Match.objectLike({ Id: 'position', Expression: 'm - 2 * FLOOR(m / 2)', ReturnData: true }),
        ],
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'ignore',
        ActionsEnabled: false,
      });
    }
  });

  it('follows each alarm with a CLOUDWATCH_METRIC health check that keeps its last known status', () => {
    synth.template.hasResourceProperties('AWS::Route53::HealthCheck', {
      HealthCheckConfig: {
        Type: 'CLOUDWATCH_METRIC',
        AlarmIdentifier: { Name: 'understudy-switched-switch-shop', Region: 'eu-west-2' },
        InsufficientDataHealthStatus: 'LastKnownStatus',
      },
      HealthCheckTags: Match.arrayWith([{ Key: 'understudy:switch', Value: 'understudy-switched/shop' }]),
    });
  });

  it('combines each primary-site check with its service switch in a CALCULATED check (2 of 2), tagged', () => {
    const checks = synth.template.findResources('AWS::Route53::HealthCheck');
    const calculated = Object.values(checks).filter(
      (c) => (c.Properties.HealthCheckConfig as { Type: string }).Type === 'CALCULATED',
    );
    const metric = Object.values(checks).filter(
      (c) => (c.Properties.HealthCheckConfig as { Type: string }).Type === 'CLOUDWATCH_METRIC',
    );
    // shop: two distinct primary checks; blog: one.
    expect(calculated).toHaveLength(3);
    expect(metric).toHaveLength(2);
    for (const check of calculated) {
      const config = check.Properties.HealthCheckConfig as {
        HealthThreshold: number;
        ChildHealthChecks: unknown[];
      };
      expect(config.HealthThreshold).toBe(2);
      expect(config.ChildHealthChecks).toHaveLength(2);
      expect(config.ChildHealthChecks[1]).toMatchObject({
        'Fn::GetAtt': [expect.any(String), 'HealthCheckId'],
      });
    }
    synth.template.hasResourceProperties('AWS::Route53::HealthCheck', {
      HealthCheckConfig: {
        Type: 'CALCULATED',
        ChildHealthChecks: ['aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', Match.anyValue()],
        HealthThreshold: 2,
      },
      HealthCheckTags: Match.arrayWith([{ Key: 'understudy:switch', Value: 'understudy-switched/shop' }]),
    });
  });

  it('still creates no record set: the reconciler writes the switched records once', () => {
    synth.template.resourceCountIs('AWS::Route53::RecordSet', 0);
    synth.template.resourceCountIs('AWS::Route53::RecordSetGroup', 0);
  });

  it('lets the functions publish only into the switch namespace, and read only the switch alarms', () => {
    const puts = statementsWith(synth, 'cloudwatch:PutMetricData');
    expect(puts.length).toBeGreaterThan(0);
    for (const st of puts) {
      expect([st.Action].flat()).toEqual(['cloudwatch:PutMetricData']);
      expect(st.Condition).toEqual({
        StringEquals: { 'cloudwatch:namespace': 'Understudy/understudy-switched/Switch' },
      });
    }
    const describes = statementsWith(synth, 'cloudwatch:DescribeAlarms');
    expect(describes.length).toBeGreaterThan(0);
    for (const st of describes) {
      const resources = JSON.stringify(st.Resource);
      expect(resources).toContain('alarm:understudy-switched-switch-shop');
      expect(resources).toContain('alarm:understudy-switched-switch-blog');
      expect(resources).not.toContain('alarm:*');
    }
  });
});

describe('a config without switched records', () => {
  it('creates no switch and grants no PutMetricData', () => {
    const synth = synthesize(inlineConfig());
    try {
      expect(capabilityAlarmIds(synth)).toEqual([]);
      expect(statementsWith(synth, 'cloudwatch:PutMetricData')).toEqual([]);
      expect(synth.template.findResources('AWS::Route53::HealthCheck')).toEqual({});
    } finally {
      synth.cleanup();
    }
  });
});
