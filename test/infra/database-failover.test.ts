import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/schema';
import { capabilityAlarmIds, type Synthesized, synthesize } from './synth';

const config = () =>
  parseConfig(
    {
      controlPlane: { account: '333333333333', region: 'eu-west-1', stackName: 'understudy-db' },
      services: [
        {
          name: 'orders',
          mode: 'auto',
          alarms: [{ name: 'orders-db-down', capabilities: ['database'] }],
          database: {
            kind: 'rds-replica',
            primaryInstanceId: 'orders-db',
            primaryRegion: 'eu-central-1',
            replicaInstanceId: 'orders-db-replica',
            endpoint: { hostedZoneId: 'ZPRIVATE123', name: 'DB.orders.internal' },
            maxReplicaLagSeconds: 20,
            fenceOldPrimary: 'quarantine-security-group',
            quarantineSecurityGroupId: 'sg-0123456789abcdef0',
            replicaLagAlarm: true,
          },
        },
        {
          name: 'ledger',
          database: {
            kind: 'aurora-cluster',
            clusterId: 'ledger',
            writerInstanceId: 'ledger-1',
            targetReaderInstanceId: 'ledger-2',
            endpoint: { hostedZoneId: 'ZPRIVATE123', name: 'ledger.orders.internal' },
          },
        },
      ],
    },
    'database infra test config',
  );

describe('the database capability in the stack', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize(config());
  });
  afterAll(() => synth?.cleanup());

  it('scopes RDS writes to the configured instances and clusters, in their Regions', () => {
    const policies = synth.template.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties
          .PolicyDocument.Statement,
    );
    const promote = statements.find((s) => JSON.stringify(s.Action).includes('rds:PromoteReadReplica'));
    const resources = JSON.stringify(promote?.Resource);
    expect(resources).toContain(':rds:eu-central-1:333333333333:db:orders-db');
    expect(resources).toContain(':rds:eu-west-1:333333333333:db:orders-db-replica');
    expect(resources).toContain(':rds:eu-west-1:333333333333:db:ledger-1');
    expect(resources).not.toContain('*');
    const failover = statements.find((s) => JSON.stringify(s.Action).includes('rds:FailoverDBCluster'));
    expect(JSON.stringify(failover?.Resource)).toContain(':rds:eu-west-1:333333333333:cluster:ledger');
    // No statement lets the control plane delete a database.
    expect(JSON.stringify(statements)).not.toMatch(/rds:Delete/);
  });

  it('lets the functions UPSERT only the endpoint names, as CNAMEs', () => {
    synth.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'route53:ChangeResourceRecordSets',
            Condition: {
              'ForAllValues:StringEquals': {
                'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
                  'db.orders.internal',
                  'ledger.orders.internal',
                ],
                'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
                'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
              },
            },
          }),
        ]),
      },
    });
  });

  it("routes the protected resources' RDS events to the event function", () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.rds'],
        'detail-type': ['RDS DB Instance Event', 'RDS DB Cluster Event', 'RDS DB Global Cluster Event'],
        detail: { SourceIdentifier: ['ledger', 'ledger-1', 'ledger-2', 'orders-db', 'orders-db-replica'] },
      },
    });
    expect(synth.stack.capabilities.get('database')?.engineFunctions).toHaveLength(1);
  });

  it('creates the replica-lag alarm only where the config asks', () => {
    // Besides the control plane's own alarms (test/infra/operator-alarms.test.ts).
    expect(capabilityAlarmIds(synth)).toHaveLength(1);
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ReplicaLag',
      Namespace: 'AWS/RDS',
      Threshold: 20,
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'orders-db-replica' }],
    });
  });

  it('passes cdk-nag with no new acknowledgement', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(synth.stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});
