/**
 * The database drill: a primary DB instance and its read replica, an alarm, the promotion and the
 * endpoint repoint. What moto cannot do, the drill does and says so: it publishes ReplicaLag
 * (PutMetricData, as RDS would), builds the EventBridge alarm event, and reports the promoted
 * replica as RDS does once a promotion completes (see functions/capabilities/database/local.ts).
 */

import { CreateDBInstanceReadReplicaCommand, DeleteDBInstanceCommand } from '@aws-sdk/client-rds';
import { alarmPath } from '../../drill/local-control-plane';
import { localReadiness, readinessDetail } from '../../drill/readiness';
import { drillLambdaContext, drillScenario, truncateWords } from '../../drill/timeline';
import { createReconcileHandler } from '../../handlers/reconcile';
import { DB_ALARM, DB_PRIMARY, DB_REPLICA, startDatabaseControlPlane } from './local';

export const databaseDrill = drillScenario(
  'database',
  'provision primary DB, read replica, private zone, alarm',
  async (endpoint) => {
    const local = await startDatabaseControlPlane(endpoint, { maxAttempts: 3 });
    return {
      local,
      detail: `${DB_PRIMARY} -> ${DB_REPLICA}, zone ${local.hostedZoneId}, alarm ${DB_ALARM}`,
    };
  },
  async (l, context) => {
    const alarms = alarmPath(l.clients.cloudwatch, () => l.controlPlane());
    const invokeSchedule = createReconcileHandler(() => l.controlPlane());
    const name = async () => (await l.endpointTarget()) ?? '(none)';

    await context.step('scheduled run: the endpoint name points at the primary', async () => {
      await invokeSchedule({}, drillLambdaContext);
      const at = await name();
      return { ok: at === (await l.addressOf(DB_PRIMARY)), detail: `db.shop.internal -> ${at}` };
    });

    await context.step('replica lag 2 s published (PutMetricData, as RDS would)', async () => {
      await l.publishLag(DB_REPLICA, 2);
      return { ok: true, detail: 'within maxReplicaLagSeconds 30' };
    });

    // Readiness: the drill breaks the standby and repairs it; the verdict flips and is posted once each way.
    const readiness = localReadiness(l, l.config);
    const databaseReady = async () =>
      (await readiness.check()).find((v) => v.part === 'database')?.verdict === 'ready';
    await context.step('readiness check: replica available, lag within budget: ready', async () => {
      const verdicts = await readiness.check();
      const db = verdicts.find((v) => v.part === 'database');
      return { ok: db?.verdict === 'ready' && readiness.posts() === 0, detail: readinessDetail(verdicts) };
    });

    await context.step('drill deletes the replica: readiness NOT READY, posted once', async () => {
      await l.clients.rds.send(
        new DeleteDBInstanceCommand({ DBInstanceIdentifier: DB_REPLICA, SkipFinalSnapshot: true }),
      );
      const verdicts = await readiness.check();
      const db = verdicts.find((v) => v.part === 'database');
      const metric = readiness.metrics.at(-1)?.find((v) => v.part === 'database')?.verdict;
      return {
        ok: db?.verdict === 'not-ready' && readiness.posts() === 1 && metric === 'not-ready',
        detail: `${readinessDetail(verdicts.filter((v) => v.part === 'database'))}; Slack posts ${readiness.posts()}; metric Readiness 0`,
      };
    });

    await context.step('readiness checked again while broken: nothing new posted', async () => {
      const ok = !(await databaseReady()) && readiness.posts() === 1;
      return { ok, detail: `still not ready; Slack posts ${readiness.posts()}` };
    });

    await context.step(
      'drill re-creates the replica, lag 1 s: readiness ready again, posted once',
      async () => {
        await l.clients.rds.send(
          new CreateDBInstanceReadReplicaCommand({
            DBInstanceIdentifier: DB_REPLICA,
            SourceDBInstanceIdentifier: DB_PRIMARY,
            DBInstanceClass: 'db.t3.micro',
          }),
        );
        await l.publishLag(DB_REPLICA, 1);
        const ok = (await databaseReady()) && readiness.posts() === 2;
        const again = (await databaseReady()) && readiness.posts() === 2;
        return { ok: ok && again, detail: `ready; Slack posts ${readiness.posts()} (one each way)` };
      },
    );

    await context.step('alarm goes to ALARM: fence the name, promote the replica', async () => {
      l.promotionReads = 1; // RDS reports the promotion under way (modifying) on the next read
      const [outcome] = (await alarms.set(DB_ALARM, 'ALARM', 'primary DB unreachable')).outcomes;
      const promoted = l.rdsCalls.get('PromoteReadReplicaCommand') ?? 0;
      return {
        ok: outcome?.kind === 'transitioned' && promoted === 1,
        detail: `${outcome?.kind}; PromoteReadReplica x${promoted}; name -> ${await name()}`,
      };
    });

    await context.step('scheduled run: promotion still under way, waits', async () => {
      await invokeSchedule({}, drillLambdaContext);
      const status = (await l.controlPlane().store.readService('shop')).statuses.database;
      return { ok: status?.phase === 'waiting', detail: truncateWords(status?.detail ?? '', 90) };
    });

    await context.step('scheduled run: replica writable, name repointed (INSYNC)', async () => {
      await invokeSchedule({}, drillLambdaContext);
      const status = (await l.controlPlane().store.readService('shop')).statuses.database;
      const at = await name();
      return {
        ok: status?.phase === 'converged' && at === (await l.addressOf(DB_REPLICA)),
        detail: `db.shop.internal -> ${at}`,
      };
    });

    await context.step('idle scheduled run: one promotion in all, nothing written', async () => {
      const before = (await l.controlPlane().store.readService('shop')).statuses.database?.updatedAt;
      await invokeSchedule({}, drillLambdaContext);
      const after = (await l.controlPlane().store.readService('shop')).statuses.database?.updatedAt;
      const promoted = l.rdsCalls.get('PromoteReadReplicaCommand') ?? 0;
      return {
        ok: before === after && promoted === 1,
        detail: `PromoteReadReplica x${promoted}, no status write`,
      };
    });
  },
);
