import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  type Filter,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ServiceConfig } from '../../config/schema';
import { classifyAwsError, TerminalError } from '../../core/errors';
import type { ActionResult, Capability } from '../../engine/capability';
import type { CapabilityContext } from '../../engine/module';
import type { CapabilityReadiness, ReadinessInput } from '../../readiness/finding';
import { sdkErrorName } from '../../runtime/client-kit';
import type { InstanceSelector } from './config';
import {
  type ComputeAction,
  type ComputeObserved,
  type InstanceState,
  type ObservedInstance,
  type ObservedTarget,
  planCompute,
  type TargetState,
} from './planner';
import { assessCompute, type ComputeReadinessObserved } from './readiness';

export interface ComputeClients {
  readonly ec2: EC2Client;
  readonly elbv2: ElasticLoadBalancingV2Client;
  /** Only called when a service configures a standby Auto Scaling group. */
  readonly autoScaling: AutoScalingClient;
}

const INSTANCE_STATES: ReadonlySet<string> = new Set([
  'pending',
  'running',
  'stopping',
  'stopped',
  'shutting-down',
  'terminated',
]);
const TARGET_STATES: ReadonlySet<string> = new Set([
  'initial',
  'healthy',
  'unhealthy',
  'unhealthy.draining',
  'unused',
  'draining',
  'unavailable',
]);

const call = async <T>(operation: string, send: () => Promise<T>): Promise<T> => {
  try {
    return await send();
  } catch (error) {
    throw classifyAwsError(operation, error);
  }
};

/** EC2 errors that concern one instance only: that spare cannot start now; the others still can. */
const START_REFUSALS = new Set([
  'IncorrectInstanceState',
  'InsufficientInstanceCapacity',
  'InstanceLimitExceeded',
  'UnsupportedOperation',
  'InvalidInstanceID.NotFound',
]);

/** Every instance that matches the filters, across pages. */
const describeInstances = async (ec2: EC2Client, filters: Filter[]): Promise<ObservedInstance[]> => {
  const instances: ObservedInstance[] = [];
  let token: string | undefined;
  do {
    const out = await call('EC2 DescribeInstances', () =>
      ec2.send(new DescribeInstancesCommand({ Filters: filters, NextToken: token, MaxResults: 1000 })),
    );
    for (const reservation of out.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        const state = instance.State?.Name ?? '';
        if (!instance.InstanceId || !INSTANCE_STATES.has(state)) continue;
        instances.push({
          id: instance.InstanceId,
          state: state as InstanceState,
          tags: Object.fromEntries((instance.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
        });
      }
    }
    token = out.NextToken;
  } while (token);
  return instances;
};

const selectorFilter = (selector: InstanceSelector): Filter =>
  selector.tag
    ? { Name: `tag:${selector.tag.key}`, Values: [selector.tag.value] }
    : { Name: 'instance-id', Values: [...(selector.instanceIds ?? [])] };

/**
 * The compute capability: EC2, ELBv2 and Auto Scaling reads and writes around the pure planner.
 * Every write returns unverified: the next run observes whether it took effect (instance running,
 * target healthy, target drained), which is the only proof AWS gives.
 */
export const computeCapability = (clients: ComputeClients): Capability<ComputeObserved, ComputeAction> => ({
  name: 'compute',

  async observe(service: ServiceConfig): Promise<ComputeObserved> {
    const compute = service.compute;
    if (!compute) return { primaries: [], standbys: [], instances: {}, groups: {} };

    // The target groups' health is read beside the instances: one round trip for both.
    const groups: Record<string, ObservedTarget[]> = {};
    const targetHealth = Promise.all(
      compute.targetGroupArns.map(async (arn) => {
        const out = await call('ELBv2 DescribeTargetHealth', () =>
          clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })),
        );
        groups[arn] = (out.TargetHealthDescriptions ?? [])
          .filter((d) => d.Target?.Id)
          .map((d) => {
            const state = d.TargetHealth?.State ?? '';
            // An unknown state is treated as unhealthy: never counted as capacity.
            return {
              id: d.Target?.Id as string,
              state: (TARGET_STATES.has(state) ? state : 'unhealthy') as TargetState,
            };
          });
      }),
    );
    // Not left unhandled while the instances are read; awaited (and thrown) below.
    targetHealth.catch(() => undefined);
    const [primaryList, standbyList] = await Promise.all([
      describeInstances(clients.ec2, [selectorFilter(compute.primaries)]),
      describeInstances(clients.ec2, [selectorFilter(compute.standbys)]),
    ]);
    const instances: Record<string, ObservedInstance> = {};
    for (const instance of [...primaryList, ...standbyList]) instances[instance.id] = instance;

    let autoScaling: ComputeObserved['autoScaling'];
    const asg = compute.standbyAutoScalingGroup;
    if (asg) {
      const out = await call('Auto Scaling DescribeAutoScalingGroups', () =>
        clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asg.name] })),
      );
      const group = out.AutoScalingGroups?.[0];
      if (!group) throw new TerminalError(`Auto Scaling group ${asg.name} does not exist`);
      // Only InService instances are spares: one still launching or leaving is not ready to serve.
      const instanceIds = (group.Instances ?? [])
        .filter((i) => i.LifecycleState === 'InService' && i.InstanceId)
        .map((i) => i.InstanceId as string);
      autoScaling = { name: asg.name, desiredCapacity: group.DesiredCapacity ?? 0, instanceIds };
      const unseen = instanceIds.filter((id) => instances[id] === undefined);
      if (unseen.length > 0) {
        for (const instance of await describeInstances(clients.ec2, [
          { Name: 'instance-id', Values: unseen },
        ])) {
          instances[instance.id] = instance;
        }
      }
    }

    await targetHealth;

    const live = (list: ObservedInstance[]) => list.map((i) => i.id);
    return {
      // A selector by ids keeps ids EC2 no longer knows: the planner reports them as gone.
      primaries: [...new Set([...(compute.primaries.instanceIds ?? []), ...live(primaryList)])].sort(),
      standbys: [
        ...new Set([
          ...(compute.standbys.instanceIds ?? []),
          ...live(standbyList),
          ...(autoScaling?.instanceIds ?? []),
        ]),
      ].sort(),
      instances,
      groups,
      autoScaling,
    };
  },

  plan: planCompute,

  async execute(action: ComputeAction): Promise<ActionResult> {
    switch (action.api) {
      case 'ec2:StartInstances': {
        const ids = action.params.InstanceIds;
        try {
          await clients.ec2.send(new StartInstancesCommand({ InstanceIds: [...ids] }));
        } catch (error) {
          const failure = classifyAwsError('EC2 StartInstances', error);
          const name = sdkErrorName(error) ?? '';
          if (failure.retryable || !START_REFUSALS.has(name)) throw failure;
          // This spare cannot start now; the others go on, and the next run tries again or picks another.
          return {
            verified: false,
            detail: `${ids.join(', ')} could not start (${name}); trying again on the next run`,
          };
        }
        return { verified: false, detail: `starting ${ids.join(', ')}; registering once running` };
      }
      case 'ec2:StopInstances':
        await call('EC2 StopInstances', () =>
          clients.ec2.send(new StopInstancesCommand({ InstanceIds: [...action.params.InstanceIds] })),
        );
        return { verified: false, detail: `stopping ${action.params.InstanceIds.join(', ')}` };
      case 'elasticloadbalancing:RegisterTargets':
      case 'elasticloadbalancing:DeregisterTargets': {
        const register = action.api === 'elasticloadbalancing:RegisterTargets';
        const input = {
          TargetGroupArn: action.params.TargetGroupArn,
          Targets: action.params.Targets.map((t) => ({ ...t })),
        };
        await call(`ELBv2 ${register ? 'RegisterTargets' : 'DeregisterTargets'}`, () =>
          clients.elbv2.send(
            register ? new RegisterTargetsCommand(input) : new DeregisterTargetsCommand(input),
          ),
        );
        const ids = action.params.Targets.map((t) => t.Id).join(', ');
        return {
          verified: false,
          detail: register
            ? `registered ${ids}; waiting for their health checks`
            : `deregistered ${ids}; waiting for them to drain`,
        };
      }
      case 'ec2:CreateTags':
      case 'ec2:DeleteTags': {
        const quarantine = action.api === 'ec2:CreateTags';
        const input = {
          Resources: [...action.params.Resources],
          Tags: action.params.Tags.map((t) => ({ ...t })),
        };
        await call(`EC2 ${quarantine ? 'CreateTags' : 'DeleteTags'}`, () =>
          quarantine
            ? clients.ec2.send(new CreateTagsCommand(input))
            : clients.ec2.send(new DeleteTagsCommand(input)),
        );
        const ids = action.params.Resources.join(', ');
        return {
          verified: false,
          detail: quarantine
            ? `quarantined ${ids} (tagged, not terminated)`
            : `released ${ids} from quarantine`,
        };
      }
      case 'autoscaling:SetDesiredCapacity':
        await call('Auto Scaling SetDesiredCapacity', () =>
          clients.autoScaling.send(new SetDesiredCapacityCommand({ ...action.params })),
        );
        return {
          verified: false,
          detail: `${action.params.AutoScalingGroupName} desired capacity set to ${action.params.DesiredCapacity}`,
        };
    }
  },
});

/** The compute capability on the container's clients; loaded only when a function reconciles compute. */
export const createComputeCapability = ({ clients }: CapabilityContext) =>
  computeCapability({
    ec2: clients.client(EC2Client),
    elbv2: clients.client(ElasticLoadBalancingV2Client),
    autoScaling: clients.client(AutoScalingClient),
  });

/** ELBv2's answer for a target group that does not exist. */
const GROUP_NOT_FOUND = 'TargetGroupNotFoundException';

/** What compute readiness reads: the servers as `observe` resolves them, and whether each group exists. */
export const observeComputeReadiness = async (
  clients: ComputeClients,
  service: ServiceConfig,
): Promise<ComputeReadinessObserved> => {
  const compute = service.compute;
  if (!compute) return { primaries: [], standbys: [], instances: {}, missingGroups: [] };
  const [primaryList, standbyList] = await Promise.all([
    describeInstances(clients.ec2, [selectorFilter(compute.primaries)]),
    describeInstances(clients.ec2, [selectorFilter(compute.standbys)]),
  ]);
  const instances: Record<string, ObservedInstance> = {};
  for (const instance of [...primaryList, ...standbyList]) instances[instance.id] = instance;
  const missingGroups: string[] = [];
  for (const arn of compute.targetGroupArns) {
    try {
      await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }));
    } catch (error) {
      if (sdkErrorName(error) !== GROUP_NOT_FOUND)
        throw classifyAwsError('ELBv2 DescribeTargetHealth', error);
      missingGroups.push(arn);
    }
  }
  let autoScaling: ComputeReadinessObserved['autoScaling'];
  let groupIds: string[] = [];
  const asg = compute.standbyAutoScalingGroup;
  if (asg) {
    const out = await call('Auto Scaling DescribeAutoScalingGroups', () =>
      clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asg.name] })),
    );
    const group = out.AutoScalingGroups?.[0];
    groupIds = (group?.Instances ?? [])
      .filter((i) => i.LifecycleState === 'InService' && i.InstanceId)
      .map((i) => i.InstanceId as string);
    autoScaling = { name: asg.name, exists: group !== undefined, inService: groupIds.length };
    const unseen = groupIds.filter((id) => instances[id] === undefined);
    if (unseen.length > 0) {
      for (const instance of await describeInstances(clients.ec2, [
        { Name: 'instance-id', Values: unseen },
      ])) {
        instances[instance.id] = instance;
      }
    }
  }
  const live = (list: ObservedInstance[]) => list.map((i) => i.id);
  return {
    primaries: [...new Set([...(compute.primaries.instanceIds ?? []), ...live(primaryList)])].sort(),
    standbys: [
      ...new Set([...(compute.standbys.instanceIds ?? []), ...live(standbyList), ...groupIds]),
    ].sort(),
    instances,
    missingGroups,
    ...(autoScaling && { autoScaling }),
  };
};

/** Compute readiness (functions/readiness/): reads only, assessed purely. */
export const computeReadiness = async (
  { clients }: CapabilityContext,
  service: ServiceConfig,
  input: ReadinessInput,
): Promise<CapabilityReadiness> =>
  assessCompute(
    service,
    await observeComputeReadiness(
      {
        ec2: clients.client(EC2Client),
        elbv2: clients.client(ElasticLoadBalancingV2Client),
        autoScaling: clients.client(AutoScalingClient),
      },
      service,
    ),
    input,
  );
