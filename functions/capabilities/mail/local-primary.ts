/**
 * A real SMTP server (npm smtp-server) standing in for the primary mail server, on a free loopback
 * port. A test tells it how to misbehave: refuse connections, answer 421, refuse some recipients
 * with 550, or drop the connection in the middle of a message. It records every message it
 * accepted (250 sent for DATA), byte for byte, with its envelope.
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { freePort } from '../../drill/emulator';

export type PrimaryMode = 'accept' | 'refuse' | '421' | 'drop';

export interface AcceptedMessage {
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  readonly raw: Buffer;
  /** Sequence number of the connection that delivered it. */
  readonly connection: number;
}

export interface LocalPrimary {
  readonly host: string;
  readonly port: number;
  readonly accepted: AcceptedMessage[];
  /** Recipients answered with 550 at RCPT TO. */
  readonly refuseRecipients: Set<string>;
  /** In `drop` mode: bytes of a message read before the connection is cut. */
  dropAfterBytes: number;
  /** Connections accepted (a refused one never reaches the server). */
  connections: number;
  readonly mode: PrimaryMode;
  setMode(mode: PrimaryMode): Promise<void>;
  /** Calls `hook` after each accepted message (e.g. to flap the primary mid-run). */
  onAccepted(hook: ((count: number) => void | Promise<void>) | undefined): void;
  stop(): Promise<void>;
}

type Connection = { session?: SMTPServerSession; _socket?: { destroy(): void } };

export const startLocalPrimary = async (): Promise<LocalPrimary> => {
  const port = await freePort();
  let mode: PrimaryMode = 'accept';
  let hook: ((count: number) => void | Promise<void>) | undefined;
  const accepted: AcceptedMessage[] = [];
  const refuseRecipients = new Set<string>();
  const state = { dropAfterBytes: 4096, connections: 0 };
  const connectionOf = new WeakMap<SMTPServerSession, number>();

  const smtpError = (code: number, message: string) =>
    Object.assign(new Error(message), { responseCode: code });

  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: 50 * 1024 * 1024,
    logger: false,
    banner: 'primary.mail.test ESMTP (understudy test primary)',
    onConnect(session, callback) {
      state.connections++;
      connectionOf.set(session, state.connections);
      if (mode === '421') return callback(smtpError(421, 'primary.mail.test Service not available, closing'));
      callback();
    },
    onRcptTo(address, _session, callback) {
      if (refuseRecipients.has(address.address)) {
        return callback(smtpError(550, `5.1.1 <${address.address}>: mailbox unavailable`));
      }
      callback();
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        bytes += chunk.length;
        if (mode === 'drop' && bytes >= state.dropAfterBytes) {
          const connections = (server as unknown as { connections: Set<Connection> }).connections;
          for (const c of connections) if (c.session === session) c._socket?.destroy();
        }
      });
      stream.on('end', () => {
        if (mode === 'drop') return callback(smtpError(451, 'dropped'));
        accepted.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          recipients: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          connection: connectionOf.get(session) ?? 0,
        });
        callback();
        void hook?.(accepted.length);
      });
    },
  });
  server.on('error', () => undefined);

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const net = (server as unknown as { server: import('node:net').Server }).server;
      net.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        net.removeListener('error', reject);
        resolve();
      });
    });
  const unlisten = () =>
    new Promise<void>((resolve) => {
      // Stops accepting: new connections are refused (ECONNREFUSED); open ones carry on.
      (server as unknown as { server: import('node:net').Server }).server.close(() => resolve());
    });

  await listen();
  return {
    host: '127.0.0.1',
    port,
    accepted,
    refuseRecipients,
    get dropAfterBytes() {
      return state.dropAfterBytes;
    },
    set dropAfterBytes(n: number) {
      state.dropAfterBytes = n;
    },
    get connections() {
      return state.connections;
    },
    set connections(n: number) {
      state.connections = n;
    },
    get mode() {
      return mode;
    },
    async setMode(next: PrimaryMode) {
      if (next === mode) return;
      const wasRefusing = mode === 'refuse';
      mode = next;
      if (next === 'refuse') await unlisten();
      else if (wasRefusing) await listen();
    },
    onAccepted(next) {
      hook = next;
    },
    stop: async () => {
      const connections = (server as unknown as { connections: Set<Connection> }).connections;
      for (const c of connections) c._socket?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
