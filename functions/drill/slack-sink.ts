import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Config } from '../config/schema';
import type { Log } from '../core/log';
import { type Notifier, slackWebhookNotifier } from '../notify/slack';
import type { ClientKit } from '../runtime/client-kit';
import { webhookFromSecret } from '../runtime/control-plane';

export interface ReceivedSlackMessage {
  readonly at: Date;
  readonly body: { text?: string; blocks?: unknown[] };
}

export interface SlackSink {
  /** The webhook URL to keep in the Slack secret: a real-looking Slack URL, as a deployment has. */
  readonly webhookUrl: string;
  /** Where the sink listens (plain HTTP on loopback: the notifier itself would refuse it). */
  readonly url: string;
  readonly messages: ReceivedSlackMessage[];
  /** 'up' answers 200 like Slack; 'error' answers 500; 'hang' never answers (a Slack outage). */
  mode: 'up' | 'error' | 'hang';
  /**
   * The notifier a local control plane uses: it reads the webhook URL from the secret and checks it
   * exactly as the Lambdas do, and only its fetch differs: a POST to `webhookUrl` reaches this sink
   * instead of Slack (anything else is refused, as there is no network).
   */
  notifier(config: Config, clients: ClientKit, log: Log): Notifier;
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
  const url = `http://127.0.0.1:${port}/services/T000/B000/local`;
  const webhookUrl = `https://hooks.slack.com/services/TLOCAL/BLOCAL/${randomUUID().replace(/-/g, '')}`;
  const deliver: typeof fetch = async (input, init) => {
    const asked = input instanceof Request ? input.url : String(input);
    if (asked !== webhookUrl)
      throw new TypeError('fetch failed: the local Slack sink takes its own webhook URL only');
    return fetch(url, init);
  };
  return Object.assign(sink, {
    webhookUrl,
    url,
    messages,
    notifier: (config: Config, clients: ClientKit, log: Log) =>
      slackWebhookNotifier({
        webhookUrl: webhookFromSecret(clients, config.controlPlane.slackWebhookSecretName),
        controlPlane: `understudy ${config.controlPlane.stackName} (${config.controlPlane.account}/${config.controlPlane.region})`,
        log,
        fetch: deliver,
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
};
