import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { Config } from '../functions/config/schema';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../functions/core/metrics';
import { READINESS_METRIC } from '../functions/readiness/metric';
import { ROUTE53_SHARES } from '../functions/runtime/route53-shares';
import type { CapabilityResources } from './capability-infra';
import { ControlFunction } from './control-function';
import type { Notifications } from './notifications';

export interface ReadinessProps {
  readonly config: Config;
  readonly table: ITable;
  readonly notifications: Notifications;
  /** Each configured capability's resources: the readiness function gets each one's readiness reads. */
  readonly capabilities: ReadonlyMap<string, CapabilityResources>;
  /** The functions that act (reconcile workers, alarm and event functions): their roles are simulated. */
  readonly actingFunctions: readonly ControlFunction[];
}

/** The roles' ARNs the readiness function simulates, in its environment. */
export const ACTING_ROLES_ENV = 'UNDERSTUDY_ACTING_ROLE_ARNS';

/**
 * Readiness, continuously: a function on a schedule (controlPlane.readinessIntervalMinutes, default
 * 30) that asks every capability of every service whether a failover and a failback would work now
 * (functions/readiness/). It only reads: each capability's readiness reads, the Slack secret,
 * iam:SimulatePrincipalPolicy on the acting functions' roles, and the state table, where it records
 * each verdict. It posts a change to Slack once and publishes the `Readiness` metric; the
 * `ReadinessFailing` alarm (`alarm`) fires while any part of any service is not ready.
 */
export class Readiness extends Construct {
  readonly handler: ControlFunction;
  readonly rule: Rule;
  /** ALARM while the last readiness check found some part of some service not ready. */
  readonly alarm: Alarm;
  /** How often the schedule runs the check (controlPlane.readinessIntervalMinutes). */
  readonly interval: Duration;
  /** The roles whose rights the IAM check simulates (the acting functions'). */
  readonly actingRoleArns: readonly string[];

  constructor(scope: Construct, id: string, props: ReadinessProps) {
    super(scope, id);
    const minutes = props.config.controlPlane.readinessIntervalMinutes;
    const interval = Duration.minutes(minutes);
    this.interval = interval;

    this.handler = new ControlFunction(this, 'Handler', {
      config: props.config,
      entry: 'functions/handlers/readiness.ts',
      description: 'understudy: checks that every service could fail over and back now; reads only',
      timeout: Duration.minutes(5),
      // The next scheduled check is the retry.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(Math.max(1, minutes)),
    }).shareRoute53(ROUTE53_SHARES.readiness);
    // Reads its state and records verdicts (and audit entries) in the table: no other table access.
    props.table.grantReadWriteData(this.handler);
    props.notifications.notifyFrom(this.handler);
    for (const resources of props.capabilities.values()) resources.grantReadiness?.(this.handler);

    const roles = props.actingFunctions.flatMap((fn) => (fn.role ? [fn.role.roleArn] : []));
    this.actingRoleArns = roles;
    if (roles.length > 0) {
      this.handler.addEnvironment(ACTING_ROLES_ENV, roles.join(','));
      this.handler.addToRolePolicy(
        new PolicyStatement({ actions: ['iam:SimulatePrincipalPolicy'], resources: roles }),
      );
    }

    this.rule = new Rule(this, 'Schedule', {
      description: `understudy: readiness check of every protected service, every ${minutes} min`,
      schedule: Schedule.rate(interval),
    });
    this.rule.addTarget(
      new LambdaFunction(this.handler, {
        deadLetterQueue: this.handler.failureQueue,
        retryAttempts: 2,
        maxEventAge: Duration.minutes(Math.max(1, minutes)),
      }),
    );

    this.alarm = new Alarm(this, 'ReadinessFailing', {
      alarmName: `${props.config.controlPlane.stackName}-ReadinessFailing`,
      alarmDescription:
        'understudy: some capability of some service is not ready to fail over or back; `understudy check` says why',
      metric: new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: READINESS_METRIC,
        // The control plane's aggregate datapoint (functions/readiness/metric.ts): Powertools' service dimension only.
        dimensionsMap: { service: METRICS_SERVICE },
        statistic: 'Minimum',
        period: interval,
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // A check that did not run says nothing about readiness; the function's own alarms cover that.
      treatMissingData: TreatMissingData.IGNORE,
    });
  }
}
