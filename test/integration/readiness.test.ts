import { RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateDBInstanceReadReplicaCommand, DeleteDBInstanceCommand } from '@aws-sdk/client-rds';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { DeleteReceiptRuleSetCommand, VerifyDomainIdentityCommand } from '@aws-sdk/client-ses';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type LocalCompute, startLocalCompute } from '../../functions/capabilities/compute/local';
import {
  DB_PRIMARY,
  DB_REPLICA,
  type LocalDatabase,
  startDatabaseControlPlane,
} from '../../functions/capabilities/database/local';
import { startLocalControlPlane } from '../../functions/capabilities/dns/local';
import { receiptRuleSetName } from '../../functions/capabilities/mail/config';
import { type LocalMail, MAIL_DOMAIN, startLocalMail } from '../../functions/capabilities/mail/local';
import { main } from '../../functions/cli/main';
import { noProgress } from '../../functions/cli/progress';
import { supplyHealthCheckStatus } from '../../functions/drill/local-aws';
import type { LocalHarness } from '../../functions/drill/local-control-plane';
import { localReadiness } from '../../functions/drill/readiness';
import type { PartReadiness } from '../../functions/readiness/engine';
import { DynamoStateStore } from '../../functions/state/store';

const endpoint = inject('motoEndpoint');

let local: LocalHarness | undefined;

afterEach(async () => {
  await local?.stop();
  local = undefined;
});

const part = (verdicts: readonly PartReadiness[], name: string) => verdicts.find((v) => v.part === name);
const reasons = (verdicts: readonly PartReadiness[], name: string, state = 'not-ready') =>
  (part(verdicts, name)?.findings ?? [])
    .filter((f) => f.state === state)
    .map((f) => `${f.check}: ${f.reason}`);

const reset = () => fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });

describe('readiness against the local AWS', () => {
  it('an RDS replica: ready with its lag in budget, not ready once deleted or lagging, posted once each way', async () => {
    await reset();
    const db: LocalDatabase = await startDatabaseControlPlane(endpoint);
    local = db;
    const readiness = localReadiness(db, db.config);

    // No ReplicaLag datapoint yet: the lag is unknown, so a failover would be refused.
    let verdicts = await readiness.check();
    expect(reasons(verdicts, 'database')).toEqual([
      `replica-lag: no ReplicaLag reading of ${DB_REPLICA} in the last 5 minutes: its lag is unknown, so a failover would be refused`,
    ]);
    expect(readiness.posts()).toBe(1);

    await db.publishLag(DB_REPLICA, 3);
    verdicts = await readiness.check();
    expect(part(verdicts, 'database')?.verdict).toBe('ready');
    expect(part(verdicts, 'shared')?.verdict).toBe('ready');
    // moto does not implement iam:SimulatePrincipalPolicy: the IAM check is skipped and says so, never ready.
    expect(reasons(verdicts, 'database', 'skipped')).toEqual(
      expect.arrayContaining([
        "permissions: could not simulate the roles' policies: the IAM endpoint does not implement SimulatePrincipalPolicy (no answer it could parse)",
      ]),
    );
    expect(readiness.posts()).toBe(2);

    await db.clients.rds.send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: DB_REPLICA, SkipFinalSnapshot: true }),
    );
    verdicts = await readiness.check();
    expect(reasons(verdicts, 'database')).toEqual([`replica: replica ${DB_REPLICA} does not exist`]);
    await readiness.check();
    expect(readiness.posts()).toBe(3);

    await db.clients.rds.send(
      new CreateDBInstanceReadReplicaCommand({
        DBInstanceIdentifier: DB_REPLICA,
        SourceDBInstanceIdentifier: DB_PRIMARY,
        DBInstanceClass: 'db.t3.micro',
      }),
    );
    await db.publishLag(DB_REPLICA, 45);
    db.clock.advance(60_000);
    verdicts = await readiness.check();
    expect(reasons(verdicts, 'database')).toEqual([
      `replica-lag: ${DB_REPLICA}'s ReplicaLag is 45 s, over the budget of 30 s`,
    ]);
    expect(readiness.posts()).toBe(3);

    await db.publishLag(DB_REPLICA, 0);
    db.clock.advance(60_000);
    verdicts = await readiness.check();
    expect(part(verdicts, 'database')?.verdict).toBe('ready');
    expect(readiness.posts()).toBe(4);
    const texts = db.sink.messages.map((m) => m.body.text ?? '').filter((t) => t.includes('Readiness'));
    expect(texts.at(-1)).toMatch(/database ready again/);

    // Recorded in the state table, as `status` reads it.
    const store = new DynamoStateStore(
      db.clients.dynamodb,
      db.config.controlPlane.stateTableName,
      90,
      () => 'x',
    );
    const stored = await store.readReadiness('shop');
    expect(stored.map((r) => `${r.part} ${r.verdict}`).sort()).toEqual(['database ready', 'shared ready']);
    // The metric was given every verdict of every check.
    expect(readiness.metrics.at(-1)?.map((v) => v.part)).toEqual(['database', 'shared']);
  });

  it('compute: not ready once no spare can be started, ready again with a new spare; a missing Slack secret is not ready', async () => {
    await reset();
    const compute: LocalCompute = await startLocalCompute(endpoint, { standbys: 2, stoppedStandbys: 1 });
    local = compute;
    const readiness = localReadiness(compute, compute.topology.config);
    let verdicts = await readiness.check();
    expect(part(verdicts, 'compute')?.verdict).toBe('ready');
    expect(readiness.posts()).toBe(0);

    await compute.clients.ec2.send(
      new TerminateInstancesCommand({ InstanceIds: [...compute.topology.standbys] }),
    );
    verdicts = await readiness.check();
    expect(reasons(verdicts, 'compute')).toEqual([
      'spares: no spare that can be started (2 terminated or gone): nothing to put into service',
    ]);
    expect(readiness.posts()).toBe(1);

    await compute.clients.ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [{ Key: 'understudy:role', Value: 'standby' }] },
        ],
      }),
    );
    verdicts = await readiness.check();
    expect(part(verdicts, 'compute')?.verdict).toBe('ready');
    expect(readiness.posts()).toBe(2);

    const secret = compute.topology.config.controlPlane.slackWebhookSecretName ?? '';
    await compute.clients.secrets.send(
      new DeleteSecretCommand({ SecretId: secret, ForceDeleteWithoutRecovery: true }),
    );
    verdicts = await readiness.check();
    expect(reasons(verdicts, 'shared')).toEqual([`slack-secret: secret ${secret} does not exist`]);
  });

  it('understudy check, on real SDK clients through AWS_ENDPOINT_URL: exit 0 when ready, 1 with a line why', async () => {
    await reset();
    const db: LocalDatabase = await startDatabaseControlPlane(endpoint);
    local = db;
    await db.publishLag(DB_REPLICA, 2);
    const check = async () => {
      const out: string[] = [];
      const code = await main(['check', 'shop', '--config', 'shop.config.ts'], {
        stdout: (t) => out.push(t),
        stderr: (t) => out.push(t),
        loadConfig: async () => db.config,
        progress: noProgress,
        env: { UNDERSTUDY_ACTING_ROLE_ARNS: 'arn:aws:iam::123456789012:role/understudy-acting' },
      });
      return { code, text: out.join('') };
    };
    const ready = await check();
    expect(ready.code, ready.text).toBe(0);
    expect(ready.text).toContain('shop: ready');
    // moto answers SimulatePrincipalPolicy with a 500: listed as skipped, not as ready, and not failing.
    expect(ready.text).toContain(
      "database: skipped failover permissions: could not simulate the roles' policies: the IAM endpoint does not implement SimulatePrincipalPolicy",
    );

    await db.clients.rds.send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: DB_REPLICA, SkipFinalSnapshot: true }),
    );
    const broken = await check();
    expect(broken.code).toBe(1);
    expect(broken.text).toContain(
      `database: NOT READY failover replica: replica ${DB_REPLICA} does not exist`,
    );
    // The change is recorded (and told: the CLI's notifier posts to the real Slack, unreachable here).
    const store = new DynamoStateStore(
      db.clients.dynamodb,
      db.config.controlPlane.stateTableName,
      90,
      () => 'x',
    );
    const told = (await store.readAudit('shop')).filter((e) => e.kind === 'readiness');
    expect(told.map((e) => e.message)).toEqual([
      `shop: database NOT READY: failover replica: replica ${DB_REPLICA} does not exist`,
    ]);
  });

  it('mail: not ready until the domain is verified in SES, and once the receipt rule set is gone', async () => {
    await reset();
    // Readiness never talks to the primary: no mail server is needed here.
    const mail: LocalMail = await startLocalMail(endpoint, { host: '127.0.0.1', port: 2525 });
    local = mail;
    const readiness = localReadiness(mail, mail.config);
    let verdicts = await readiness.check();
    expect(reasons(verdicts, 'mail')).toEqual([
      `domain-verified: ${MAIL_DOMAIN} is not an SES identity: SES would refuse its mail`,
    ]);

    await mail.clients.ses.send(new VerifyDomainIdentityCommand({ Domain: MAIL_DOMAIN }));
    verdicts = await readiness.check();
    expect(part(verdicts, 'mail')?.verdict).toBe('ready');

    const ruleSet = receiptRuleSetName(mail.config.controlPlane.stackName);
    await mail.clients.ses.send(new DeleteReceiptRuleSetCommand({ RuleSetName: ruleSet }));
    verdicts = await readiness.check();
    expect(reasons(verdicts, 'mail')).toEqual([
      `receipt-rule-set: receipt rule set ${ruleSet} does not exist`,
    ]);
  });

  it("dns: not ready while the standby's health check fails (verdict supplied: moto reports every check healthy)", async () => {
    await reset();
    const dns = await startLocalControlPlane(endpoint);
    local = dns;
    const failing = new Set<string>();
    supplyHealthCheckStatus(dns.clients.route53, failing);
    const readiness = localReadiness(dns, dns.topology.config);
    expect(part(await readiness.check(), 'dns')?.verdict).toBe('ready');
    failing.add(dns.topology.standbyHealthCheckId);
    const verdicts = await readiness.check();
    expect(reasons(verdicts, 'dns').map((r) => r.split(':')[0])).toEqual([
      'standby-health www.shop.example.test.',
      'standby-health api.shop.example.test.',
    ]);
    expect(readiness.posts()).toBe(1);
    failing.clear();
    expect(part(await readiness.check(), 'dns')?.verdict).toBe('ready');
    expect(readiness.posts()).toBe(2);
  });
});
