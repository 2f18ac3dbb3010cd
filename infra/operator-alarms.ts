import { Duration, Stack } from 'aws-cdk-lib';
import {
  type AlarmBase,
  ComparisonOperator,
  Alarm as MetricAlarm,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import type { Config } from '../functions/config/schema';
import { DeadLetterQueue, deadLetterQueue } from './dead-letter-queue';

export interface OperatorAlarmsProps {
  /** The validated config: `controlPlane.alarmEmails` subscribe to the topic, `stackName` names the alarms. */
  readonly config: Config;
  /**
   * Prefix of every alarm's name (alarm names are unique per account and Region).
   * @default the stack's name
   */
  readonly alarmNamePrefix?: string;
}

/** What one alarm watches, for the dashboard and the tests. */
export interface WatchedAlarm {
  readonly alarm: AlarmBase;
  /** A function's errors or throttles, a dead-letter queue holding a message, the heartbeat, or another's. */
  readonly kind: 'errors' | 'throttles' | 'dead-letters' | 'heartbeat' | 'other';
  /** The construct it watches (absent for an alarm handed in through `watch`). */
  readonly watches?: IConstruct;
}

/** A function's or queue's name in alarm names: its construct path inside the stack. */
export const pathName = (construct: IConstruct): string => {
  const stack = Stack.of(construct);
  return construct.node.scopes
    .slice(stack.node.scopes.length)
    .map((s) => s.node.id)
    .join('-')
    .replace(/[^A-Za-z0-9-]/g, '');
};

/** A construct id from that path (unique within the stack, as the path is). */
const pathId = (construct: IConstruct): string => pathName(construct).replace(/-/g, '');

/**
 * The control plane's own alarms, and the way they reach people that does not go through the control
 * plane's functions: CloudWatch alarm actions publish to an SNS topic (KMS-encrypted, TLS only), to
 * which the configured `controlPlane.alarmEmails` are subscribed (an operator may add a chat
 * integration, e.g. AWS Chatbot, to the same topic). Slack messages come from the functions; these
 * alarms are what still speaks when a function itself fails.
 *
 * `watchScope` finds every Lambda function and every dead-letter queue under a scope by walking the
 * construct tree, so a new capability's functions and queues are watched without being named; a
 * validation fails the synth if one was added after the walk. Other constructs add their alarms
 * (a readiness alarm) with `watch`.
 */
export class OperatorAlarms extends Construct {
  /** Where every alarm goes. */
  readonly topic: Topic;
  readonly key: Key;
  /**
   * Notifications SNS could not deliver to an address (a mailbox that refuses them); watched like
   * every dead-letter queue, so the other addresses hear of it. Absent without `alarmEmails`.
   */
  readonly undelivered: DeadLetterQueue | undefined;
  private readonly prefix: string;
  private readonly watchedAlarms: WatchedAlarm[] = [];
  private readonly covered = new Set<IConstruct>();

  constructor(scope: Construct, id: string, props: OperatorAlarmsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.prefix = props.alarmNamePrefix ?? stack.stackName;

    this.key = new Key(this, 'Key', {
      description: `understudy ${this.prefix}: encrypts the operator alarm topic`,
      enableKeyRotation: true,
    });
    // CloudWatch publishes alarm notifications to the encrypted topic with this key, and only for
    // alarms of this account.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    this.topic = new Topic(this, 'Topic', {
      // SNS takes at most 100 characters (the email sender's name).
      displayName: `understudy alarms: ${this.prefix}`.slice(0, 100),
      masterKey: this.key,
      enforceSSL: true,
    });
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    const emails = props.config.controlPlane.alarmEmails ?? [];
    this.undelivered =
      emails.length > 0
        ? deadLetterQueue(this, 'Undelivered', 'alarm notifications SNS could not deliver to an address')
        : undefined;
    for (const email of emails) {
      this.topic.addSubscription(new EmailSubscription(email, { deadLetterQueue: this.undelivered }));
    }

    // Everything that can fail under the scope of this construct's stack must be watched.
    this.node.addValidation({
      validate: () =>
        stack.node
          .findAll()
          .filter((c) => (c instanceof LambdaFunction || isDeadLetterQueue(c)) && !this.covered.has(c))
          .map(
            (c) =>
              `${c.node.path} has no operator alarm: create it before OperatorAlarms.watchScope runs, or watch it with watchFunction / watchDeadLetterQueue`,
          ),
    });
  }

  /** Every alarm this construct sends to the topic, in the order they were added. */
  get alarms(): readonly WatchedAlarm[] {
    return this.watchedAlarms;
  }

  /** Sends an alarm (made elsewhere, e.g. a readiness alarm) to the operators: ALARM and back to OK. */
  watch(alarm: AlarmBase, kind: WatchedAlarm['kind'] = 'other', watches?: IConstruct): AlarmBase {
    const action = new SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.watchedAlarms.push({ alarm, kind, ...(watches && { watches }) });
    return alarm;
  }

  /** Alarms on the function's errors and throttles (any in a minute). */
  watchFunction(fn: LambdaFunction): void {
    if (this.covered.has(fn)) return;
    this.covered.add(fn);
    const name = pathName(fn);
    const period = Duration.minutes(1);
    for (const [kind, metric] of [
      ['errors', fn.metricErrors({ period, statistic: 'Sum' })],
      ['throttles', fn.metricThrottles({ period, statistic: 'Sum' })],
    ] as const) {
      const label = kind === 'errors' ? 'Errors' : 'Throttles';
      const alarm = new MetricAlarm(this, `${pathId(fn)}${label}`, {
        alarmName: `${this.prefix}-${name}-${label}`,
        alarmDescription: `understudy ${this.prefix}: ${fn.node.path} ${kind === 'errors' ? 'failed an invocation (see its log group)' : 'was throttled (an invocation did not run)'}`,
        metric,
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      this.watch(alarm, kind, fn);
    }
  }

  /** An alarm as soon as the queue holds a message: each one is an event or run a person must see. */
  watchDeadLetterQueue(queue: Queue): void {
    if (this.covered.has(queue)) return;
    this.covered.add(queue);
    const alarm = new MetricAlarm(this, `${pathId(queue)}Holds`, {
      alarmName: `${this.prefix}-${pathName(queue)}-HoldsMessages`,
      alarmDescription: `understudy ${this.prefix}: ${queue.node.path} holds a failed invocation or an undeliverable event; read it, act on it, then delete it`,
      metric: queue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // SQS stops sending the metric for a queue idle for hours: no data is an empty queue.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.watch(alarm, 'dead-letters', queue);
  }

  /**
   * The heartbeat of a scheduled function: an alarm when it was not invoked in `missed` intervals in
   * a row. No data counts as missing (Lambda sends no Invocations datapoint for a function that did
   * not run).
   */
  heartbeat(
    fn: LambdaFunction,
    interval: Duration,
    consequence = 'nothing reconciles, and no missed alarm is caught up',
    missed = 3,
  ): AlarmBase {
    const period = Duration.seconds(Math.max(60, interval.toSeconds()));
    const alarm = new MetricAlarm(this, `${pathId(fn)}Heartbeat`, {
      alarmName: `${this.prefix}-${pathName(fn)}-Heartbeat`,
      alarmDescription: `understudy ${this.prefix}: the scheduled run (${fn.node.path}) was not invoked for ${missed} intervals of ${period.toHumanString()}: ${consequence}`,
      metric: fn.metricInvocations({ period, statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: missed,
      datapointsToAlarm: missed,
      treatMissingData: TreatMissingData.BREACHING,
    });
    return this.watch(alarm, 'heartbeat', fn);
  }

  /**
   * Watches every Lambda function and every dead-letter queue under `scope` (a dead-letter queue: one
   * made by infra/dead-letter-queue.ts, or one another queue dead-letters to).
   */
  watchScope(scope: IConstruct): void {
    for (const c of scope.node.findAll()) {
      if (c instanceof LambdaFunction) this.watchFunction(c);
      else if (isDeadLetterQueue(c)) this.watchDeadLetterQueue(c);
    }
  }
}

/** True for a dead-letter queue: made by infra/dead-letter-queue.ts, or one another queue dead-letters to. */
const isDeadLetterQueue = (c: IConstruct): c is Queue =>
  c instanceof DeadLetterQueue ||
  (c instanceof Queue &&
    Stack.of(c)
      .node.findAll()
      .some((q) => q instanceof Queue && q.deadLetterQueue?.queue === c));
