import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CAPABILITY_MODULES } from '../../functions/capabilities/registry';
import { parseConfig } from '../../functions/config/schema';
import type { CapabilityModule } from '../../functions/engine/module';
import { Reporter } from '../../functions/engine/reporter';
import { evaluateReadiness, type ReadinessPlane, SHARED_PART } from '../../functions/readiness/engine';
import {
  type CapabilityReadiness,
  notReady,
  type RequiredCall,
  ready,
} from '../../functions/readiness/finding';
import { iamSimulate, permissionCheck, type SharedChecks } from '../../functions/readiness/shared';
import { createClientKit } from '../../functions/runtime/client-kit';
import { FakeClock, FakeStore, minimalInput, RecordingLog, RecordingNotifier } from './fixtures';

const config = parseConfig(minimalInput());
const dnsModule = CAPABILITY_MODULES[0];

/** The registry's first module (the one the minimal config configures), its readiness scripted. */
const scripted = (answer: () => Promise<CapabilityReadiness>): CapabilityModule =>
  ({ ...dnsModule, readiness: answer }) as CapabilityModule;

const plane = (
  module: CapabilityModule,
  shared: Partial<SharedChecks> = {},
): ReadinessPlane & { store: FakeStore; notifier: RecordingNotifier; clock: FakeClock } => {
  const store = new FakeStore();
  const notifier = new RecordingNotifier();
  const log = new RecordingLog();
  const clock = new FakeClock();
  return {
    config,
    modules: [module],
    store,
    notifier,
    reporter: new Reporter(store, notifier, log),
    clock,
    log,
    context: {} as never,
    shared: {
      slack: async () => ready('failover', 'slack-secret', 'secret holds a Slack webhook URL'),
      permissions: async () => [],
      ...shared,
    },
  };
};

describe('the readiness engine', () => {
  it('posts a change once each way, and a first check that is ready not at all', async () => {
    let healthy = true;
    const p = plane(
      scripted(async () => ({
        findings: [
          healthy
            ? ready('failover', 'standby-health', 'the standby passes')
            : notReady('failover', 'standby-health', 'the standby fails its health check'),
        ],
      })),
    );
    const run = async () => {
      p.clock.advance(60_000);
      const verdicts = await evaluateReadiness(p);
      await p.reporter.flush();
      return verdicts;
    };
    await run();
    expect(p.notifier.sent).toHaveLength(0);
    healthy = false;
    const broken = await run();
    await run();
    expect(broken.find((v) => v.part === dnsModule.name)?.verdict).toBe('not-ready');
    expect(p.notifier.sent.map((e) => e.message)).toEqual([
      `shop: ${dnsModule.name} NOT READY: failover standby-health: the standby fails its health check`,
    ]);
    healthy = true;
    await run();
    await run();
    expect(p.notifier.sent.map((e) => `${e.kind} ${e.capability}`)).toEqual([
      `readiness ${dnsModule.name}`,
      `readiness ${dnsModule.name}`,
    ]);
    expect(p.notifier.sent[1]?.message).toMatch(/ready again/);
    const [stored] = (await p.store.readReadiness('shop')).filter((r) => r.part === dnsModule.name);
    expect(stored?.verdict).toBe('ready');
  });

  it('tells about a first check that is not ready', async () => {
    const p = plane(scripted(async () => ({ findings: [notReady('failover', 'x', 'broken')] })));
    await evaluateReadiness(p);
    await p.reporter.flush();
    expect(p.notifier.sent).toHaveLength(1);
  });

  it('reports a check that throws as not ready, with the error in one line', async () => {
    const p = plane(
      scripted(async () => {
        throw new Error('Route 53 GetHealthCheckStatus failed: Throttling\n  at stack');
      }),
    );
    const [verdict] = await evaluateReadiness(p, config.services, { record: false });
    expect(verdict?.verdict).toBe('not-ready');
    expect(verdict?.findings[0]?.reason).toBe(
      'could not be checked: Route 53 GetHealthCheckStatus failed: Throttling',
    );
    expect(p.store.readiness.size).toBe(0);
  });

  it('adds the IAM check of the calls and the shared Slack check', async () => {
    const call: RequiredCall = {
      direction: 'failover',
      action: 'route53:ChangeResourceRecordSets',
      resource: '*',
    };
    const p = plane(
      scripted(async () => ({ findings: [], calls: [call] })),
      {
        permissions: async (calls) =>
          calls.map((c) => notReady(c.direction, 'permissions', `role may not ${c.action}`)),
        slack: async () => notReady('failover', 'slack-secret', 'secret x does not exist'),
      },
    );
    const verdicts = await evaluateReadiness(p);
    expect(verdicts.map((v) => `${v.part} ${v.verdict}`)).toEqual([
      `${dnsModule.name} not-ready`,
      `${SHARED_PART} not-ready`,
    ]);
  });
});

describe('the IAM check (iam:SimulatePrincipalPolicy)', () => {
  const iam = mockClient(IAMClient);
  afterEach(() => iam.reset());
  const role = 'arn:aws:iam::111111111111:role/understudy-ReconcilerHandlerRole-ABC';
  const calls: RequiredCall[] = [
    {
      direction: 'failover',
      action: 'rds:PromoteReadReplica',
      resource: 'arn:aws:rds:eu-west-2:111111111111:db:r',
    },
    {
      direction: 'failover',
      action: 'route53:ChangeResourceRecordSets',
      resource: 'arn:aws:route53:::hostedzone/Z1',
      context: { 'route53:ChangeResourceRecordSetsActions': ['UPSERT'] },
    },
  ];

  it('simulates the role on each call, with the context its conditions read, and names what is denied', async () => {
    iam.on(SimulatePrincipalPolicyCommand).callsFake(async (input: { ActionNames: string[] }) => ({
      EvaluationResults: input.ActionNames.map((a) => ({
        EvalActionName: a,
        EvalDecision: a === 'rds:PromoteReadReplica' ? 'implicitDeny' : 'allowed',
      })),
    }));
    const check = permissionCheck(
      [role],
      iamSimulate(createClientKit({ region: 'eu-west-2', maxAttempts: 1 })),
    );
    const [finding] = await check(calls);
    expect(finding).toEqual(
      notReady(
        'failover',
        'permissions',
        'understudy-ReconcilerHandlerRole-ABC may not rds:PromoteReadReplica on arn:aws:rds:eu-west-2:111111111111:db:r (implicitDeny)',
      ),
    );
    const sent = iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input);
    expect(sent).toContainEqual({
      PolicySourceArn: role,
      ActionNames: ['route53:ChangeResourceRecordSets'],
      ResourceArns: ['arn:aws:route53:::hostedzone/Z1'],
      ContextEntries: [
        {
          ContextKeyName: 'route53:ChangeResourceRecordSetsActions',
          ContextKeyValues: ['UPSERT'],
          ContextKeyType: 'stringList',
        },
      ],
      Marker: undefined,
    });
  });

  it('is ready when every call is allowed, following every page', async () => {
    iam
      .on(SimulatePrincipalPolicyCommand)
      .resolvesOnce({
        EvaluationResults: [{ EvalActionName: 'x', EvalDecision: 'allowed' }],
        IsTruncated: true,
        Marker: 'm',
      })
      .resolves({ EvaluationResults: [{ EvalActionName: 'y', EvalDecision: 'allowed' }] });
    const check = permissionCheck(
      [role],
      iamSimulate(createClientKit({ region: 'eu-west-2', maxAttempts: 1 })),
    );
    const [finding] = await check(calls.slice(0, 1));
    expect(finding?.state).toBe('ready');
    expect(iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input.Marker)).toEqual([
      undefined,
      'm',
    ]);
  });

  it('skips, never passes, when it cannot simulate (no role known, or IAM does not answer)', async () => {
    expect((await permissionCheck([], async () => [])(calls))[0]?.state).toBe('skipped');
    iam.on(SimulatePrincipalPolicyCommand).rejects(new Error('Unexpected end of JSON input'));
    const check = permissionCheck(
      [role],
      iamSimulate(createClientKit({ region: 'eu-west-2', maxAttempts: 1 })),
    );
    const [finding] = await check(calls);
    expect(finding?.state).toBe('skipped');
    expect(finding?.reason).toMatch(/could not simulate/);
  });

  it('asks IAM once per role, actions, resource and context in one evaluation', async () => {
    let asked = 0;
    const check = permissionCheck([role], async ({ actions }) => {
      asked++;
      return actions.map((action) => ({ action, allowed: true, decision: 'allowed' }));
    });
    await check(calls);
    await check(calls);
    expect(asked).toBe(2);
  });
});
