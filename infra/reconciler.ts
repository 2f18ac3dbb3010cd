import { Duration, Stack } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { Config } from '../functions/config/schema';
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
 * The schedule that makes the control plane self-healing: each run compares desired state with
 * what AWS reports and takes the next safe step, so a crashed, throttled or half-done run is
 * finished by the next one.
 */
export class Reconciler extends Construct {
  readonly handler: ControlFunction;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    const interval = props.interval ?? Duration.minutes(1);

    this.handler = new ControlFunction(this, 'Handler', {
      config: props.config,
      entry: 'functions/handlers/reconcile.ts',
      description: 'understudy: converges every protected service towards its desired state',
      timeout: Duration.seconds(60),
      // The next scheduled run is the retry; Lambda's own retries would only overlap it.
      retryAttempts: 0,
      maxEventAge: Duration.seconds(Math.max(60, interval.toSeconds())),
    });

    // Automatic failback reads the state of the alarms of the services that opted in, and only those.
    const { partition, account } = Stack.of(this);
    const alarmArns = autoFailbackAlarmArns(props.config, partition, account);
    if (alarmArns.length > 0) {
      this.handler.addToRolePolicy(
        new PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: alarmArns }),
      );
      acknowledgeCollapsed(
        this.handler.role,
        alarmArns,
        'More services fail back by themselves than a grant lists: their alarms are granted as the shortest shared prefixes of Region and name, for DescribeAlarms, which only reads.',
      );
    }

    this.rule = new Rule(this, 'Schedule', {
      description: 'understudy: periodic reconcile of every protected service',
      schedule: Schedule.rate(interval),
    });
    this.rule.addTarget(
      new LambdaFunction(this.handler, {
        deadLetterQueue: this.handler.failureQueue,
        retryAttempts: 2,
        // A tick older than one interval has been superseded by the next tick.
        maxEventAge: Duration.seconds(Math.max(60, interval.toSeconds())),
      }),
    );
  }
}

/**
 * The ARNs of every alarm of a service with `autoFailback`, in the alarm's Region (default: the
 * control plane's); a long list collapsed to shared prefixes of Region and name (infra/limits.ts).
 */
export const autoFailbackAlarmArns = (config: Config, partition: string, account: string): string[] =>
  compactPatterns(
    config.services
      .filter((service) => service.autoFailback !== undefined)
      .flatMap((service) =>
        service.alarms.map(
          (alarm) => `${alarm.region ?? config.controlPlane.region}:${account}:alarm:${alarm.name}`,
        ),
      ),
  ).map((suffix) => `arn:${partition}:cloudwatch:${suffix}`);
