import { Duration, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  type CfnFunction,
  Function as LambdaFunction,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { Config } from '../functions/config/schema';
import { ROUTE53_PER_SECOND_ENV, type Route53Share } from '../functions/runtime/route53-shares';
import { functionCode } from './bundling';
import { deadLetterQueue } from './dead-letter-queue';

/** The repository root (tests and the CLI address files by it). */
export { REPO_ROOT } from './bundling';

const RETENTION: Record<Config['controlPlane']['logRetentionDays'], RetentionDays> = {
  7: RetentionDays.ONE_WEEK,
  14: RetentionDays.TWO_WEEKS,
  30: RetentionDays.ONE_MONTH,
  90: RetentionDays.THREE_MONTHS,
  365: RetentionDays.ONE_YEAR,
};

export interface ControlFunctionProps {
  /** The validated config; shipped in the code asset (config.json) so deployed code and config always match. */
  readonly config: Config;
  /** Handler module, relative to the repository root, exporting `handler`. */
  readonly entry: string;
  readonly description: string;
  /**
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Lambda's own retries of an asynchronous invocation that failed.
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * How long Lambda keeps an asynchronous event queued before it goes to the failure queue.
   * @default Duration.hours(6)
   */
  readonly maxEventAge?: Duration;
}

/**
 * Every control plane Lambda: Node.js 22 on arm64, ESM split into lazily loaded chunks, minified with
 * source maps, the AWS SDK v3 bundled (infra/bundling.ts says why), the config beside the code,
 * traced, with its own log group and a role that carries no managed policy. Asynchronous
 * invocations that still fail after retries land in `failureQueue`, an encrypted SQS queue kept for
 * 14 days.
 */
export class ControlFunction extends LambdaFunction {
  /** Where failed asynchronous invocations (and undeliverable trigger events) end up. */
  readonly failureQueue: Queue;

  constructor(scope: Construct, id: string, props: ControlFunctionProps) {
    // Role and log group are created first because the Function consumes them in its constructor.
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `understudy ${id}: no managed policies, every permission granted by the stack`,
    });
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: RETENTION[props.config.controlPlane.logRetentionDays],
    });

    super(scope, id, {
      code: functionCode(props.entry, props.config),
      handler: 'index.handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(60),
      tracing: Tracing.ACTIVE,
      role,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'understudy',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    logGroup.grant(role, 'logs:CreateLogStream', 'logs:PutLogEvents');

    this.failureQueue = deadLetterQueue(this, 'FailureQueue', 'failed invocations and undeliverable events');
    this.configureAsyncInvoke({
      onFailure: new SqsDestination(this.failureQueue),
      retryAttempts: props.retryAttempts ?? 2,
      maxEventAge: props.maxEventAge ?? Duration.hours(6),
    });

    Validations.of(this.node.defaultChild ?? this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'The runtime is pinned to Node.js 22 (LTS, supported by Lambda into 2027) on purpose: a runtime change of the failover path is a reviewed change, not a side effect of upgrading cdk-nag.',
    });
    Validations.of(this.node.defaultChild ?? this).acknowledge(
      {
        id: 'Serverless-LambdaDLQ',
        reason:
          'Every invocation that can fail asynchronously has an on-failure destination (failureQueue) and every rule target a dead-letter queue; a DeadLetterConfig as well would split failed events across two queues.',
      },
      {
        id: 'Serverless-LambdaLatestVersion',
        reason:
          'The runtime is pinned to Node.js 22 (LTS) on purpose: a runtime change of the failover path is a reviewed change, not a side effect of a new Lambda runtime.',
      },
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions, so IAM allows only Resource "*".',
    });
  }

  /**
   * This function's share of the account's Route 53 rate (functions/runtime/route53-shares.ts): each
   * process's rate, in its environment, and at most `share.concurrency` processes at once, by reserved
   * concurrency, unless `bounded` says what else bounds them (an SQS event source's maxConcurrency).
   */
  shareRoute53(share: Route53Share, bounded?: 'by-event-source'): this {
    this.addEnvironment(ROUTE53_PER_SECOND_ENV, String(share.perSecond));
    if (bounded !== 'by-event-source') {
      (this.node.defaultChild as CfnFunction).reservedConcurrentExecutions = share.concurrency;
    }
    return this;
  }
}
