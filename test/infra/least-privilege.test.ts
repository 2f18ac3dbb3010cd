import type { CfnElement } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlFunction } from '../../infra/control-function';
import { exampleConfig, type Synthesized, synthesize } from './synth';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** Every IAM action any policy attached to the function's role allows. */
const actionsOf = (synth: Synthesized, fn: ControlFunction | undefined): string[] => {
  if (!fn?.role) throw new Error('no such function');
  const roleId = synth.stack.getLogicalId(fn.role.node.defaultChild as CfnElement);
  const resources = synth.templateJson.Resources as Resources;
  return Object.values(resources)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        (r.Properties.Roles as { Ref?: string }[]).some((role) => role.Ref === roleId),
    )
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement)
    .flatMap((statement) => [statement.Action].flat());
};

/** Every statement of the policies attached to the function's role. */
const statementsOf = (synth: Synthesized, fn: ControlFunction) => {
  const roleId = synth.stack.getLogicalId(fn.role?.node.defaultChild as CfnElement);
  return Object.values(synth.templateJson.Resources as Resources)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        (r.Properties.Roles as { Ref?: string }[]).some((role) => role.Ref === roleId),
    )
    .flatMap(
      (r) =>
        (r.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] })
          .Statement,
    );
};

const matching = (actions: readonly string[], pattern: RegExp) => actions.filter((a) => pattern.test(a));

describe('each function is granted only what it runs (example config)', () => {
  let synth: Synthesized;
  beforeAll(async () => {
    synth = synthesize(await exampleConfig());
  });
  afterAll(() => synth?.cleanup());

  const fn = (capability: string, kind: 'engine' | 'other') => {
    const resources = synth.stack.capabilities.get(capability);
    return kind === 'engine' ? resources?.engineFunctions[0] : resources?.otherFunctions[0];
  };

  it('the mail recorder may not touch databases, start servers or change records', () => {
    const actions = actionsOf(synth, fn('mail', 'other'));
    expect(actions).toContain('s3:GetObject');
    expect(matching(actions, /^rds:/)).toEqual([]);
    expect(matching(actions, /^ec2:Start/)).toEqual([]);
    expect(matching(actions, /^route53:Change/)).toEqual([]);
  });

  it('the EC2-event function may not promote a database', () => {
    const actions = actionsOf(synth, fn('compute', 'engine'));
    expect(actions).toContain('ec2:StartInstances');
    expect(matching(actions, /^rds:/)).toEqual([]);
    expect(matching(actions, /^route53:Change/)).toEqual([]);
    expect(matching(actions, /^ses:/)).toEqual([]);
  });

  it('the RDS-event function may not start servers or register targets', () => {
    const actions = actionsOf(synth, fn('database', 'engine'));
    expect(actions).toContain('rds:PromoteReadReplica');
    expect(matching(actions, /^ec2:Start/)).toEqual([]);
    expect(matching(actions, /^elasticloadbalancing:Register/)).toEqual([]);
    expect(matching(actions, /^ses:/)).toEqual([]);
  });

  it('the scheduled reconciler holds every capability it reconciles', () => {
    const actions = actionsOf(synth, synth.stack.reconciler.handler);
    for (const action of [
      'route53:ChangeResourceRecordSets',
      'rds:PromoteReadReplica',
      'ec2:StartInstances',
      'ses:SetActiveReceiptRuleSet',
    ]) {
      expect(actions).toContain(action);
    }
  });

  it('the dispatcher only reads the state table and queues work: no capability, no writes', () => {
    const actions = actionsOf(synth, synth.stack.reconciler.dispatcher);
    expect(actions).toContain('sqs:SendMessage');
    expect(actions).toContain('dynamodb:Query');
    expect(matching(actions, /^dynamodb:(Put|Update|Delete|BatchWrite)/)).toEqual([]);
    expect(
      matching(actions, /^(route53|rds|ec2|elasticloadbalancing|autoscaling|ses|s3|cloudwatch):/),
    ).toEqual([]);
    expect(matching(actions, /^sqs:(Receive|Delete)/)).toEqual([]);
  });

  it('the reconcile worker consumes the work queue and may not fill it', () => {
    const actions = actionsOf(synth, synth.stack.reconciler.handler);
    expect(actions).toContain('sqs:ReceiveMessage');
    expect(actions).toContain('sqs:DeleteMessage');
    // It sends only to its failure queue (failed asynchronous invocations), never to the work queue.
    const workQueue = synth.stack.getLogicalId(synth.stack.reconciler.queue.node.defaultChild as CfnElement);
    const sends = statementsOf(synth, synth.stack.reconciler.handler).filter((st) =>
      [st.Action].flat().some((a) => a.startsWith('sqs:Send')),
    );
    expect(sends.length).toBeGreaterThan(0);
    for (const statement of sends) expect(JSON.stringify(statement.Resource)).not.toContain(workQueue);
  });

  it('the readiness function only reads: no change to any resource, and simulates only the acting roles', () => {
    const readiness = synth.stack.readiness;
    const actions = actionsOf(synth, readiness.handler);
    for (const action of [
      'rds:DescribeDBInstances',
      'ec2:DescribeInstances',
      'elasticloadbalancing:DescribeTargetHealth',
      'route53:GetHealthCheckStatus',
      'ses:GetIdentityVerificationAttributes',
      'ses:DescribeReceiptRuleSet',
      'cloudwatch:GetMetricData',
      'secretsmanager:GetSecretValue',
      'iam:SimulatePrincipalPolicy',
    ]) {
      expect(actions).toContain(action);
    }
    const mutating =
      /^(route53:Change|rds:(Promote|Create|Modify|Stop|Failover|Switchover)|ec2:(Start|Stop|Create|Delete)|elasticloadbalancing:(Register|Deregister)|autoscaling:Set|ses:(Set|Update)|s3:|cloudwatch:Put)/;
    expect(matching(actions, mutating)).toEqual([]);
    // Its only writes are its own verdicts and audit entries in the state table.
    expect(matching(actions, /^dynamodb:(Put|Update)Item$/).length).toBeGreaterThan(0);
    const simulate = statementsOf(synth, readiness.handler).filter((st) =>
      [st.Action].flat().includes('iam:SimulatePrincipalPolicy'),
    );
    expect(JSON.stringify(simulate.map((st) => st.Resource))).toContain(
      synth.stack.getLogicalId(synth.stack.reconciler.handler.role?.node.defaultChild as CfnElement),
    );
    expect(simulate.flatMap((st) => [st.Resource].flat())).not.toContain('*');
  });
});
