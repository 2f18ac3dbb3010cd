import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
  type UpdateCommandInput,
  type UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { classifyAwsError } from '../../core/errors';
import { sdkErrorName } from '../../runtime/client-kit';
import { emptyMeta, type HeldMessage, type MailMeta, messageSortKey } from './held';

const mailPk = (service: string) => `MAIL#${service}`;
const META_SK = 'META';

/** The SDK's error, possibly already classified (wrapped, as `cause`) by the client kit's middleware. */
const isConditionFailure = (error: unknown) => sdkErrorName(error) === 'ConditionalCheckFailedException';

/** What the primary made of one claimed message, written only by the run holding the claim. */
export interface MessageOutcome {
  readonly status: 'held' | 'delivered' | 'rejected';
  readonly pendingRecipients: readonly string[];
  readonly rejectedRecipients: readonly string[];
  readonly lastReply: string;
  readonly nextAttemptAt?: string | undefined;
  readonly at: string;
}

/**
 * Held-mail records in the control plane's table, beside (not inside) the service state:
 *   MAIL#<service> / MSG#<receivedAt>#<messageId>   one item per held message (see held.ts)
 *   MAIL#<service> / META                           backoff and backlog-report bookkeeping
 * Every status change is a conditional write on the item's status (and claim), so concurrent runs
 * never send one message twice and nothing marks a message delivered that its run did not deliver.
 */
export class MailStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  /** Records a message SES stored. False if it is already recorded (SES or Lambda delivered the event twice). */
  async recordHeld(message: HeldMessage): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: mailPk(message.service), sk: messageSortKey(message), ...message },
          // A repeated event must never reset a message that is being or has been delivered.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw classifyAwsError('DynamoDB PutItem (held mail)', error);
    }
  }

  /** Every message not yet purged, oldest first, and the service's bookkeeping. */
  async read(service: string): Promise<{ messages: HeldMessage[]; meta: MailMeta }> {
    const messages: HeldMessage[] = [];
    let meta: MailMeta = emptyMeta;
    let startKey: Record<string, unknown> | undefined;
    do {
      const out: QueryCommandOutput = await this.call('Query', () =>
        this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': mailPk(service) },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      for (const item of out.Items ?? []) {
        const { pk: _pk, sk, expiresAt: _ttl, ...rest } = item;
        if (sk === META_SK) meta = { ...emptyMeta, ...(rest as Partial<MailMeta>) };
        else if (typeof sk === 'string' && sk.startsWith('MSG#') && rest.status !== 'purged') {
          messages.push(rest as HeldMessage);
        }
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return { messages, meta };
  }

  /**
   * Takes a message for delivery: only if it is held and due, or its previous claim has expired
   * (that run died). Undefined if another run has it or it was settled meanwhile.
   */
  async claim(
    message: Pick<HeldMessage, 'service' | 'receivedAt' | 'messageId'>,
    runId: string,
    now: Date,
    leaseMs: number,
  ): Promise<HeldMessage | undefined> {
    const out = await this.updateIf('claim held mail', {
      Key: { pk: mailPk(message.service), sk: messageSortKey(message) },
      UpdateExpression:
        'SET #status = :delivering, claimedBy = :run, claimedUntil = :lease, attempts = attempts + :one',
      ConditionExpression:
        '(#status = :held AND (attribute_not_exists(nextAttemptAt) OR nextAttemptAt <= :now)) OR ' +
        '(#status = :delivering AND claimedUntil < :now)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':delivering': 'delivering',
        ':held': 'held',
        ':run': runId,
        ':lease': new Date(now.getTime() + leaseMs).toISOString(),
        ':now': now.toISOString(),
        ':one': 1,
      },
      // The fresh item: another run may have delivered to some recipients since we read it.
      ReturnValues: 'ALL_NEW',
    });
    if (!out) return undefined;
    const { pk: _pk, sk: _sk, ...item } = out.Attributes ?? {};
    return item as HeldMessage;
  }

  /**
   * Records what the primary said, only while this run still holds the claim. False if the claim
   * was lost (the lease expired and another run took the message over): the caller reports it.
   */
  async settle(
    message: Pick<HeldMessage, 'service' | 'receivedAt' | 'messageId'>,
    runId: string,
    outcome: MessageOutcome,
  ): Promise<boolean> {
    const set = [
      '#status = :status',
      'pendingRecipients = :pending',
      'rejectedRecipients = :rejected',
      'lastReply = :reply',
    ];
    const values: Record<string, unknown> = {
      ':status': outcome.status,
      ':pending': outcome.pendingRecipients,
      ':rejected': outcome.rejectedRecipients,
      ':reply': outcome.lastReply.slice(0, 1000),
      ':delivering': 'delivering',
      ':run': runId,
    };
    const remove = ['claimedBy', 'claimedUntil'];
    if (outcome.status === 'delivered') {
      set.push('deliveredAt = :at');
      values[':at'] = outcome.at;
    }
    if (outcome.status === 'rejected') {
      set.push('rejectedAt = :at');
      values[':at'] = outcome.at;
    }
    if (outcome.nextAttemptAt !== undefined) {
      set.push('nextAttemptAt = :next');
      values[':next'] = outcome.nextAttemptAt;
    } else {
      remove.push('nextAttemptAt');
    }
    const out = await this.updateIf('settle held mail', {
      Key: { pk: mailPk(message.service), sk: messageSortKey(message) },
      UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
      ConditionExpression: '#status = :delivering AND claimedBy = :run',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: values,
    });
    return out !== undefined;
  }

  /** After its S3 object is deleted: the record stays (with a TTL) as the trace of the hand-back. */
  async markPurged(
    message: Pick<HeldMessage, 'service' | 'receivedAt' | 'messageId'>,
    at: Date,
    keepDays: number,
  ): Promise<void> {
    await this.updateIf('purge held mail', {
      Key: { pk: mailPk(message.service), sk: messageSortKey(message) },
      UpdateExpression: 'SET #status = :purged, purgedAt = :at, expiresAt = :ttl',
      ConditionExpression: '#status = :delivered',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':purged': 'purged',
        ':delivered': 'delivered',
        ':at': at.toISOString(),
        ':ttl': Math.floor(at.getTime() / 1000) + keepDays * 86_400,
      },
    });
  }

  /** One conditional UpdateItem of a held-mail item; undefined when its condition did not hold. */
  private async updateIf(
    operation: string,
    input: Omit<UpdateCommandInput, 'TableName'>,
  ): Promise<UpdateCommandOutput | undefined> {
    try {
      return await this.doc.send(new UpdateCommand({ TableName: this.tableName, ...input }));
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw classifyAwsError(`DynamoDB UpdateItem (${operation})`, error);
    }
  }

  /** Merges fields into the service's bookkeeping item. */
  async updateMeta(service: string, fields: Partial<MailMeta>): Promise<void> {
    const entries = Object.entries(fields);
    const set = entries.filter(([, v]) => v !== undefined);
    const remove = entries.filter(([, v]) => v === undefined).map(([k]) => k);
    const names = Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k]));
    const nameOf = (k: string) => `#f${entries.findIndex(([key]) => key === k)}`;
    const expression = [
      set.length > 0 ? `SET ${set.map(([k], i) => `${nameOf(k)} = :v${i}`).join(', ')}` : '',
      remove.length > 0 ? `REMOVE ${remove.map(nameOf).join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    if (!expression) return;
    await this.call('UpdateItem', () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: mailPk(service), sk: META_SK },
          UpdateExpression: expression,
          ExpressionAttributeNames: names,
          ...(set.length > 0 && {
            ExpressionAttributeValues: Object.fromEntries(set.map(([, v], i) => [`:v${i}`, v])),
          }),
        }),
      ),
    );
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw classifyAwsError(`DynamoDB ${operation}`, error);
    }
  }
}
