import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { EventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Config } from '../functions/config/schema';
import { ROUTE53_SHARES } from '../functions/runtime/route53-shares';
import { ControlFunction } from './control-function';
import { acknowledgeCollapsed, compactPatterns } from './limits';

export interface ReconcilerProps {
  readonly config: Config;
  /**
   * How often every service is converged towards its desired state.
   * @default Duration.minutes(1)
   */
  readonly interval?: Duration;
}

/**
 * Work items one worker invocation takes from the queue: each holds up to SERVICES_PER_ITEM services
 * of one hosted zone (functions/engine/fan-out.ts), so an invocation moves at most 50 services, whose
 * Route 53 changes leave as about one request per zone, well inside the timeout at its share's rate.
 */
export const WORKER_BATCH_SIZE = 2;
/** A worker's timeout: its batch's Route 53 calls at its share's rate, with the engine's margin. */
export const WORKER_TIMEOUT = Duration.seconds(60);
/** Deliveries of a work item before it is dead-lettered (the worker handed it back each time). */
export const WORKER_MAX_RECEIVES = 3;

/**
 * The schedule that makes the control plane self-healing, fanned out on AWS's own engine: each tick
 * invokes the dispatcher, which reads every service's state and queues work items on an SQS queue
 * (a few services of one hosted zone each), the services that did not finish last time first; a Lambda event source hands the
 * items in batches to the reconcile workers, at most `ROUTE53_SHARES.worker.concurrency` at once
 * (maxConcurrency), each reconciling its services under their leases and reporting only the items
 * to retry (ReportBatchItemFailures). An item handed back three times is dead-lettered. So a crashed,
 * throttled or half-done run is finished by the next one, and 1,000 services are worked in parallel
 * within the account's Route 53 rate (functions/runtime/route53-shares.ts).
 */
export class Reconciler extends Construct {
  /** The reconcile worker: the function that reconciles services (every capability's grants). */
  readonly handler: ControlFunction;
  /** The scheduled dispatcher: reads the state table, sends to the work queue; nothing else. */
  readonly dispatcher: ControlFunction;
  readonly queue: Queue;
  readonly rule: Rule;
  /** How often the schedule runs (the dispatcher's heartbeat, infra/operator-alarms.ts). */
  readonly interval: Duration;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    const interval = props.interval ?? Duration.minutes(1);
    this.interval = interval;
    const maxEventAge = Duration.seconds(Math.max(60, interval.toSeconds()));

    this.handler = new ControlFunction(this, 'Handler', {
      config: props.config,
      entry: 'functions/handlers/reconcile-worker.ts',
      description: 'understudy: converges the services the dispatcher queued towards their desired state',
      timeout: WORKER_TIMEOUT,
      retryAttempts: 0,
      maxEventAge,
    }).shareRoute53(ROUTE53_SHARES.worker, 'by-event-source');

    // The worker's failure queue doubles as the work queue's dead-letter queue: one place per function.
    this.queue = new Queue(this, 'WorkQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's advice for a Lambda event source: six times the function's timeout.
      visibilityTimeout: Duration.seconds(WORKER_TIMEOUT.toSeconds() * 6),
      // Items are superseded after one interval; retries of handed-back items live a few visibilities.
      retentionPeriod: Duration.hours(1),
      deadLetterQueue: { queue: this.handler.failureQueue, maxReceiveCount: WORKER_MAX_RECEIVES },
    });
    this.handler.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: WORKER_BATCH_SIZE,
        maxConcurrency: ROUTE53_SHARES.worker.concurrency,
        reportBatchItemFailures: true,
      }),
    );
    for (const mapping of this.handler.node.children.filter((c) => c instanceof EventSourceMapping)) {
      Validations.of(mapping).acknowledge({
        id: 'Serverless-LambdaEventSourceMappingDestination',
        reason:
          "An SQS event source takes no on-failure destination: the queue's redrive policy is its destination, and the work queue dead-letters an item after it was handed back three times (ReportBatchItemFailures).",
      });
    }

    this.dispatcher = new ControlFunction(this, 'Dispatcher', {
      config: props.config,
      entry: 'functions/handlers/dispatch.ts',
      description: 'understudy: queues every protected service for the reconcile workers, unfinished first',
      timeout: Duration.seconds(30),
      // The next scheduled run is the retry; Lambda's own retries would only overlap it.
      retryAttempts: 0,
      maxEventAge,
    });
    this.dispatcher.addEnvironment('UNDERSTUDY_WORK_QUEUE_URL', this.queue.queueUrl);
    this.dispatcher.addEnvironment('UNDERSTUDY_INTERVAL_SECONDS', String(interval.toSeconds()));
    this.queue.grantSendMessages(this.dispatcher);

    // The scheduled run reads the state of automatic services' alarms (alarms whose events were never
    // acted on, functions/trigger/missed-alarms.ts; automatic failback), and only those.
    const { partition, account } = Stack.of(this);
    const alarmArns = watchedAlarmArns(props.config, partition, account);
    if (alarmArns.length > 0) {
      this.handler.addToRolePolicy(
        new PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: alarmArns }),
      );
      acknowledgeCollapsed(
        this.handler.role,
        alarmArns,
        'More automatic services than a grant lists: their alarms are granted as the shortest shared prefixes of Region and name, for DescribeAlarms, which only reads.',
      );
    }

    this.rule = new Rule(this, 'Schedule', {
      description: 'understudy: periodic reconcile of every protected service',
      schedule: Schedule.rate(interval),
    });
    this.rule.addTarget(
      new LambdaFunction(this.dispatcher, {
        deadLetterQueue: this.dispatcher.failureQueue,
        retryAttempts: 2,
        // A tick older than one interval has been superseded by the next tick.
        maxEventAge,
      }),
    );
  }
}

/**
 * The ARNs of every alarm of an automatic service, in the alarm's Region (default: the
 * control plane's); a long list collapsed to shared prefixes of Region and name (infra/limits.ts).
 */
export const watchedAlarmArns = (config: Config, partition: string, account: string): string[] =>
  compactPatterns(
    config.services
      .filter((service) => service.mode === 'auto')
      .flatMap((service) =>
        service.alarms.map(
          (alarm) => `${alarm.region ?? config.controlPlane.region}:${account}:alarm:${alarm.name}`,
        ),
      ),
  ).map((suffix) => `arn:${partition}:cloudwatch:${suffix}`);
