import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import {
  DescribeActiveReceiptRuleSetCommand,
  DescribeReceiptRuleCommand,
  UpdateReceiptRuleCommand,
} from '@aws-sdk/client-ses';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { receiptRuleName, receiptRuleSetName } from '../../functions/capabilities/mail/config';
import {
  type InboundMessage,
  type LocalMail,
  MAIL_ALARM,
  MAIL_DOMAIN,
  sesMessageId,
  sesStoredMime,
  startLocalMail,
} from '../../functions/capabilities/mail/local';
import { type LocalPrimary, startLocalPrimary } from '../../functions/capabilities/mail/local-primary';
import { localLambdaContext as lambdaContext } from '../../functions/drill/lambda-context';
import { setAlarmAndBuildEvent } from '../../functions/drill/local-aws';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
import type { AlarmOutcome } from '../../functions/trigger/handle-alarm';

const endpoint = inject('motoEndpoint');

let primary: LocalPrimary;
let local: LocalMail;

const scheduledRun = () => createReconcileHandler(() => local.controlPlane())({}, lambdaContext);
const alarm = async (value: 'ALARM' | 'OK') => {
  const event = await setAlarmAndBuildEvent(
    local.clients.cloudwatch,
    MAIL_ALARM,
    value,
    'Threshold Crossed',
    local.clock.now(),
  );
  return (await createAlarmHandler(() => local.controlPlane())(event, lambdaContext)) as AlarmOutcome[];
};
const slackTexts = () => local.sink.messages.map((m) => m.body.text ?? '');
const messages = async () => (await local.store.read('shop')).messages;

/** A message as SES stores it, received `minutesAgo` before the test clock's now. */
const inbound = (
  n: number,
  body: string | Buffer,
  extra: Partial<InboundMessage> & { headers?: string } = {},
): InboundMessage => {
  const messageId = sesMessageId(n);
  const receivedAt = new Date(local.clock.now().getTime() - (1000 - n) * 60_000);
  const to = extra.recipients?.[0] ?? `customer${n % 7}@${MAIL_DOMAIN}`;
  return {
    messageId,
    receivedAt,
    mailFrom: `sender${n}@sender.test`,
    recipients: [to],
    raw: sesStoredMime({
      messageId,
      receivedAt,
      from: `sender${n}@sender.test`,
      to,
      subject: `held ${n}`,
      body,
      headers: extra.headers,
    }),
    ...extra,
  };
};

beforeEach(async () => {
  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  primary = await startLocalPrimary();
  local = await startLocalMail(endpoint, primary);
});

afterEach(async () => {
  await local?.stop();
  await primary?.stop();
});

describe('mail: SES holds inbound mail while the primary is down and hands it back', () => {
  it('keeps the backup MX accepting while the alarm is ALARM, records each message once, delivers nothing', async () => {
    // Prepare: the primary refuses connections; its alarm fires
    await primary.setMode('refuse');
    const [outcome] = await alarm('ALARM');
    expect(outcome).toMatchObject({ kind: 'transitioned', changed: ['mail'] });

    // Act: three messages reach SES (one twice: Lambda's async invocation is at least once)
    const held = [
      inbound(1, 'first\r\n'),
      inbound(2, 'second\r\n', { spam: 'FAIL' }),
      inbound(3, 'third\r\n'),
    ];
    for (const m of held) expect((await local.receive(m)).recorded).toEqual([m.messageId]);
    expect((await local.receive(held[0] as InboundMessage)).duplicates).toEqual([held[0]?.messageId]);
    await scheduledRun();
    await primary.setMode('accept'); // back, but the alarm still says ALARM: nothing is handed back
    await scheduledRun();

    // Assess
    const active = await local.clients.ses.send(new DescribeActiveReceiptRuleSetCommand({}));
    expect(active.Metadata?.Name).toBe(receiptRuleSetName('understudy'));
    const records = await messages();
    expect(records.map((m) => m.messageId)).toEqual(held.map((m) => m.messageId));
    expect(records.every((m) => m.status === 'held')).toBe(true);
    // The spam verdict is recorded, and the message is still held for the primary.
    expect(records[1]?.verdicts.spam).toBe('FAIL');
    expect(primary.accepted).toHaveLength(0);
    const report = slackTexts().filter((t) => t.includes('ReportHeldMail'));
    expect(report).toHaveLength(1);
    expect(report[0]).toContain('3 held message(s)');
  });

  it('re-enables a disabled receipt rule while the primary is down', async () => {
    await primary.setMode('refuse');
    await alarm('ALARM');
    const ruleSet = receiptRuleSetName('understudy');
    const { Rule } = await local.clients.ses.send(
      new DescribeReceiptRuleCommand({ RuleSetName: ruleSet, RuleName: receiptRuleName('shop') }),
    );
    await local.clients.ses.send(
      new UpdateReceiptRuleCommand({
        RuleSetName: ruleSet,
        Rule: { ...Rule, Name: receiptRuleName('shop'), Enabled: false },
      }),
    );

    await scheduledRun();

    const after = await local.clients.ses.send(
      new DescribeReceiptRuleCommand({ RuleSetName: ruleSet, RuleName: receiptRuleName('shop') }),
    );
    expect(after.Rule?.Enabled).toBe(true);
  });

  it('hands 200 held messages back exactly once, in order, byte-identical, while the primary flaps', async () => {
    // Prepare: the primary is down; 200 messages arrive at SES, among them a 10 MB one (with lines
    // that start with a dot) and 8-bit / UTF-8 ones
    await primary.setMode('refuse');
    await alarm('ALARM');
    const big = Buffer.alloc(10 * 1024 * 1024, 'a');
    for (let i = 76; i < big.length; i += 78) big.write(i % 7800 === 76 ? '\r\n.' : '\r\n', i - 1, 'latin1');
    big.write('\r\n', big.length - 2, 'latin1');
    const utf8Headers =
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n';
    const held: InboundMessage[] = [];
    for (let n = 0; n < 200; n++) {
      const body =
        n === 57
          ? big
          : n % 10 === 3
            ? Buffer.concat([
                Buffer.from('Grüße aus Köln, 日本語のメール ✓\r\n.leading dot\r\n', 'utf8'),
                Buffer.from([0xe9, 0xff, 0x0d, 0x0a]),
              ])
            : `message ${n}\r\n..two dots\r\n.\r\n`;
      const m = inbound(n, body, n % 10 === 3 ? { headers: utf8Headers } : {});
      held.push(m);
      await local.receive(m);
    }

    // Act: the alarm clears; the primary flaps through the hand-back: refused connections, a 421
    // greeting, and connections cut in the middle of a message
    const [ok] = await alarm('OK');
    expect(ok).toMatchObject({ kind: 'transitioned', changed: ['mail'] });
    let flips = 0;
    primary.onAccepted(async (count) => {
      if (count % 45 === 0) {
        flips++;
        primary.dropAfterBytes = 2048;
        await primary.setMode('drop');
      }
    });
    const script: ('refuse' | '421' | 'accept')[] = [
      'refuse',
      'accept',
      '421',
      'accept',
      'accept',
      'refuse',
      'accept',
    ];
    for (let run = 0; run < 40 && primary.accepted.length < 200; run++) {
      local.clock.advance(16 * 60_000); // past any backoff
      await primary.setMode(script[run % script.length] ?? 'accept');
      await scheduledRun();
    }

    // Assess: every message exactly once, in receive order, byte for byte, with its envelope
    expect(flips).toBeGreaterThanOrEqual(3);
    expect(primary.accepted).toHaveLength(200);
    primary.accepted.forEach((got, i) => {
      const want = held[i] as InboundMessage;
      expect(got.raw.equals(want.raw), `message ${i} differs`).toBe(true);
      expect(got.mailFrom).toBe(want.mailFrom);
      expect(got.recipients).toEqual(want.recipients);
    });
    const records = await messages();
    expect(records.every((m) => m.status === 'delivered')).toBe(true);
    // Nothing is deleted on delivery: the raw messages stay in S3 for the retention period.
    const stored = await local.clients.s3.send(
      new GetObjectCommand({ Bucket: local.bucket, Key: records[57]?.key }),
    );
    expect(
      Buffer.from((await stored.Body?.transformToByteArray()) ?? []).equals(big) ||
        stored.ContentLength === held[57]?.raw.length,
    ).toBe(true);
    // Idle afterwards: another run delivers nothing more.
    await scheduledRun();
    expect(primary.accepted).toHaveLength(200);
  }, 120_000);

  it('keeps and reports a message the primary refuses with 550, and deletes delivered mail only after retention', async () => {
    await primary.setMode('refuse');
    await alarm('ALARM');
    primary.refuseRecipients.add(`ghost@${MAIL_DOMAIN}`);
    const held = [
      inbound(1, 'one\r\n'),
      inbound(2, 'to nobody\r\n', { recipients: [`ghost@${MAIL_DOMAIN}`] }),
      inbound(3, 'three\r\n'),
    ];
    for (const m of held) await local.receive(m);

    await primary.setMode('accept');
    await alarm('OK');
    await scheduledRun();

    // The two others are delivered, in order; the refused one stays, with the primary's reply.
    expect(primary.accepted.map((a) => a.recipients[0])).toEqual([
      held[0]?.recipients[0],
      held[2]?.recipients[0],
    ]);
    const records = await messages();
    const refused = records.find((m) => m.messageId === held[1]?.messageId);
    expect(refused).toMatchObject({ status: 'rejected', rejectedRecipients: [`ghost@${MAIL_DOMAIN}`] });
    expect(refused?.lastReply).toMatch(/^550/);
    expect(
      slackTexts().some(
        (t) => t.includes('refused for good by the primary') && t.includes(held[1]?.messageId ?? '?'),
      ),
    ).toBe(true);
    const head = (key: string | undefined) =>
      local.clients.s3.send(new HeadObjectCommand({ Bucket: local.bucket, Key: key })).then(
        () => true,
        () => false,
      );
    // Within retention everything is still stored.
    for (const m of records) expect(await head(m.key)).toBe(true);

    // Act: eight days later (retention 7 days)
    local.clock.advance(8 * 86_400_000);
    await scheduledRun();

    // Assess: delivered mail is gone from S3; the refused message is kept, never deleted
    for (const m of records) expect(await head(m.key)).toBe(m.status === 'rejected');
    expect((await messages()).map((m) => m.messageId)).toEqual([held[1]?.messageId]);
  });
});
