import { ArnFormat, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import type { Rule } from 'aws-cdk-lib/aws-events';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { CapabilityInfra, CapabilityResources } from '../../../infra/capability-infra';
import type { ControlFunction } from '../../../infra/control-function';
import { acknowledgeCollapsed, compactPatterns, isPattern } from '../../../infra/limits';
import { resourceEventFunction } from '../../../infra/resource-events';
import type { Config } from '../../config/schema';
import { type ComputeConfig, QUARANTINE_TAG } from './config';
import { computeModule } from './index';

/** What the compute capability may touch, gathered from every service's compute section. */
export interface ComputeScope {
  /** Every configured target group ARN (sorted). */
  readonly targetGroupArns: readonly string[];
  /** Servers named by id (primaries and standbys, sorted). */
  readonly instanceIds: readonly string[];
  /** Servers selected by tag: key -> values (sorted). */
  readonly instanceTags: Readonly<Record<string, readonly string[]>>;
  readonly autoScalingGroups: readonly string[];
}

export const computeScopeOf = (config: Config): ComputeScope => {
  const sections = config.services
    .map((svc) => svc.compute)
    .filter((c): c is ComputeConfig => c !== undefined);
  const tags = new Map<string, Set<string>>();
  for (const selector of sections.flatMap((c) => [c.primaries, c.standbys])) {
    if (!selector.tag) continue;
    tags.set(selector.tag.key, (tags.get(selector.tag.key) ?? new Set()).add(selector.tag.value));
  }
  const sorted = (values: Iterable<string>) => [...new Set(values)].sort();
  return {
    targetGroupArns: sorted(sections.flatMap((c) => c.targetGroupArns)),
    instanceIds: sorted(
      sections.flatMap((c) => [...(c.primaries.instanceIds ?? []), ...(c.standbys.instanceIds ?? [])]),
    ),
    instanceTags: Object.fromEntries(
      [...tags.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sorted(v)]),
    ),
    autoScalingGroups: sorted(
      sections.flatMap((c) => (c.standbyAutoScalingGroup ? [c.standbyAutoScalingGroup.name] : [])),
    ),
  };
};

export interface ComputeFailoverProps {
  readonly config: Config;
  /**
   * EventBridge's attempts to deliver one instance state change before it goes to the DLQ.
   * @default 4
   */
  readonly deliveryAttempts?: number;
}

const INSTANCE_ACTIONS = ['ec2:StartInstances', 'ec2:StopInstances'];
const TAG_ACTIONS = ['ec2:CreateTags', 'ec2:DeleteTags'];

/**
 * The compute capability: its permissions, and a rule that reconciles a service's compute as soon
 * as one of its servers changes state (a started spare is `running` and can be registered now,
 * not at the next scheduled minute).
 *
 * Least privilege: target groups may be changed only for the configured ARNs; instances may be
 * started, stopped and tagged only if named in the config or carrying the configured selector tag
 * (condition key aws:ResourceTag), and the only tag the functions may write or remove is
 * `understudy:quarantined`. Nothing may terminate an instance.
 */
export class ComputeFailover extends Construct implements CapabilityResources {
  readonly scope: ComputeScope;
  /** Absent when no service configures compute. */
  readonly eventHandler: ControlFunction | undefined;
  /** One or more when compute is configured: as many as keep each event pattern within EventBridge's limit. */
  readonly eventRules: readonly Rule[];
  readonly otherFunctions: readonly ControlFunction[] = [];

  get engineFunctions(): readonly ControlFunction[] {
    return this.eventHandler ? [this.eventHandler] : [];
  }

  constructor(scope: Construct, id: string, props: ComputeFailoverProps) {
    super(scope, id);
    this.scope = computeScopeOf(props.config);
    if (this.scope.targetGroupArns.length === 0) {
      this.eventHandler = undefined;
      this.eventRules = [];
      return;
    }

    const events = computeModule.events;
    if (!events) throw new Error('the compute module declares its EC2 events');
    // The event names no tags: with tag selectors every instance's change is delivered and the
    // handler decides; with ids only, EventBridge filters to the configured servers.
    const byTag = Object.keys(this.scope.instanceTags).length > 0;
    const { handler, rules } = resourceEventFunction(this, {
      config: props.config,
      capability: 'compute',
      events,
      detail: { state: ['running', 'stopped', 'terminated'] },
      ...(!byTag && { oneOf: { field: 'instance-id', values: this.scope.instanceIds } }),
      description: 'reconciles compute when a protected server changes state',
      // A state change older than a few minutes is covered by the scheduled run anyway.
      maxEventAge: Duration.minutes(10),
      deliveryAttempts: props.deliveryAttempts ?? 4,
      retryAttempts: 2,
    });
    this.eventHandler = handler;
    this.eventRules = rules;
  }

  /** The reads of compute readiness (functions/capabilities/compute/readiness.ts); none takes a resource ARN. */
  grantReadiness(fn: IFunction): void {
    if (this.scope.targetGroupArns.length === 0) return;
    Grant.addToPrincipal({
      grantee: fn,
      actions: [
        'ec2:DescribeInstances',
        'elasticloadbalancing:DescribeTargetHealth',
        ...(this.scope.autoScalingGroups.length > 0 ? ['autoscaling:DescribeAutoScalingGroups'] : []),
      ],
      resourceArns: ['*'],
    });
  }

  /** Grants the reads and writes of functions/capabilities/compute/ec2.ts. */
  grantReconcile(fn: IFunction): void {
    const { targetGroupArns, instanceIds, instanceTags, autoScalingGroups } = this.scope;
    if (targetGroupArns.length === 0) return;
    const stack = Stack.of(this);
    const instanceArn = (name: string) =>
      stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: name });
    // ForAllValues alone also passes a request that names no tag keys at all, and DeleteTags with no
    // tags deletes every user tag of the instance: the Null guard requires tag keys in the request.
    const quarantineOnly = {
      'ForAllValues:StringEquals': { 'aws:TagKeys': [QUARANTINE_TAG] },
      Null: { 'aws:TagKeys': 'false' },
    };

    // Long lists are collapsed to shared prefixes (infra/limits.ts), acknowledged below.
    const groupArns = compactPatterns(targetGroupArns);
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['elasticloadbalancing:RegisterTargets', 'elasticloadbalancing:DeregisterTargets'],
      resourceArns: groupArns,
    });
    const namedArns = compactPatterns(instanceIds).map(instanceArn);
    if (instanceIds.length > 0) {
      const arns = namedArns;
      Grant.addToPrincipal({ grantee: fn, actions: INSTANCE_ACTIONS, resourceArns: arns });
      Grant.addToPrincipal({
        grantee: fn,
        actions: TAG_ACTIONS,
        resourceArns: arns,
        conditions: quarantineOnly,
      });
    }
    for (const [key, values] of Object.entries(instanceTags)) {
      const patterns = compactPatterns(values);
      const tagged = {
        [patterns.some(isPattern) ? 'StringLike' : 'StringEquals']: { [`aws:ResourceTag/${key}`]: patterns },
      };
      Grant.addToPrincipal({
        grantee: fn,
        actions: INSTANCE_ACTIONS,
        resourceArns: [instanceArn('*')],
        conditions: tagged,
      });
      Grant.addToPrincipal({
        grantee: fn,
        actions: TAG_ACTIONS,
        resourceArns: [instanceArn('*')],
        conditions: { ...tagged, ...quarantineOnly },
      });
    }
    const groupNameArns = compactPatterns(autoScalingGroups).map((name) =>
      stack.formatArn({
        service: 'autoscaling',
        resource: 'autoScalingGroup',
        resourceName: `*:autoScalingGroupName/${name}`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
    if (autoScalingGroups.length > 0) {
      Grant.addToPrincipal({
        grantee: fn,
        actions: ['autoscaling:SetDesiredCapacity'],
        resourceArns: groupNameArns,
      });
    }
    // No resource-level permissions exist for these reads: IAM accepts only Resource "*".
    Grant.addToPrincipal({
      grantee: fn,
      actions: [
        'ec2:DescribeInstances',
        'elasticloadbalancing:DescribeTargetHealth',
        ...(autoScalingGroups.length > 0 ? ['autoscaling:DescribeAutoScalingGroups'] : []),
      ],
      resourceArns: ['*'],
    });
    if (!fn.role) return;
    // cdk-nag names a finding after the ARN as synthesized: unresolved parts as <AWS::...>.
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    if (Object.keys(instanceTags).length > 0) {
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:${region}:${account}:instance/*]`,
        reason:
          'Servers selected by tag are resolved at run time; every statement on instance/* is narrowed by an aws:ResourceTag condition to the configured selector tags, and tagging further to the understudy:quarantined key.',
      });
    }
    acknowledgeCollapsed(
      fn.role,
      groupNameArns,
      'An Auto Scaling group ARN contains a generated id that changes if the group is recreated; the group name pins the configured group (beyond a short list, the shared prefix of the configured names).',
    );
    acknowledgeCollapsed(
      fn.role,
      [...groupArns, ...namedArns],
      'More target groups or servers are configured than a grant lists: they are granted as the shortest shared prefixes of their ARNs, which cover every configured one and, at most, others whose names or ids begin the same way.',
    );
  }
}

export const computeInfra: CapabilityInfra = {
  name: 'compute',
  deploy: (scope, { config }) => new ComputeFailover(scope, 'ComputeFailover', { config }),
};
