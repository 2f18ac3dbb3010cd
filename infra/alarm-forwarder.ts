import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { EventBus, type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { EventBus as EventBusTarget } from 'aws-cdk-lib/aws-events-targets';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { alarmRegionOf, type Config } from '../functions/config/schema';
import { alarmStatePattern } from './alarm-trigger';
import { deadLetterQueue } from './dead-letter-queue';
import { nthId, splitForEventPatterns } from './limits';
import { OperatorAlarms } from './operator-alarms';

/**
 * The configured alarms that live outside the control plane's Region, by Region (sorted, names
 * deduplicated and sorted so the templates are stable). The control plane's own Region is left out:
 * its rule sees those alarms directly.
 */
export const remoteAlarmNamesByRegion = (config: Config): Map<string, string[]> => {
  const byRegion = new Map<string, Set<string>>();
  for (const svc of config.services) {
    for (const alarm of svc.alarms) {
      const region = alarmRegionOf(config, alarm);
      if (region === config.controlPlane.region) continue;
      byRegion.set(region, (byRegion.get(region) ?? new Set()).add(alarm.name));
    }
  }
  return new Map(
    [...byRegion.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([region, names]) => [region, [...names].sort()]),
  );
};

/** The stack name of the forwarding stack in one Region. */
export const alarmForwarderStackName = (config: Config, region: string): string =>
  `${config.controlPlane.stackName}-alarms-${region}`;

export interface AlarmForwarderStackProps extends StackProps {
  readonly config: Config;
  /** The Region this stack watches: one that holds configured alarms, not the control plane's. */
  readonly region: string;
  /** The configured alarms that live in that Region. */
  readonly alarmNames: readonly string[];
}

/**
 * A small stack in a Region other than the control plane's (same account): an EventBridge rule on
 * that Region's default bus that sends exactly the configured alarms' "CloudWatch Alarm State Change"
 * events to the control plane Region's default bus, where the alarm rule matches them too. Forwarded
 * events keep their `region`, which the alarm function checks against each alarm's configured Region.
 *
 * No cross-stack reference: the target is built from the account and Region the config names, so the
 * stacks deploy independently (the default bus always exists).
 */
export class AlarmForwarderStack extends Stack {
  /** One or more: as many as keep each event pattern within EventBridge's size limit. */
  readonly rules: readonly Rule[];
  /** The role EventBridge assumes to put the events on the control plane's bus (that bus only). */
  readonly role: Role;
  readonly controlPlaneBus: IEventBus;
  /** Events EventBridge could not forward after its retries: an alarm lost here must be visible. */
  readonly deadLetterQueue: Queue;
  /**
   * Its dead-letter queue's alarm, on a topic of this Region (an alarm's action must be in its own
   * Region), subscribed by the same `controlPlane.alarmEmails`.
   */
  readonly operatorAlarms: OperatorAlarms;

  constructor(scope: Construct, id: string, props: AlarmForwarderStackProps) {
    const { config, region, alarmNames } = props;
    const { account, region: controlPlaneRegion, stackName } = config.controlPlane;
    if (region === controlPlaneRegion) {
      throw new Error(`${region} is the control plane's Region: its alarm rule sees those alarms directly`);
    }
    if (alarmNames.length === 0) throw new Error(`no configured alarm lives in ${region}`);
    super(scope, id, {
      description: `understudy: forwards the state changes of alarms in ${region} to the control plane (${stackName}) in ${controlPlaneRegion}`,
      ...props,
      env: props.env ?? { account, region },
    });

    this.controlPlaneBus = EventBus.fromEventBusArn(
      this,
      'ControlPlaneBus',
      this.formatArn({
        service: 'events',
        region: controlPlaneRegion,
        account,
        resource: 'event-bus',
        resourceName: 'default',
      }),
    );
    this.role = new Role(this, 'ForwardRole', {
      assumedBy: new ServicePrincipal('events.amazonaws.com'),
      description: `understudy: EventBridge puts alarm state changes from ${region} on the default bus in ${controlPlaneRegion}`,
    });
    this.deadLetterQueue = deadLetterQueue(
      this,
      'ForwardDeadLetterQueue',
      'alarm events EventBridge could not forward',
    );
    // The target grants the role events:PutEvents on that one bus, and nothing else. An event that
    // cannot be forwarded (the control plane Region's EventBridge down) lands in the DLQ, not nowhere.
    const target = new EventBusTarget(this.controlPlaneBus, {
      role: this.role,
      deadLetterQueue: this.deadLetterQueue,
    });
    this.rules = splitForEventPatterns(alarmNames, alarmStatePattern).map((names, i) => {
      const rule = new Rule(this, nthId('AlarmStateChange', i), {
        description: `understudy: state changes of the alarms in ${region} that trigger a failover`,
        eventPattern: alarmStatePattern(names),
      });
      rule.addTarget(target);
      return rule;
    });
    this.operatorAlarms = new OperatorAlarms(this, 'OperatorAlarms', { config });
    this.operatorAlarms.watchScope(this);
    new CfnOutput(this, 'ForwardDeadLetterQueueUrl', {
      value: this.deadLetterQueue.queueUrl,
      description: `Alarm events from ${region} EventBridge could not forward to ${controlPlaneRegion}`,
    });
    if (this.operatorAlarms.undelivered) {
      new CfnOutput(this, 'UndeliveredAlarmQueueUrl', {
        value: this.operatorAlarms.undelivered.queueUrl,
        description: 'Alarm notifications SNS could not deliver to an address',
      });
    }
    new CfnOutput(this, 'OperatorAlarmTopicArn', {
      value: this.operatorAlarms.topic.topicArn,
      description: `The alarm on this stack's dead-letter queue: subscribe people or a chat integration here`,
    });
  }
}
