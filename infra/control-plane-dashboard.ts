import { Duration, Stack } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  ConcreteWidget,
  type Dashboard,
  MathExpression,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import {
  type CustomMetricGroup,
  DefaultDashboardFactory,
  MetricStatistic,
  MonitoringFacade,
} from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import {
  CAPABILITY_DIMENSION,
  ENGINE_METRICS,
  type EngineMetricName,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
} from '../functions/core/metrics';
import type { OperatorAlarms } from './operator-alarms';

export interface ControlPlaneDashboardProps {
  /** The capabilities this stack runs: one line each in the engine's graphs. */
  readonly capabilities: readonly string[];
  /** The functions and queues to graph, with the names the dashboard shows. */
  readonly functions: readonly { readonly name: string; readonly fn: LambdaFunction }[];
  readonly queues: readonly { readonly name: string; readonly queue: Queue }[];
  /** Whose alarms the dashboard's alarm status widget shows. */
  readonly alarms: OperatorAlarms;
  /**
   * The dashboard's name (dashboards are named per account, across Regions).
   * @default `<stackName>-<region>`
   */
  readonly dashboardName?: string;
}

/**
 * One CloudWatch dashboard of the control plane, built with cdk-monitoring-constructs: the state of
 * every operator alarm, the engine's metrics by capability (transitions, refusals, failures, seconds
 * to converge, readiness) and each transition's measured recovery, then each function (invocations,
 * errors, throttles, duration) and each queue (depth, age). The library's own alarms are not used:
 * infra/operator-alarms.ts makes them, in this stack and in the alarm-forwarding stacks alike.
 */
export class ControlPlaneDashboard extends Construct {
  readonly facade: MonitoringFacade;
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ControlPlaneDashboardProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const dashboardName = props.dashboardName ?? `${stack.stackName}-${stack.region}`;
    const factory = new DefaultDashboardFactory(this, 'Dashboards', {
      dashboardNamePrefix: dashboardName,
      createDashboard: true,
      createSummaryDashboard: false,
      createAlarmDashboard: false,
      detailDashboardRange: Duration.hours(24),
    });
    this.facade = new MonitoringFacade(this, 'Monitoring', {
      dashboardFactory: factory,
      alarmFactoryDefaults: {
        alarmNamePrefix: stack.stackName,
        // Alarms are made by infra/operator-alarms.ts; none come from the library.
        actionsEnabled: false,
      },
      metricFactoryDefaults: {},
    });

    this.facade.addLargeHeader(`understudy ${stack.stackName}: the control plane`);
    this.facade.addWidget(new OperatorAlarmStatus(props.alarms));
    const metrics = this.facade.createMetricFactory();
    const engine = (name: EngineMetricName, statistic: MetricStatistic): CustomMetricGroup['metrics'] =>
      props.capabilities.map((capability) =>
        metrics.createMetric(
          name,
          statistic,
          capability,
          { service: METRICS_SERVICE, [CAPABILITY_DIMENSION]: capability },
          undefined,
          METRICS_NAMESPACE,
        ),
      );
    this.facade.monitorCustom({
      humanReadableName: 'Engine (by capability)',
      alarmFriendlyName: 'Engine',
      metricGroups: [
        { title: 'Transitions', metrics: engine(ENGINE_METRICS.transitions, MetricStatistic.SUM) },
        { title: 'Refusals', metrics: engine(ENGINE_METRICS.refusals, MetricStatistic.SUM) },
        { title: 'Failures', metrics: engine(ENGINE_METRICS.failures, MetricStatistic.SUM) },
        {
          title: 'Seconds to converge (max)',
          metrics: engine(ENGINE_METRICS.secondsToConverge, MetricStatistic.MAX),
        },
        {
          title: 'Readiness (min: 0 = not ready)',
          metrics: [
            // The whole control plane's datapoint (Powertools' service dimension only), then each capability's.
            metrics.createMetric(
              ENGINE_METRICS.readiness,
              MetricStatistic.MIN,
              'all',
              { service: METRICS_SERVICE },
              undefined,
              METRICS_NAMESPACE,
            ),
            ...engine(ENGINE_METRICS.readiness, MetricStatistic.MIN),
          ],
        },
        {
          title: 'Recovery time by service (seconds)',
          metrics: [
            new MathExpression({
              expression: `SEARCH('{${METRICS_NAMESPACE},Service,service} MetricName="RecoveryTimeSeconds"', 'Maximum', 300)`,
              label: '',
              period: Duration.minutes(5),
            }),
          ],
        },
      ],
    });

    for (const { name, fn } of props.functions) {
      this.facade.monitorLambdaFunction({
        lambdaFunction: fn,
        humanReadableName: name,
        alarmFriendlyName: name,
      });
    }
    for (const { name, queue } of props.queues) {
      this.facade.monitorSqsQueue({ queue, humanReadableName: name, alarmFriendlyName: name });
    }
    const dashboard = factory.dashboard;
    if (!dashboard) throw new Error('the dashboard factory made no dashboard');
    this.dashboard = dashboard;
  }
}

/**
 * The state of every operator alarm, read when the dashboard is rendered (at synth), so an alarm a
 * construct hands to `OperatorAlarms.watch` after the dashboard was made is on it too (the first 100:
 * a widget's limit).
 */
class OperatorAlarmStatus extends ConcreteWidget {
  constructor(private readonly source: OperatorAlarms) {
    super(24, 8);
  }

  override toJson(): unknown[] {
    const widget = new AlarmStatusWidget({
      title: 'Operator alarms (each also reaches the operator alarm topic)',
      alarms: this.source.alarms.slice(0, 100).map((a) => a.alarm),
      width: this.width,
      height: this.height,
    });
    widget.position(this.x ?? 0, this.y ?? 0);
    return widget.toJson();
  }
}
