import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { QUARANTINE_TAG } from '../../functions/capabilities/compute/config';
import { ComputeFailover, computeScopeOf } from '../../functions/capabilities/compute/infra';
import { computeConfig } from '../support/compute-fixtures';

/**
 * The compute grant's EC2 tagging statements, synthesized on their own: grantFailover runs on a
 * bare construct that carries the scope, so the ComputeFailover constructor (its event handler
 * function and bundling) is not needed. test/infra asserts the whole stack.
 */
const tagStatements = () => {
  const config = computeConfig(); // primaries by id, standbys by tag: both kinds of statement
  const stack = new Stack(new App(), 'Compute', {
    env: { account: config.controlPlane.account, region: config.controlPlane.region },
  });
  const fn = new LambdaFunction(stack, 'Fn', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('export const handler = async () => undefined;'),
  });
  const holder = Object.assign(new Construct(stack, 'ComputeScope'), { scope: computeScopeOf(config) });
  ComputeFailover.prototype.grantReconcile.call(holder as unknown as ComputeFailover, fn);
  type Statement = { Action: string | string[]; Condition?: Record<string, Record<string, unknown>> };
  const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
  return statements.filter((s) =>
    [s.Action].flat().some((a) => a === 'ec2:CreateTags' || a === 'ec2:DeleteTags'),
  );
};

/**
 * IAM's evaluation of the condition operators these statements use, for one tagging request:
 * `tagKeys` undefined means the request names no tags (aws:TagKeys is absent from the context).
 */
const allows = (
  condition: Record<string, Record<string, unknown>> | undefined,
  request: { tagKeys: string[] | undefined; resourceTags: Record<string, string> },
): boolean =>
  Object.entries(condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) => {
      const wanted = [expected].flat().map(String);
      switch (operator) {
        case 'ForAllValues:StringEquals':
          // Vacuously true for an empty or absent set: the gap the Null guard closes.
          return (key === 'aws:TagKeys' ? (request.tagKeys ?? []) : []).every((v) => wanted.includes(v));
        case 'Null': {
          const absent =
            key === 'aws:TagKeys' ? request.tagKeys === undefined || request.tagKeys.length === 0 : true;
          return String(absent) === wanted[0];
        }
        case 'StringEquals': {
          const tag = key.startsWith('aws:ResourceTag/') ? request.resourceTags[key.slice(16)] : undefined;
          return tag !== undefined && wanted.includes(tag);
        }
        default:
          throw new Error(`condition operator ${operator} is not modelled here`);
      }
    }),
  );

describe('the EC2 tagging grant', () => {
  let statements: ReturnType<typeof tagStatements>;
  beforeAll(() => {
    statements = tagStatements(); // loading and synthesizing CDK takes seconds on a busy machine
  }, 120_000);

  it('has a tag statement for servers named by id and for servers selected by tag', () => {
    expect(statements).toHaveLength(2);
  });

  it('requires the request to name tag keys (Null aws:TagKeys false) besides limiting them', () => {
    for (const statement of statements) {
      expect(statement.Condition).toMatchObject({
        'ForAllValues:StringEquals': { 'aws:TagKeys': [QUARANTINE_TAG] },
        Null: { 'aws:TagKeys': 'false' },
      });
    }
  });

  it.each([
    ['refused', 'names no tags (DeleteTags without tags deletes every user tag)', undefined],
    ['refused', 'names an empty tag list', []],
    ['refused', 'names another tag', ['Name']],
    ['refused', 'names the quarantine tag and another', [QUARANTINE_TAG, 'Name']],
    ['allowed', 'names the quarantine tag only', [QUARANTINE_TAG]],
  ])('%s: a tagging request that %s', (verdict, _label, tagKeys) => {
    const request = { tagKeys, resourceTags: { 'understudy:role': 'standby' } };
    for (const statement of statements)
      expect(allows(statement.Condition, request)).toBe(verdict === 'allowed');
  });
});
