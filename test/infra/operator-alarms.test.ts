import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Alarm, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/schema';
import { ENGINE_METRICS } from '../../functions/core/metrics';
import { deadLetterQueue } from '../../infra/dead-letter-queue';
import { OperatorAlarms } from '../../infra/operator-alarms';
import { fullExampleInput } from '../unit/fixtures';
import { exampleConfig, multiRegionConfig, type Synthesized, synthesize } from './synth';

type Resource = { Type: string; Properties: Record<string, unknown> };

const resourcesOf = (json: Record<string, unknown>, type: string): [string, Resource][] =>
  Object.entries(json.Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);

/** The alarms whose metric has this name and a dimension referring to `logicalId`. */
const alarmsOn = (json: Record<string, unknown>, metricName: string, logicalId: string) =>
  resourcesOf(json, 'AWS::CloudWatch::Alarm').filter(
    ([, r]) =>
      r.Properties.MetricName === metricName &&
      JSON.stringify(r.Properties.Dimensions).includes(`"${logicalId}"`),
  );

const idOf = (stack: Stack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);

describe('the operator alarms of the stack for the example config', () => {
  let synth: Synthesized;
  let topicId: string;

  beforeAll(async () => {
    const example = await exampleConfig();
    synth = synthesize({
      ...example,
      controlPlane: { ...example.controlPlane, alarmEmails: ['oncall@example.com', 'ops@example.org'] },
    });
    topicId = idOf(synth.stack, synth.stack.operatorAlarms.topic);
  });
  afterAll(() => synth?.cleanup());

  it("alarms on each function's errors and throttles, to the operator topic", () => {
    // Prepare
    const functions = resourcesOf(synth.templateJson, 'AWS::Lambda::Function');

    // Assess: every function the stack has, the capabilities' own and the readiness check included
    expect(functions.length).toBe(7);
    for (const [id] of functions) {
      for (const metric of ['Errors', 'Throttles']) {
        const alarms = alarmsOn(synth.templateJson, metric, id);
        expect(alarms, `${metric} of ${id}`).toHaveLength(1);
        expect(alarms[0]?.[1].Properties).toMatchObject({
          Namespace: 'AWS/Lambda',
          Statistic: 'Sum',
          Period: 60,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
          AlarmActions: [{ Ref: topicId }],
          OKActions: [{ Ref: topicId }],
        });
      }
    }
  });

  it('alarms on each dead-letter and failure queue holding a message, and not on the work queue', () => {
    // Prepare
    const queues = resourcesOf(synth.templateJson, 'AWS::SQS::Queue');
    const workQueue = idOf(synth.stack, synth.stack.reconciler.queue);

    // Assess: each function's (the readiness check's included), and the one of notifications SNS
    // could not deliver
    expect(queues.length).toBe(9);
    for (const [id] of queues) {
      const alarms = alarmsOn(synth.templateJson, 'ApproximateNumberOfMessagesVisible', id);
      if (id === workQueue) {
        expect(alarms).toEqual([]);
        continue;
      }
      expect(alarms, `depth of ${id}`).toHaveLength(1);
      expect(alarms[0]?.[1].Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: topicId }],
      });
    }
  });

  it('alarms when the scheduled run misses three intervals, missing data counting as missed', () => {
    // Prepare
    const dispatcher = idOf(synth.stack, synth.stack.reconciler.dispatcher);

    // Assess
    const [heartbeat, ...more] = alarmsOn(synth.templateJson, 'Invocations', dispatcher);
    expect(more).toEqual([]);
    expect(heartbeat?.[1].Properties).toMatchObject({
      AlarmName: 'understudy-Reconciler-Dispatcher-Heartbeat',
      Namespace: 'AWS/Lambda',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('alarms when the readiness schedule misses three of its intervals', () => {
    // Prepare
    const readiness = idOf(synth.stack, synth.stack.readiness.handler);

    // Assess
    const [heartbeat, ...more] = alarmsOn(synth.templateJson, 'Invocations', readiness);
    expect(more).toEqual([]);
    expect(heartbeat?.[1].Properties).toMatchObject({
      Period: synth.stack.readiness.interval.toSeconds(),
      EvaluationPeriods: 3,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('sends alarms by an encrypted, TLS-only topic to the configured addresses, not through a function', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [idOf(synth.stack, synth.stack.operatorAlarms.key), 'Arn'] },
    });
    synth.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    synth.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
          }),
        ]),
      },
    });
    const subscriptions = resourcesOf(synth.templateJson, 'AWS::SNS::Subscription').map(
      ([, r]) => r.Properties,
    );
    const undelivered = synth.stack.operatorAlarms.undelivered;
    if (!undelivered)
      throw new Error('alarmEmails are configured, so undelivered notifications have a queue');
    const redrive = {
      deadLetterTargetArn: { 'Fn::GetAtt': [idOf(synth.stack, undelivered), 'Arn'] },
    };
    expect(subscriptions).toEqual([
      {
        Protocol: 'email',
        Endpoint: 'oncall@example.com',
        TopicArn: { Ref: topicId },
        RedrivePolicy: redrive,
      },
      { Protocol: 'email', Endpoint: 'ops@example.org', TopicArn: { Ref: topicId }, RedrivePolicy: redrive },
    ]);
    // Every alarm of the stack but the capabilities' own (the replica lag alarm feeds failover) goes
    // to the topic, and no alarm action is a Lambda function.
    for (const [, alarm] of resourcesOf(synth.templateJson, 'AWS::CloudWatch::Alarm')) {
      expect(JSON.stringify(alarm.Properties.AlarmActions ?? [])).not.toMatch(/lambda/i);
    }
    // Errors and throttles of 7 functions, 8 dead-letter queues, the two schedules' heartbeats, and
    // ReadinessFailing.
    expect(synth.stack.operatorAlarms.alarms).toHaveLength(7 * 2 + 8 + 2 + 1);
    expect(synth.stack.operatorAlarms.alarms.map((a) => a.alarm)).toContain(synth.stack.readiness.alarm);
  });

  it("draws one dashboard of the control plane: the alarms, the engine's metrics, functions and queues", () => {
    // Prepare
    const [dashboard, ...more] = resourcesOf(synth.templateJson, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.[1].Properties.DashboardBody);

    // Assess
    expect(more).toEqual([]);
    expect(dashboard?.[1].Properties.DashboardName).toBe('understudy-eu-west-2');
    for (const name of Object.values(ENGINE_METRICS)) expect(body).toContain(`\\"${name}\\"`);
    expect(body).toContain('RecoveryTimeSeconds');
    expect(body).toContain('\\"type\\":\\"alarm\\"');
    for (const [id] of resourcesOf(synth.templateJson, 'AWS::CloudWatch::Alarm').filter(([id]) =>
      id.startsWith('OperatorAlarms'),
    )) {
      expect(body).toContain(`"${id}"`);
    }
    for (const [id] of resourcesOf(synth.templateJson, 'AWS::Lambda::Function')) expect(body).toContain(id);
    for (const [id] of resourcesOf(synth.templateJson, 'AWS::SQS::Queue')) expect(body).toContain(id);
  });

  it("outputs every queue's URL", () => {
    // Prepare
    const outputs = Object.values(synth.template.findOutputs('*')).map((o) => JSON.stringify(o.Value));

    // Assess
    for (const [id] of resourcesOf(synth.templateJson, 'AWS::SQS::Queue')) {
      expect(outputs, id).toContain(JSON.stringify({ Ref: id }));
    }
    synth.template.hasOutput('OperatorAlarmTopicArn', { Value: { Ref: topicId } });
  });
});

describe('the operator alarms without alarmEmails, and in the alarm-forwarding stacks', () => {
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthesize(multiRegionConfig());
  });
  afterAll(() => synth?.cleanup());

  it('makes the topic with no subscription when no address is configured', () => {
    // Assess
    synth.template.resourceCountIs('AWS::SNS::Topic', 1);
    synth.template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it("alarms on each forwarding stack's dead-letter queue, by a topic in that stack's Region", () => {
    for (const { stack, template, templateJson } of synth.forwarders) {
      // Prepare
      const topic = idOf(stack, stack.operatorAlarms.topic);
      const queue = idOf(stack, stack.deadLetterQueue);

      // Assess
      const alarms = alarmsOn(templateJson, 'ApproximateNumberOfMessagesVisible', queue);
      expect(alarms).toHaveLength(1);
      expect(alarms[0]?.[1].Properties).toMatchObject({ AlarmActions: [{ Ref: topic }] });
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
      template.hasOutput('ForwardDeadLetterQueueUrl', { Value: { Ref: queue } });
    }
  });
});

describe('OperatorAlarms', () => {
  const config = parseConfig(fullExampleInput());
  const stackWith = () => {
    const app = new App();
    const stack = new Stack(app, 'Watched', { env: { account: '111111111111', region: 'eu-west-2' } });
    const alarms = new OperatorAlarms(stack, 'OperatorAlarms', { config, alarmNamePrefix: 'watched' });
    return { app, stack, alarms };
  };
  const fn = (stack: Stack, id: string) =>
    new LambdaFunction(stack, id, {
      code: Code.fromInline('export const handler = async () => {}'),
      handler: 'index.handler',
      runtime: Runtime.NODEJS_22_X,
    });

  it("sends another construct's alarm (a readiness alarm) to the operators with watch()", () => {
    // Prepare
    const { stack, alarms } = stackWith();
    const readiness = new Alarm(stack, 'NotReady', {
      metric: new Metric({ namespace: 'Understudy', metricName: ENGINE_METRICS.readiness }),
      threshold: 1,
      evaluationPeriods: 1,
    });

    // Act
    alarms.watch(readiness);

    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Readiness',
      AlarmActions: [{ Ref: idOf(stack, alarms.topic) }],
    });
    expect(alarms.alarms.map((a) => a.kind)).toEqual(['other']);
  });

  it('fails the synth for a function or dead-letter queue added after the walk, naming it', () => {
    // Prepare
    const { app, stack, alarms } = stackWith();
    fn(stack, 'Early');
    alarms.watchScope(stack);
    alarms.heartbeat(fn(stack, 'Scheduled'), Duration.minutes(5));
    fn(stack, 'Late');
    deadLetterQueue(stack, 'LateQueue', 'late events');

    // Act
    const synth = () => app.synth();

    // Assess
    expect(synth).toThrow(/Watched\/Late has no operator alarm/);
    expect(synth).toThrow(/Watched\/LateQueue has no operator alarm/);
    expect(synth).toThrow(/Watched\/Scheduled has no operator alarm/);
  });
});
