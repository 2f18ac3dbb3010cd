/**
 * A simulated AWS for the concurrency model walk (test/unit/concurrency-model.test.ts): Route 53,
 * RDS, CloudWatch, EC2, ELBv2, SES, S3, the held-mail records and the primary mail server, in
 * memory. The control plane's real executors call it through fake SDK clients whose `send` behaves
 * like the SDK's: a round trip (a point where another run may go on), up to three attempts for
 * throttling and 5xx, and every attempt through the engine's call guard exactly as the client kit's
 * middleware runs it. Faults are injected per attempt: throttled (not applied), 5xx (not applied),
 * and a lost answer (applied, then 5xx).
 *
 * The rules the issue asks for are checked at the moment each mutating call lands (a call for a
 * non-current epoch or without the lease, a weighted pair or target group left all-off, traffic moved
 * to a side whose health check had failed, a second promotion in an epoch, a start repeated, mail
 * deleted before it was delivered or delivered twice); the walk checks the rest after every step.
 */

import type { SmtpConnector } from '../../functions/capabilities/mail/capability';
import { receiptRuleSetName } from '../../functions/capabilities/mail/config';
import type { HeldMessage, MailMeta } from '../../functions/capabilities/mail/held';
import { emptyMeta, messageSortKey } from '../../functions/capabilities/mail/held';
import { SmtpConnectionError } from '../../functions/capabilities/mail/smtp';
import type { MessageOutcome } from '../../functions/capabilities/mail/store';
import { currentCallGuard, guardedAttempt, isMutatingCall } from '../../functions/engine/call-guard';
import { FENCE_PROOF_MS } from '../../functions/engine/lease';
import type { FakeStore } from '../unit/fixtures';

export const HC_PRIMARY = '11111111-1111-4111-8111-111111111111';
export const HC_STANDBY = '22222222-2222-4222-8222-222222222222';
export const ZONE = 'ZSHOP';
export const DB_ZONE = 'ZINTERNAL';
export const WWW = 'www.shop.example.com.';
export const DB_NAME = 'db.shop.internal.';
export const DB_PRIMARY = 'shop-db';
export const DB_REPLICA = 'shop-db-standby';
export const TG = 'arn:aws:elasticloadbalancing:eu-west-2:111111111111:targetgroup/web/0123456789abcdef';
export const PRIMARIES = ['i-0000000000000a001', 'i-0000000000000a002'];
export const STANDBYS = ['i-0000000000000b001', 'i-0000000000000b002', 'i-0000000000000b003'];
export const SET_PRIMARY = 'shop-primary';
export const SET_STANDBY = 'shop-standby';
const ACCOUNT = '111111111111';

/** Random numbers from the walk's seed. */
export interface Rng {
  next(): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** What the walk knows about the run a call belongs to (set per invocation by the scheduler). */
export interface CallerView {
  readonly id: number;
  readonly kind: string;
  /** Health-check versions this run has read: a check that changed since is a race, not a rule broken. */
  readonly healthSeen: Map<string, number>;
  /** Target-health version this run last read. */
  targetsSeen?: number | undefined;
}

export interface Violation {
  readonly rule: string;
  readonly detail: string;
}

export type Fault = 'throttle' | '5xx' | 'lost';

interface SimRecord {
  readonly Name: string;
  readonly Type: string;
  readonly SetIdentifier?: string | undefined;
  readonly Weight?: number | undefined;
  readonly TTL?: number | undefined;
  readonly ResourceRecords?: readonly { readonly Value: string }[] | undefined;
  readonly HealthCheckId?: string | undefined;
}

interface SimDb {
  id: string;
  status: string;
  replicaOf?: string | undefined;
  readonly address: string;
  /** When a promotion or a creation in progress is done. */
  busyUntil?: number | undefined;
  /** AWS is eventually consistent: until then, a promotion just accepted still shows as an available replica. */
  visibleAt?: number | undefined;
}

interface SimInstance {
  state: 'pending' | 'running' | 'stopping' | 'stopped';
  since: number;
  tags: Record<string, string>;
  /** Until then, a start just accepted still shows as stopped. */
  visibleAt?: number | undefined;
}

interface SimTarget {
  readonly id: string;
  registeredAt: number;
  drainingSince?: number | undefined;
}

interface SimMessage {
  record: HeldMessage & Record<string, unknown>;
  /** Accepted by the primary, by these claims (run ids), in order. */
  accepted: string[];
  /** Deliveries accepted but never recorded: the claim's run died or lost the claim before it settled. */
  unrecorded: number;
  deleted: boolean;
}

const sdkError = (name: string, status: number, message = name) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

const retryable = (error: unknown): boolean => {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status !== undefined && (status >= 500 || (error as Error).name === 'Throttling');
};

/** The simulated world, shared by every run of one walk. */
export class SimAws {
  readonly violations: Violation[] = [];
  /** Counters for the report. */
  readonly counts = {
    calls: 0,
    mutating: 0,
    faults: 0,
    promotions: 0,
    deliveries: 0,
    redeliveries: 0,
    starts: 0,
    /** Mutating attempts whose fence was a write's proof, not a read; and those that met a newer epoch. */
    onProof: 0,
    onProofSuperseded: 0,
  };
  /** Mutating calls that reached AWS, by command. */
  readonly byApi = new Map<string, number>();
  now = Date.parse('2026-11-22T10:00:00.000Z');
  /** Where the walk's trace goes (debugging). */
  trace: ((line: string) => void) | undefined;
  /** Probability of a fault per attempt (0 while healing). */
  faultRate = 0.03;

  // Route 53
  readonly records = new Map<string, SimRecord>();
  readonly health = new Map<string, { healthy: boolean; version: number }>([
    [HC_PRIMARY, { healthy: true, version: 0 }],
    [HC_STANDBY, { healthy: true, version: 0 }],
  ]);
  private readonly changes = new Map<string, number>();
  private changeSeq = 0;

  // RDS and CloudWatch
  readonly dbs = new Map<string, SimDb>();
  lagSeconds = 2;
  /** Promotions applied, by service epoch. */
  readonly promotionsByEpoch = new Map<number, number>();

  // EC2 and ELBv2
  readonly instances = new Map<string, SimInstance>();
  readonly targets = new Map<string, SimTarget>();
  primarySick = false;
  standbySick = false;
  /** Grows whenever target health can drop for reasons of the world (a site falls sick). */
  targetHealthVersion = 0;

  // Mail
  readonly messages = new Map<string, SimMessage>();
  meta: MailMeta = emptyMeta;
  mailPrimaryDown = false;
  private messageSeq = 0;

  constructor(
    private readonly rng: Rng,
    private readonly tick: () => Promise<void>,
    private readonly store: FakeStore,
    private readonly caller: () => CallerView | undefined,
  ) {
    const weighted = (set: string, weight: number, value: string, hc: string): SimRecord => ({
      Name: WWW,
      Type: 'A',
      SetIdentifier: set,
      Weight: weight,
      TTL: 60,
      ResourceRecords: [{ Value: value }],
      HealthCheckId: hc,
    });
    this.records.set(`${ZONE} ${WWW} A ${SET_PRIMARY}`, weighted(SET_PRIMARY, 1, '192.0.2.10', HC_PRIMARY));
    this.records.set(
      `${ZONE} ${WWW} A ${SET_STANDBY}`,
      weighted(SET_STANDBY, 0, '198.51.100.10', HC_STANDBY),
    );
    this.dbs.set(DB_PRIMARY, { id: DB_PRIMARY, status: 'available', address: `${DB_PRIMARY}.rds.test` });
    this.dbs.set(DB_REPLICA, {
      id: DB_REPLICA,
      status: 'available',
      replicaOf: DB_PRIMARY,
      address: `${DB_REPLICA}.rds.test`,
    });
    this.records.set(`${DB_ZONE} ${DB_NAME} CNAME`, {
      Name: DB_NAME,
      Type: 'CNAME',
      TTL: 30,
      ResourceRecords: [{ Value: `${DB_PRIMARY}.rds.test` }],
    });
    for (const id of PRIMARIES) {
      this.instances.set(id, { state: 'running', since: 0, tags: {} });
      this.targets.set(id, { id, registeredAt: 0 });
    }
    const [s1, s2, s3] = STANDBYS as [string, string, string];
    this.instances.set(s1, { state: 'running', since: 0, tags: {} });
    this.instances.set(s2, { state: 'running', since: 0, tags: {} });
    this.instances.set(s3, { state: 'stopped', since: 0, tags: {} });
  }

  violation(rule: string, detail: string): void {
    this.violations.push({ rule, detail });
  }

  // ---- the SDK's side: one call, attempts, faults, the guard -------------------------------------

  /** One SDK call as the client kit makes it: in flight, then up to three guarded attempts. */
  async call(clientName: string, commandName: string, input: Record<string, unknown>): Promise<unknown> {
    this.counts.calls++;
    await this.tick();
    for (let attempt = 1; ; attempt++) {
      try {
        return await guardedAttempt(clientName, commandName, async () =>
          this.attempt(clientName, commandName, input),
        );
      } catch (error) {
        if (attempt >= 3 || !retryable(error)) throw error;
        await this.tick(); // the SDK's backoff: another run may go on meanwhile
      }
    }
  }

  private attempt(clientName: string, commandName: string, input: Record<string, unknown>): unknown {
    const mutating = isMutatingCall(clientName, commandName);
    const fault: Fault | undefined = this.rng.chance(this.faultRate)
      ? this.rng.pick<Fault>(mutating ? ['throttle', '5xx', 'lost'] : ['throttle', '5xx'])
      : undefined;
    if (fault) this.counts.faults++;
    if (fault === 'throttle') throw sdkError('Throttling', 400, 'Rate exceeded');
    if (fault === '5xx') throw sdkError('InternalFailure', 500, 'We encountered an internal error');
    if (mutating) {
      const guard = currentCallGuard();
      this.trace?.(
        `  call ${commandName} ${JSON.stringify(input).slice(0, 120)} by epoch ${guard?.epoch} token ${guard?.token}${fault ? ` (${fault})` : ''}`,
      );
      this.counts.mutating++;
      this.byApi.set(commandName, (this.byApi.get(commandName) ?? 0) + 1);
      this.checkWriter(`${clientName} ${commandName}`);
    }
    const out = this.handle(commandName.replace(/Command$/, ''), input);
    if (fault === 'lost')
      throw sdkError('InternalFailure', 500, 'connection reset after the request was sent');
    return out;
  }

  /** No mutating call for a non-current epoch, nor without the service's lease. */
  checkWriter(what: string): number | undefined {
    const guard = currentCallGuard();
    if (!guard) {
      this.violation('writer', `${what} made outside any fenced action`);
      return undefined;
    }
    const epoch = this.store.desired.get(guard.service)?.epoch ?? 0;
    // A call that left on its transition's proof (lease.ts, FenceProof) may meet an epoch written
    // after that proof, as a call may meet one written after its fence read: allowed only within
    // FENCE_PROOF_MS of a proof the store really committed (this epoch with this lease token).
    const proven =
      guard.provenAt !== undefined &&
      this.now - guard.provenAt <= FENCE_PROOF_MS &&
      this.store.fenceProofs.has(`${guard.service}/${guard.epoch}/${guard.token}`);
    if (guard.provenAt !== undefined) this.counts.onProof++;
    if (guard.epoch !== epoch && proven) this.counts.onProofSuperseded++;
    if (guard.epoch !== epoch && !proven) {
      this.violation(
        'epoch',
        `${what} for epoch ${guard.epoch} of ${guard.service}, which is at epoch ${epoch}`,
      );
    }
    const lease = this.store.leases.get(guard.service);
    if (lease?.token !== guard.token || lease.until <= this.now) {
      this.violation(
        'lease',
        `${what} by lease token ${guard.token} of ${guard.service}; the lease is ${lease ? `token ${lease.token} until ${lease.until - this.now} ms from now` : 'untaken'}`,
      );
    }
    return guard.epoch;
  }

  private handle(api: string, input: Record<string, unknown>): unknown {
    switch (api) {
      case 'ListResourceRecordSets':
        return this.listRecords(input);
      case 'GetHealthCheckStatus':
        return this.healthStatus(String(input.HealthCheckId));
      case 'GetChange':
        return {
          ChangeInfo: {
            Id: input.Id,
            Status: this.now >= (this.changes.get(String(input.Id)) ?? 0) ? 'INSYNC' : 'PENDING',
          },
        };
      case 'ChangeResourceRecordSets':
        return this.changeRecords(input);
      case 'DescribeDBInstances':
        return this.describeDb(String(input.DBInstanceIdentifier));
      case 'PromoteReadReplica':
        return this.promote(String(input.DBInstanceIdentifier));
      case 'CreateDBInstanceReadReplica':
        return this.createReplica(
          String(input.DBInstanceIdentifier),
          String(input.SourceDBInstanceIdentifier),
        );
      case 'GetMetricData':
        return { MetricDataResults: this.metricData(input) };
      case 'DescribeInstances':
        return this.describeInstances(input);
      case 'StartInstances':
        return this.startInstances(input.InstanceIds as string[]);
      case 'StopInstances':
        for (const id of input.InstanceIds as string[]) {
          const i = this.instance(id);
          if (i.state === 'running' || i.state === 'pending')
            Object.assign(i, { state: 'stopping', since: this.now });
        }
        return {};
      case 'CreateTags':
      case 'DeleteTags':
        for (const id of input.Resources as string[]) {
          const i = this.instance(id);
          for (const tag of input.Tags as { Key: string; Value?: string }[]) {
            if (api === 'CreateTags') i.tags[tag.Key] = tag.Value ?? '';
            else delete i.tags[tag.Key];
          }
        }
        return {};
      case 'DescribeTargetHealth':
        return this.describeTargets();
      case 'RegisterTargets':
        return this.register((input.Targets as { Id: string }[]).map((t) => t.Id));
      case 'DeregisterTargets':
        return this.deregister((input.Targets as { Id: string }[]).map((t) => t.Id));
      case 'DescribeActiveReceiptRuleSet':
        return { Metadata: { Name: receiptRuleSetName('understudy') } };
      case 'DescribeReceiptRule':
        return { Rule: { Name: String(input.RuleName), Enabled: true } };
      case 'SetActiveReceiptRuleSet':
      case 'UpdateReceiptRule':
        return {};
      case 'GetObject':
        return this.getObject(String(input.Key));
      case 'DeleteObject':
        return this.deleteObject(String(input.Key));
      default:
        throw sdkError('UnknownOperation', 400, `the simulated AWS has no ${api}`);
    }
  }

  // ---- Route 53 -------------------------------------------------------------------------------------

  /** Route 53's paging: record sets in name-then-type order, from the given start, MaxItems at a time. */
  private listRecords(input: Record<string, unknown>) {
    const zone = String(input.HostedZoneId);
    const key = (r: SimRecord) => `${r.Name} ${r.Type} ${r.SetIdentifier ?? ''}`;
    const all = [...this.records.entries()]
      .filter(([k]) => k.startsWith(`${zone} `))
      .map(([, r]) => r)
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const startName =
      input.StartRecordName === undefined
        ? undefined
        : String(input.StartRecordName).toLowerCase().replace(/\.?$/, '.');
    const start =
      startName === undefined
        ? ''
        : `${startName} ${input.StartRecordType ?? ''} ${input.StartRecordIdentifier ?? ''}`;
    const from = all.filter((r) => key(r) >= start);
    const max = Number(input.MaxItems ?? 300);
    const page = from.slice(0, max);
    const next = from[max];
    return {
      ResourceRecordSets: page.map((r) => structuredClone(r)),
      IsTruncated: next !== undefined,
      ...(next && {
        NextRecordName: next.Name,
        NextRecordType: next.Type,
        NextRecordIdentifier: next.SetIdentifier,
      }),
    };
  }

  /** Replica lag, and Route 53's HealthCheckStatus metric as the batched health reader asks for it. */
  private metricData(input: Record<string, unknown>) {
    const queries = (input.MetricDataQueries ?? []) as {
      Id: string;
      MetricStat?: { Metric?: { MetricName?: string; Dimensions?: { Name: string; Value: string }[] } };
    }[];
    return queries.map((q) => {
      const metric = q.MetricStat?.Metric;
      if (metric?.MetricName === 'HealthCheckStatus') {
        const id = metric.Dimensions?.find((d) => d.Name === 'HealthCheckId')?.Value ?? '';
        const check = this.health.get(id);
        const view = this.caller();
        if (check && view) view.healthSeen.set(id, check.version);
        return { Id: q.Id, Timestamps: [new Date(this.now)], Values: [check?.healthy ? 1 : 0] };
      }
      return { Id: q.Id, Timestamps: [new Date(this.now - 30_000)], Values: [this.lagSeconds] };
    });
  }

  private healthStatus(id: string) {
    const check = this.health.get(id);
    const view = this.caller();
    if (check && view) view.healthSeen.set(id, check.version);
    const status = check?.healthy ? 'Success: HTTP Status Code 200, OK' : 'Failure: Connection timed out';
    return {
      HealthCheckObservations: ['eu-west-1', 'us-east-1', 'ap-southeast-1'].map((Region) => ({
        Region,
        StatusReport: { Status: status },
      })),
    };
  }

  /** The weighted pair's side that takes the traffic (weight > 0), or undefined for none or both. */
  servingSide(): 'primary' | 'standby' | 'none' | 'both' {
    const p = this.records.get(`${ZONE} ${WWW} A ${SET_PRIMARY}`)?.Weight ?? 0;
    const s = this.records.get(`${ZONE} ${WWW} A ${SET_STANDBY}`)?.Weight ?? 0;
    return p > 0 && s > 0 ? 'both' : p > 0 ? 'primary' : s > 0 ? 'standby' : 'none';
  }

  private changeRecords(input: Record<string, unknown>) {
    const zone = String(input.HostedZoneId);
    const before = this.servingSide();
    const changes = (input.ChangeBatch as { Changes: { Action: string; ResourceRecordSet: SimRecord }[] })
      .Changes;
    for (const change of changes) {
      const set = change.ResourceRecordSet;
      const name = set.Name.toLowerCase().replace(/\.?$/, '.');
      this.records.set(`${zone} ${name} ${set.Type}${set.SetIdentifier ? ` ${set.SetIdentifier}` : ''}`, {
        ...structuredClone(set),
        Name: name,
      });
    }
    const after = this.servingSide();
    if (zone === ZONE) {
      if (after === 'none' || after === 'both') {
        this.violation('weighted pair', `a change left ${WWW} with ${after} side(s) weighted`);
      }
      // Traffic moved to a side: its health check must not have failed before the write.
      if (after !== before && (after === 'primary' || after === 'standby')) {
        const id = after === 'primary' ? HC_PRIMARY : HC_STANDBY;
        const check = this.health.get(id);
        const seen = this.caller()?.healthSeen.get(id);
        const raced = seen !== undefined && seen !== check?.version;
        if (!check?.healthy && !raced) {
          this.violation(
            'health',
            `traffic moved to the ${after}, whose health check ${id} had failed (read by this run: ${seen !== undefined})`,
          );
        }
      }
    }
    const id = `/change/C${++this.changeSeq}`;
    this.changes.set(id, this.now + this.rng.int(5, 60) * 1000);
    return { ChangeInfo: { Id: id, Status: 'PENDING', SubmittedAt: new Date(this.now) } };
  }

  /** What the database endpoint name points at now. */
  dbTarget(): string | undefined {
    return this.records.get(`${DB_ZONE} ${DB_NAME} CNAME`)?.ResourceRecords?.[0]?.Value;
  }

  // ---- RDS ----------------------------------------------------------------------------------------

  private progressDb(db: SimDb): SimDb {
    if (db.busyUntil !== undefined && this.now >= db.busyUntil) {
      db.busyUntil = undefined;
      if (db.status === 'modifying') db.replicaOf = undefined; // the promotion completed
      db.status = 'available';
    }
    return db;
  }

  private describeDb(id: string) {
    const db = this.dbs.get(id);
    if (!db) throw sdkError('DBInstanceNotFoundFault', 404, `DBInstance ${id} not found`);
    this.progressDb(db);
    const stale = db.visibleAt !== undefined && this.now < db.visibleAt;
    return {
      DBInstances: [
        {
          DBInstanceIdentifier: db.id,
          DBInstanceArn: `arn:aws:rds:eu-west-2:${ACCOUNT}:db:${db.id}`,
          DBInstanceStatus: stale ? 'available' : db.status,
          Endpoint: { Address: db.address },
          ReadReplicaSourceDBInstanceIdentifier: stale ? DB_PRIMARY : db.replicaOf,
          VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-00000001' }],
          DBInstanceClass: 'db.r6g.large',
        },
      ],
    };
  }

  private promote(id: string) {
    // Judged on the state AWS has now (a promotion may have finished since anyone last described it).
    const db = this.dbs.get(id);
    if (db) this.progressDb(db);
    const epoch = currentCallGuard()?.epoch ?? -1;
    if (db?.status !== 'available' || db.replicaOf === undefined) {
      this.violation(
        'promotion',
        `PromoteReadReplica sent for ${id}, which is ${db ? `${db.status}${db.replicaOf ? '' : ', no replica'}` : 'missing'} (epoch ${epoch})`,
      );
      throw sdkError('InvalidDBInstanceState', 400, `${id} is not a replica that can be promoted`);
    }
    const count = (this.promotionsByEpoch.get(epoch) ?? 0) + 1;
    this.promotionsByEpoch.set(epoch, count);
    this.counts.promotions++;
    if (count > 1) this.violation('promotion', `a second promotion in epoch ${epoch}`);
    Object.assign(db, {
      status: 'modifying',
      busyUntil: this.now + this.rng.int(30, 180) * 1000,
      visibleAt: this.now + this.rng.int(0, 10) * 1000,
    });
    return { DBInstance: { DBInstanceIdentifier: id, DBInstanceStatus: 'modifying' } };
  }

  private createReplica(id: string, source: string) {
    if (this.dbs.has(id)) {
      this.violation('once', `CreateDBInstanceReadReplica sent for ${id}, which exists`);
      throw sdkError('DBInstanceAlreadyExists', 400, `${id} exists`);
    }
    this.dbs.set(id, {
      id,
      status: 'creating',
      replicaOf: source.split(':').at(-1),
      address: `${id}.rds.test`,
      busyUntil: this.now + this.rng.int(60, 300) * 1000,
    });
    return { DBInstance: { DBInstanceIdentifier: id, DBInstanceStatus: 'creating' } };
  }

  /** An operator deletes a standalone copy nobody points at (after a failover), so re-protection can go on. */
  deleteStaleCopy(): string | undefined {
    const target = this.dbTarget();
    for (const db of this.dbs.values()) {
      this.progressDb(db);
      const pointedAt = target === `${db.address}.` || target === db.address;
      if (db.status === 'available' && db.replicaOf === undefined && !pointedAt && this.dbs.size === 2) {
        const other = [...this.dbs.values()].find((d) => d.id !== db.id);
        if (other?.replicaOf === undefined && other?.status === 'available') {
          this.dbs.delete(db.id);
          return db.id;
        }
      }
    }
    return undefined;
  }

  // ---- EC2 and ELBv2 --------------------------------------------------------------------------------

  instance(id: string): SimInstance {
    const i = this.instances.get(id);
    if (!i) throw sdkError('InvalidInstanceID.NotFound', 400, `${id} not found`);
    if (i.state === 'pending' && this.now - i.since >= 20_000)
      Object.assign(i, { state: 'running', since: this.now });
    if (i.state === 'stopping' && this.now - i.since >= 20_000)
      Object.assign(i, { state: 'stopped', since: this.now });
    return i;
  }

  private describeInstances(input: Record<string, unknown>) {
    const filters = (input.Filters as { Name: string; Values: string[] }[] | undefined) ?? [];
    const ids = filters.find((f) => f.Name === 'instance-id')?.Values ?? [...this.instances.keys()];
    const found = ids.filter((id) => this.instances.has(id));
    return {
      Reservations: [
        {
          Instances: found.map((id) => {
            const i = this.instance(id);
            const stale = i.visibleAt !== undefined && this.now < i.visibleAt;
            return {
              InstanceId: id,
              State: { Name: stale ? 'stopped' : i.state },
              Tags: Object.entries(i.tags).map(([Key, Value]) => ({ Key, Value })),
            };
          }),
        },
      ],
    };
  }

  private startInstances(ids: readonly string[]) {
    for (const id of ids) {
      const i = this.instance(id);
      if (i.state !== 'stopped') {
        this.violation(
          'once',
          `StartInstances sent for ${id}, which is ${i.state} (epoch ${currentCallGuard()?.epoch})`,
        );
        continue;
      }
      this.counts.starts++;
      Object.assign(i, {
        state: 'pending',
        since: this.now,
        visibleAt: this.now + this.rng.int(0, 5) * 1000,
      });
    }
    return { StartingInstances: ids.map((InstanceId) => ({ InstanceId })) };
  }

  /** A target's health as ELBv2 would report it now. */
  targetState(t: SimTarget): 'initial' | 'healthy' | 'unhealthy' | 'draining' | undefined {
    if (t.drainingSince !== undefined) return this.now - t.drainingSince >= 30_000 ? undefined : 'draining';
    const i = this.instance(t.id);
    if (i.state !== 'running') return 'unhealthy';
    if (this.now - t.registeredAt < 15_000) return 'initial';
    const primary = PRIMARIES.includes(t.id);
    return (primary && this.primarySick) || (!primary && this.standbySick) ? 'unhealthy' : 'healthy';
  }

  private describeTargets() {
    const view = this.caller();
    if (view) view.targetsSeen = this.targetHealthVersion;
    const descriptions = [];
    for (const t of [...this.targets.values()]) {
      const state = this.targetState(t);
      if (state === undefined) this.targets.delete(t.id);
      else descriptions.push({ Target: { Id: t.id, Port: 8080 }, TargetHealth: { State: state } });
    }
    return { TargetHealthDescriptions: descriptions };
  }

  private register(ids: readonly string[]) {
    for (const id of ids) {
      if (this.instance(id).state !== 'running') throw sdkError('InvalidTarget', 400, `${id} is not running`);
    }
    for (const id of ids) {
      const t = this.targets.get(id);
      if (t && t.drainingSince === undefined) continue;
      this.targets.set(id, { id, registeredAt: this.now });
    }
    return {};
  }

  private deregister(ids: readonly string[]) {
    const healthyBefore = this.healthyTargets();
    for (const id of ids) {
      const t = this.targets.get(id);
      if (t && t.drainingSince === undefined) t.drainingSince = this.now;
    }
    const active = [...this.targets.values()].filter((t) => t.drainingSince === undefined);
    if (active.length === 0)
      this.violation('target group', `DeregisterTargets ${ids.join(', ')} left the group empty`);
    const raced = this.caller()?.targetsSeen !== this.targetHealthVersion;
    if (healthyBefore > 0 && this.healthyTargets() === 0 && !raced) {
      this.violation('target group', `DeregisterTargets ${ids.join(', ')} removed the last healthy target`);
    }
    return {};
  }

  healthyTargets(): number {
    return [...this.targets.values()].filter((t) => this.targetState(t) === 'healthy').length;
  }

  activeTargets(): number {
    return [...this.targets.values()].filter((t) => t.drainingSince === undefined).length;
  }

  /** A site falls sick or recovers: its health check, its servers' target health. */
  setSick(site: 'primary' | 'standby', sick: boolean): void {
    if (site === 'primary') this.primarySick = sick;
    else this.standbySick = sick;
    const check = this.health.get(site === 'primary' ? HC_PRIMARY : HC_STANDBY);
    if (check && check.healthy === sick) {
      check.healthy = !sick;
      check.version++;
    }
    if (sick) this.targetHealthVersion++;
  }

  // ---- Mail: S3 objects, the held-mail records, the primary mail server -----------------------------

  /** SES accepted a message for the primary and stored it (the recorder's work). */
  receiveMail(): void {
    const n = ++this.messageSeq;
    const messageId = `m${String(n).padStart(6, '0')}`;
    const receivedAt = new Date(this.now).toISOString();
    const record: HeldMessage = {
      service: 'shop-mail',
      messageId,
      receivedAt,
      bucket: 'held-mail',
      key: `shop-mail/${messageId}`,
      size: 1000,
      mailFrom: 'sender@example.org',
      recipients: ['orders@shop.example.com'],
      pendingRecipients: ['orders@shop.example.com'],
      rejectedRecipients: [],
      verdicts: {},
      status: 'held',
      attempts: 0,
    };
    this.messages.set(messageId, { record: { ...record }, accepted: [], unrecorded: 0, deleted: false });
  }

  private getObject(key: string) {
    const message = [...this.messages.values()].find((m) => m.record.key === key);
    if (!message || message.deleted) throw sdkError('NoSuchKey', 404, 'The specified key does not exist.');
    return {
      Body: {
        transformToByteArray: async () =>
          new TextEncoder().encode(`Message-ID: <${message.record.messageId}>\r\n\r\nhello\r\n`),
      },
    };
  }

  private deleteObject(key: string) {
    const message = [...this.messages.values()].find((m) => m.record.key === key);
    if (message && message.accepted.length === 0) {
      this.violation(
        'mail',
        `held message ${message.record.messageId} deleted before the primary accepted it`,
      );
    }
    if (message) message.deleted = true;
    return {};
  }

  /** The held-mail records (MailStore's contract: every status change conditional on status and claim). */
  mailStore() {
    const sim = this;
    const find = (m: Pick<HeldMessage, 'messageId'>) => sim.messages.get(m.messageId);
    return {
      async read(_service: string) {
        await sim.tick();
        const messages = [...sim.messages.values()]
          .filter((m) => m.record.status !== 'purged')
          .map((m) => structuredClone(m.record) as HeldMessage)
          .sort((a, b) => (messageSortKey(a) < messageSortKey(b) ? -1 : 1));
        return { messages, meta: { ...sim.meta } };
      },
      async claim(message: Pick<HeldMessage, 'messageId'>, runId: string, now: Date, leaseMs: number) {
        await sim.tick();
        const m = find(message);
        if (!m) return undefined;
        const r = m.record;
        const due =
          r.status === 'held' && (r.nextAttemptAt === undefined || r.nextAttemptAt <= now.toISOString());
        const expired = r.status === 'delivering' && (r.claimedUntil ?? '') < now.toISOString();
        if (!due && !expired) return undefined;
        if (expired && m.accepted.length > 0 && r.claimedBy === m.accepted.at(-1)) m.unrecorded++;
        Object.assign(r, {
          status: 'delivering',
          claimedBy: runId,
          claimedUntil: new Date(now.getTime() + leaseMs).toISOString(),
          attempts: r.attempts + 1,
        });
        return structuredClone(r) as HeldMessage;
      },
      async settle(message: Pick<HeldMessage, 'messageId'>, runId: string, outcome: MessageOutcome) {
        await sim.tick();
        const m = find(message);
        if (m?.record.status !== 'delivering' || m.record.claimedBy !== runId) return false;
        const r = m.record;
        Object.assign(r, {
          status: outcome.status,
          pendingRecipients: [...outcome.pendingRecipients],
          rejectedRecipients: [...outcome.rejectedRecipients],
          lastReply: outcome.lastReply,
          claimedBy: undefined,
          claimedUntil: undefined,
          nextAttemptAt: outcome.nextAttemptAt,
          ...(outcome.status === 'delivered' && { deliveredAt: outcome.at }),
        });
        return true;
      },
      async markPurged(message: Pick<HeldMessage, 'messageId'>, at: Date) {
        await sim.tick();
        const m = find(message);
        if (m?.record.status === 'delivered')
          Object.assign(m.record, { status: 'purged', purgedAt: at.toISOString() });
      },
      async updateMeta(_service: string, fields: Partial<MailMeta>) {
        await sim.tick();
        sim.meta = { ...sim.meta, ...fields };
      },
      async recordHeld() {
        return true;
      },
    };
  }

  /** The primary mail server: answers while it is up; accepts each message (250). */
  smtp(): SmtpConnector {
    const sim = this;
    return {
      async probe() {
        await sim.tick();
        return sim.mailPrimaryDown
          ? { ok: false, detail: 'connection refused' }
          : { ok: true, detail: '220 ready' };
      },
      async open() {
        await sim.tick();
        if (sim.mailPrimaryDown)
          throw new SmtpConnectionError('connect ECONNREFUSED mx1.shop.example.com:25');
        return {
          // The fence was read just before this (guardedAttempt): the send lands at once, and its
          // answer is what travels back (a point where other runs go on).
          async send(envelope, raw) {
            if (sim.mailPrimaryDown) throw new SmtpConnectionError('connection lost');
            sim.checkWriter('SMTP DeliverHeldMail');
            const id = new TextDecoder().decode(raw).match(/<(m\d+)>/)?.[1] ?? '';
            const m = sim.messages.get(id);
            if (m) {
              const claim = m.record.claimedBy ?? '?';
              if (m.accepted.length > m.unrecorded) {
                sim.violation(
                  'mail',
                  `held message ${id} delivered twice (claims ${[...m.accepted, claim].join(', ')})`,
                );
              }
              if (m.accepted.length > 0) sim.counts.redeliveries++;
              m.accepted.push(claim);
              sim.counts.deliveries++;
            }
            await sim.tick();
            return {
              accepted: [...envelope.recipients],
              deferred: [],
              rejected: [],
              reply: '250 2.0.0 Ok: queued',
            };
          },
          async close() {},
        };
      },
    };
  }

  /** A fake SDK client: `send` runs the call through the simulation as the client kit would. */
  client(clientName: string) {
    return {
      config: { serviceId: clientName },
      middlewareStack: { add() {} },
      send: (command: { constructor: { name: string }; input: Record<string, unknown> }) =>
        this.call(clientName, command.constructor.name, command.input),
    };
  }
}
