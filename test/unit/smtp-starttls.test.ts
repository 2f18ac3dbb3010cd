import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SmtpConnectionError, SmtpSession, type SmtpTarget } from '../../functions/capabilities/mail/smtp';
import { type FakeSmtp, startFakeSmtp, trustAnyCertificate } from '../support/fake-smtp';

const message = Buffer.from('From: a@sender.test\r\nTo: b@shop.test\r\nSubject: held\r\n\r\nhello\r\n');
const envelope = { mailFrom: 'a@sender.test', recipients: ['b@shop.test'] };
const target = (fake: FakeSmtp): SmtpTarget => ({
  host: fake.host,
  port: fake.port,
  tls: 'starttls',
  heloName: 'understudy.shop.test',
  timeoutMs: 5_000,
});

/** What a man in the middle pipelines behind "220 Ready to start TLS": a whole accepted transaction. */
const INJECTED =
  '250 injected EHLO\r\n250 injected MAIL\r\n250 injected RCPT\r\n354 injected DATA\r\n250 injected queued\r\n';

let untrust: () => void;
let fake: FakeSmtp | undefined;
beforeAll(() => {
  untrust = trustAnyCertificate();
});
afterAll(() => untrust());
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

/** Opens a session and sends the message; what the client believes, or the error it stopped with. */
const deliver = async (smtp: FakeSmtp) => {
  try {
    const session = await SmtpSession.open(target(smtp));
    try {
      return { result: await session.send(envelope, message) };
    } finally {
      await session.close();
    }
  } catch (error) {
    return { error: error as Error };
  }
};

describe('STARTTLS', () => {
  it('delivers over TLS to a primary that behaves (the harness itself works)', async () => {
    fake = await startFakeSmtp({ afterTls: 'accept' });

    const { result, error } = await deliver(fake);

    expect(error).toBeUndefined();
    expect(result?.accepted).toEqual(['b@shop.test']);
    expect(fake.handshakes).toBe(1);
    expect(fake.accepted).toHaveLength(1);
    expect(fake.commands.filter((c) => c.tls).map((c) => c.line.split(':')[0])).toEqual([
      'EHLO understudy.shop.test',
      'MAIL FROM',
      'RCPT TO',
      'DATA',
      'QUIT',
    ]);
  });

  it('refuses replies pipelined behind "220 Ready to start TLS": nothing is reported accepted', async () => {
    // Prepare: the injected replies would accept the message; the real primary refuses it (550)
    fake = await startFakeSmtp({ injectAfterStartTls: INJECTED, afterTls: 'reject' });

    // Act
    const { result, error } = await deliver(fake);

    // Assess: the session is refused before TLS starts, so no reply is misread, nothing is sent
    expect(result).toBeUndefined();
    expect(error).toBeInstanceOf(SmtpConnectionError);
    expect((error as SmtpConnectionError).retryable).toBe(true);
    expect(error?.message).toMatch(/after its 220 to STARTTLS/);
    expect(fake.handshakes).toBe(0);
    expect(fake.commands.filter((c) => c.tls)).toEqual([]);
    expect(fake.accepted).toEqual([]);
  });

  it('refuses even a single extra byte behind the 220', async () => {
    fake = await startFakeSmtp({ injectAfterStartTls: '2', afterTls: 'accept' });

    const { error } = await deliver(fake);

    expect(error).toBeInstanceOf(SmtpConnectionError);
    expect(fake.commands.filter((c) => c.tls)).toEqual([]);
  });
});
