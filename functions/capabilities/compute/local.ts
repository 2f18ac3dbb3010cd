import { PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstancesCommand,
  DescribeVpcsCommand,
  type EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Config } from '../../config/schema';
import type { AwsClients } from '../../drill/local-aws';
import {
  alarmStateChangeEvent,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type LocalServiceOptions,
  localServiceConfig,
} from '../../drill/local-aws';
import { harnessControlPlane, type LocalHarness, startHarness } from '../../drill/local-control-plane';
import type { ControlPlane } from '../../engine/engine';

export const SERVICE_ALARM = 'web-tier-unhealthy';
export const serverAlarmName = (instanceId: string) => `web-${instanceId}-status-check-failed`;

export interface ComputeTopology {
  readonly config: Config;
  readonly primaries: readonly string[];
  readonly standbys: readonly string[];
  readonly targetGroupArn: string;
}

export interface ComputeTopologyOptions extends LocalServiceOptions {
  readonly primaries?: number;
  readonly standbys?: number;
  /** How many of the standbys start out stopped (the last ones). */
  readonly stoppedStandbys?: number;
  readonly stopStandbysOnFailback?: boolean;
}

const launch = async (ec2: EC2Client, count: number, role: string): Promise<string[]> => {
  if (count === 0) return [];
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: 't3.micro',
      MinCount: count,
      MaxCount: count,
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'understudy:role', Value: role }] }],
    }),
  );
  return (out.Instances ?? []).map((i) => i.InstanceId ?? '').sort();
};

/**
 * A load-balanced web tier in the local AWS: primaries registered in one target group, warm standbys
 * (tagged understudy:role=standby, some stopped), a service-level alarm and one StatusCheckFailed
 * alarm per primary, the state table and the Slack secret.
 */
export const provisionComputeTopology = async (
  clients: AwsClients,
  options: ComputeTopologyOptions,
): Promise<ComputeTopology> => {
  const vpcs = await clients.ec2.send(new DescribeVpcsCommand({}));
  const vpcId = vpcs.Vpcs?.[0]?.VpcId;
  const primaries = await launch(clients.ec2, options.primaries ?? 2, 'primary');
  const standbys = await launch(clients.ec2, options.standbys ?? 2, 'standby');
  const stopped = standbys.slice(standbys.length - (options.stoppedStandbys ?? 0));
  if (stopped.length > 0) await clients.ec2.send(new StopInstancesCommand({ InstanceIds: stopped }));
  const group = await clients.elbv2.send(
    new CreateTargetGroupCommand({
      Name: 'web',
      Protocol: 'HTTP',
      Port: 80,
      VpcId: vpcId,
      TargetType: 'instance',
    }),
  );
  const targetGroupArn = group.TargetGroups?.[0]?.TargetGroupArn ?? '';
  await clients.elbv2.send(
    new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: primaries.map((Id) => ({ Id })) }),
  );
  await clients.cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: SERVICE_ALARM,
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 2,
      Threshold: 50,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  for (const id of primaries) {
    await clients.cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName: serverAlarmName(id),
        Namespace: 'AWS/EC2',
        MetricName: 'StatusCheckFailed',
        Dimensions: [{ Name: 'InstanceId', Value: id }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 2,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    );
  }
  const config = await localServiceConfig(
    clients,
    options,
    {
      name: 'web',
      rtoMinutes: 5,
      alarms: [
        { name: SERVICE_ALARM, capabilities: ['compute'] },
        ...primaries.map((id) => ({ name: serverAlarmName(id), scope: 'instance' as const })),
      ],
      compute: {
        targetGroupArns: [targetGroupArn],
        primaries: { instanceIds: primaries },
        standbys: { tag: { key: 'understudy:role', value: 'standby' } },
        minHealthyTargets: 1,
        stopStandbysOnFailback: options.stopStandbysOnFailback ?? false,
      },
    },
    'compute topology config',
  );
  return { config, primaries, standbys, targetGroupArn };
};

/**
 * The EventBridge event for an alarm on one server's metric, as AWS shapes it: the server is the
 * InstanceId dimension of the alarm's metric. (moto emits no such event; the harness builds it.)
 */
export const serverAlarmEvent = (instanceId: string, at: Date, value: 'ALARM' | 'OK' = 'ALARM') => {
  const event = alarmStateChangeEvent({
    alarmName: serverAlarmName(instanceId),
    account: LOCAL_ACCOUNT,
    region: LOCAL_REGION,
    value,
    reason: 'Threshold Crossed: 2 datapoints were greater than or equal to the threshold (1.0)',
    at,
  });
  return {
    ...event,
    detail: {
      ...event.detail,
      configuration: {
        description: `StatusCheckFailed of ${instanceId}`,
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: {
                namespace: 'AWS/EC2',
                name: 'StatusCheckFailed',
                dimensions: { InstanceId: instanceId },
              },
              period: 60,
              stat: 'Maximum',
            },
            returnData: true,
          },
        ],
      },
    },
  };
};

export const serviceAlarmEvent = (at: Date, value: 'ALARM' | 'OK' = 'ALARM') =>
  alarmStateChangeEvent({
    alarmName: SERVICE_ALARM,
    account: LOCAL_ACCOUNT,
    region: LOCAL_REGION,
    value,
    reason: 'Threshold Crossed: target 5XX count above 50',
    at,
  });

/** The EventBridge "EC2 Instance State-change Notification", in AWS's shape. */
export const instanceStateEvent = (instanceId: string, state: string, at: Date) => ({
  version: '0',
  id: crypto.randomUUID(),
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: LOCAL_ACCOUNT,
  time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  region: LOCAL_REGION,
  resources: [`arn:aws:ec2:${LOCAL_REGION}:${LOCAL_ACCOUNT}:instance/${instanceId}`],
  detail: { 'instance-id': instanceId, state },
});

/**
 * moto reports every registered running target `healthy` at once. Where a test needs a target that
 * stays `unhealthy` (or in `initial` checks), this rewrites DescribeTargetHealth answers on the
 * client for the ids given: the harness supplies what the load balancer's health checks would say.
 */
export const supplyTargetHealth = (
  elbv2: ElasticLoadBalancingV2Client,
  health: Map<string, 'unhealthy' | 'initial'>,
): void => {
  elbv2.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'DescribeTargetHealthCommand') {
        const output = result.output as {
          TargetHealthDescriptions?: { Target?: { Id?: string }; TargetHealth?: { State?: string } }[];
        };
        for (const d of output.TargetHealthDescriptions ?? []) {
          const supplied = health.get(d.Target?.Id ?? '');
          if (supplied && d.TargetHealth?.State === 'healthy') d.TargetHealth.State = supplied;
        }
      }
      return result;
    },
    { step: 'initialize', name: 'harnessTargetHealth' },
  );
};

export interface LocalCompute extends LocalHarness {
  readonly topology: ComputeTopology;
  /** Target health the harness supplies over moto's (which says healthy at once). */
  readonly health: Map<string, 'unhealthy' | 'initial'>;
  controlPlane(): ControlPlane;
  /** Instance ids registered (not draining) in the web target group, sorted. */
  members(): Promise<string[]>;
  instance(id: string): Promise<{ state: string; tags: Record<string, string> }>;
}

export const startLocalCompute = async (
  endpoint: string,
  options: Partial<ComputeTopologyOptions> & { readonly maxAttempts?: number } = {},
): Promise<LocalCompute> => {
  const harness = await startHarness(endpoint, options.maxAttempts);
  const { clients } = harness;
  const health = new Map<string, 'unhealthy' | 'initial'>();
  supplyTargetHealth(clients.elbv2, health);
  const topology = await provisionComputeTopology(clients, {
    slackWebhookUrl: harness.sink.webhookUrl,
    ...options,
  });
  return {
    ...harness,
    topology,
    health,
    controlPlane: harnessControlPlane(harness, topology.config),
    async members() {
      const out = await clients.elbv2.send(
        new DescribeTargetHealthCommand({ TargetGroupArn: topology.targetGroupArn }),
      );
      return (out.TargetHealthDescriptions ?? [])
        .filter((d) => !d.TargetHealth?.State?.includes('draining'))
        .map((d) => d.Target?.Id ?? '')
        .sort();
    },
    async instance(id) {
      const out = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      const found = out.Reservations?.[0]?.Instances?.[0];
      return {
        state: found?.State?.Name ?? 'missing',
        tags: Object.fromEntries((found?.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
      };
    },
  };
};
