import type { Duration } from 'aws-cdk-lib';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { Construct } from 'constructs';
import type { CapabilityName, Config } from '../functions/config/schema';
import type { ResourceEvents } from '../functions/engine/module';
import { ControlFunction } from './control-function';
import { nthId, splitForEventPatterns } from './limits';

export interface ResourceEventFunctionProps {
  readonly config: Config;
  readonly capability: CapabilityName;
  /** The module's events: the rule matches its source and detail types. */
  readonly events: ResourceEvents;
  /** Narrows the rules to the protected resources (an EventBridge `detail` pattern). */
  readonly detail?: Record<string, unknown>;
  /**
   * A `detail` field that must equal one of these values (e.g. the protected resources' ids); as
   * many rules as keep each event pattern within EventBridge's size limit share them out.
   */
  readonly oneOf?: { readonly field: string; readonly values: readonly string[] };
  readonly description: string;
  /** EventBridge's and Lambda's patience with one event: the schedule covers anything older. */
  readonly maxEventAge: Duration;
  /** EventBridge's attempts to deliver one event before it goes to the failure queue. */
  readonly deliveryAttempts: number;
  /** Lambda's own retries of a failed invocation. */
  readonly retryAttempts: number;
}

/**
 * One capability's resource events -> the shared resource-event handler, in a function of its own so
 * it can be granted only that capability's rights (functions/handlers/resource-event.ts).
 */
export const resourceEventFunction = (
  scope: Construct,
  props: ResourceEventFunctionProps,
): { readonly handler: ControlFunction; readonly rules: readonly Rule[] } => {
  const handler = new ControlFunction(scope, 'EventHandler', {
    config: props.config,
    entry: 'functions/handlers/resource-event.ts',
    description: `understudy: ${props.description}`,
    retryAttempts: props.retryAttempts,
    maxEventAge: props.maxEventAge,
  });
  handler.addEnvironment('UNDERSTUDY_CAPABILITY', props.capability);
  const pattern = (values?: readonly string[]) => {
    const detail = {
      ...props.detail,
      ...(props.oneOf && values && { [props.oneOf.field]: [...values] }),
    };
    return {
      source: [...props.events.pattern.source],
      detailType: [...props.events.pattern.detailType],
      ...(Object.keys(detail).length > 0 && { detail }),
    };
  };
  const target = new LambdaFunction(handler, {
    deadLetterQueue: handler.failureQueue,
    retryAttempts: props.deliveryAttempts,
    maxEventAge: props.maxEventAge,
  });
  const groups = props.oneOf ? splitForEventPatterns(props.oneOf.values, pattern) : [undefined];
  const rules = groups.map((values, i) => {
    const rule = new Rule(scope, nthId('Events', i), {
      description: `understudy: ${props.description}`,
      eventPattern: pattern(values),
    });
    rule.addTarget(target);
    return rule;
  });
  return { handler, rules };
};
