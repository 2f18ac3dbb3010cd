import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { CapabilityName } from '../config/schema';
import { classifyAwsError } from '../core/errors';
import {
  clip,
  clipDetails,
  MAX_AUDIT_DETAILS,
  MAX_AUDIT_MESSAGE,
  MAX_INTENT_REASON,
  MAX_REQUESTED_BY,
} from '../core/text';
import { type CapabilityStatus, type DesiredState, initialDesiredState } from '../core/types';
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
    | 'plan';
  readonly capability?: CapabilityName | undefined;
  readonly epoch: number;
  readonly message: string;
  readonly source?: string | undefined;
  readonly details?: Record<string, unknown> | undefined;
}

export interface ServiceRecord {
  readonly desired: DesiredState;
  readonly statuses: Partial<Record<CapabilityName, CapabilityStatus>>;
}

const servicePk = (service: string) => `SERVICE#${service}`;
const auditPk = (service: string) => `AUDIT#${service}`;
const STATE_SK = 'STATE';
const statusSk = (capability: CapabilityName) => `CAP#${capability}`;

/** The control plane's memory, as the engine, triggers and CLI use it. */
export interface StateStore {
  readService(service: string): Promise<ServiceRecord>;
  /** The current epoch, read consistently: the fence checked before every mutating call. */
  readEpoch(service: string): Promise<number>;
  /** Writes a transition only if the epoch is still `expectedEpoch`; false when another writer won. */
  writeTransition(expectedEpoch: number, next: DesiredState): Promise<boolean>;
  writeStatus(service: string, status: CapabilityStatus): Promise<void>;
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  readAudit(service: string, limit?: number): Promise<AuditEntry[]>;
}

/**
 * The control plane's only memory, in DynamoDB. Layout (one table, pk/sk):
 *   SERVICE#<name> / STATE        desired state; written only by conditional transitions
 *   SERVICE#<name> / CAP#<cap>    each reconciler's progress; written only when it changes
 *   AUDIT#<name>   / <time>#<id>  audit log, expiring through the table's TTL on `expiresAt`
 * Reading a service is one Query; audit items live under their own key so they never slow it down.
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
    const statuses: Partial<Record<CapabilityName, CapabilityStatus>> = {};
    for (const item of items) {
      if (item.sk === STATE_SK) desired = fromItem<DesiredState>(item);
      else if (typeof item.sk === 'string' && item.sk.startsWith('CAP#')) {
        const status = fromItem<CapabilityStatus>(item);
        statuses[status.capability] = status;
      }
    }
    return { desired, statuses };
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
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: servicePk(next.service), sk: STATE_SK, ...boundedDesired(next) },
          ConditionExpression:
            expectedEpoch === 0 ? 'attribute_not_exists(pk) OR epoch = :expected' : 'epoch = :expected',
          ExpressionAttributeValues: { ':expected': expectedEpoch },
        }),
      );
      return true;
    } catch (error) {
      if (sdkErrorName(error) === 'ConditionalCheckFailedException') return false;
      throw classifyAwsError('DynamoDB PutItem (transition)', error);
    }
  }

  async writeStatus(service: string, status: CapabilityStatus): Promise<void> {
    await this.call('PutItem', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: servicePk(service),
            sk: statusSk(status.capability),
            ...status,
            detail: clip(status.detail, MAX_AUDIT_MESSAGE),
          },
        }),
      ),
    );
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    const expiresAt = Math.floor(Date.parse(entry.at) / 1000) + this.auditRetentionDays * 86_400;
    await this.call('PutItem', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: auditPk(entry.service),
            sk: `${entry.at}#${this.newId()}`,
            expiresAt,
            ...boundedAudit(entry),
          },
        }),
      ),
    );
  }

  /** Newest first. */
  async readAudit(service: string, limit = 50): Promise<AuditEntry[]> {
    const items = await this.itemsOf(auditPk(service), { ScanIndexForward: false, Limit: limit });
    return items.map((item) => fromItem<AuditEntry>(item));
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

const fromItem = <T>(item: Record<string, unknown>): T => {
  const { pk: _pk, sk: _sk, expiresAt: _ttl, ...rest } = item;
  return rest as T;
};
