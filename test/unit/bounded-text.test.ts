import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { sesReceiptEventSchema } from '../../functions/capabilities/mail/ses-event';
import { clip, MAX_ALARM_REASON } from '../../functions/core/text';
import { slackMessage } from '../../functions/notify/slack';
import { DynamoStateStore } from '../../functions/state/store';
import { classifyAlarmEvent } from '../../functions/trigger/alarm-event';
import { handleAlarmEvent } from '../../functions/trigger/handle-alarm';
import {
  alarmEvent,
  configWith,
  FakeCapability,
  FakeClock,
  RecordingNotifier,
  testControlPlane,
} from './fixtures';

const T0 = '2026-11-22T10:00:00.000Z';
const MIB = 1024 * 1024;
/** DynamoDB's item limit; "far below" is a tenth of it. */
const ITEM_LIMIT = 400 * 1024;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** A CloudWatch alarm event, forged with a state reason CloudWatch itself would never send. */
const forged = (reason: string) => {
  const event = alarmEvent({ time: new Date(T0) });
  event.detail.state.reason = reason;
  return event;
};

const huge = {
  'ASCII, 1 MiB': 'x'.repeat(MIB),
  'emoji, 1 MiB of UTF-16 (2 MiB of UTF-8)': '🔥'.repeat(MIB / 2),
};

describe('clip', () => {
  it('leaves text within the bound as it is', () => {
    expect(clip('short', 5)).toBe('short');
  });

  it('cuts to exactly the bound, with a marker that gives the original length', () => {
    const out = clip('y'.repeat(5_000), 1_000);
    expect(out).toHaveLength(1_000);
    expect(out).toMatch(/^y+ …\[truncated from 5000 characters\]$/);
  });

  it('never leaves half a surrogate pair', () => {
    for (let max = 40; max < 60; max++) {
      const out = clip('🔥'.repeat(100), max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out).not.toMatch(LONE_SURROGATE);
    }
  });
});

describe('an alarm event with an unbounded state reason still fails the service over', () => {
  it.each(Object.entries(huge))('%s: the verdict quotes at most 1,023 characters of it', (_label, reason) => {
    const [verdict] = classifyAlarmEvent(forged(reason), configWith({ mode: 'auto' }), new Date(T0));
    expect(verdict?.kind).toBe('alarm');
    expect(verdict?.reason.length).toBeLessThan(MAX_ALARM_REASON + 100);
    expect(verdict?.reason).toContain('truncated from');
  });

  it.each(Object.entries(huge))(
    '%s: transitioned, and every stored or posted item stays small',
    async (_l, reason) => {
      // Prepare
      const capability = new FakeCapability();
      const notifier = new RecordingNotifier();
      const cp = testControlPlane({
        config: configWith({ mode: 'auto' }),
        capability,
        notifier,
        clock: new FakeClock(T0),
      });

      // Act
      const outcomes = await handleAlarmEvent(cp, forged(reason));
      await cp.reporter.flush();

      // Assess: the failover happened
      expect(outcomes).toMatchObject([{ kind: 'transitioned', service: 'shop' }]);
      expect(capability.executed).toHaveLength(1);
      expect(cp.fakeStore.statuses.get('shop')?.dns?.phase).toBe('converged');
      // ... and nothing written or posted is anywhere near DynamoDB's item limit
      const desired = cp.fakeStore.desired.get('shop');
      expect(desired?.reason).toContain('truncated from');
      expect(bytes(desired)).toBeLessThan(ITEM_LIMIT / 10);
      expect(cp.fakeStore.audit.length).toBeGreaterThan(0);
      for (const entry of cp.fakeStore.audit) expect(bytes(entry)).toBeLessThan(ITEM_LIMIT / 10);
      for (const entry of notifier.sent)
        expect(bytes(slackMessage(entry, 'cp'))).toBeLessThan(ITEM_LIMIT / 10);
    },
  );

  it('in approve mode, the plan posted to Slack is bounded too', async () => {
    const notifier = new RecordingNotifier();
    const cp = testControlPlane({
      config: configWith({ mode: 'approve' }),
      capability: new FakeCapability(),
      notifier,
      clock: new FakeClock(T0),
    });

    const outcomes = await handleAlarmEvent(cp, forged('z'.repeat(MIB)));
    await cp.reporter.flush();

    expect(outcomes).toMatchObject([{ kind: 'planned' }]);
    expect(notifier.sent).toHaveLength(1);
    for (const entry of cp.fakeStore.audit) expect(bytes(entry)).toBeLessThan(ITEM_LIMIT / 10);
  });
});

describe('DynamoStateStore bounds what it writes, whatever the caller built', () => {
  const dynamo = mockClient(DynamoDBDocumentClient);
  afterEach(() => dynamo.reset());
  const store = () =>
    new DynamoStateStore(new DynamoDBClient({ region: 'eu-west-2' }), 'state', 90, () => 'id');
  const written = () => {
    const calls = dynamo.commandCalls(PutCommand);
    expect(calls).toHaveLength(1);
    return calls[0]?.args[0].input.Item ?? {};
  };

  it('a transition with a 1 MiB reason and requester', async () => {
    dynamo.on(PutCommand).resolves({});
    await store().writeTransition(0, {
      service: 'shop',
      epoch: 1,
      capabilities: { dns: { active: 'standby', epoch: 1, changedAt: T0 } },
      requestedBy: `alarm:${'a'.repeat(MIB)}`,
      requestedAt: T0,
      reason: '🔥'.repeat(MIB),
    });
    const item = written();
    expect(bytes(item)).toBeLessThan(ITEM_LIMIT / 10);
    expect(item.reason).toContain('truncated from');
    expect(item.requestedBy).toContain('truncated from');
    expect(item.epoch).toBe(1);
  });

  it('an audit entry with a 1 MiB message, source and details', async () => {
    dynamo.on(PutCommand).resolves({});
    await store().appendAudit({
      service: 'shop',
      at: T0,
      kind: 'decision',
      epoch: 1,
      message: 'm'.repeat(MIB),
      source: `alarm:${'s'.repeat(MIB)}`,
      details: { reply: 'd'.repeat(MIB), list: Array.from({ length: 50_000 }, (_, i) => i) },
    });
    const item = written();
    expect(bytes(item)).toBeLessThan(ITEM_LIMIT / 10);
    expect(item.message).toContain('truncated from');
    expect(item.details.clipped).toContain('truncated from');
  });

  it('keeps small details as they are', async () => {
    dynamo.on(PutCommand).resolves({});
    await store().appendAudit({
      service: 'shop',
      at: T0,
      kind: 'action',
      epoch: 1,
      message: 'ok',
      details: { changeId: 'C1', attempts: 2 },
    });
    expect(written().details).toEqual({ changeId: 'C1', attempts: 2 });
  });

  it('a status with a 1 MiB detail', async () => {
    dynamo.on(PutCommand).resolves({});
    await store().writeStatus('shop', {
      capability: 'dns',
      epoch: 1,
      active: 'standby',
      phase: 'refused',
      detail: 'e'.repeat(MIB),
      updatedAt: T0,
    });
    expect(bytes(written())).toBeLessThan(ITEM_LIMIT / 10);
  });
});

describe('slackMessage', () => {
  it('bounds every field, the source included', () => {
    const message = slackMessage(
      {
        service: 'shop',
        at: T0,
        kind: 'decision',
        epoch: 1,
        message: 'x',
        source: `alarm:${'q'.repeat(MIB)}`,
      },
      'cp',
    );
    expect(bytes(message)).toBeLessThan(10_000);
  });
});

describe('the held-mail record of an SES event is bounded', () => {
  const receipt = (overrides: Record<string, unknown>) => ({
    Records: [
      {
        eventSource: 'aws:ses',
        eventVersion: '1.0',
        ses: {
          mail: {
            timestamp: T0,
            source: 'a@sender.test',
            messageId: 'm1',
            destination: ['b@shop.example.com'],
          },
          receipt: { recipients: ['b@shop.example.com'], action: { type: 'Lambda' }, ...overrides },
        },
      },
    ],
  });

  it('clips a verdict to a word', () => {
    const parsed = sesReceiptEventSchema.parse(receipt({ spamVerdict: { status: 'PASS'.repeat(MIB / 4) } }));
    expect(parsed.Records[0]?.ses.receipt.spamVerdict?.status.length).toBeLessThanOrEqual(64);
  });

  it('refuses more recipients than SES ever gives one message', () => {
    const recipients = Array.from({ length: 10_000 }, (_, i) => `user${i}@shop.example.com`);
    expect(sesReceiptEventSchema.safeParse(receipt({ recipients })).success).toBe(false);
  });
});
