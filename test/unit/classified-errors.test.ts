import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client, StartInstancesCommand } from '@aws-sdk/client-ec2';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { computeCapability } from '../../functions/capabilities/compute/ec2';
import type { HeldMessage } from '../../functions/capabilities/mail/held';
import { MailStore } from '../../functions/capabilities/mail/store';
import { classifyAwsError } from '../../functions/core/errors';
import { computeService, S1 } from '../support/compute-fixtures';

/**
 * Clients made by the client kit (functions/runtime/client-kit.ts) classify every SDK error in a
 * middleware: the caller sees a RetryableError/TerminalError whose `cause` is the SDK's error. Code
 * that recognises an SDK error by name must look through that wrapping.
 */
const classified = (name: string, operation: string) =>
  classifyAwsError(
    operation,
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: 400 } }),
  );

const doc = mockClient(DynamoDBDocumentClient);
const ec2 = mockClient(EC2Client);
afterEach(() => {
  doc.reset();
  ec2.reset();
});

const held: HeldMessage = {
  service: 'shop',
  messageId: 'm1',
  receivedAt: '2026-11-22T10:00:00.000Z',
  bucket: 'b',
  key: 'k',
  size: 1,
  mailFrom: 'a@sender.test',
  recipients: ['b@shop.test'],
  pendingRecipients: ['b@shop.test'],
  rejectedRecipients: [],
  verdicts: {},
  status: 'held',
  attempts: 0,
};

describe('a condition failure, classified by the client kit', () => {
  const store = () => new MailStore(new DynamoDBClient({ region: 'eu-west-2' }), 'state');

  it('is a duplicate for the held-mail recorder, not an error', async () => {
    doc.on(PutCommand).rejects(classified('ConditionalCheckFailedException', 'DynamoDB PutItem'));
    await expect(store().recordHeld(held)).resolves.toBe(false);
  });

  it('is "taken by another run" for a claim, and "claim lost" for a settle', async () => {
    doc.on(UpdateCommand).rejects(classified('ConditionalCheckFailedException', 'DynamoDB UpdateItem'));
    await expect(store().claim(held, 'run', new Date(), 60_000)).resolves.toBeUndefined();
    await expect(
      store().settle(held, 'run', {
        status: 'delivered',
        pendingRecipients: [],
        rejectedRecipients: [],
        lastReply: '250',
        at: '2026-11-22T10:00:00.000Z',
      }),
    ).resolves.toBe(false);
  });
});

describe('a spare that cannot start, classified by the client kit', () => {
  it('is reported, not thrown', async () => {
    ec2.on(StartInstancesCommand).rejects(classified('InsufficientInstanceCapacity', 'EC2 StartInstances'));
    const capability = computeCapability({
      ec2: new EC2Client({ region: 'eu-west-2' }),
    } as Parameters<typeof computeCapability>[0]);

    const result = await capability.execute(
      { capability: 'compute', api: 'ec2:StartInstances', reason: 'r', params: { InstanceIds: [S1] } },
      { service: computeService(), epoch: 1 },
    );

    expect(result).toMatchObject({ verified: false, detail: expect.stringContaining('could not start') });
  });
});
