/**
 * Shared test doubles for the unit tests: a controllable clock, a recording log, an in-memory
 * StateStore with real compare-and-set semantics, a scriptable capability, configs and events.
 */

import { CAPABILITY_MODULES } from '../../functions/capabilities/registry';
import type { CapabilityName, Config, ConfigInput, ServiceConfig } from '../../functions/config/schema';
import { parseConfig } from '../../functions/config/schema';
import type { Clock } from '../../functions/core/clock';
import type { Log } from '../../functions/core/log';
import {
  type CapabilityStatus,
  type DesiredState,
  initialDesiredState,
  type Site,
  type TransitionRequest,
} from '../../functions/core/types';
import { guardedAttempt } from '../../functions/engine/call-guard';
import type { Capability, CapabilityPlan, PlannedAction } from '../../functions/engine/capability';
import type { ControlPlane } from '../../functions/engine/engine';
import { Reporter } from '../../functions/engine/reporter';
import type { Notifier } from '../../functions/notify/slack';
import type {
  AuditEntry,
  Fence,
  FencedStatusWrite,
  Lease,
  LeasedTransition,
  LeaseHolder,
  LeaseRelease,
  LeaseRequest,
  ReadinessChange,
  ReadinessRecord,
  ServiceRecord,
  ServiceToRead,
  StateStore,
  UnwrittenAudit,
} from '../../functions/state/store';
import exampleConfig from '../../understudy.config';

export const PRIMARY_HC = '11111111-1111-4111-8111-111111111111';
export const STANDBY_HC = '22222222-2222-4222-8222-222222222222';

/** A fresh, mutable copy of the whole example config (understudy.config.ts), every capability in it. */
export const fullExampleInput = (): ConfigInput => structuredClone(exampleConfig);

/**
 * The example's web shop with its DNS capability only: what the core's tests (trigger, engine,
 * DNS, CLI) are about. Other capabilities have their own fixtures.
 */
export const exampleInput = (): ConfigInput => {
  const input = fullExampleInput();
  const shop = input.services.find((s) => s.name === 'shop');
  if (!shop) throw new Error('the example config lost its shop service');
  const alarms = (shop.alarms ?? [])
    .filter((a) => a.scope !== 'instance' && (a.capabilities ?? ['dns']).includes('dns'))
    .map((a) => ({ ...a, capabilities: ['dns' as const] }));
  const { database: _database, compute: _compute, mail: _mail, ...dnsOnly } = shop;
  return { ...input, services: [{ ...dnsOnly, alarms }] };
};

/** A minimal valid config input with one service, for tests that tweak one field at a time. */
export const minimalInput = (): ConfigInput => ({
  controlPlane: { account: '111111111111', region: 'eu-west-2' },
  services: [
    {
      name: 'shop',
      dns: {
        hostedZoneId: 'Z0EXAMPLE0SHOP',
        records: [
          {
            name: 'www.shop.example.com',
            type: 'A',
            routing: 'weighted',
            primary: { values: ['192.0.2.10'], healthCheckId: PRIMARY_HC },
            standby: { values: ['198.51.100.10'], healthCheckId: STANDBY_HC },
          },
        ],
      },
    },
  ],
});

export const exampleConfigParsed = (): Config => parseConfig(exampleInput());

/** The example config with the one service's fields overridden. */
export const configWith = (overrides: Partial<ConfigInput['services'][number]>): Config => {
  const input = exampleInput();
  const svc = input.services[0];
  if (!svc) throw new Error('example config has no service');
  input.services[0] = { ...svc, ...overrides };
  return parseConfig(input);
};

export const onlyService = (config: Config): ServiceConfig => {
  const svc = config.services[0];
  if (!svc) throw new Error('config has no service');
  return svc;
};

/** A clock that only moves when told to; `sleep` records the asked delay and advances time by it. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  private t: number;
  constructor(start = '2026-11-22T10:00:00.000Z') {
    this.t = Date.parse(start);
  }
  now(): Date {
    return new Date(this.t);
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(iso: string): void {
    this.t = Date.parse(iso);
  }
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly extra: Record<string, unknown>[];
}

export class RecordingLog implements Log {
  readonly lines: LogLine[] = [];
  debug(message: string, ...extra: Record<string, unknown>[]): void {
    this.lines.push({ level: 'debug', message, extra });
  }
  info(message: string, ...extra: Record<string, unknown>[]): void {
    this.lines.push({ level: 'info', message, extra });
  }
  warn(message: string, ...extra: Record<string, unknown>[]): void {
    this.lines.push({ level: 'warn', message, extra });
  }
  error(message: string, ...extra: Record<string, unknown>[]): void {
    this.lines.push({ level: 'error', message, extra });
  }
  at(level: LogLine['level']): LogLine[] {
    return this.lines.filter((l) => l.level === level);
  }
}

/** Lets other pending promise chains run, as a real network call would. */
const microtick = () => Promise.resolve();

/** Where a fake yields, like a network round trip; a test may hand in a scheduler to order them. */
export type Tick = () => Promise<unknown>;

export type StoreOp =
  | 'readService'
  | 'readServices'
  | 'readEpoch'
  | 'writeTransition'
  | 'writeTransitionLeased'
  | 'writeStatus'
  | 'writeFencedStatus'
  | 'appendAudit'
  | 'readAudit'
  | 'readFence'
  | 'acquireLease'
  | 'markLeaseWanted'
  | 'renewLease'
  | 'releaseLease'
  | 'claimNotice'
  | 'recordReadiness'
  | 'readReadiness';

/** As DynamoStateStore's condition: never an older epoch, nor an earlier lease token in the same epoch. */
const newerStatusStored = (stored: CapabilityStatus | undefined, status: CapabilityStatus): boolean =>
  stored !== undefined &&
  (stored.epoch > status.epoch ||
    (status.leaseToken !== undefined &&
      stored.epoch === status.epoch &&
      stored.leaseToken !== undefined &&
      stored.leaseToken > status.leaseToken));

/** A service's lease item as the fake keeps it (DynamoStateStore's LEASE item). */
export interface FakeLeaseItem extends LeaseHolder {
  readonly wanted?: string | undefined;
}

/**
 * In-memory StateStore with the real store's contract: a transition is written only if the stored
 * epoch is still the expected one; statuses never regress; the lease is taken, renewed and released
 * under the same conditions as DynamoDB's; reads return copies, as DynamoDB would.
 */
export class FakeStore implements StateStore {
  readonly desired = new Map<string, DesiredState>();
  readonly statuses = new Map<string, Partial<Record<CapabilityName, CapabilityStatus>>>();
  readonly leases = new Map<string, FakeLeaseItem>();
  readonly notices = new Map<string, string>();
  readonly readiness = new Map<string, ReadinessRecord>();
  readonly audit: AuditEntry[] = [];
  readonly ops: StoreOp[] = [];
  /**
   * `service/epoch/token` of every write whose commit proved a fence (a transition with its lease, a
   * fenced status): what a FenceProof may claim.
   */
  readonly fenceProofs = new Set<string>();
  /** Set to make the next writeStatus calls fail (e.g. a DynamoDB outage). */
  failStatusWrites: Error | undefined;
  /** False to keep no audit entries (long model runs count them only). */
  keepAudit = true;
  auditCount = 0;
  /** Runs at each operation after its tick, before it takes effect: a test may throw from it (a fault). */
  beforeOp: ((op: StoreOp) => void) | undefined;
  /** Runs after an operation took effect, before it answers: a test may throw from it (a lost answer). */
  afterOp: ((op: StoreOp) => void) | undefined;

  constructor(private readonly tick: Tick = microtick) {}

  private async enter(op: StoreOp): Promise<void> {
    this.ops.push(op);
    await this.tick();
    this.beforeOp?.(op);
  }

  private leave<T>(op: StoreOp, value: T): T {
    this.afterOp?.(op);
    return value;
  }

  count(op: StoreOp): number {
    return this.ops.filter((o) => o === op).length;
  }

  /** Desired-state writes, alone or together with the lease. */
  intentWrites(): number {
    return this.count('writeTransition') + this.count('writeTransitionLeased');
  }

  resetOps(): void {
    this.ops.length = 0;
  }

  /** The operations made, without the lease's own (acquire, release, renew, fence reads). */
  opsWithoutLease(): StoreOp[] {
    const lease = new Set<StoreOp>(['acquireLease', 'markLeaseWanted', 'renewLease', 'releaseLease']);
    return this.ops.filter((op) => !lease.has(op));
  }

  async readService(service: string): Promise<ServiceRecord> {
    await this.enter('readService');
    const lease = this.leases.get(service);
    return this.leave(
      'readService',
      structuredClone({
        desired: this.desired.get(service) ?? initialDesiredState(service),
        statuses: this.statuses.get(service) ?? {},
        ...(lease && { lease: { owner: lease.owner, token: lease.token, until: lease.until } }),
      }),
    );
  }

  async readServices(
    services: readonly ServiceToRead[],
    options: { readonly leases?: boolean } = {},
  ): Promise<Map<string, ServiceRecord>> {
    await this.enter('readServices');
    const records = new Map<string, ServiceRecord>();
    for (const { name, capabilities } of services) {
      const statuses = this.statuses.get(name) ?? {};
      const lease = options.leases ? this.leases.get(name) : undefined;
      records.set(
        name,
        structuredClone({
          desired: this.desired.get(name) ?? initialDesiredState(name),
          statuses: Object.fromEntries(capabilities.flatMap((c) => (statuses[c] ? [[c, statuses[c]]] : []))),
          ...(lease && { lease: { owner: lease.owner, token: lease.token, until: lease.until } }),
        }),
      );
    }
    return this.leave('readServices', records);
  }

  async readEpoch(service: string): Promise<number> {
    await this.enter('readEpoch');
    return this.leave('readEpoch', this.desired.get(service)?.epoch ?? 0);
  }

  async readFence(service: string): Promise<Fence> {
    await this.enter('readFence');
    const lease = this.leases.get(service);
    return this.leave('readFence', {
      epoch: this.desired.get(service)?.epoch ?? 0,
      ...(lease && { lease: { owner: lease.owner, token: lease.token, until: lease.until } }),
    });
  }

  async writeTransition(expectedEpoch: number, next: DesiredState): Promise<boolean> {
    await this.enter('writeTransition');
    // Compare-and-set in one synchronous step, like DynamoDB's conditional put.
    const stored = this.desired.get(next.service);
    if ((stored?.epoch ?? 0) !== expectedEpoch) {
      // As DynamoStateStore: a write that already landed (same request id) is the caller's own.
      const own =
        next.requestId !== undefined && stored?.requestId === next.requestId && stored.epoch === next.epoch;
      return this.leave('writeTransition', own);
    }
    this.desired.set(next.service, structuredClone(next));
    return this.leave('writeTransition', true);
  }

  async writeTransitionLeased(
    expectedEpoch: number,
    next: DesiredState,
    request: LeaseRequest,
  ): Promise<LeasedTransition> {
    await this.enter('writeTransitionLeased');
    // Both conditions, then both writes, in one synchronous step: DynamoDB's transaction.
    const stored = this.desired.get(next.service);
    if ((stored?.epoch ?? 0) !== expectedEpoch) return this.leave('writeTransitionLeased', { kind: 'stale' });
    const item = this.leases.get(next.service);
    const asSeen =
      request.seen === undefined
        ? item === undefined
        : item !== undefined &&
          item.token === request.seen.token &&
          item.until === request.seen.until &&
          item.until <= request.now.getTime() &&
          item.wanted === undefined;
    if (!asSeen) return this.leave('writeTransitionLeased', { kind: 'busy' });
    const token = (request.seen?.token ?? 0) + 1;
    this.fenceProofs.add(`${next.service}/${next.epoch}/${token}`);
    this.desired.set(next.service, structuredClone(next));
    this.leases.set(next.service, {
      owner: request.owner,
      token,
      until: request.now.getTime() + request.durationMs,
    });
    return this.leave('writeTransitionLeased', {
      kind: 'leased',
      lease: { service: next.service, owner: request.owner, token },
    });
  }

  async writeStatus(service: string, status: CapabilityStatus): Promise<boolean> {
    await this.enter('writeStatus');
    if (this.failStatusWrites) throw this.failStatusWrites;
    const all = this.statuses.get(service) ?? {};
    if (newerStatusStored(all[status.capability], status)) return this.leave('writeStatus', false);
    this.statuses.set(service, { ...all, [status.capability]: structuredClone(status) });
    return this.leave('writeStatus', true);
  }

  async writeFencedStatus(
    service: string,
    status: CapabilityStatus,
    fence: { readonly lease: Lease; readonly leaseLeftUntil: number },
  ): Promise<FencedStatusWrite> {
    await this.enter('writeFencedStatus');
    if (this.failStatusWrites) throw this.failStatusWrites;
    // Every condition, then the write, in one synchronous step: DynamoDB's transaction.
    const held = this.leases.get(service);
    const fenced =
      (this.desired.get(service)?.epoch ?? 0) === status.epoch &&
      held?.owner === fence.lease.owner &&
      held.token === fence.lease.token &&
      held.until >= fence.leaseLeftUntil;
    if (!fenced) return this.leave('writeFencedStatus', 'unfenced');
    const all = this.statuses.get(service) ?? {};
    if (newerStatusStored(all[status.capability], status))
      return this.leave('writeFencedStatus', 'newer-status');
    this.fenceProofs.add(`${service}/${status.epoch}/${fence.lease.token}`);
    this.statuses.set(service, { ...all, [status.capability]: structuredClone(status) });
    return this.leave('writeFencedStatus', 'written');
  }

  async acquireLease(
    service: string,
    owner: string,
    now: Date,
    durationMs: number,
  ): Promise<{ lease: Lease; wanted: boolean } | undefined> {
    await this.enter('acquireLease');
    const item = this.leases.get(service);
    if (item && item.until > now.getTime() && item.owner !== owner)
      return this.leave('acquireLease', undefined);
    const token = (item?.token ?? 0) + 1;
    this.leases.set(service, { owner, token, until: now.getTime() + durationMs });
    return this.leave('acquireLease', {
      lease: { service, owner, token },
      wanted: item?.wanted !== undefined,
    });
  }

  async markLeaseWanted(service: string, owner: string, now: Date): Promise<LeaseHolder | undefined> {
    await this.enter('markLeaseWanted');
    const item = this.leases.get(service);
    if (!item || item.until <= now.getTime() || item.owner === owner)
      return this.leave('markLeaseWanted', undefined);
    this.leases.set(service, { ...item, wanted: owner });
    return this.leave('markLeaseWanted', { owner: item.owner, token: item.token, until: item.until });
  }

  async renewLease(lease: Lease, now: Date, durationMs: number): Promise<LeaseHolder | undefined> {
    await this.enter('renewLease');
    const item = this.leases.get(lease.service);
    if (!item || item.owner !== lease.owner || item.token !== lease.token) {
      return this.leave('renewLease', undefined);
    }
    const renewed = { ...item, until: now.getTime() + durationMs };
    this.leases.set(lease.service, renewed);
    return this.leave('renewLease', { owner: renewed.owner, token: renewed.token, until: renewed.until });
  }

  async releaseLease(
    lease: Lease,
    now: Date,
    options: { readonly renewForMs?: number } = {},
  ): Promise<LeaseRelease> {
    await this.enter('releaseLease');
    const item = this.leases.get(lease.service);
    if (!item || item.owner !== lease.owner || item.token !== lease.token) {
      return this.leave('releaseLease', { kind: 'lost' });
    }
    if (options.renewForMs !== undefined && item.wanted !== undefined) {
      this.leases.set(lease.service, {
        owner: item.owner,
        token: item.token,
        until: now.getTime() + options.renewForMs,
      });
      return this.leave('releaseLease', { kind: 'wanted', lease });
    }
    this.leases.set(lease.service, { ...item, until: 0 });
    return this.leave('releaseLease', { kind: 'released' });
  }

  async claimNotice(service: string, key: string, stamp: string): Promise<boolean> {
    await this.enter('claimNotice');
    const id = `${service}/${key}`;
    const given = this.notices.get(id);
    if (given !== undefined && given >= stamp) return this.leave('claimNotice', false);
    this.notices.set(id, stamp);
    return this.leave('claimNotice', true);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.enter('appendAudit');
    this.auditCount++;
    if (this.keepAudit) this.audit.push(structuredClone(entry));
    this.leave('appendAudit', undefined);
  }

  /** As many appendAudit calls (a test's override of it applies, and each counts as one op). */
  async appendAudits(entries: readonly AuditEntry[]): Promise<UnwrittenAudit[]> {
    const outcomes = await Promise.allSettled(entries.map((entry) => this.appendAudit(entry)));
    return outcomes.flatMap((outcome, i) =>
      outcome.status === 'rejected' ? [{ entry: entries[i] as AuditEntry, error: outcome.reason }] : [],
    );
  }

  async readAudit(service: string, limit = 50): Promise<AuditEntry[]> {
    await this.enter('readAudit');
    return this.audit
      .filter((e) => e.service === service)
      .reverse()
      .slice(0, limit);
  }

  async recordReadiness(record: Omit<ReadinessRecord, 'changedAt'>): Promise<ReadinessChange> {
    await this.enter('recordReadiness');
    const id = `${record.service}/${record.part}`;
    const old = this.readiness.get(id);
    if (old && old.checkedAt > record.checkedAt) return this.leave('recordReadiness', { kind: 'stale' });
    if (old && old.verdict === record.verdict) {
      this.readiness.set(
        id,
        structuredClone({ ...old, findings: record.findings, checkedAt: record.checkedAt }),
      );
      return this.leave('recordReadiness', { kind: 'unchanged' });
    }
    this.readiness.set(id, structuredClone({ ...record, changedAt: record.checkedAt }));
    return this.leave('recordReadiness', { kind: 'changed', previous: old?.verdict });
  }

  async readReadiness(service: string): Promise<ReadinessRecord[]> {
    await this.enter('readReadiness');
    return [...this.readiness.values()].filter((r) => r.service === service).map((r) => structuredClone(r));
  }

  /** Test helper: put a desired state as if an earlier transition had written it. */
  seed(desired: DesiredState): void {
    this.desired.set(desired.service, structuredClone(desired));
  }
}

export interface FakeObserved {
  readonly serving: Site;
  readonly standbyReady: boolean;
}

export interface FakeAction extends PlannedAction {
  readonly params: { readonly to: Site };
}

/**
 * A capability whose "AWS" is one variable: which site serves. It records every call, and its
 * behaviour is scriptable: standby readiness, an error to throw from execute, a hook during plan.
 */
export class FakeCapability implements Capability<FakeObserved, FakeAction> {
  readonly name = 'dns' as const;
  serving: Site = 'primary';
  standbyReady = true;
  /** Thrown by the next execute calls while set. */
  executeError: Error | undefined;
  /** Runs inside plan(), e.g. to simulate a concurrent transition between plan and act. */
  onPlan: (() => void) | undefined;
  /** When false, execute writes but reports the change as not yet verified. */
  verifyImmediately = true;
  /** How many actions one plan has (each moves the same way). */
  actionsPerPlan = 1;
  /** Set to make the first action once-per-epoch under this key (as a promotion is). */
  once: string | undefined;
  /** Runs after each execute, e.g. to simulate a transition between two actions of one plan. */
  onExecute: ((executed: number) => void) | undefined;
  readonly observed: { service: string; target: Site; status: CapabilityStatus | undefined }[] = [];
  readonly planned: { target: Site; epoch: number }[] = [];
  readonly executed: { action: FakeAction; epoch: number }[] = [];

  constructor(private readonly tick: Tick = microtick) {}

  async observe(service: ServiceConfig, target: Site, status: CapabilityStatus | undefined) {
    this.observed.push({ service: service.name, target, status });
    await this.tick();
    return { serving: this.serving, standbyReady: this.standbyReady };
  }

  plan(input: {
    readonly target: Site;
    readonly epoch: number;
    readonly observed: FakeObserved;
  }): CapabilityPlan<FakeAction> {
    this.planned.push({ target: input.target, epoch: input.epoch });
    this.onPlan?.();
    if (input.observed.serving === input.target) {
      return { kind: 'converged', detail: `the ${input.target} serves` };
    }
    if (input.target === 'standby' && !input.observed.standbyReady) {
      return { kind: 'refuse', detail: 'standby health check is unhealthy' };
    }
    return {
      kind: 'act',
      detail: `move to the ${input.target}`,
      actions: Array.from({ length: this.actionsPerPlan }, (_, i) => ({
        capability: 'dns' as const,
        api: i === 0 ? 'fake:Move' : `fake:Move${i + 1}`,
        reason: `the ${input.target} should serve`,
        params: { to: input.target },
        ...(i === 0 && this.once !== undefined && { once: this.once }),
      })),
    };
  }

  /** Its move is one mutating call, fenced at the last moment as the client kit fences AWS calls. */
  async execute(action: FakeAction, context: { readonly epoch: number }) {
    await guardedAttempt('FakeClient', 'MoveCommand', async () => {
      this.executed.push({ action, epoch: context.epoch });
    });
    await this.tick();
    this.onExecute?.(this.executed.length);
    if (this.executeError) throw this.executeError;
    this.serving = action.params.to;
    return this.verifyImmediately
      ? { verified: true, detail: 'moved' }
      : { verified: false, detail: 'written, not yet visible', pending: { changeId: 'C1' } };
  }
}

export class RecordingNotifier implements Notifier {
  readonly sent: AuditEntry[] = [];
  async notify(entry: AuditEntry): Promise<void> {
    this.sent.push(entry);
  }
}

export interface TestControlPlane extends ControlPlane {
  readonly fakeStore: FakeStore;
  readonly fakeClock: FakeClock;
  readonly recordingLog: RecordingLog;
}

export const testControlPlane = (options: {
  config: Config;
  capability?: Capability<FakeObserved, FakeAction> | Capability | undefined;
  store?: FakeStore;
  notifier?: Notifier;
  clock?: FakeClock;
}): TestControlPlane => {
  const store = options.store ?? new FakeStore();
  const clock = options.clock ?? new FakeClock();
  const log = new RecordingLog();
  const notifier = options.notifier ?? new RecordingNotifier();
  return {
    config: options.config,
    modules: CAPABILITY_MODULES,
    store,
    capability: async (name) => (name === 'dns' ? (options.capability as Capability | undefined) : undefined),
    reporter: new Reporter(store, notifier, log),
    clock,
    log,
    fakeStore: store,
    fakeClock: clock,
    recordingLog: log,
  };
};

/** AWS's own timestamp style in alarm state blobs: milliseconds and a +0000 offset. */
const cloudWatchTimestamp = (d: Date) => d.toISOString().replace('Z', '+0000');

/** An EventBridge "CloudWatch Alarm State Change" event, shaped exactly as AWS delivers it. */
export const alarmEvent = (
  options: {
    alarmName?: string;
    state?: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
    previous?: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
    account?: string;
    region?: string;
    time?: Date;
    id?: string;
  } = {},
) => {
  const alarmName = options.alarmName ?? 'shop-primary-unhealthy';
  const account = options.account ?? '111111111111';
  const region = options.region ?? 'eu-west-2';
  const time = options.time ?? new Date('2026-11-22T10:00:00.000Z');
  const state = options.state ?? 'ALARM';
  return {
    version: '0',
    id: options.id ?? 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account,
    // EventBridge's envelope time has second precision and a Z.
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:cloudwatch:${region}:${account}:alarm:${alarmName}`],
    detail: {
      alarmName,
      configuration: {
        description: 'Primary health check failing',
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: {
                namespace: 'AWS/Route53',
                name: 'HealthCheckStatus',
                dimensions: { HealthCheckId: PRIMARY_HC },
              },
              period: 60,
              stat: 'Minimum',
            },
            returnData: true,
          },
        ],
      },
      previousState: {
        value: options.previous ?? (state === 'ALARM' ? 'OK' : 'ALARM'),
        reason:
          'Threshold Crossed: 1 datapoint [1.0 (22/11/26 09:55:00)] was not less than the threshold (1.0).',
        reasonData:
          '{"version":"1.0","queryDate":"2026-11-22T09:56:00.000+0000","statistic":"Minimum","period":60,"recentDatapoints":[1.0],"threshold":1.0}',
        timestamp: cloudWatchTimestamp(new Date(time.getTime() - 300_000)),
      },
      state: {
        value: state,
        reason:
          state === 'ALARM'
            ? 'Threshold Crossed: 1 datapoint [0.0 (22/11/26 09:59:00)] was less than the threshold (1.0).'
            : 'Threshold Crossed: 1 datapoint [1.0 (22/11/26 09:59:00)] was not less than the threshold (1.0).',
        reasonData:
          '{"version":"1.0","queryDate":"2026-11-22T10:00:00.000+0000","statistic":"Minimum","period":60,"recentDatapoints":[0.0],"threshold":1.0}',
        timestamp: cloudWatchTimestamp(time),
      },
    },
  };
};

/** A failover of shop's DNS, asked by its alarm (override any field). */
export const failoverRequest = (overrides: Partial<TransitionRequest> = {}): TransitionRequest => ({
  service: 'shop',
  capabilities: ['dns'],
  target: 'standby',
  requestedBy: 'alarm:shop-primary-unhealthy',
  reason: 'alarm shop-primary-unhealthy is ALARM',
  ignoreCooldown: false,
  ...overrides,
});

/** shop's desired state after an earlier operator transition put DNS on `active` at `epoch`. */
export const desiredDns = (
  active: Site,
  epoch: number,
  changedAt = '2026-11-22T08:00:00.000Z',
): DesiredState => ({
  service: 'shop',
  epoch,
  capabilities: { dns: { active, epoch, changedAt } },
  requestedBy: 'operator:alice',
  requestedAt: changedAt,
  reason: 'earlier transition',
});
