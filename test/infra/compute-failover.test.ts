import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeScopeOf } from '../../functions/capabilities/compute/infra';
import { parseConfig } from '../../functions/config/schema';
import { type Synthesized, synthesize } from './synth';

const TG_WEB = 'arn:aws:elasticloadbalancing:eu-west-1:333333333333:targetgroup/web/0123456789abcdef';
const TG_API = 'arn:aws:elasticloadbalancing:eu-west-1:333333333333:targetgroup/api/fedcba9876543210';

/** Two compute services: one names its servers by id, one selects them by tag and has a standby ASG. */
const computeConfig = (byTag = true) =>
  parseConfig({
    controlPlane: { account: '333333333333', region: 'eu-west-1', stackName: 'understudy-compute' },
    services: [
      {
        name: 'web',
        mode: 'auto',
        alarms: [{ name: 'web-down' }, { name: 'web-i-0123456789abcdef0-status', scope: 'instance' }],
        compute: {
          targetGroupArns: [TG_WEB],
          primaries: { instanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef1'] },
          standbys: { instanceIds: ['i-0fedcba9876543210'] },
        },
      },
      ...(byTag
        ? [
            {
              name: 'api',
              compute: {
                targetGroupArns: [TG_API],
                primaries: { tag: { key: 'understudy:role', value: 'api-primary' } },
                standbys: { tag: { key: 'understudy:role', value: 'api-standby' } },
                standbyAutoScalingGroup: { name: 'api-standby', failoverCapacity: 3 },
              },
            },
          ]
        : []),
    ],
  });

type Statement = { Action: string | string[]; Resource: unknown; Condition?: Record<string, unknown> };

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize(computeConfig());
});
afterAll(() => synth?.cleanup());

const statements = (): Statement[] =>
  Object.values(synth.template.findResources('AWS::IAM::Policy')).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
const withAction = (action: string) =>
  statements().filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).includes(action));

describe('ComputeFailover', () => {
  it('gathers the scope from every service', () => {
    expect(computeScopeOf(computeConfig())).toEqual({
      targetGroupArns: [TG_API, TG_WEB],
      instanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef1', 'i-0fedcba9876543210'],
      instanceTags: { 'understudy:role': ['api-primary', 'api-standby'] },
      autoScalingGroups: ['api-standby'],
    });
  });

  it('changes target groups only for the configured ARNs', () => {
    const registers = withAction('elasticloadbalancing:RegisterTargets');
    expect(registers.length).toBeGreaterThan(0);
    for (const s of registers) expect(s.Resource).toEqual([TG_API, TG_WEB]);
  });

  it('starts, stops and tags instances only by configured id or selector tag, and tags only the quarantine key', () => {
    const starts = withAction('ec2:StartInstances');
    const tagged = starts.filter((s) => s.Condition !== undefined);
    expect(tagged.length).toBeGreaterThan(0);
    for (const s of tagged) {
      expect(s.Condition).toEqual({
        StringEquals: { 'aws:ResourceTag/understudy:role': ['api-primary', 'api-standby'] },
      });
    }
    for (const s of withAction('ec2:CreateTags')) {
      expect(s.Condition).toMatchObject({
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['understudy:quarantined'] },
      });
    }
    // Nothing may ever terminate a server: quarantined means kept for examination.
    expect(withAction('ec2:TerminateInstances')).toEqual([]);
    expect(
      statements().some((s) => s.Action === '*' || (Array.isArray(s.Action) && s.Action.includes('ec2:*'))),
    ).toBe(false);
  });

  it('grants the Auto Scaling group by name, and Describe* only where IAM offers nothing narrower', () => {
    for (const s of withAction('autoscaling:SetDesiredCapacity')) {
      expect(JSON.stringify(s.Resource)).toContain('autoScalingGroupName/api-standby');
    }
    for (const s of withAction('ec2:DescribeInstances')) {
      expect(s.Resource).toBe('*');
      // CDK merges every Resource "*" statement of a policy: X-Ray's and our reads, nothing else.
      expect(s.Action).toEqual(
        expect.arrayContaining([
          'ec2:DescribeInstances',
          'elasticloadbalancing:DescribeTargetHealth',
          'autoscaling:DescribeAutoScalingGroups',
        ]),
      );
      for (const action of s.Action)
        expect(action).toMatch(/^(xray:Put|ec2:Describe|elasticloadbalancing:Describe|autoscaling:Describe)/);
    }
  });

  it('routes EC2 state changes to its own function; with tag selectors the handler filters', () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ec2'],
        'detail-type': ['EC2 Instance State-change Notification'],
        detail: { state: ['running', 'stopped', 'terminated'], 'instance-id': Match.absent() },
      },
      Targets: Match.arrayWith([Match.objectLike({ DeadLetterConfig: Match.anyValue() })]),
    });
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'understudy: reconciles compute when a protected server changes state',
    });
  });

  it('with servers named by id only, EventBridge itself filters to them', () => {
    const byIds = synthesize(computeConfig(false));
    try {
      byIds.template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.ec2'],
          detail: { 'instance-id': ['i-0123456789abcdef0', 'i-0123456789abcdef1', 'i-0fedcba9876543210'] },
        },
      });
    } finally {
      byIds.cleanup();
    }
  });
});
