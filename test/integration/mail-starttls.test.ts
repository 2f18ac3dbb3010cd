import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type InboundMessage,
  type LocalMail,
  MAIL_ALARM,
  MAIL_DOMAIN,
  sesMessageId,
  sesStoredMime,
  startLocalMail,
} from '../../functions/capabilities/mail/local';
import { localLambdaContext as lambdaContext } from '../../functions/drill/lambda-context';
import { setAlarmAndBuildEvent } from '../../functions/drill/local-aws';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import { createReconcileHandler } from '../../functions/handlers/reconcile';
import { type FakeSmtp, startFakeSmtp, trustAnyCertificate } from '../support/fake-smtp';

const endpoint = inject('motoEndpoint');

/** What a man in the middle pipelines behind "220 Ready to start TLS": a whole accepted transaction. */
const INJECTED =
  '250 injected EHLO\r\n250 injected MAIL\r\n250 injected RCPT\r\n354 injected DATA\r\n250 injected queued\r\n';

let untrust: () => void;
let fake: FakeSmtp | undefined;
let local: LocalMail | undefined;
beforeAll(() => {
  untrust = trustAnyCertificate();
});
afterAll(() => untrust());
afterEach(async () => {
  await local?.stop();
  await fake?.stop();
  local = undefined;
  fake = undefined;
});

/** One message held while the primary was down, then the alarm clears and a scheduled run hands back. */
const holdOneAndHandBack = async (mail: LocalMail) => {
  const alarm = async (value: 'ALARM' | 'OK') =>
    createAlarmHandler(() => mail.controlPlane())(
      await setAlarmAndBuildEvent(
        mail.clients.cloudwatch,
        MAIL_ALARM,
        value,
        'Threshold Crossed',
        mail.clock.now(),
      ),
      lambdaContext,
    );
  await alarm('ALARM');
  const messageId = sesMessageId(1);
  const receivedAt = new Date(mail.clock.now().getTime() - 60_000);
  const inbound: InboundMessage = {
    messageId,
    receivedAt,
    mailFrom: 'sender@sender.test',
    recipients: [`customer@${MAIL_DOMAIN}`],
    raw: sesStoredMime({
      messageId,
      receivedAt,
      from: 'sender@sender.test',
      to: `customer@${MAIL_DOMAIN}`,
      subject: 'held',
      body: 'hello\r\n',
    }),
  };
  expect((await mail.receive(inbound)).recorded).toEqual([messageId]);
  await alarm('OK');
  await createReconcileHandler(() => mail.controlPlane())({}, lambdaContext);
  return (await mail.store.read('shop')).messages;
};

describe('mail hand-back over STARTTLS', () => {
  it('delivers to a primary that behaves (the harness itself works)', async () => {
    await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    fake = await startFakeSmtp({ afterTls: 'accept' });
    local = await startLocalMail(endpoint, fake, { tls: 'starttls' });

    const messages = await holdOneAndHandBack(local);

    expect(messages.map((m) => m.status)).toEqual(['delivered']);
    expect(fake.accepted).toHaveLength(1);
  });

  it('keeps the mail held when replies are injected behind "220 Ready to start TLS"', async () => {
    // Prepare: the injected replies would accept the message; the real primary refuses it (550)
    await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    fake = await startFakeSmtp({ injectAfterStartTls: INJECTED, afterTls: 'reject' });
    local = await startLocalMail(endpoint, fake, { tls: 'starttls' });

    // Act
    const messages = await holdOneAndHandBack(local);

    // Assess: held, not delivered and not rejected; nothing was said over TLS
    expect(messages.map((m) => m.status)).toEqual(['held']);
    expect(fake.commands.filter((c) => c.tls)).toEqual([]);
    expect(fake.handshakes).toBe(0);
    const status = (await local.controlPlane().store.readService('shop')).statuses.mail;
    expect(status?.detail).toMatch(/possible response injection/);
  });
});
