import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/schema';
import type { ControlFunction } from '../../infra/control-function';
import { dnsOnlyExampleConfig, inlineConfig, type Synthesized, synthesize } from './synth';

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

/** `arn:<partition>:<rest>` as CDK renders it. */
const arn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${rest}`]] });

const logicalId = (synth: Synthesized, fn: ControlFunction) =>
  synth.stack.getLogicalId(fn.node.defaultChild as CfnElement);
const roleId = (synth: Synthesized, fn: ControlFunction) =>
  synth.stack.getLogicalId(fn.role?.node.defaultChild as CfnElement);
const queueId = (synth: Synthesized, fn: ControlFunction) =>
  synth.stack.getLogicalId(fn.failureQueue.node.defaultChild as CfnElement);

/** Every IAM statement attached to a function's role. */
const statementsOf = (synth: Synthesized, fn: ControlFunction): Statement[] => {
  const role = roleId(synth, fn);
  const policies = synth.template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: role }]) },
  });
  return Object.values(policies).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
};

const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];
const withAction = (statements: Statement[], action: string) =>
  statements.filter((s) => actionsOf(s).includes(action));

const handlersOf = (synth: Synthesized): ControlFunction[] => {
  const alarm = synth.stack.alarmTrigger?.handler;
  return alarm ? [synth.stack.reconciler.handler, alarm] : [synth.stack.reconciler.handler];
};

describe('the stack for the example shop, DNS only', () => {
  let synth: Synthesized;
  let alarm: ControlFunction;
  let reconcile: ControlFunction;

  beforeAll(async () => {
    synth = synthesize(await dnsOnlyExampleConfig());
    const handler = synth.stack.alarmTrigger?.handler;
    if (!handler) throw new Error('the example config has alarms, so the stack must have an alarm trigger');
    alarm = handler;
    reconcile = synth.stack.reconciler.handler;
  });
  afterAll(() => synth?.cleanup());

  it('runs in the control plane account and Region from the config', () => {
    // Prepare / Act: synthesized in beforeAll
    // Assess
    expect(synth.stack.account).toBe('111111111111');
    expect(synth.stack.region).toBe('eu-west-2');
    expect(synth.stack.stackName).toBe('understudy');
  });

  it('routes exactly the configured alarm state changes to the alarm function', () => {
    // Assess
    // The alarm rule, the reconcile schedule and the readiness schedule.
    synth.template.resourceCountIs('AWS::Events::Rule', 3);
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.exact({
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { alarmName: ['shop-primary-unhealthy'] },
      }),
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [logicalId(synth, alarm), 'Arn'] },
          Id: Match.anyValue(),
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId(synth, alarm), 'Arn'] } },
          // Events older than maxEventAgeSeconds are ignored by the handler; retrying past that is pointless.
          RetryPolicy: { MaximumEventAgeInSeconds: 600, MaximumRetryAttempts: 8 },
        },
      ],
    });
  });

  it('runs the dispatcher every minute, with a dead-letter queue for undeliverable ticks', () => {
    // Assess
    const dispatcher = synth.stack.reconciler.dispatcher;
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(synth, dispatcher), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId(synth, dispatcher), 'Arn'] } },
        }),
      ],
    });
  });

  it('fans the schedule out to reconcile workers through an encrypted queue, within their Route 53 share', () => {
    // Assess: at most 2 workers at once (2 x 1 req/s of Route 53), 2 items (up to 25 services of one
    // zone each) per invocation, partial batch failures, a DLQ
    const workQueue = synth.stack.getLogicalId(synth.stack.reconciler.queue.node.defaultChild as CfnElement);
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(synth, reconcile) },
      EventSourceArn: { 'Fn::GetAtt': [workQueue, 'Arn'] },
      BatchSize: 2,
      ScalingConfig: { MaximumConcurrency: 2 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    synth.template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 360,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [queueId(synth, reconcile), 'Arn'] },
        maxReceiveCount: 3,
      },
    });
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ UNDERSTUDY_ROUTE53_PER_SECOND: '1' }) },
      ReservedConcurrentExecutions: Match.absent(),
    });
    // The alarm function: at most 4 at once, 0.5 req/s each.
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ UNDERSTUDY_ROUTE53_PER_SECOND: '0.5' }) },
      ReservedConcurrentExecutions: 4,
    });
  });

  it('sends failed asynchronous invocations of both functions to their encrypted failure queue', () => {
    // Assess
    for (const [fn, retries] of [
      [alarm, 2],
      [reconcile, 0],
      [synth.stack.reconciler.dispatcher, 0],
    ] as const) {
      synth.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: logicalId(synth, fn) },
        MaximumRetryAttempts: retries,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId(synth, fn), 'Arn'] } } },
      });
    }
    // Four failure queues (alarm, dispatcher, worker, readiness), and the work queue (kept an hour:
    // its items are superseded after a minute).
    synth.template.resourceCountIs('AWS::SQS::Queue', 5);
    synth.template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    const retention = Object.values(synth.template.findResources('AWS::SQS::Queue')).map(
      (q) => (q as { Properties: { MessageRetentionPeriod: number } }).Properties.MessageRetentionPeriod,
    );
    expect(retention.sort((a, b) => a - b)).toEqual([
      3600,
      14 * 24 * 3600,
      14 * 24 * 3600,
      14 * 24 * 3600,
      14 * 24 * 3600,
    ]);
    synth.template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('deploys every function as traced arm64 Node.js 22 functions with bounded log retention', () => {
    // Assess
    synth.template.resourceCountIs('AWS::Lambda::Function', 4);
    synth.template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: Match.anyValue(),
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: Match.anyValue() } },
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'understudy',
          NODE_OPTIONS: '--enable-source-maps',
        }),
      },
    });
    // The functions that report (not the dispatcher, which only queues) know the Slack secret.
    for (const fn of [alarm, reconcile]) {
      const variables = (
        synth.templateJson.Resources as Record<
          string,
          { Properties: { Environment: { Variables: Record<string, unknown> } } }
        >
      )[logicalId(synth, fn)]?.Properties.Environment.Variables;
      expect(variables?.SLACK_WEBHOOK_SECRET_ARN).toEqual(
        arn('secretsmanager:eu-west-2:111111111111:secret:understudy/slack-webhook'),
      );
    }
    synth.template.resourceCountIs('AWS::Logs::LogGroup', 4);
    synth.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('attaches no managed policy to the function roles', () => {
    // Assess
    synth.template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('lets both functions UPSERT only the configured records, in the configured zone', () => {
    for (const fn of [alarm, reconcile]) {
      // Act
      const statements = statementsOf(synth, fn);
      const changes = withAction(statements, 'route53:ChangeResourceRecordSets');

      // Assess
      expect(statements.flatMap(actionsOf).filter((a) => a === '*' || a.startsWith('route53:*'))).toEqual([]);
      expect(changes).toEqual([
        {
          Effect: 'Allow',
          Action: 'route53:ChangeResourceRecordSets',
          Resource: arn('route53:::hostedzone/Z0EXAMPLE0SHOP'),
          Condition: {
            'ForAllValues:StringEquals': {
              'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
                'api.shop.example.com',
                'www.shop.example.com',
              ],
              'route53:ChangeResourceRecordSetsRecordTypes': ['A', 'CNAME'],
              'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
            },
          },
        },
      ]);
      expect(withAction(statements, 'route53:ListResourceRecordSets').map((s) => s.Resource)).toEqual([
        arn('route53:::hostedzone/Z0EXAMPLE0SHOP'),
      ]);
      expect(withAction(statements, 'route53:GetHealthCheckStatus').map((s) => s.Resource)).toEqual([
        [
          arn('route53:::healthcheck/11111111-1111-4111-8111-111111111111'),
          arn('route53:::healthcheck/22222222-2222-4222-8222-222222222222'),
        ],
      ]);
      expect(withAction(statements, 'route53:GetChange').map((s) => s.Resource)).toEqual([
        arn('route53:::change/*'),
      ]);
    }
  });

  it('gives both functions item access to the state table and nothing wider', () => {
    // Prepare
    const table = synth.stack.getLogicalId(synth.stack.stateStore.table.node.defaultChild as CfnElement);

    for (const fn of [alarm, reconcile]) {
      // Act
      const dynamo = statementsOf(synth, fn).filter((s) =>
        actionsOf(s).some((a) => a.startsWith('dynamodb:')),
      );

      // Assess
      expect(dynamo.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [table, 'Arn'] }]);
      expect(dynamo.flatMap(actionsOf)).toContain('dynamodb:PutItem');
      expect(dynamo.flatMap(actionsOf)).not.toContain('dynamodb:DeleteTable');
    }
  });

  it('allows Resource "*" only for calls that have no resource-level permissions: X-Ray, and the health metric', () => {
    for (const fn of handlersOf(synth)) {
      // Act
      const wildcard = statementsOf(synth, fn).filter((s) => s.Resource === '*');

      // Assess
      expect(wildcard.flatMap(actionsOf).sort()).toEqual([
        'cloudwatch:GetMetricData',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    }
  });

  it('keeps one retained, deletion-protected state table with point-in-time recovery and a TTL', () => {
    // Assess
    synth.template.resourceCountIs('AWS::DynamoDB::Table', 1);
    synth.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        TableName: 'understudy-state',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  it('creates no Route 53 records, so a later deploy can never undo a failover', () => {
    // Assess
    for (const type of [
      'AWS::Route53::RecordSet',
      'AWS::Route53::RecordSetGroup',
      'AWS::Route53::HostedZone',
    ]) {
      synth.template.resourceCountIs(type, 0);
    }
  });

  it('references the existing webhook secret and never carries a webhook URL', () => {
    // Prepare
    const text = JSON.stringify(synth.templateJson);

    // Assess
    synth.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(text).not.toMatch(/hooks\.slack\.com|https:\/\/[^"]*slack/i);
    for (const fn of [alarm, reconcile]) {
      const reads = withAction(statementsOf(synth, fn), 'secretsmanager:GetSecretValue');
      expect(reads.map((s) => s.Resource)).toEqual([
        arn('secretsmanager:eu-west-2:111111111111:secret:understudy/slack-webhook-??????'),
      ]);
    }
  });

  it('outputs what an operator needs to find the control plane', () => {
    // Assess
    expect(Object.keys(synth.template.findOutputs('*')).sort()).toEqual([
      'ActingRoleArns',
      'AlarmDeadLetterQueueUrl',
      'AlarmFunctionName',
      'DashboardName',
      'DispatchDeadLetterQueueUrl',
      'DispatchFunctionName',
      'OperatorAlarmTopicArn',
      'ReadinessDeadLetterQueueUrl',
      'ReadinessFunctionName',
      'ReconcileDeadLetterQueueUrl',
      'ReconcileFunctionName',
      'ReconcilerWorkQueueUrl',
      'ReportBucketName',
      'SlackWebhookSecretArn',
      'StateTableName',
    ]);
    synth.template.hasOutput('StateTableName', {
      Value: { Ref: synth.stack.getLogicalId(synth.stack.stateStore.table.node.defaultChild as CfnElement) },
    });
  });
});

describe('the stack for a config with shared zones, wildcards and no Slack secret', () => {
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthesize(inlineConfig());
  });
  afterAll(() => synth?.cleanup());

  it('matches every configured alarm once, sorted', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        detail: { alarmName: ['alpha-assets-5xx', 'shared-region-down', 'zeta-checkout-down'] },
      },
    });
  });

  it('never retries an alarm event past the age the handler accepts (at least EventBridge’s minimum)', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.anyValue(),
      Targets: [Match.objectLike({ RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 8 } })],
    });
    synth.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: {
        Ref: synth.stack.getLogicalId(synth.stack.alarmTrigger?.handler.node.defaultChild as CfnElement),
      },
      MaximumEventAgeInSeconds: 60,
    });
  });

  it('scopes record changes per zone, merging services that share one, with IAM-normalized names', () => {
    for (const fn of handlersOf(synth)) {
      // Act
      const changes = withAction(statementsOf(synth, fn), 'route53:ChangeResourceRecordSets');

      // Assess
      expect(changes.map((s) => [s.Resource, s.Condition])).toEqual([
        [
          arn('route53:::hostedzone/ZOTHER456'),
          {
            'ForAllValues:StringEquals': {
              'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['api.example.net'],
              'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
              'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
            },
          },
        ],
        [
          arn('route53:::hostedzone/ZSHARED123'),
          {
            'ForAllValues:StringEquals': {
              // IAM compares lowercase names without the trailing dot, with `*` as the octal escape \052.
              'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
                '\\052.assets.example.org',
                'checkout.example.org',
              ],
              'route53:ChangeResourceRecordSetsRecordTypes': ['A', 'AAAA'],
              'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
            },
          },
        ],
      ]);
    }
  });

  it('creates a placeholder webhook secret, readable by both functions and named in their environment', () => {
    // Prepare
    const secrets = synth.template.findResources('AWS::SecretsManager::Secret');
    const [secretId, secret] = Object.entries(secrets)[0] ?? [];

    // Assess
    expect(Object.keys(secrets)).toHaveLength(1);
    expect(secret).toMatchObject({
      Properties: {
        Description: expect.stringMatching(/Slack incoming-webhook URL/),
        GenerateSecretString: expect.any(Object),
      },
    });
    expect(JSON.stringify(synth.templateJson)).not.toMatch(/hooks\.slack\.com|https:\/\/[^"]*slack/i);
    for (const fn of handlersOf(synth)) {
      synth.template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: Match.absent(),
        Role: { 'Fn::GetAtt': [roleId(synth, fn), 'Arn'] },
        Environment: { Variables: Match.objectLike({ SLACK_WEBHOOK_SECRET_ARN: { Ref: secretId } }) },
      });
      const reads = withAction(statementsOf(synth, fn), 'secretsmanager:GetSecretValue');
      expect(reads.map((s) => s.Resource)).toEqual([{ Ref: secretId }]);
    }
  });

  it('names the table and sets log retention from the config', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'inline-failover-state' });
    synth.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    expect(synth.stack.stackName).toBe('understudy-inline');
    expect(synth.stack.region).toBe('us-west-2');
  });
});

describe('the stack for a config without alarms', () => {
  let synth: Synthesized;

  beforeAll(() => {
    // Prepare: failovers are then started by an operator (or Route 53's own health checks) only
    const config = inlineConfig();
    synth = synthesize(
      parseConfig({ ...config, services: config.services.map((svc) => ({ ...svc, alarms: [] })) }),
    );
  });
  afterAll(() => synth?.cleanup());

  it('deploys the reconciler but no alarm rule or alarm function', () => {
    // Assess
    expect(synth.stack.alarmTrigger).toBeUndefined();
    // The reconciler's dispatcher and worker, and the readiness check.
    synth.template.resourceCountIs('AWS::Lambda::Function', 3);
    synth.template.resourceCountIs('AWS::Events::Rule', 2);
    synth.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    expect(Object.keys(synth.template.findOutputs('*'))).not.toContain('AlarmFunctionName');
  });
});
