import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client, StartInstancesCommand } from '@aws-sdk/client-ec2';
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { computeCapability } from '../../functions/capabilities/compute/ec2';
import { RetryableError } from '../../functions/core/errors';
import { computeService, P1, P2, S1, TG } from '../support/compute-fixtures';

const ec2 = mockClient(EC2Client);
const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const autoScaling = mockClient(AutoScalingClient);
const capability = () =>
  computeCapability({
    ec2: new EC2Client({ region: 'eu-west-2' }),
    elbv2: new ElasticLoadBalancingV2Client({ region: 'eu-west-2' }),
    autoScaling: new AutoScalingClient({ region: 'eu-west-2' }),
  });

const awsError = (name: string, status = 400) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });

beforeEach(() => {
  ec2.reset();
  elbv2.reset();
  autoScaling.reset();
});

describe('compute observer', () => {
  it('reads target health beside the instances, not after them: one round trip', async () => {
    // Prepare: the instance reads answer only once target health has been asked for
    let healthAsked!: () => void;
    const asked = new Promise<void>((resolve) => {
      healthAsked = resolve;
    });
    ec2.on(DescribeInstancesCommand).callsFake(async () => {
      await asked;
      return { Reservations: [] };
    });
    elbv2.on(DescribeTargetHealthCommand).callsFake(async () => {
      healthAsked();
      return { TargetHealthDescriptions: [{ Target: { Id: P1 }, TargetHealth: { State: 'healthy' } }] };
    });

    // Act
    const observed = await capability().observe(computeService(), 'standby', undefined);

    // Assess: it finished, so health was asked while the instance reads were out
    expect(observed.groups[TG]).toEqual([{ id: P1, state: 'healthy' }]);
  });

  it('resolves primaries by id and standbys by tag and Auto Scaling group, with target health per group', async () => {
    ec2
      .on(DescribeInstancesCommand, { Filters: [{ Name: 'instance-id', Values: [P1, P2] }] })
      .resolves({ Reservations: [{ Instances: [{ InstanceId: P1, State: { Name: 'running' } }] }] })
      .on(DescribeInstancesCommand, { Filters: [{ Name: 'tag:understudy:role', Values: ['standby'] }] })
      .resolves({
        Reservations: [
          {
            Instances: [
              {
                InstanceId: S1,
                State: { Name: 'stopped' },
                Tags: [{ Key: 'understudy:quarantined', Value: '2' }],
              },
            ],
          },
        ],
      })
      .on(DescribeInstancesCommand, { Filters: [{ Name: 'instance-id', Values: ['i-0000000000000c001'] }] })
      .resolves({
        Reservations: [{ Instances: [{ InstanceId: 'i-0000000000000c001', State: { Name: 'pending' } }] }],
      });
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'web-standby',
          DesiredCapacity: 1,
          MinSize: 0,
          MaxSize: 2,
          DefaultCooldown: 0,
          AvailabilityZones: [],
          HealthCheckType: 'EC2',
          CreatedTime: new Date(),
          Instances: [
            {
              InstanceId: 'i-0000000000000c001',
              LifecycleState: 'InService',
              AvailabilityZone: 'a',
              HealthStatus: 'Healthy',
              ProtectedFromScaleIn: false,
            },
            {
              InstanceId: 'i-0000000000000c002',
              LifecycleState: 'Pending',
              AvailabilityZone: 'a',
              HealthStatus: 'Healthy',
              ProtectedFromScaleIn: false,
            },
          ],
        },
      ],
    });
    elbv2.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: P1 }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: P2 }, TargetHealth: { State: 'draining' } },
        { Target: { Id: S1 }, TargetHealth: { State: 'something-new' as never } },
      ],
    });
    const service = computeService({
      standbyAutoScalingGroup: { name: 'web-standby', failoverCapacity: 2 },
    });

    const observed = await capability().observe(service, 'primary', undefined);

    expect(observed.primaries).toEqual([P1, P2]);
    expect(observed.standbys).toEqual([S1, 'i-0000000000000c001']);
    expect(observed.instances[S1]).toEqual({
      id: S1,
      state: 'stopped',
      tags: { 'understudy:quarantined': '2' },
    });
    expect(observed.instances[P2]).toBeUndefined(); // named in the config, unknown to EC2: gone
    expect(observed.groups[TG]).toEqual([
      { id: P1, state: 'healthy' },
      { id: P2, state: 'draining' },
      { id: S1, state: 'unhealthy' }, // an unknown state never counts as capacity
    ]);
    expect(observed.autoScaling).toEqual({
      name: 'web-standby',
      desiredCapacity: 1,
      instanceIds: ['i-0000000000000c001'],
    });
  });
});

describe('compute executor', () => {
  it('a spare that cannot start is reported, not thrown, so the other spares still start', async () => {
    ec2.on(StartInstancesCommand).rejects(awsError('InsufficientInstanceCapacity'));

    const result = await capability().execute(
      { capability: 'compute', api: 'ec2:StartInstances', reason: 'r', params: { InstanceIds: [S1] } },
      { service: computeService(), epoch: 1 },
    );

    expect(result).toEqual({
      verified: false,
      detail: `${S1} could not start (InsufficientInstanceCapacity); trying again on the next run`,
    });
  });

  it('throttling on a start is retryable and thrown: the next run tries again', async () => {
    ec2.on(StartInstancesCommand).rejects(awsError('RequestLimitExceeded', 503));

    await expect(
      capability().execute(
        { capability: 'compute', api: 'ec2:StartInstances', reason: 'r', params: { InstanceIds: [S1] } },
        { service: computeService(), epoch: 1 },
      ),
    ).rejects.toBeInstanceOf(RetryableError);
  });

  it('registers exactly the planned targets, with the configured port, unverified until the next run', async () => {
    elbv2.on(RegisterTargetsCommand).resolves({});

    const result = await capability().execute(
      {
        capability: 'compute',
        api: 'elasticloadbalancing:RegisterTargets',
        reason: 'r',
        params: { TargetGroupArn: TG, Targets: [{ Id: S1, Port: 8080 }] },
      },
      { service: computeService({ port: 8080 }), epoch: 1 },
    );

    expect(elbv2.commandCalls(RegisterTargetsCommand)[0]?.args[0].input).toEqual({
      TargetGroupArn: TG,
      Targets: [{ Id: S1, Port: 8080 }],
    });
    expect(result.verified).toBe(false);
  });
});
