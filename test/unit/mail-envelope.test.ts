import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { envelopeAddressProblem } from '../../functions/capabilities/mail/address';
import type { HeldMessage } from '../../functions/capabilities/mail/held';
import { sesLambdaEvent } from '../../functions/capabilities/mail/local';
import { recordHeldMail } from '../../functions/capabilities/mail/recorder';
import { SmtpSession } from '../../functions/capabilities/mail/smtp';
import type { MailStore } from '../../functions/capabilities/mail/store';
import { type ConfigInput, parseConfig } from '../../functions/config/schema';
import { TerminalError } from '../../functions/core/errors';
import { type FakeSmtp, startFakeSmtp } from '../support/fake-smtp';
import { RecordingLog } from './fixtures';

const DOMAIN = 'shop.example.test';
const INJECTED = `customer@${DOMAIN}>\r\nRCPT TO:<attacker@evil.test`;

/** Addresses that must never reach MAIL FROM / RCPT TO, and why. */
const BAD: [string, string][] = [
  ['CR LF injecting a recipient', INJECTED],
  ['a bare LF', `customer@${DOMAIN}\nRCPT TO:<attacker@evil.test>`],
  ['a bare CR', `customer@${DOMAIN}\rx`],
  ['NUL', `customer\u0000@${DOMAIN}`],
  ['a closing angle bracket', `customer@${DOMAIN}> NOTIFY=NEVER`],
  ['an opening angle bracket', `<customer@${DOMAIN}`],
  ['a space', `customer@${DOMAIN} SIZE=1`],
  ['a Unicode line separator', `customer\u2028@${DOMAIN}`],
  ['no @', 'customer'],
  ['no domain', 'customer@'],
  ['no local part', `@${DOMAIN}`],
  ['a source route', `@relay.test:customer@${DOMAIN},x`],
  ['too long', `${'a'.repeat(250)}@${DOMAIN}`],
];
const GOOD = [
  `customer@${DOMAIN}`,
  'first.last+tag@sub.example.org',
  'kunde@bücher.example',
  'δοκιμή@παράδειγμα.δοκιμή',
  'postmaster@[192.0.2.1]',
];

describe('envelopeAddressProblem', () => {
  it.each(BAD)('refuses an address with %s', (_label, address) => {
    expect(envelopeAddressProblem(address)).toEqual(expect.any(String));
    expect(envelopeAddressProblem(address, { allowNull: true })).toEqual(expect.any(String));
  });

  it.each(GOOD)('accepts %s', (address) => {
    expect(envelopeAddressProblem(address)).toBeUndefined();
  });

  it('accepts the null sender only where a bounce may have one', () => {
    expect(envelopeAddressProblem('', { allowNull: true })).toBeUndefined();
    expect(envelopeAddressProblem('')).toBe('is empty');
  });

  it('never quotes the address in its reason', () => {
    expect(envelopeAddressProblem(INJECTED)).not.toContain('attacker');
  });
});

describe('the recorder refuses an SES event with a bad envelope address', () => {
  const config = parseConfig({
    controlPlane: { account: '111111111111', region: 'eu-west-2' },
    services: [
      {
        name: 'shop',
        alarms: [{ name: 'mail-down', capabilities: ['mail'] }],
        mail: { domain: DOMAIN, hostedZoneId: 'ZMAIL', primary: { host: 'mx1.shop.example.test' } },
      },
    ],
  } as ConfigInput);
  const recorder = () => {
    const recorded: HeldMessage[] = [];
    let s3Calls = 0;
    const deps = {
      config,
      store: {
        recordHeld: async (m: HeldMessage) => {
          recorded.push(m);
          return true;
        },
      } as unknown as MailStore,
      s3: {
        send: async () => {
          s3Calls++;
          return { ContentLength: 42 };
        },
      } as unknown as S3Client,
      bucket: 'held',
      log: new RecordingLog(),
    };
    return { deps, recorded, s3Calls: () => s3Calls };
  };
  const event = (mailFrom: string, recipients: string[]) =>
    sesLambdaEvent(
      {
        messageId: 'm0000001abc',
        receivedAt: new Date('2026-11-22T10:00:00Z'),
        mailFrom,
        recipients,
        raw: Buffer.alloc(0),
      },
      'arn:aws:lambda:eu-west-2:111111111111:function:recorder',
    );

  it.each(BAD)('a recipient with %s: refused with a reason, nothing recorded', async (_label, address) => {
    const { deps, recorded, s3Calls } = recorder();

    const outcome = recordHeldMail(deps, event('sender@sender.test', [`ok@${DOMAIN}`, address]));

    await expect(outcome).rejects.toThrow(TerminalError);
    await expect(outcome).rejects.toThrow(/recipients\.1: envelope address /);
    expect(recorded).toEqual([]);
    expect(s3Calls()).toBe(0);
  });

  it.each(BAD)('a sender with %s: refused with a reason, nothing recorded', async (_label, address) => {
    const { deps, recorded } = recorder();

    await expect(recordHeldMail(deps, event(address, [`ok@${DOMAIN}`]))).rejects.toThrow(
      /mail\.source: envelope address /,
    );
    expect(recorded).toEqual([]);
  });

  it('records a good message, and a bounce (null sender) with an empty MAIL FROM', async () => {
    const { deps, recorded } = recorder();

    await recordHeldMail(deps, event('sender@sender.test', [`a@${DOMAIN}`]));
    await recordHeldMail(deps, event('<>', [`b@${DOMAIN}`]));

    expect(recorded.map((m) => [m.mailFrom, m.recipients])).toEqual([
      ['sender@sender.test', [`a@${DOMAIN}`]],
      ['', [`b@${DOMAIN}`]],
    ]);
  });
});

describe('the SMTP client never writes a bad envelope address', () => {
  let fake: FakeSmtp | undefined;
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
  });
  const raw = Buffer.from('Subject: held\r\n\r\nhello\r\n');
  const open = async (smtp: FakeSmtp) =>
    SmtpSession.open({
      host: smtp.host,
      port: smtp.port,
      tls: 'none',
      heloName: 'understudy.test',
      timeoutMs: 5_000,
    });
  const wire = (smtp: FakeSmtp) => smtp.commands.map((c) => c.line).join('\n');

  it('refuses the injected recipient for good and delivers to the others', async () => {
    fake = await startFakeSmtp({ afterTls: 'accept' });
    const session = await open(fake);

    const result = await session.send(
      { mailFrom: 'sender@sender.test', recipients: [`ok@${DOMAIN}`, INJECTED] },
      raw,
    );
    await session.close();

    expect(result.accepted).toEqual([`ok@${DOMAIN}`]);
    expect(result.rejected).toEqual([INJECTED]);
    expect(result.reply).toMatch(/refused by understudy/);
    expect(wire(fake)).not.toContain('attacker');
    expect(fake.commands.filter((c) => c.line.startsWith('RCPT TO')).map((c) => c.line)).toEqual([
      `RCPT TO:<ok@${DOMAIN}>`,
    ]);
    expect(fake.accepted).toHaveLength(1);
  });

  it('writes no transaction at all when every recipient is bad', async () => {
    fake = await startFakeSmtp({ afterTls: 'accept' });
    const session = await open(fake);

    const result = await session.send({ mailFrom: 'sender@sender.test', recipients: [INJECTED] }, raw);
    await session.close();

    expect(result).toMatchObject({ accepted: [], deferred: [], rejected: [INJECTED] });
    expect(fake.commands.map((c) => c.line.split(/[ :]/)[0])).toEqual(['EHLO', 'QUIT']);
  });

  it('writes no transaction at all for a bad sender', async () => {
    fake = await startFakeSmtp({ afterTls: 'accept' });
    const session = await open(fake);

    const result = await session.send(
      { mailFrom: 'sender@sender.test>\r\nRCPT TO:<attacker@evil.test', recipients: [`ok@${DOMAIN}`] },
      raw,
    );
    await session.close();

    expect(result).toMatchObject({ accepted: [], deferred: [], rejected: [`ok@${DOMAIN}`] });
    expect(wire(fake)).not.toContain('attacker');
    expect(fake.commands.map((c) => c.line.split(/[ :]/)[0])).toEqual(['EHLO', 'QUIT']);
  });
});
