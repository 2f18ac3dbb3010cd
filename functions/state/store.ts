import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { CapabilityName } from '../config/schema';
import { classifyAwsError, RetryableError } from '../core/errors';
import {
  clip,
  clipDetails,
  MAX_AUDIT_DETAILS,
  MAX_AUDIT_MESSAGE,
  MAX_INTENT_REASON,
  MAX_REQUESTED_BY,
} from '../core/text';
import { type CapabilityStatus, type DesiredState, initialDesiredState } from '../core/types';
import type { ReadinessFinding } from '../readiness/finding';
import { sdkErrorName } from '../runtime/client-kit';

/** One line of the append-only audit log: what was seen, decided or done, and why. */
export interface AuditEntry {
  readonly service: string;
  readonly at: string;
  readonly kind:
    | 'decision'
    | 'ignored'
    | 'held'
    | 'refused'
    | 'action'
    | 'completed'
    | 'waiting'
    | 'error'
    | 'plan'
    /** A transition's measured recovery: every moved capability converged (functions/report/recovery.ts). */
    | 'recovered'
    /** A change of readiness: a part turned not ready, or ready again (functions/readiness/). */
    | 'readiness';
  readonly capability?: CapabilityName | undefined;
  readonly epoch: number;
  readonly message: string;
  readonly source?: string | undefined;
  readonly details?: Record<string, unknown> | undefined;
}

export interface ServiceRecord {
  readonly desired: DesiredState;
  readonly statuses: Partial<Record<CapabilityName, CapabilityStatus>>;
  /** The service's lease as it was at the read (functions/engine/lease.ts); absent: never taken. */
  readonly lease?: LeaseHolder | undefined;
}

/** Who holds a service's lease, and until when (milliseconds since 1970; 0 once released). */
export interface LeaseHolder {
  readonly owner: string;
  /** Fencing token: increases by one with every acquisition, never reused. */
  readonly token: number;
  readonly until: number;
}

/** A lease this run holds. */
export interface Lease {
  readonly service: string;
  readonly owner: string;
  readonly token: number;
}

/** What every mutating call is checked against: the epoch and the lease, from one consistent read. */
export interface Fence {
  readonly epoch: number;
  readonly lease?: LeaseHolder | undefined;
}

/** What a transition written together with the service's lease came to (`writeTransitionLeased`). */
export type LeasedTransition =
  /** Both written: the intent is stored and this run holds the lease, with the next token. */
  | { readonly kind: 'leased'; readonly lease: Lease }
  /** Nothing written: the epoch moved on since the read (another trigger won). */
  | { readonly kind: 'stale' }
  /** Nothing written: the lease is held, or changed since the read. Write the transition alone. */
  | { readonly kind: 'busy' };

/** Who asks for a lease together with a transition, and the lease as the caller read it. */
export interface LeaseRequest {
  readonly owner: string;
  /** The lease item in the caller's read (undefined: never taken); its token must be unchanged. */
  readonly seen: LeaseHolder | undefined;
  readonly now: Date;
  readonly durationMs: number;
}

export type LeaseRelease =
  | { readonly kind: 'released' }
  /** Not released: another run asked for the service meanwhile; this run keeps it (renewed) for them. */
  | { readonly kind: 'wanted'; readonly lease: Lease }
  /** Not ours any more (it expired and was taken): nothing to release. */
  | { readonly kind: 'lost' };

/** The last readiness verdict of one part of a service: a capability, or the checks all services share. */
/** What a fenced status write came to: written, a newer status stored, or the fence not held. */
export type FencedStatusWrite = 'written' | 'newer-status' | 'unfenced';

export interface ReadinessRecord {
  readonly service: string;
  /** A capability's name, or `shared` (the Slack secret: the checks every service shares). */
  readonly part: string;
  readonly verdict: 'ready' | 'not-ready';
  readonly findings: readonly ReadinessFinding[];
  readonly checkedAt: string;
  /** When the verdict last changed (its first check counts as one). */
  readonly changedAt: string;
}

/** What recording a readiness verdict found: the verdict before it (undefined: never checked). */
export type ReadinessChange =
  | { readonly kind: 'changed'; readonly previous: 'ready' | 'not-ready' | undefined }
  | { readonly kind: 'unchanged' }
  /** A newer check was recorded meanwhile: nothing written. */
  | { readonly kind: 'stale' };

/** At most this many findings per part, each reason at most this long: an item stays small. */
const MAX_READINESS_FINDINGS = 50;
const MAX_READINESS_REASON = 300;

const servicePk = (service: string) => `SERVICE#${service}`;
/** Keys per BatchGetItem request (DynamoDB's limit), and attempts at keys or items left unprocessed. */
const BATCH_GET_KEYS = 100;
const BATCH_ATTEMPTS = 4;
/**
 * Sends `pending` (keys or items of a batch request) and what DynamoDB leaves unprocessed again
 * (throttling), a few times with a growing pause; answers what is still unprocessed.
 */
const untilProcessed = async <T>(pending: T[], send: (batch: T[]) => Promise<T[]>): Promise<T[]> => {
  let left = pending;
  for (let attempt = 0; left.length > 0 && attempt < BATCH_ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    left = await send(left);
  }
  return left;
};

/** Audit entries per BatchWriteItem request (DynamoDB's limit). */
const AUDIT_BATCH = 25;
const auditPk = (service: string) => `AUDIT#${service}`;
const STATE_SK = 'STATE';
const LEASE_SK = 'LEASE';
const noticePk = (service: string) => `NOTICE#${service}`;
const readinessPk = (service: string) => `READY#${service}`;
const statusSk = (capability: CapabilityName) => `CAP#${capability}`;

/** A service to read in a batch, with the capabilities it configures (a status item each). */
export interface ServiceToRead {
  readonly name: string;
  readonly capabilities: readonly CapabilityName[];
}

/** An audit entry a batched write could not write. */
export interface UnwrittenAudit {
  readonly entry: AuditEntry;
  readonly error: unknown;
}

/** The control plane's memory, as the engine, triggers and CLI use it. */
export interface StateStore {
  readService(service: string): Promise<ServiceRecord>;
  /**
   * Many services' desired states and their capabilities' statuses, in a few requests: what the
   * dispatcher orders by, and (with `leases`) what a worker starts its services from, as `readService`
   * would read each. A service missing from the answer could not be read.
   */
  readServices(
    services: readonly ServiceToRead[],
    options?: { readonly leases?: boolean },
  ): Promise<Map<string, ServiceRecord>>;
  /** The current epoch, read consistently: the fence checked before every mutating call. */
  readEpoch(service: string): Promise<number>;
  /**
   * Writes a transition only if the epoch is still `expectedEpoch`; false when another writer won.
   * True also when the stored state is this very write (same `requestId`): its response was lost.
   */
  writeTransition(expectedEpoch: number, next: DesiredState): Promise<boolean>;
  /**
   * A transition and the service's lease in one transaction, so that acting on an alarm costs one
   * conditional write: the desired state if the epoch is still `expectedEpoch`, the lease if it is as
   * the caller read it (same token, nobody asked for it) and free or expired then. All or nothing.
   */
  writeTransitionLeased(
    expectedEpoch: number,
    next: DesiredState,
    lease: LeaseRequest,
  ): Promise<LeasedTransition>;
  /**
   * Writes a status unless a newer one is stored (a later epoch, or the same epoch from a later lease
   * token): statuses never regress. False when refused; that is not an error.
   */
  writeStatus(service: string, status: CapabilityStatus): Promise<boolean>;
  /**
   * A status written only while the fence holds, in one transaction: as `writeStatus`, and only if
   * the desired state is still at the status's epoch and the lease is still `fence.lease` with at
   * least `fence.leaseLeftUntil` (clock ms) to run. How a once-per-epoch intent is recorded: one round
   * trip where a fence read and a write were two, and its commit proves the fence for the call after.
   */
  writeFencedStatus(
    service: string,
    status: CapabilityStatus,
    fence: { readonly lease: Lease; readonly leaseLeftUntil: number },
  ): Promise<FencedStatusWrite>;
  /** The epoch and the lease, in one consistent read: the fence before every mutating call. */
  readFence(service: string): Promise<Fence>;
  /**
   * Takes the service's lease if it is free, expired or already `owner`'s, with the next fencing token.
   * `wanted`: a run asked for the service while it was held. Undefined when someone else holds it.
   */
  acquireLease(
    service: string,
    owner: string,
    now: Date,
    durationMs: number,
  ): Promise<{ readonly lease: Lease; readonly wanted: boolean } | undefined>;
  /**
   * Asks the holder for a run of the service (it takes one more round before releasing). Returns the
   * holder, or undefined when the lease is free (then try to take it).
   */
  markLeaseWanted(service: string, owner: string, now: Date): Promise<LeaseHolder | undefined>;
  /** Extends a lease this run still holds; undefined when it is not ours any more. */
  renewLease(lease: Lease, now: Date, durationMs: number): Promise<LeaseHolder | undefined>;
  /**
   * Releases a lease. With `renewForMs`, only if nobody asked for the service meanwhile; otherwise the
   * lease stays this run's, renewed, and the request is cleared (`wanted`). Without, unconditionally
   * (a request stays recorded for the next holder).
   */
  releaseLease(lease: Lease, now: Date, options?: { readonly renewForMs?: number }): Promise<LeaseRelease>;
  /**
   * Records that a notice about `key` was given for `stamp` (an ISO time); false when one was already
   * given for this or a later stamp. Tells people once per state change, not once per delivery.
   */
  claimNotice(service: string, key: string, stamp: string): Promise<boolean>;
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Many entries, in as few requests as the store allows; answers those not written, and why. */
  appendAudits(entries: readonly AuditEntry[]): Promise<UnwrittenAudit[]>;
  /** Newest first. */
  readAudit(service: string, limit?: number): Promise<AuditEntry[]>;
  /**
   * Records a part's readiness verdict and says whether it changed, atomically: of two checks that
   * see the same change, one is told `changed` (so people are told once each way).
   */
  recordReadiness(record: Omit<ReadinessRecord, 'changedAt'>): Promise<ReadinessChange>;
  /** Every part's last readiness of a service (none: never checked). */
  readReadiness(service: string): Promise<ReadinessRecord[]>;
}

/**
 * The control plane's only memory, in DynamoDB. Layout (one table, pk/sk):
 *   SERVICE#<name> / STATE        desired state; written only by conditional transitions
 *   SERVICE#<name> / CAP#<cap>    each reconciler's progress; written only when it changes, never regressing
 *   SERVICE#<name> / LEASE        one writer per service: owner, fencing token, until (never deleted)
 *   NOTICE#<name>  / <key>        notices given once per state change (e.g. "held")
 *   READY#<name>   / CAP#<part>   last readiness verdict per capability (or `shared`), and when it changed
 *   AUDIT#<name>   / <time>#<id>  audit log, expiring through the table's TTL on `expiresAt`
 * Reading a service is one Query; audit and readiness items live under their own keys so they never
 * slow it (or the fence read) down.
 */
export class DynamoStateStore implements StateStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly auditRetentionDays: number,
    private readonly newId: () => string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async readService(service: string): Promise<ServiceRecord> {
    const items = await this.itemsOf(servicePk(service), { ConsistentRead: true });
    let desired = initialDesiredState(service);
    let lease: LeaseHolder | undefined;
    const statuses: Partial<Record<CapabilityName, CapabilityStatus>> = {};
    for (const item of items) {
      if (item.sk === STATE_SK) desired = fromItem<DesiredState>(item);
      else if (item.sk === LEASE_SK) lease = leaseOf(item);
      else if (typeof item.sk === 'string' && item.sk.startsWith('CAP#')) {
        const status = fromItem<CapabilityStatus>(item);
        statuses[status.capability] = status;
      }
    }
    return { desired, statuses, ...(lease && { lease }) };
  }

  /**
   * Reads 100 items a request (BatchGetItem's limit) instead of one Query per service: at a thousand
   * services the dispatcher makes a few dozen requests, not a thousand. Keys DynamoDB leaves
   * unprocessed (throttling) are asked for again, a few times; services still unread are left out.
   */
  async readServices(
    services: readonly ServiceToRead[],
    options: { readonly leases?: boolean } = {},
  ): Promise<Map<string, ServiceRecord>> {
    const keys = services.flatMap(({ name, capabilities }) =>
      [STATE_SK, ...(options.leases ? [LEASE_SK] : []), ...capabilities.map(statusSk)].map((sk) => ({
        pk: servicePk(name),
        sk,
      })),
    );
    const { items, unread } = await this.batchGet(keys);
    const records = new Map<string, ServiceRecord>();
    for (const { name } of services) {
      if (unread.has(servicePk(name))) continue;
      records.set(name, { desired: initialDesiredState(name), statuses: {} });
    }
    for (const item of items) {
      const name = String(item.pk).slice(servicePk('').length);
      const record = records.get(name);
      if (!record) continue;
      if (item.sk === STATE_SK) {
        records.set(name, { ...record, desired: fromItem<DesiredState>(item) });
      } else if (item.sk === LEASE_SK) {
        records.set(name, { ...record, lease: leaseOf(item) });
      } else {
        const status = fromItem<CapabilityStatus>(item);
        record.statuses[status.capability] = status;
      }
    }
    return records;
  }

  /** The current epoch, read consistently: the fence every executor checks before it writes. */
  async readEpoch(service: string): Promise<number> {
    const out = await this.call('GetItem', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: servicePk(service), sk: STATE_SK },
          ConsistentRead: true,
          ProjectionExpression: 'epoch',
        }),
      ),
    );
    return typeof out.Item?.epoch === 'number' ? out.Item.epoch : 0;
  }

  /**
   * Writes a transition only if nobody else has since `expectedEpoch`.
   * Returns false when another trigger won the race (at-least-once delivery, concurrent alarms).
   */
  async writeTransition(expectedEpoch: number, next: DesiredState): Promise<boolean> {
    const written = await this.conditionalPut('transition', {
      Item: { pk: servicePk(next.service), sk: STATE_SK, ...boundedDesired(next) },
      ConditionExpression:
        expectedEpoch === 0 ? 'attribute_not_exists(pk) OR epoch = :expected' : 'epoch = :expected',
      ExpressionAttributeValues: { ':expected': expectedEpoch },
    });
    if (written) return true;
    // A lost response: the first attempt wrote, the SDK's retry then failed the condition on it.
    if (next.requestId === undefined) return false;
    const out = await this.call('GetItem', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: servicePk(next.service), sk: STATE_SK },
          ConsistentRead: true,
          ProjectionExpression: 'epoch, requestId',
        }),
      ),
    );
    return out.Item?.requestId === next.requestId && out.Item?.epoch === next.epoch;
  }

  async writeTransitionLeased(
    expectedEpoch: number,
    next: DesiredState,
    request: LeaseRequest,
  ): Promise<LeasedTransition> {
    const { owner, seen, now, durationMs } = request;
    const pk = servicePk(next.service);
    const token = (seen?.token ?? 0) + 1;
    try {
      // The SDK sends an idempotency token with the transaction and reuses it on retry: a retry of a
      // transaction that committed (its answer lost) succeeds again instead of failing its condition.
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { pk, sk: STATE_SK, ...boundedDesired(next) },
                ConditionExpression:
                  expectedEpoch === 0 ? 'attribute_not_exists(pk) OR epoch = :expected' : 'epoch = :expected',
                ExpressionAttributeValues: { ':expected': expectedEpoch },
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: { pk, sk: LEASE_SK },
                UpdateExpression:
                  'SET #owner = :owner, leaseUntil = :until, acquiredAt = :at, leaseToken = :token',
                // Exactly as read (so nobody held it since), free or expired now, and nobody waiting for it.
                ConditionExpression:
                  seen === undefined
                    ? 'attribute_not_exists(pk)'
                    : 'leaseToken = :seen AND leaseUntil = :seenUntil AND leaseUntil <= :now AND ' +
                      'attribute_not_exists(wanted)',
                ExpressionAttributeNames: { '#owner': 'owner' },
                ExpressionAttributeValues: {
                  ':owner': owner,
                  ':until': now.getTime() + durationMs,
                  ':at': now.toISOString(),
                  ':token': token,
                  ...(seen !== undefined && {
                    ':seen': seen.token,
                    ':seenUntil': seen.until,
                    ':now': now.getTime(),
                  }),
                },
              },
            },
          ],
        }),
      );
      return { kind: 'leased', lease: { service: next.service, owner, token } };
    } catch (error) {
      if (sdkErrorName(error) !== 'TransactionCanceledException') {
        throw classifyAwsError('DynamoDB TransactWriteItems (transition and lease)', error);
      }
      // The client kit wraps SDK errors (classified, with the SDK's error as the cause).
      const sdkError = (error as { cause?: unknown }).cause ?? error;
      const reasons = (sdkError as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      return reasons[0]?.Code === 'ConditionalCheckFailed' ? { kind: 'stale' } : { kind: 'busy' };
    }
  }

  async writeStatus(service: string, status: CapabilityStatus): Promise<boolean> {
    return this.conditionalPut('status', statusPut(service, status));
  }

  async writeFencedStatus(
    service: string,
    status: CapabilityStatus,
    fence: { readonly lease: Lease; readonly leaseLeftUntil: number },
  ): Promise<FencedStatusWrite> {
    const pk = servicePk(service);
    try {
      // Idempotent on retry like every transaction (the SDK's token): a lost answer commits once.
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, ...statusPut(service, status) } },
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: { pk, sk: STATE_SK },
                ConditionExpression:
                  status.epoch === 0 ? 'attribute_not_exists(pk) OR epoch = :epoch' : 'epoch = :epoch',
                ExpressionAttributeValues: { ':epoch': status.epoch },
              },
            },
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: { pk, sk: LEASE_SK },
                ConditionExpression: `${LEASE_OURS} AND leaseUntil >= :left`,
                ExpressionAttributeNames: { '#owner': 'owner' },
                ExpressionAttributeValues: {
                  ':owner': fence.lease.owner,
                  ':token': fence.lease.token,
                  ':left': fence.leaseLeftUntil,
                },
              },
            },
          ],
        }),
      );
      return 'written';
    } catch (error) {
      if (sdkErrorName(error) !== 'TransactionCanceledException') {
        throw classifyAwsError('DynamoDB TransactWriteItems (fenced status)', error);
      }
      const sdkError = (error as { cause?: unknown }).cause ?? error;
      const reasons = (sdkError as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      const failed = (i: number) => reasons[i]?.Code === 'ConditionalCheckFailed';
      // The fence first: when it no longer holds, that is what the caller must hear.
      return failed(1) || failed(2) || !failed(0) ? 'unfenced' : 'newer-status';
    }
  }

  /**
   * Fence reads asked for in the same turn of the event loop leave together, as one BatchGetItem
   * (50 services a request): the members of a gathered Route 53 change are fenced at once, and 25
   * services' fences cost one request, not 25. One alone is one Query, as before.
   */
  readFence(service: string): Promise<Fence> {
    return new Promise<Fence>((resolve, reject) => {
      if (this.fenceQueue.length === 0) setImmediate(() => void this.flushFences());
      this.fenceQueue.push({ service, resolve, reject });
    });
  }

  private fenceQueue: { service: string; resolve: (f: Fence) => void; reject: (e: unknown) => void }[] = [];

  private async flushFences(): Promise<void> {
    const asked = this.fenceQueue;
    this.fenceQueue = [];
    const services = [...new Set(asked.map((a) => a.service))];
    const found = new Map<string, Fence>();
    try {
      if (services.length > 1) {
        // 2 keys a service: 50 services a request.
        const { items, unread } = await this.batchGet(
          services.flatMap((name) => [STATE_SK, LEASE_SK].map((sk) => ({ pk: servicePk(name), sk }))),
        );
        // A service with a key still unprocessed is read alone below.
        for (const name of services) {
          if (!unread.has(servicePk(name))) {
            found.set(name, fenceOf(items.filter((item) => item.pk === servicePk(name))));
          }
        }
      }
      await Promise.all(
        services
          .filter((name) => !found.has(name))
          .map(async (name) => found.set(name, await this.queryFence(name))),
      );
      for (const { service, resolve } of asked) resolve(found.get(service) as Fence);
    } catch (error) {
      for (const { reject } of asked) reject(error);
    }
  }

  /**
   * Consistent reads of many keys, 100 a request (BatchGetItem's limit), keys left unprocessed
   * (throttling) asked for again a few times. `unread`: the partition keys still unprocessed.
   */
  private async batchGet(
    keys: readonly Record<string, unknown>[],
  ): Promise<{ items: Record<string, unknown>[]; unread: Set<string> }> {
    const items: Record<string, unknown>[] = [];
    const unread = new Set<string>();
    for (let i = 0; i < keys.length; i += BATCH_GET_KEYS) {
      const left = await untilProcessed(keys.slice(i, i + BATCH_GET_KEYS), async (pending) => {
        const out = await this.call('BatchGetItem', () =>
          this.doc.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
            }),
          ),
        );
        items.push(...(out.Responses?.[this.tableName] ?? []));
        return out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      });
      for (const key of left) unread.add(String(key.pk));
    }
    return { items, unread };
  }

  private async queryFence(service: string): Promise<Fence> {
    // LEASE and STATE are neighbours in sort order (CAP#... sorts before both): one Query reads both.
    const out = await this.call('Query', () =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lease AND :state',
          ExpressionAttributeValues: { ':pk': servicePk(service), ':lease': LEASE_SK, ':state': STATE_SK },
          ConsistentRead: true,
        }),
      ),
    );
    return fenceOf(out.Items ?? []);
  }

  async acquireLease(
    service: string,
    owner: string,
    now: Date,
    durationMs: number,
  ): Promise<{ lease: Lease; wanted: boolean } | undefined> {
    const out = await this.updateLease({
      operation: 'take lease',
      service,
      set:
        'SET #owner = :owner, leaseUntil = :until, acquiredAt = :at, ' +
        'leaseToken = if_not_exists(leaseToken, :zero) + :one REMOVE wanted',
      // Free, expired, or already ours (the SDK retried an acquisition whose response was lost).
      condition: 'attribute_not_exists(pk) OR leaseUntil <= :now OR #owner = :owner',
      values: {
        ':owner': owner,
        ':until': now.getTime() + durationMs,
        ':now': now.getTime(),
        ':at': now.toISOString(),
        ':zero': 0,
        ':one': 1,
      },
      // The old item: the update is atomic, so the new token is the old one plus one.
      returnValues: 'ALL_OLD',
    });
    if (!out) return undefined;
    const old = out.item;
    const token = (typeof old?.leaseToken === 'number' ? old.leaseToken : 0) + 1;
    return { lease: { service, owner, token }, wanted: old?.wanted !== undefined };
  }

  async markLeaseWanted(service: string, owner: string, now: Date): Promise<LeaseHolder | undefined> {
    const out = await this.updateLease({
      operation: 'ask for lease',
      service,
      set: 'SET wanted = :by',
      condition: 'attribute_exists(pk) AND leaseUntil > :now AND #owner <> :owner',
      values: { ':by': owner, ':now': now.getTime(), ':owner': owner },
      returnValues: 'ALL_NEW',
    });
    return out?.item ? leaseOf(out.item) : undefined;
  }

  async renewLease(lease: Lease, now: Date, durationMs: number): Promise<LeaseHolder | undefined> {
    const out = await this.updateLease({
      operation: 'renew lease',
      service: lease.service,
      set: 'SET leaseUntil = :until',
      condition: LEASE_OURS,
      values: { ':until': now.getTime() + durationMs, ':owner': lease.owner, ':token': lease.token },
      returnValues: 'ALL_NEW',
    });
    return out?.item ? leaseOf(out.item) : undefined;
  }

  async releaseLease(
    lease: Lease,
    now: Date,
    options: { readonly renewForMs?: number } = {},
  ): Promise<LeaseRelease> {
    const ours = { ':owner': lease.owner, ':token': lease.token };
    const release = (condition: string) =>
      this.updateLease({
        operation: 'release lease',
        service: lease.service,
        set: 'SET leaseUntil = :zero, releasedAt = :at',
        condition,
        values: { ...ours, ':zero': 0, ':at': now.toISOString() },
      });
    if (options.renewForMs === undefined) {
      return (await release(LEASE_OURS)) ? { kind: 'released' } : { kind: 'lost' };
    }
    if (await release(`${LEASE_OURS} AND attribute_not_exists(wanted)`)) return { kind: 'released' };
    const renewed = await this.updateLease({
      operation: 'release lease',
      service: lease.service,
      set: 'SET leaseUntil = :until REMOVE wanted',
      condition: `${LEASE_OURS} AND attribute_exists(wanted)`,
      values: { ...ours, ':until': now.getTime() + options.renewForMs },
    });
    return renewed ? { kind: 'wanted', lease } : { kind: 'lost' };
  }

  /**
   * One conditional PutItem: false when the condition failed (a newer or equal write is there
   * already), which is an answer, not an error.
   */
  private async conditionalPut(operation: string, put: Omit<PutCommandInput, 'TableName'>): Promise<boolean> {
    try {
      await this.doc.send(new PutCommand({ TableName: this.tableName, ...put }));
      return true;
    } catch (error) {
      if (sdkErrorName(error) === 'ConditionalCheckFailedException') return false;
      throw classifyAwsError(`DynamoDB PutItem (${operation})`, error);
    }
  }

  /**
   * One conditional UpdateItem of a service's lease item. A failed condition is an answer (the lease
   * is someone else's, or no longer ours), not an error: it comes back as undefined; a success carries
   * the item ReturnValues asked for.
   */
  private async updateLease(update: {
    readonly operation: string;
    readonly service: string;
    readonly set: string;
    readonly condition: string;
    readonly values: Record<string, unknown>;
    readonly returnValues?: 'ALL_OLD' | 'ALL_NEW';
  }): Promise<{ readonly item: Record<string, unknown> | undefined } | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: servicePk(update.service), sk: LEASE_SK },
          UpdateExpression: update.set,
          ConditionExpression: update.condition,
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: update.values,
          ...(update.returnValues && { ReturnValues: update.returnValues }),
        }),
      );
      return { item: out.Attributes };
    } catch (error) {
      if (sdkErrorName(error) === 'ConditionalCheckFailedException') return undefined;
      throw classifyAwsError(`DynamoDB UpdateItem (${update.operation})`, error);
    }
  }

  async claimNotice(service: string, key: string, stamp: string): Promise<boolean> {
    return this.conditionalPut('notice', {
      Item: {
        pk: noticePk(service),
        sk: key,
        stamp,
        expiresAt: Math.floor(Date.parse(stamp) / 1000) + this.auditRetentionDays * 86_400,
      },
      ConditionExpression: 'attribute_not_exists(pk) OR stamp < :stamp',
      ExpressionAttributeValues: { ':stamp': stamp },
    });
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.call('PutItem', () =>
      this.doc.send(new PutCommand({ TableName: this.tableName, Item: this.auditItem(entry) })),
    );
  }

  /**
   * BatchWriteItem, 25 items a request (DynamoDB's limit), the requests in parallel: a worker moving
   * 50 services writes its audit in a few requests, not a few hundred. Items DynamoDB leaves
   * unprocessed (throttling) are sent again, a few times.
   */
  async appendAudits(entries: readonly AuditEntry[]): Promise<UnwrittenAudit[]> {
    const requests: AuditEntry[][] = [];
    for (let i = 0; i < entries.length; i += AUDIT_BATCH) requests.push(entries.slice(i, i + AUDIT_BATCH));
    const unwritten = await Promise.all(
      requests.map(async (batch): Promise<UnwrittenAudit[]> => {
        const items = new Map(batch.map((entry) => [this.auditItem(entry), entry] as const));
        let pending = [...items.keys()];
        let error: unknown = new RetryableError('DynamoDB BatchWriteItem left it unprocessed after retries');
        try {
          pending = await untilProcessed(pending, async (put) => {
            pending = put;
            const out = await this.call('BatchWriteItem', () =>
              this.doc.send(
                new BatchWriteCommand({
                  RequestItems: { [this.tableName]: put.map((Item) => ({ PutRequest: { Item } })) },
                }),
              ),
            );
            const left = new Set(
              (out.UnprocessedItems?.[this.tableName] ?? []).map((r) => `${r.PutRequest?.Item?.sk}`),
            );
            return put.filter((item) => left.has(`${item.sk}`));
          });
        } catch (failure) {
          error = failure;
        }
        return pending.map((item) => ({ entry: items.get(item) as AuditEntry, error }));
      }),
    );
    return unwritten.flat();
  }

  private auditItem(entry: AuditEntry): Record<string, unknown> {
    return {
      pk: auditPk(entry.service),
      sk: `${entry.at}#${this.newId()}`,
      expiresAt: Math.floor(Date.parse(entry.at) / 1000) + this.auditRetentionDays * 86_400,
      ...boundedAudit(entry),
    };
  }

  /** Newest first. */
  async readAudit(service: string, limit = 50): Promise<AuditEntry[]> {
    const items = await this.itemsOf(auditPk(service), { ScanIndexForward: false, Limit: limit });
    return items.map((item) => fromItem<AuditEntry>(item));
  }

  async recordReadiness(record: Omit<ReadinessRecord, 'changedAt'>): Promise<ReadinessChange> {
    const key = { pk: readinessPk(record.service), sk: statusSk(record.part as CapabilityName) };
    const findings = record.findings
      .slice(0, MAX_READINESS_FINDINGS)
      .map((f) => ({ ...f, reason: clip(f.reason, MAX_READINESS_REASON) }));
    try {
      // A change of verdict (or the first check): the whole item, with the time of the change.
      const out = await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, ...record, findings, changedAt: record.checkedAt },
          ConditionExpression: 'attribute_not_exists(pk) OR (verdict <> :verdict AND checkedAt <= :at)',
          ExpressionAttributeValues: { ':verdict': record.verdict, ':at': record.checkedAt },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const previous = out.Attributes?.verdict;
      return {
        kind: 'changed',
        previous: previous === 'ready' || previous === 'not-ready' ? previous : undefined,
      };
    } catch (error) {
      if (sdkErrorName(error) !== 'ConditionalCheckFailedException') {
        throw classifyAwsError('DynamoDB PutItem (readiness)', error);
      }
    }
    try {
      // The same verdict: the findings and the time of the check, keeping when it changed.
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET findings = :findings, checkedAt = :at',
          ConditionExpression: 'verdict = :verdict AND checkedAt <= :at',
          ExpressionAttributeValues: {
            ':findings': findings,
            ':at': record.checkedAt,
            ':verdict': record.verdict,
          },
        }),
      );
      return { kind: 'unchanged' };
    } catch (error) {
      if (sdkErrorName(error) === 'ConditionalCheckFailedException') return { kind: 'stale' };
      throw classifyAwsError('DynamoDB UpdateItem (readiness)', error);
    }
  }

  async readReadiness(service: string): Promise<ReadinessRecord[]> {
    const items = await this.itemsOf(readinessPk(service), { ConsistentRead: true });
    return items.map((item) => fromItem<ReadinessRecord>(item));
  }

  /** The items under one partition key (one page: a service's items and the audit limit fit in one). */
  private async itemsOf(
    pk: string,
    options: { ConsistentRead?: boolean; ScanIndexForward?: boolean; Limit?: number },
  ): Promise<Record<string, unknown>[]> {
    const out = await this.call('Query', () =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
          ...options,
        }),
      ),
    );
    return out.Items ?? [];
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw classifyAwsError(`DynamoDB ${operation}`, error);
    }
  }
}

/**
 * The backstop for free text from outside (an alarm's reason, an AWS error, a primary's reply):
 * whatever a caller built, no item this store writes can outgrow DynamoDB's 400 KB item limit,
 * which would make the write, and so the failover, fail.
 */
const boundedDesired = (next: DesiredState): DesiredState => ({
  ...next,
  requestedBy: clip(next.requestedBy, MAX_REQUESTED_BY),
  reason: clip(next.reason, MAX_INTENT_REASON),
});

export const boundedAudit = (entry: AuditEntry): AuditEntry => ({
  ...entry,
  message: clip(entry.message, MAX_AUDIT_MESSAGE),
  source: entry.source === undefined ? undefined : clip(entry.source, MAX_REQUESTED_BY),
  details: clipDetails(entry.details, MAX_AUDIT_DETAILS),
});

/** A status item, on condition that no newer one is stored (a later epoch, or a later lease token). */
const statusPut = (service: string, status: CapabilityStatus) => {
  const token = status.leaseToken;
  return {
    Item: {
      pk: servicePk(service),
      sk: statusSk(status.capability),
      ...status,
      detail: clip(status.detail, MAX_AUDIT_MESSAGE),
    },
    ConditionExpression:
      token === undefined
        ? 'attribute_not_exists(pk) OR epoch <= :epoch'
        : 'attribute_not_exists(pk) OR epoch < :epoch OR ' +
          '(epoch = :epoch AND (attribute_not_exists(leaseToken) OR leaseToken <= :token))',
    ExpressionAttributeValues: {
      ':epoch': status.epoch,
      ...(token !== undefined && { ':token': token }),
    },
  };
};

/** The lease is still the holder's own: same owner, same fencing token. */
const LEASE_OURS = '#owner = :owner AND leaseToken = :token';

/** The fence from a service's STATE and LEASE items (either may be missing). */
const fenceOf = (items: readonly Record<string, unknown>[]): Fence => {
  const state = items.find((i) => i.sk === STATE_SK);
  const lease = items.find((i) => i.sk === LEASE_SK);
  return {
    epoch: typeof state?.epoch === 'number' ? state.epoch : 0,
    ...(lease && { lease: leaseOf(lease) }),
  };
};

const leaseOf = (item: Record<string, unknown>): LeaseHolder => ({
  owner: typeof item.owner === 'string' ? item.owner : '',
  token: typeof item.leaseToken === 'number' ? item.leaseToken : 0,
  until: typeof item.leaseUntil === 'number' ? item.leaseUntil : 0,
});

const fromItem = <T>(item: Record<string, unknown>): T => {
  const { pk: _pk, sk: _sk, expiresAt: _ttl, ...rest } = item;
  return rest as T;
};
