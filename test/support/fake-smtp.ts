/**
 * A scripted SMTP primary with STARTTLS, on a free loopback port, for what smtp-server cannot be
 * made to do: answer STARTTLS with extra replies pipelined behind the 220 (a man in the middle's
 * response injection, CVE-2011-0411 class). Node's `net`/`tls` only. Its certificate is made for
 * the run with openssl and is self-signed: a test that connects to it sets
 * NODE_TLS_REJECT_UNAUTHORIZED=0 (see `trustAnyCertificate`), since this is about what the client
 * reads, not whom it trusts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';

export interface FakeSmtpOptions {
  /** Bytes sent in the same write as "220 Ready to start TLS", before the TLS handshake. */
  readonly injectAfterStartTls?: string;
  /** After TLS: accept the transaction, or refuse every MAIL, RCPT and DATA with 5xx. */
  readonly afterTls: 'accept' | 'reject';
}

export interface FakeSmtp {
  readonly host: string;
  readonly port: number;
  /** Every command line received, and whether it came over TLS. */
  readonly commands: { readonly tls: boolean; readonly line: string }[];
  /** TLS handshakes completed. */
  readonly handshakes: number;
  /** Messages the fake answered 250 for at the final dot. */
  readonly accepted: Buffer[];
  stop(): Promise<void>;
}

let material: { key: Buffer; cert: Buffer } | undefined;

/** A throwaway self-signed certificate for 127.0.0.1 (EC P-256: made in milliseconds). */
const certificate = () => {
  if (material) return material;
  const dir = mkdtempSync(join(tmpdir(), 'understudy-smtp-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    material = { key: readFileSync(key), cert: readFileSync(cert) };
    return material;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

/** Lets the client accept the fake's self-signed certificate until the returned function is called. */
export const trustAnyCertificate = (): (() => void) => {
  const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  return () => {
    if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
  };
};

export const startFakeSmtp = async (options: FakeSmtpOptions): Promise<FakeSmtp> => {
  const { key, cert } = certificate();
  const commands: FakeSmtp['commands'] = [];
  const accepted: Buffer[] = [];
  const state = { handshakes: 0 };
  const sockets = new Set<Socket>();

  const serve = (socket: Socket, tls: boolean) => {
    let buffer = Buffer.alloc(0);
    let data: Buffer[] | undefined;
    const reply = (text: string) => socket.write(text);
    const onLine = (line: string) => {
      if (data) {
        if (line === '.') {
          accepted.push(Buffer.concat(data));
          data = undefined;
          reply('250 2.0.0 queued\r\n');
        } else data.push(Buffer.from(`${line}\r\n`, 'latin1'));
        return;
      }
      commands.push({ tls, line });
      const verb = line.split(/[ :]/)[0]?.toUpperCase() ?? '';
      const refuse = tls && options.afterTls === 'reject';
      switch (verb) {
        case 'EHLO':
          return reply(
            tls ? '250-fake.test\r\n250 8BITMIME\r\n' : '250-fake.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n',
          );
        case 'STARTTLS': {
          if (tls) return reply('503 5.5.1 TLS already active\r\n');
          socket.removeAllListeners('data');
          socket.write(`220 2.0.0 Ready to start TLS\r\n${options.injectAfterStartTls ?? ''}`);
          const secure = new TLSSocket(socket, { isServer: true, key, cert });
          sockets.add(secure);
          secure.on('secure', () => {
            state.handshakes++;
          });
          secure.on('error', () => secure.destroy());
          serve(secure, true);
          return;
        }
        case 'MAIL':
          return reply(refuse ? '550 5.7.1 sender refused\r\n' : '250 2.1.0 ok\r\n');
        case 'RCPT':
          return reply(refuse ? '550 5.1.1 mailbox unavailable\r\n' : '250 2.1.5 ok\r\n');
        case 'DATA':
          if (refuse) return reply('554 5.5.1 no valid recipients\r\n');
          data = [];
          return reply('354 go ahead\r\n');
        case 'RSET':
          return reply('250 2.0.0 ok\r\n');
        case 'QUIT':
          reply('221 2.0.0 bye\r\n');
          socket.end();
          return;
        default:
          return reply('502 5.5.2 not implemented\r\n');
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      let eol = buffer.indexOf('\r\n');
      while (eol !== -1) {
        const line = buffer.subarray(0, eol).toString('latin1');
        buffer = buffer.subarray(eol + 2);
        onLine(line);
        // STARTTLS handed the socket to TLS: what is left in clear text is not ours to read.
        if (!tls && line.toUpperCase() === 'STARTTLS') return;
        eol = buffer.indexOf('\r\n');
      }
    });
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.write('220 fake.test ESMTP\r\n');
    serve(socket, false);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    host: '127.0.0.1',
    port: typeof address === 'object' && address ? address.port : 0,
    commands,
    get handshakes() {
      return state.handshakes;
    },
    accepted,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};
