import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { envelopeAddressProblem } from './address';

/**
 * A thin SMTP client for handing held mail back: the raw MIME bytes exactly as SES stored them,
 * with the original envelope. Node's `net`/`tls` only, no library: it does one job (MAIL, RCPT,
 * DATA on one connection, message after message) and keeps the Lambda bundle small.
 */

export interface SmtpTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: 'starttls' | 'implicit' | 'none';
  /** The name we greet the primary with (EHLO). */
  readonly heloName: string;
  /** Longest wait for any one reply (the reply to DATA's final dot included). */
  readonly timeoutMs: number;
}

export interface SmtpReply {
  readonly code: number;
  readonly text: string;
}

const show = (reply: SmtpReply) => `${reply.code} ${reply.text}`.slice(0, 300);

/**
 * The primary cannot take mail on this connection at all: refused, timed out, TLS failed, the
 * connection dropped, or it said 421 (closing). Nothing in flight was accepted: retry later, in order.
 */
export class SmtpConnectionError extends Error {
  override readonly name = 'SmtpConnectionError';
  readonly retryable = true;
}

/** What the primary did with one message, per recipient. */
export interface SendResult {
  /** The primary answered 250 to the final dot for these recipients: delivered. */
  readonly accepted: readonly string[];
  /** 4xx: try these again later. */
  readonly deferred: readonly string[];
  /** 5xx: the primary refuses these for good. */
  readonly rejected: readonly string[];
  /** The reply that decided the outcome (for the record and Slack). */
  readonly reply: string;
}

export interface Envelope {
  readonly mailFrom: string;
  readonly recipients: readonly string[];
}

const CRLF = Buffer.from('\r\n');

/** SNI names a host by DNS name only (RFC 6066); a primary configured by IP address gets none. */
const serverName = (host: string) => (isIP(host) === 0 ? { servername: host } : {});

/**
 * SMTP transparency (RFC 5321 4.5.2): a line that starts with "." gets one more. Lines are split at
 * every LF, as receivers (smtp-server included) un-stuff after any LF. The receiver strips exactly
 * what we add, so it stores the original bytes. A message that does not end with CRLF gets one:
 * SMTP cannot carry a last line without a line break (SES-stored messages always end with one).
 */
export const dotStuff = (raw: Uint8Array): Buffer => {
  const source = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const parts: Buffer[] = [];
  let from = 0;
  if (source[0] === 0x2e) {
    parts.push(Buffer.from('.'));
  }
  for (
    let lf = source.indexOf(0x0a);
    lf !== -1 && lf + 1 < source.length;
    lf = source.indexOf(0x0a, lf + 1)
  ) {
    if (source[lf + 1] === 0x2e) {
      parts.push(source.subarray(from, lf + 1), Buffer.from('.'));
      from = lf + 1;
    }
  }
  parts.push(source.subarray(from));
  const endsWithCrlf =
    source.length >= 2 && source[source.length - 2] === 0x0d && source[source.length - 1] === 0x0a;
  parts.push(Buffer.from(endsWithCrlf ? '.\r\n' : '\r\n.\r\n'));
  return Buffer.concat(parts);
};

const hasEightBit = (raw: Uint8Array) => raw.some((b) => b >= 0x80);
// biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
const nonAscii = (s: string) => /[^\x00-\x7f]/.test(s);

/** One SMTP connection: replies are read line by line from whichever socket (plain or TLS) is current. */
export class SmtpSession {
  private buffer = '';
  private lines: string[] = [];
  private waiter: { resolve: (r: SmtpReply) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private extensions = new Set<string>();
  private sizeLimit: number | undefined;

  private constructor(
    private socket: Socket,
    private readonly target: SmtpTarget,
  ) {
    this.attach(socket);
  }

  /** Connects, reads the greeting, says EHLO and (if configured) upgrades to TLS. */
  static async open(target: SmtpTarget): Promise<SmtpSession> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const onError = (error: Error) =>
        reject(
          new SmtpConnectionError(`connect to ${target.host}:${target.port}: ${error.message}`, {
            cause: error,
          }),
        );
      const s =
        target.tls === 'implicit'
          ? tlsConnect({ host: target.host, port: target.port, ...serverName(target.host) }, () => resolve(s))
          : netConnect({ host: target.host, port: target.port }, () => resolve(s));
      s.once('error', onError);
      s.setTimeout(target.timeoutMs, () => {
        s.destroy();
        onError(new Error(`no connection within ${target.timeoutMs} ms`));
      });
    });
    socket.setTimeout(0);
    const session = new SmtpSession(socket, target);
    try {
      const greeting = await session.read();
      if (greeting.code !== 220) throw new SmtpConnectionError(`greeting: ${show(greeting)}`);
      await session.hello();
      if (target.tls === 'starttls') {
        if (!session.extensions.has('STARTTLS')) {
          throw new SmtpConnectionError(
            `${target.host} does not offer STARTTLS; held mail is not sent in clear text (tls: 'starttls')`,
          );
        }
        const ready = await session.command('STARTTLS');
        if (ready.code !== 220) throw new SmtpConnectionError(`STARTTLS: ${show(ready)}`);
        await session.upgrade();
        await session.hello();
      }
      return session;
    } catch (error) {
      session.destroy();
      throw error instanceof SmtpConnectionError
        ? error
        : new SmtpConnectionError(`${target.host}:${target.port}: ${(error as Error).message}`, {
            cause: error,
          });
    }
  }

  /** Connects and says goodbye: does the primary answer SMTP at all? */
  static async probe(target: SmtpTarget): Promise<{ readonly ok: boolean; readonly detail: string }> {
    try {
      const session = await SmtpSession.open(target);
      await session.close();
      return { ok: true, detail: `${target.host}:${target.port} answers SMTP` };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  /**
   * One transaction: MAIL FROM, RCPT TO for each recipient, DATA with the raw bytes. Throws
   * SmtpConnectionError when the connection is unusable (then nothing of this message was accepted).
   */
  async send(envelope: Envelope, raw: Uint8Array): Promise<SendResult> {
    // The last check before an address is written onto the wire: a line break or an angle bracket
    // in it would inject a command (an extra RCPT TO). Such an address is refused for good, here.
    const sender = envelopeAddressProblem(envelope.mailFrom, { allowNull: true });
    if (sender) {
      return {
        accepted: [],
        deferred: [],
        rejected: [...envelope.recipients],
        reply: `553 5.1.7 not sent: the envelope sender ${sender} (refused by understudy)`,
      };
    }
    const refused = envelope.recipients.flatMap((r) => {
      const problem = envelopeAddressProblem(r);
      return problem ? [{ recipient: r, problem }] : [];
    });
    if (refused.length === 0) return this.transaction(envelope, raw);
    const local = `553 5.1.3 not sent to ${refused.length} recipient(s): envelope address ${refused[0]?.problem} (refused by understudy)`;
    const valid = envelope.recipients.filter((r) => !refused.some((x) => x.recipient === r));
    const rejected = refused.map((x) => x.recipient);
    if (valid.length === 0) return { accepted: [], deferred: [], rejected, reply: local };
    const result = await this.transaction({ ...envelope, recipients: valid }, raw);
    return { ...result, rejected: [...rejected, ...result.rejected], reply: `${result.reply}; ${local}` };
  }

  private async transaction(envelope: Envelope, raw: Uint8Array): Promise<SendResult> {
    const params: string[] = [];
    if (this.extensions.has('SIZE')) params.push(`SIZE=${raw.byteLength}`);
    if (this.extensions.has('8BITMIME') && hasEightBit(raw)) params.push('BODY=8BITMIME');
    if (
      this.extensions.has('SMTPUTF8') &&
      (nonAscii(envelope.mailFrom) || envelope.recipients.some(nonAscii))
    ) {
      params.push('SMTPUTF8');
    }
    const all = [...envelope.recipients];
    if (this.sizeLimit !== undefined && this.sizeLimit > 0 && raw.byteLength > this.sizeLimit) {
      return {
        accepted: [],
        deferred: [],
        rejected: all,
        reply: `552 message of ${raw.byteLength} bytes exceeds the primary's SIZE ${this.sizeLimit}`,
      };
    }

    const mail = await this.command(`MAIL FROM:<${envelope.mailFrom}>${params.map((p) => ` ${p}`).join('')}`);
    if (mail.code >= 400) {
      await this.reset();
      return mail.code >= 500
        ? { accepted: [], deferred: [], rejected: all, reply: show(mail) }
        : { accepted: [], deferred: all, rejected: [], reply: show(mail) };
    }
    const accepted: string[] = [];
    const deferred: string[] = [];
    const rejected: string[] = [];
    let last = mail;
    for (const recipient of all) {
      const reply = await this.command(`RCPT TO:<${recipient}>`);
      if (reply.code < 400) accepted.push(recipient);
      else {
        last = reply;
        (reply.code >= 500 ? rejected : deferred).push(recipient);
      }
    }
    if (accepted.length === 0) {
      await this.reset();
      return { accepted, deferred, rejected, reply: show(last) };
    }
    const data = await this.command('DATA');
    if (data.code !== 354) {
      await this.reset();
      return data.code >= 500
        ? { accepted: [], deferred, rejected: [...rejected, ...accepted], reply: show(data) }
        : { accepted: [], deferred: [...deferred, ...accepted], rejected, reply: show(data) };
    }
    const done = await this.command(dotStuff(raw));
    if (done.code >= 200 && done.code < 300) return { accepted, deferred, rejected, reply: show(done) };
    return done.code >= 500
      ? { accepted: [], deferred, rejected: [...rejected, ...accepted], reply: show(done) }
      : { accepted: [], deferred: [...deferred, ...accepted], rejected, reply: show(done) };
  }

  /** QUIT, briefly; the connection is closed either way. */
  async close(): Promise<void> {
    try {
      if (!this.failure) {
        this.write('QUIT\r\n');
        await Promise.race([this.read(), new Promise((r) => setTimeout(r, 1_000))]);
      }
    } catch {
      // closing anyway
    } finally {
      this.destroy();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private async hello(): Promise<void> {
    let reply = await this.command(`EHLO ${this.target.heloName}`);
    if (reply.code !== 250) {
      reply = await this.command(`HELO ${this.target.heloName}`);
      if (reply.code !== 250) throw new SmtpConnectionError(`HELO: ${show(reply)}`);
      this.extensions = new Set();
      return;
    }
    const lines = reply.text.split('\n').slice(1);
    this.extensions = new Set(lines.map((l) => (l.split(' ')[0] ?? '').toUpperCase()));
    const size = lines.find((l) => l.toUpperCase().startsWith('SIZE '));
    this.sizeLimit = size ? Number.parseInt(size.slice(5), 10) || undefined : undefined;
  }

  private async upgrade(): Promise<void> {
    // Whatever arrived after the 220 came in clear text, before TLS: anyone on the path may have put
    // it there, and read after the upgrade it would pass for the primary's answers to our next
    // commands (response injection, CVE-2011-0411 class). A primary never sends anything before our
    // first command over TLS, so any such bytes end the session: nothing is sent, the mail stays held.
    const early = this.lines.reduce((n, l) => n + l.length + 1, 0) + this.buffer.length;
    if (early > 0) {
      throw new SmtpConnectionError(
        `${this.target.host} sent ${early} byte(s) after its 220 to STARTTLS, before TLS began: ` +
          'refusing the session (possible response injection)',
      );
    }
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    this.socket = await new Promise<Socket>((resolve, reject) => {
      const secure = tlsConnect({ socket: plain, ...serverName(this.target.host) }, () => resolve(secure));
      secure.once('error', (error) =>
        reject(new SmtpConnectionError(`TLS with ${this.target.host}: ${error.message}`, { cause: error })),
      );
    });
    this.attach(this.socket);
  }

  private async reset(): Promise<void> {
    await this.command('RSET');
  }

  private attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1');
      let eol = this.buffer.indexOf('\n');
      while (eol !== -1) {
        this.lines.push(this.buffer.slice(0, eol).replace(/\r$/, ''));
        this.buffer = this.buffer.slice(eol + 1);
        eol = this.buffer.indexOf('\n');
      }
      this.deliverReply();
    });
    const lost = (why: string) => {
      this.fail(new SmtpConnectionError(`connection to ${this.target.host} lost: ${why}`));
    };
    socket.on('error', (error) => lost(error.message));
    socket.on('close', () => lost('closed by the primary'));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }

  /** Completes the pending read when a whole (possibly multi-line) reply has arrived. */
  private deliverReply(): void {
    if (!this.waiter) return;
    const end = this.lines.findIndex((l) => /^\d{3}(?: |$)/.test(l));
    if (end === -1) return;
    const replyLines = this.lines.splice(0, end + 1);
    const code = Number.parseInt(replyLines[end]?.slice(0, 3) ?? '0', 10);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter.resolve({ code, text: replyLines.map((l) => l.slice(4)).join('\n') });
  }

  private read(): Promise<SmtpReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<SmtpReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new SmtpConnectionError(`${this.target.host} did not answer within ${this.target.timeoutMs} ms`),
        );
        this.socket.destroy();
      }, this.target.timeoutMs);
      this.waiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.deliverReply();
    });
  }

  private write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  /** Sends a command line (or the DATA body) and reads its reply; 421 means the primary is closing. */
  private async command(line: string | Buffer): Promise<SmtpReply> {
    if (this.failure) throw this.failure;
    this.write(typeof line === 'string' ? Buffer.concat([Buffer.from(line, 'utf8'), CRLF]) : line);
    const reply = await this.read();
    if (reply.code === 421) {
      this.fail(new SmtpConnectionError(`${this.target.host} is closing the connection: ${show(reply)}`));
      this.socket.destroy();
      throw this.failure;
    }
    return reply;
  }
}
