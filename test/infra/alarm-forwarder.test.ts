import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dnsOnlyExampleConfig,
  inlineConfig,
  multiRegionConfig,
  type Synthesized,
  type SynthesizedForwarder,
  synthesize,
} from './synth';

/** The control plane Region's default bus, as CDK renders the ARN built from the config. */
const CONTROL_PLANE_BUS = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:eu-west-2:333333333333:event-bus/default']],
};

const forwarderIn = (synth: Synthesized, region: string): SynthesizedForwarder => {
  const forwarder = synth.forwarders.find((f) => f.stack.region === region);
  if (!forwarder) throw new Error(`no forwarding stack in ${region}`);
  return forwarder;
};

describe('the alarm-forwarding stacks for alarms in other Regions', () => {
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthesize(multiRegionConfig());
  });
  afterAll(() => synth?.cleanup());

  it('adds one stack per other Region with alarms, in the same account, none in the control plane Region', () => {
    // Assess
    expect(synth.forwarders.map((f) => [f.stack.stackName, f.stack.account, f.stack.region])).toEqual([
      ['understudy-multi-alarms-eu-west-1', '333333333333', 'eu-west-1'],
      ['understudy-multi-alarms-us-east-1', '333333333333', 'us-east-1'],
    ]);
    expect(synth.stack.region).toBe('eu-west-2');
  });

  it.each([
    ['us-east-1', ['blog-health-check', 'shop-health-check']],
    ['eu-west-1', ['primary-region-down', 'shop-health-check']],
  ])(
    'in %s, forwards exactly the state changes of the alarms configured there to the control plane bus',
    (region, names) => {
      // Prepare
      const { stack, template } = forwarderIn(synth, region);
      const roleId = stack.getLogicalId(stack.role.node.defaultChild as CfnElement);

      // Assess
      template.resourceCountIs('AWS::Events::Rule', 1);
      template.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: Match.absent(),
        EventPattern: Match.exact({
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          detail: { alarmName: names },
        }),
        Targets: [
          {
            Arn: CONTROL_PLANE_BUS,
            Id: Match.anyValue(),
            RoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] },
            DeadLetterConfig: {
              Arn: {
                'Fn::GetAtt': [
                  stack.getLogicalId(stack.deadLetterQueue.node.defaultChild as CfnElement),
                  'Arn',
                ],
              },
            },
          },
        ],
      });
    },
  );

  it.each(['us-east-1', 'eu-west-1'])(
    'in %s, lets the role only put events on the control plane bus',
    (region) => {
      // Prepare
      const { stack, template } = forwarderIn(synth, region);
      const roleId = stack.getLogicalId(stack.role.node.defaultChild as CfnElement);

      // Assess: assumed by EventBridge only, no managed policy, one statement on one bus
      template.resourceCountIs('AWS::IAM::Role', 1);
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' } },
          ],
        },
        ManagedPolicyArns: Match.absent(),
        Policies: Match.absent(),
      });
      const policies = Object.values(template.findResources('AWS::IAM::Policy'));
      expect(policies).toHaveLength(1);
      expect(policies[0]?.Properties).toMatchObject({ Roles: [{ Ref: roleId }] });
      expect(policies[0]?.Properties.PolicyDocument.Statement).toEqual([
        { Action: 'events:PutEvents', Effect: 'Allow', Resource: CONTROL_PLANE_BUS },
      ]);
    },
  );

  it('holds nothing but the rule, its dead-letter queue and its alarm, the role and its policy, and refers to no other stack', () => {
    for (const { templateJson, stack } of synth.forwarders) {
      // Assess
      const types = Object.values(templateJson.Resources as Record<string, { Type: string }>).map(
        (r) => r.Type,
      );
      // The dead-letter queue's alarm goes by a topic of this Region (infra/operator-alarms.ts).
      expect(types.sort()).toEqual([
        'AWS::CloudWatch::Alarm',
        'AWS::Events::Rule',
        'AWS::IAM::Policy',
        'AWS::IAM::Role',
        'AWS::KMS::Key',
        'AWS::SNS::Topic',
        'AWS::SNS::TopicPolicy',
        'AWS::SQS::Queue',
        'AWS::SQS::QueuePolicy',
      ]);
      expect(JSON.stringify(templateJson)).not.toMatch(/Fn::ImportValue|ExportsOutput/);
      expect(stack.dependencies).toEqual([]);
    }
  });

  it('keeps the control plane rule matching every alarm name, so forwarded events reach the alarm function', () => {
    // Assess: forwarded events keep their source, detail-type and Region; the function checks the Region
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.exact({
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: {
          alarmName: ['blog-health-check', 'primary-region-down', 'shop-5xx', 'shop-health-check'],
        },
      }),
      Targets: [Match.objectLike({ Arn: Match.anyValue() })],
    });
  });
});

describe('configs whose alarms all live in the control plane Region', () => {
  it.each([
    ['the example shop', dnsOnlyExampleConfig],
    ['the inline config', async () => inlineConfig()],
  ])('%s needs no forwarding stack', async (_name, config) => {
    // Act
    const synth = synthesize(await config());

    try {
      // Assess
      expect(synth.forwarders).toEqual([]);
      expect(synth.assembly.stacks.map((s) => s.stackName)).toEqual([synth.stack.stackName]);
    } finally {
      synth.cleanup();
    }
  });
});
