import {
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
} from '@aws-sdk/client-rds';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  type DatabaseTopologyOptions,
  DB_ALARM,
  DB_CLUSTER,
  DB_PRIMARY,
  DB_READER,
  DB_REPLICA,
  type LocalDatabase,
  startDatabaseControlPlane,
} from '../../functions/capabilities/database/local';
import { fenceTarget } from '../../functions/capabilities/database/planner';
import type { ServiceConfig } from '../../functions/config/schema';
import { localLambdaContext as lambdaContext } from '../../functions/drill/lambda-context';
import { countCalls, setAlarmAndBuildEvent } from '../../functions/drill/local-aws';
import { reconcileService } from '../../functions/engine/engine';
import { requestTransition } from '../../functions/engine/transition';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
import type { AlarmOutcome } from '../../functions/trigger/handle-alarm';

const endpoint = inject('motoEndpoint');

let local: LocalDatabase;

const service = () => local.config.services[0] as ServiceConfig;
const deliver = (event: unknown) =>
  createAlarmHandler(() => local.controlPlane())(event, lambdaContext) as Promise<AlarmOutcome[]>;
const scheduledRun = () => createReconcileHandler(() => local.controlPlane())({}, lambdaContext);
const alarm = () =>
  setAlarmAndBuildEvent(local.clients.cloudwatch, DB_ALARM, 'ALARM', 'Threshold Crossed', local.clock.now());
const record = () => local.controlPlane().store.readService('shop');
const promotions = () => local.rdsCalls.get('PromoteReadReplicaCommand') ?? 0;
const slackTexts = () => local.sink.messages.map((m) => m.body.text ?? '');

const start = async (options: DatabaseTopologyOptions = {}) => {
  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  local = await startDatabaseControlPlane(endpoint, options);
  // The first reconcile after deploy creates the endpoint name on the writer (the primary).
  const cp = local.controlPlane();
  await reconcileService(cp, service());
  await cp.reporter.flush();
  local.rdsCalls.clear();
};

afterEach(async () => {
  await local?.stop();
});

describe('database failover of an RDS read replica against the local AWS', () => {
  it('creates the endpoint name on the primary, then an idle scheduled run only reads', async () => {
    await start();
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_PRIMARY));
    const dynamo = countCalls(local.clients.dynamodb);
    const cloudwatch = countCalls(local.clients.cloudwatch);

    await scheduledRun();

    const writes = [...dynamo.keys()].filter((name) => !/^(Query|Get|BatchGet|Scan)/.test(name));
    expect(writes).toEqual([]);
    expect([...local.rdsCalls.keys()]).toEqual(['DescribeDBInstancesCommand']);
    // Lag is read only when a promotion is in question.
    expect(cloudwatch.get('GetMetricDataCommand') ?? 0).toBe(0);
  });

  it('promotes the replica on an ALARM, fences the name first, and repoints it once the replica is writable', async () => {
    await start();
    local.promotionReads = 2; // RDS takes minutes: the harness reports `modifying` for two reads
    await local.publishLag(DB_REPLICA, 3);

    const [outcome] = await deliver(await alarm());

    expect(outcome).toMatchObject({ kind: 'transitioned', epoch: 1, changed: ['database'] });
    expect(promotions()).toBe(1);
    // Fenced: the name no longer points at the old primary while the promotion runs.
    expect(await local.endpointTarget()).toBe(fenceTarget(1));
    expect((await record()).statuses.database).toMatchObject({
      phase: 'waiting',
      pending: { promotedEpoch: '1' },
    });

    await scheduledRun(); // modifying
    await scheduledRun(); // modifying
    expect(await local.endpointTarget()).toBe(fenceTarget(1));
    expect((await record()).statuses.database?.detail).toMatch(
      /waiting until it is writable \(status modifying\)/,
    );

    await scheduledRun(); // writable: repoint and verify

    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_REPLICA));
    const state = await record();
    expect(state.statuses.database).toMatchObject({ phase: 'converged', epoch: 1 });
    expect(state.statuses.database?.detail).toMatch(/INSYNC/);
    expect(promotions()).toBe(1);
    const texts = slackTexts();
    expect(
      texts.some((t) => t.includes('route53:ChangeResourceRecordSets') && t.includes('stops pointing')),
    ).toBe(true);
    expect(texts.some((t) => t.includes('rds:PromoteReadReplica'))).toBe(true);
    expect(texts.some((t) => t.includes('Converged') && t.includes(DB_REPLICA))).toBe(true);

    // Converged, and the plan says how to re-protect: the old primary is a standalone copy now.
    const [report] = await reconcileService(local.controlPlane(), service(), ['database'], { dryRun: true });
    expect(report?.plan).toMatchObject({ kind: 'converged' });
    expect(report?.detail).toMatch(
      /Unprotected.*npx --no-install understudyctl failback shop creates a new read replica/,
    );
  });

  it('refuses while the replica lags over budget, reports it once, and promotes once the lag drops', async () => {
    await start({ maxReplicaLagSeconds: 30 });
    await local.publishLag(DB_REPLICA, 45);

    await deliver(await alarm());
    local.clock.advance(60_000);
    await local.publishLag(DB_REPLICA, 90); // the reading changes; the refusal does not
    await scheduledRun();

    expect(promotions()).toBe(0);
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_PRIMARY));
    const refused = (await record()).statuses.database;
    expect(refused).toMatchObject({ phase: 'refused' });
    expect(refused?.detail).toMatch(/ReplicaLag is over the budget of 30 s/);
    expect(slackTexts().filter((t) => t.includes('over the budget'))).toHaveLength(1);

    local.clock.advance(60_000);
    await local.publishLag(DB_REPLICA, 4);
    await scheduledRun(); // fence + promote
    await scheduledRun(); // repoint

    expect(promotions()).toBe(1);
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_REPLICA));
    expect((await record()).statuses.database?.phase).toBe('converged');
  });

  it('never promotes a delayed replica automatically; an operator may, explicitly', async () => {
    await start({ delayedReplica: true });
    await local.publishLag(DB_REPLICA, 0);

    await deliver(await alarm());
    await scheduledRun();
    await scheduledRun();

    expect(promotions()).toBe(0);
    expect((await record()).statuses.database?.detail).toMatch(/delayed replica.*--allow-delayed-replica/);
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_PRIMARY));

    // The operator's explicit command (params are kept with the intent). The alarm already moved
    // the intent to the standby, so the operator first returns it (nothing was changed yet).
    const cp = local.controlPlane();
    const base = {
      service: 'shop',
      capabilities: ['database'] as const,
      requestedBy: 'operator:test',
      ignoreCooldown: true,
    };
    await requestTransition(cp, service(), { ...base, target: 'primary', reason: 'back' });
    await requestTransition(cp, service(), {
      ...base,
      target: 'standby',
      reason: 'promote the delayed replica',
      params: { allowDelayedReplica: true },
    });
    await cp.reporter.flush();
    await scheduledRun();

    expect(promotions()).toBe(1);
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_REPLICA));
  });

  it('turns 20 concurrent copies of the alarm event, and the runs after, into one promotion call', async () => {
    await start();
    local.promotionReads = 1;
    await local.publishLag(DB_REPLICA, 1);
    const event = await alarm();

    const outcomes = (await Promise.all(Array.from({ length: 20 }, () => deliver(event)))).flat();
    await scheduledRun();
    await deliver(event);
    await scheduledRun();
    await scheduledRun();

    expect(outcomes.filter((o) => o.kind === 'transitioned')).toHaveLength(1);
    expect(promotions()).toBe(1);
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_REPLICA));
    expect((await record()).desired.epoch).toBe(1);
  });

  it('finishes the repoint on the next run after a crash between promotion and repoint', async () => {
    await start();
    await local.publishLag(DB_REPLICA, 1);
    // The promotion reaches RDS, but the reconciler dies before it hears back (only the intent,
    // recorded before the call, is there).
    let crashes = 1;
    local.clients.rds.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'PromoteReadReplicaCommand' && crashes-- > 0) {
          throw Object.assign(new Error('Lambda timed out'), { name: 'TimeoutError' });
        }
        return result;
      },
      { step: 'initialize', name: 'harnessCrashAfterPromotion', priority: 'high' },
    );

    await deliver(await alarm());
    const afterCrash = await record();
    expect(afterCrash.statuses.database?.phase).toBe('failed');
    expect(afterCrash.statuses.database?.pending).toMatchObject({ promotedEpoch: '1' });
    expect(await local.endpointTarget()).toBe(fenceTarget(1));

    await scheduledRun();

    expect(promotions()).toBe(1);
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_REPLICA));
    expect((await record()).statuses.database?.phase).toBe('converged');
  });

  it('quarantines the old primary before announcing the new writer, when the config asks', async () => {
    await start({ fenceOldPrimary: 'quarantine-security-group' });
    await local.publishLag(DB_REPLICA, 1);

    await deliver(await alarm());
    await scheduledRun();

    const old = await local.clients.rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: DB_PRIMARY }),
    );
    expect(old.DBInstances?.[0]?.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId)).toEqual([
      'sg-0badc0ffee0000001',
    ]);
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_REPLICA));
    expect(local.rdsCalls.get('ModifyDBInstanceCommand')).toBe(1);
  });

  it('fails back by re-protection: a new replica of the new writer, zero lag, fence, promote, repoint', async () => {
    await start();
    await local.publishLag(DB_REPLICA, 1);
    await deliver(await alarm());
    await scheduledRun();
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_REPLICA));

    // The old primary diverged at the failover; failing back onto it would lose the new writes.
    const cp = local.controlPlane();
    await requestTransition(cp, service(), {
      service: 'shop',
      capabilities: ['database'],
      target: 'primary',
      requestedBy: 'operator:test',
      reason: 'fail back',
      ignoreCooldown: true,
    });
    await cp.reporter.flush();
    expect((await record()).statuses.database).toMatchObject({ phase: 'refused' });
    expect((await record()).statuses.database?.detail).toMatch(/no longer replicates from shop-db-replica/);

    // The operator removes the stale copy (a snapshot kept); the next run re-protects.
    await local.clients.rds.send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: DB_PRIMARY, SkipFinalSnapshot: true }),
    );
    await scheduledRun(); // create the replica
    expect(local.rdsCalls.get('CreateDBInstanceReadReplicaCommand')).toBe(1);
    local.clock.advance(60_000);
    await local.publishLag(DB_PRIMARY, 2);
    await scheduledRun(); // fence
    expect(await local.endpointTarget()).toBe(fenceTarget(2));
    await scheduledRun(); // lag is 2 s: a planned switch waits for zero
    expect(promotions()).toBe(1);
    expect((await record()).statuses.database?.detail).toMatch(/zero ReplicaLag/);
    local.clock.advance(60_000);
    await local.publishLag(DB_PRIMARY, 0);
    await scheduledRun(); // promote
    await scheduledRun(); // repoint

    expect(promotions()).toBe(2);
    expect(await local.endpointTarget()).toBe(await local.addressOf(DB_PRIMARY));
    expect((await record()).statuses.database).toMatchObject({ phase: 'converged', epoch: 2 });
  });
});

describe('Aurora cluster failover against the local AWS', () => {
  it('fails the cluster over to the configured reader and keeps the name on the cluster endpoint', async () => {
    await start({ kind: 'aurora-cluster' });
    const clusterEndpoint = async () =>
      `${(await local.clients.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: DB_CLUSTER }))).DBClusters?.[0]?.Endpoint}.`;
    expect(await local.endpointTarget()).toBe(await clusterEndpoint());
    await local.publishLag(DB_READER, 0.02, 'AuroraReplicaLag');

    await deliver(await alarm());
    await scheduledRun();

    expect(local.rdsCalls.get('FailoverDBClusterCommand')).toBe(1);
    const cluster = await local.clients.rds.send(
      new DescribeDBClustersCommand({ DBClusterIdentifier: DB_CLUSTER }),
    );
    const writer = cluster.DBClusters?.[0]?.DBClusterMembers?.find((m) => m.IsClusterWriter);
    expect(writer?.DBInstanceIdentifier).toBe(DB_READER);
    expect(await local.endpointTarget()).toBe(await clusterEndpoint());
    expect((await record()).statuses.database).toMatchObject({ phase: 'converged', epoch: 1 });
  });
});
