import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyMeta, type HeldMessage } from '../../functions/capabilities/mail/held';
import { type MailObserved, nextBatch, planMail, purgeable } from '../../functions/capabilities/mail/planner';
import { dotStuff } from '../../functions/capabilities/mail/smtp';
import { ConfigError, parseConfig, type ServiceConfig } from '../../functions/config/schema';
import { breather } from '../support/breather';

const breathe = breather();

const NOW = new Date('2026-11-22T10:00:00.000Z');

const config = (mail: Record<string, unknown> = {}) =>
  parseConfig({
    controlPlane: { account: '111111111111', region: 'eu-west-2' },
    services: [
      {
        name: 'shop',
        alarms: [{ name: 'mail-down', capabilities: ['mail'] }],
        mail: {
          domain: 'shop.example.com',
          hostedZoneId: 'Z0SHOP',
          primary: { host: 'mx1.shop.example.com' },
          ...mail,
        },
      },
    ],
  });
const service = (): ServiceConfig => config().services[0] as ServiceConfig;

const message = (n: number, fields: Partial<HeldMessage> = {}): HeldMessage => ({
  service: 'shop',
  messageId: `m${String(n).padStart(4, '0')}`,
  receivedAt: new Date(NOW.getTime() - (10_000 - n) * 1000).toISOString(),
  bucket: 'held',
  key: `held/shop/m${n}`,
  size: 1000,
  mailFrom: 'a@b.test',
  recipients: ['x@shop.example.com'],
  pendingRecipients: ['x@shop.example.com'],
  rejectedRecipients: [],
  verdicts: {},
  status: 'held',
  attempts: 0,
  ...fields,
});

const observed = (fields: Partial<MailObserved> = {}): MailObserved => ({
  ruleSetName: 'understudy-held-mail',
  ruleName: 'shop-hold',
  activeRuleSet: 'understudy-held-mail',
  rule: { exists: true, enabled: true },
  messages: [],
  meta: emptyMeta,
  primary: { ok: true, detail: 'answers' },
  ...fields,
});

const plan = (target: 'primary' | 'standby', obs: MailObserved, epoch = 1) =>
  planMail({ service: service(), target, epoch, observed: obs, status: undefined, now: NOW });

describe('mail config', () => {
  it('names the field when the backup MX would be preferred over the primary', () => {
    expect(() => config({ backupMxPriority: 5 })).toThrow(ConfigError);
    expect(() => config({ backupMxPriority: 5 })).toThrow(
      /services\[shop\]\.mail\.backupMxPriority: must be higher/,
    );
  });
  it("names the field for an inbound Region other than the control plane's", () => {
    expect(() => config({ inboundRegion: 'us-east-1' })).toThrow(/services\[shop\]\.mail\.inboundRegion/);
  });
  it('defaults to STARTTLS on port 25 and 7 days of retention', () => {
    expect(service().mail).toMatchObject({
      primary: { port: 25, tls: 'starttls', mxPriority: 10 },
      retentionDays: 7,
    });
  });
});

describe('planMail', () => {
  it('activates the rule set and enables the rule while the primary is down, and reports the backlog once', () => {
    // Act
    const p = plan(
      'standby',
      observed({ activeRuleSet: undefined, rule: { exists: true, enabled: false }, messages: [message(1)] }),
    );

    // Assess
    expect(p.kind).toBe('act');
    expect(p.kind === 'act' && p.actions.map((a) => a.api)).toEqual([
      'ses:SetActiveReceiptRuleSet',
      'ses:UpdateReceiptRule',
      'understudy:ReportHeldMail',
    ]);
  });

  it('does not report the backlog every minute, only after the interval and a change', () => {
    const meta = {
      ...emptyMeta,
      lastReportAt: new Date(NOW.getTime() - 10 * 60_000).toISOString(),
      lastReportEpoch: 1,
      lastReportCount: 1,
    };
    expect(plan('standby', observed({ messages: [message(1), message(2)], meta })).kind).toBe('converged');
    const hourAgo = { ...meta, lastReportAt: new Date(NOW.getTime() - 61 * 60_000).toISOString() };
    expect(plan('standby', observed({ messages: [message(1), message(2)], meta: hourAgo })).kind).toBe('act');
    expect(plan('standby', observed({ messages: [message(1)], meta: hourAgo })).kind).toBe('converged');
  });

  it('never replaces another active rule set', () => {
    const p = plan('standby', observed({ activeRuleSet: 'someone-elses' }));
    expect(p.kind).toBe('refuse');
    expect(p.detail).toContain('someone-elses');
  });

  it('hands back only when the desired state says primary and the primary answers SMTP', () => {
    const messages = [message(1), message(2)];
    expect(
      plan(
        'standby',
        observed({ messages, meta: { ...emptyMeta, lastReportAt: NOW.toISOString(), lastReportEpoch: 1 } }),
      ).kind,
    ).toBe('converged');
    expect(plan('primary', observed({ messages, primary: { ok: false, detail: 'ECONNREFUSED' } })).kind).toBe(
      'wait',
    );
    const p = plan('primary', observed({ messages }));
    expect(p.kind === 'act' && p.actions.map((a) => a.api)).toEqual(['smtp:DeliverHeldMail']);
  });

  it('waits out the primary-level backoff without probing', () => {
    const meta = {
      ...emptyMeta,
      primaryFailures: 2,
      primaryRetryAfter: new Date(NOW.getTime() + 60_000).toISOString(),
    };
    expect(plan('primary', observed({ messages: [message(1)], meta })).kind).toBe('wait');
  });

  it('keeps and reports messages the primary refused for good', () => {
    const p = plan(
      'primary',
      observed({ messages: [message(1, { status: 'rejected', lastReply: '550 no such user' })] }),
    );
    expect(p.kind).toBe('refuse');
    expect(p.detail).toContain('550 no such user');
    expect(p.detail).toContain('never deleted');
  });

  it('deletes delivered mail only after its retention', () => {
    const delivered = (days: number) =>
      message(days, {
        status: 'delivered',
        deliveredAt: new Date(NOW.getTime() - days * 86_400_000).toISOString(),
      });
    expect(purgeable([delivered(6), delivered(8)], 7, NOW, 50).map((m) => m.messageId)).toEqual([
      delivered(8).messageId,
    ]);
  });

  it('property: a batch is due messages only, oldest first, bounded, and purges only delivered mail', async () => {
    const statuses = ['held', 'delivering', 'delivered', 'rejected'] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            status: fc.constantFrom(...statuses),
            size: fc.integer({ min: 1, max: 20_000_000 }),
            deferMin: fc.integer({ min: -120, max: 120 }),
            ageDays: fc.integer({ min: 0, max: 30 }),
          }),
          { maxLength: 300 },
        ),
        fc.integer({ min: 1, max: 150 }),
        async (specs, maxMessages) => {
          await breathe();
          const messages = specs.map((s, i) =>
            message(i, {
              status: s.status,
              size: s.size,
              nextAttemptAt:
                s.deferMin !== 0 ? new Date(NOW.getTime() + s.deferMin * 60_000).toISOString() : undefined,
              claimedUntil:
                s.status === 'delivering'
                  ? new Date(NOW.getTime() + s.deferMin * 60_000).toISOString()
                  : undefined,
              deliveredAt:
                s.status === 'delivered'
                  ? new Date(NOW.getTime() - s.ageDays * 86_400_000).toISOString()
                  : undefined,
            }),
          );
          const limits = {
            maxMessagesPerRun: maxMessages,
            maxBytesPerRun: 64 * 1024 * 1024,
            maxPurgesPerRun: 50,
          };
          const batch = nextBatch(messages, NOW, limits);
          const byId = new Map(messages.map((m) => [m.messageId, m]));
          expect(batch.length).toBeLessThanOrEqual(maxMessages);
          expect([...batch].sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))).toEqual(batch);
          if (batch.length > 1)
            expect(batch.reduce((sum, m) => sum + m.size, 0)).toBeLessThanOrEqual(limits.maxBytesPerRun);
          for (const ref of batch) {
            const m = byId.get(ref.messageId);
            expect(m?.status === 'held' || m?.status === 'delivering').toBe(true);
            if (m?.status === 'delivering')
              expect(Date.parse(m.claimedUntil ?? '') < NOW.getTime()).toBe(true);
          }
          for (const ref of purgeable(messages, 7, NOW, 50))
            expect(byId.get(ref.messageId)?.status).toBe('delivered');
        },
      ),
    );
  });
});

/** What a receiver does with DATA (RFC 5321 4.5.2, as smtp-server does it): drop one leading dot per line. */
const unstuff = (wire: Buffer): Buffer => {
  const body = wire.subarray(0, wire.length - 3); // the terminating ".\r\n"
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const lineStart = i === 0 || body[i - 1] === 0x0a;
    if (lineStart && body[i] === 0x2e) continue;
    out.push(body[i] as number);
  }
  return Buffer.from(out);
};

describe('dotStuff', () => {
  it('property: a receiver recovers the exact bytes of any message that ends with CRLF', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.constantFrom('.', '\r\n', '\n.', '.\r\n', '..')),
        async (bytes, bits) => {
          await breathe();
          const raw = Buffer.concat([Buffer.from(bits.join('')), Buffer.from(bytes), Buffer.from('\r\n')]);
          const wire = dotStuff(raw);
          expect(wire.subarray(-5).toString()).toBe('\r\n.\r\n');
          // No line of the wire form is a lone dot before the end: the message cannot end early.
          expect(wire.subarray(0, -3).includes(Buffer.from('\r\n.\r\n'))).toBe(false);
          expect(unstuff(wire).equals(raw)).toBe(true);
        },
      ),
    );
  });
});
