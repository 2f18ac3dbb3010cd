import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/schema';
import { type Synthesized, synthesize } from './synth';

const HC = '11111111-1111-4111-8111-111111111111';
const HC2 = '22222222-2222-4222-8222-222222222222';

const dns = (zone: string, name: string) => ({
  hostedZoneId: zone,
  records: [
    {
      name,
      type: 'A' as const,
      routing: 'weighted' as const,
      primary: { values: ['192.0.2.10'], healthCheckId: HC },
      standby: { values: ['198.51.100.10'], healthCheckId: HC2 },
    },
  ],
});

const config = () =>
  parseConfig(
    {
      controlPlane: { account: '444444444444', region: 'eu-west-2', stackName: 'understudy-afb' },
      services: [
        {
          name: 'shop',
          mode: 'auto',
          autoFailback: { afterStableMinutes: 15 },
          alarms: [
            { name: 'shop-primary-unhealthy' },
            { name: 'shop-health-check-failed', region: 'us-east-1' },
          ],
          dns: dns('Z0EXAMPLE0SHOP', 'www.shop.example.com'),
        },
        {
          name: 'blog',
          mode: 'approve',
          alarms: [{ name: 'blog-primary-unhealthy' }],
          dns: dns('Z0EXAMPLE0BLOG', 'www.blog.example.com'),
        },
      ],
    },
    'auto-failback infra test config',
  );

type Statement = { Action: unknown; Resource: unknown };
type Policy = { Properties: { PolicyDocument: { Statement: Statement[] }; Roles: unknown } };

describe('automatic failback in the stack', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize(config());
  });
  afterAll(() => synth?.cleanup());

  it('lets only the reconcile function describe the alarms of automatic services, by ARN', () => {
    const policies = Object.values(synth.template.findResources('AWS::IAM::Policy')) as Policy[];
    const granting = policies.filter((p) =>
      p.Properties.PolicyDocument.Statement.some((s) =>
        JSON.stringify(s.Action).includes('cloudwatch:DescribeAlarms'),
      ),
    );
    expect(granting).toHaveLength(1);
    const policy = granting[0] as Policy;
    expect(JSON.stringify(policy.Properties.Roles)).toContain('Reconciler');
    const statement = policy.Properties.PolicyDocument.Statement.find(
      (s) => s.Action === 'cloudwatch:DescribeAlarms',
    );
    const partition = { Ref: 'AWS::Partition' };
    expect(statement?.Resource).toEqual([
      {
        'Fn::Join': [
          '',
          ['arn:', partition, ':cloudwatch:eu-west-2:444444444444:alarm:shop-primary-unhealthy'],
        ],
      },
      {
        'Fn::Join': [
          '',
          ['arn:', partition, ':cloudwatch:us-east-1:444444444444:alarm:shop-health-check-failed'],
        ],
      },
    ]);
    // A service that asks for approval is never moved by the schedule: its alarm is not readable.
    expect(JSON.stringify(policies)).not.toContain('blog-primary-unhealthy');
  });
});
