import { createServer, type Server } from 'node:http';

export interface ReceivedSlackMessage {
  readonly at: Date;
  readonly body: { text?: string; blocks?: unknown[] };
}

export interface SlackSink {
  readonly url: string;
  readonly messages: ReceivedSlackMessage[];
  /** 'up' answers 200 like Slack; 'error' answers 500; 'hang' never answers (a Slack outage). */
  mode: 'up' | 'error' | 'hang';
  stop(): Promise<void>;
}

/** A local stand-in for a Slack incoming webhook: records what it is sent. */
export const startSlackSink = async (): Promise<SlackSink> => {
  const messages: ReceivedSlackMessage[] = [];
  const sink = { mode: 'up' as SlackSink['mode'] };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      if (sink.mode === 'hang') return;
      if (sink.mode === 'error') {
        response.writeHead(500).end('internal_error');
        return;
      }
      try {
        messages.push({ at: new Date(), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } catch {
        response.writeHead(400).end('invalid_payload');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return Object.assign(sink, {
    url: `http://127.0.0.1:${port}/services/T000/B000/local`,
    messages,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
};
