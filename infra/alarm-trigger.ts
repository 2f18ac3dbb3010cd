import { Duration } from 'aws-cdk-lib';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import type { Config } from '../functions/config/schema';
import { ControlFunction } from './control-function';
import { nthId, splitForEventPatterns } from './limits';

/** Every alarm that triggers a failover, deduplicated and sorted so the template is stable. */
export const alarmNamesOf = (config: Config): string[] =>
  [...new Set(config.services.flatMap((svc) => svc.alarms.map((alarm) => alarm.name)))].sort();

const clampSeconds = (seconds: number, min: number, max: number) =>
  Duration.seconds(Math.min(max, Math.max(min, seconds)));

export interface AlarmTriggerProps {
  readonly config: Config;
  /**
   * EventBridge's attempts to deliver one event to the function before it goes to the DLQ.
   * @default 8
   */
  readonly deliveryAttempts?: number;
}

/** The event pattern of the rule that matches these alarm names. */
export const alarmStatePattern = (alarmNames: readonly string[]) => ({
  source: ['aws.cloudwatch'],
  detailType: ['CloudWatch Alarm State Change'],
  detail: { alarmName: [...alarmNames] },
});

/**
 * CloudWatch alarm state changes on the default event bus -> the alarm function, which records the
 * intent to fail over. The rules match only the configured alarm names, so no other alarm in the
 * account invokes (or bills) the control plane; as many rules as keep each event pattern within
 * EventBridge's size limit (infra/limits.ts), one for a few dozen alarms.
 */
export class AlarmTrigger extends Construct {
  readonly handler: ControlFunction;
  readonly rules: readonly Rule[];

  constructor(scope: Construct, id: string, props: AlarmTriggerProps) {
    super(scope, id);
    const alarmNames = alarmNamesOf(props.config);
    if (alarmNames.length === 0) {
      throw new Error('AlarmTrigger needs at least one alarm in services[].alarms');
    }
    // The handler ignores events older than maxEventAgeSeconds, so retrying past that is pointless.
    const { maxEventAgeSeconds } = props.config.controlPlane;

    this.handler = new ControlFunction(this, 'Handler', {
      config: props.config,
      entry: 'functions/handlers/alarm.ts',
      description: 'understudy: turns a CloudWatch alarm into a failover intent',
      maxEventAge: clampSeconds(maxEventAgeSeconds, 60, 6 * 3600),
    });

    const target = new LambdaFunction(this.handler, {
      deadLetterQueue: this.handler.failureQueue,
      retryAttempts: props.deliveryAttempts ?? 8,
      maxEventAge: clampSeconds(maxEventAgeSeconds, 60, 86_400),
    });
    this.rules = splitForEventPatterns(alarmNames, alarmStatePattern).map((names, i) => {
      const rule = new Rule(this, nthId('AlarmStateChange', i), {
        description: 'understudy: state changes of the alarms that trigger a failover',
        eventPattern: alarmStatePattern(names),
      });
      rule.addTarget(target);
      return rule;
    });
  }
}
