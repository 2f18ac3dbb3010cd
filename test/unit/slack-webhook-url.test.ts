import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseWebhookUrl, slackWebhookNotifier } from '../../functions/notify/slack';
import type { AuditEntry } from '../../functions/state/store';
import { RecordingLog } from './fixtures';

/** The secret part of every URL below: it must never show up in a log line. */
const SECRET = 'T0SECRET/B0SECRET/xoxsecretpath';

const entry: AuditEntry = {
  service: 'shop',
  at: '2026-11-22T10:00:00.000Z',
  kind: 'decision',
  epoch: 1,
  message: 'moving dns to the standby',
};

/** A local HTTP listener that counts every connection and request it gets; optionally redirects. */
interface Listener {
  readonly port: number;
  readonly url: string;
  connections: number;
  requests: number;
  redirectTo: string | undefined;
  stop(): Promise<void>;
}

const listen = async (): Promise<Listener> => {
  const state = { connections: 0, requests: 0, redirectTo: undefined as string | undefined };
  const server: Server = createServer((request, response) => {
    state.requests++;
    request.resume();
    request.on('end', () => {
      if (state.redirectTo) response.writeHead(307, { location: state.redirectTo }).end();
      else response.writeHead(200).end('ok');
    });
  });
  server.on('connection', () => {
    state.connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return Object.assign(state, {
    port,
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
};

let listener: Listener;
let elsewhere: Listener;
beforeEach(async () => {
  listener = await listen();
  elsewhere = await listen();
});
afterEach(async () => {
  await listener.stop();
  await elsewhere.stop();
});

/**
 * A fetch that would deliver ANY URL it is asked for to the local listener: if the notifier ever
 * tried a refused URL, the listener would see it. It keeps the notifier's own options (redirect).
 */
const catchAll = () => {
  const asked: string[] = [];
  const fake: typeof fetch = async (input, init) => {
    asked.push(String(input));
    return fetch(`${listener.url}/caught`, init);
  };
  return { fake, asked };
};

const refused = (port: () => number): [string, () => string, RegExp][] => [
  ['plain http', () => `http://hooks.slack.com/services/${SECRET}`, /scheme is http:/],
  ['plain http to the local listener', () => `http://127.0.0.1:${port()}/services/${SECRET}`, /scheme/],
  ['https to the local listener (loopback)', () => `https://127.0.0.1:${port()}/services/${SECRET}`, /port/],
  ['the loopback address', () => `https://127.0.0.1/services/${SECRET}`, /IP address/],
  ['loopback as a decimal number', () => `https://2130706433/services/${SECRET}`, /IP address/],
  ['loopback in IPv6', () => `https://[::1]/services/${SECRET}`, /IP address/],
  ['localhost', () => `https://localhost/services/${SECRET}`, /localhost/],
  [
    'the instance metadata service',
    () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    /scheme/,
  ],
  ['the instance metadata service over https', () => `https://169.254.169.254/${SECRET}`, /IP address/],
  [
    'the Lambda runtime API',
    () => `http://127.0.0.1:9001/2018-06-01/runtime/invocation/next?${SECRET}`,
    /scheme/,
  ],
  ['an arbitrary https host', () => `https://webhooks.evil.test/services/${SECRET}`, /not hooks\.slack\.com/],
  [
    'a look-alike host',
    () => `https://hooks.slack.com.evil.test/services/${SECRET}`,
    /not hooks\.slack\.com/,
  ],
  [
    'credentials before an evil host',
    () => `https://hooks.slack.com@evil.test/services/${SECRET}`,
    /credentials/,
  ],
  ['another port on Slack', () => `https://hooks.slack.com:8443/services/${SECRET}`, /port/],
  ['a malformed URL', () => `hooks.slack.com/services/${SECRET}`, /not a URL/],
  ['a malformed https URL', () => `https://:${SECRET}`, /not a URL/],
  ['a javascript: URL', () => `javascript:alert('${SECRET}')`, /scheme/],
];

describe('parseWebhookUrl', () => {
  it('accepts a Slack incoming webhook', () => {
    const verdict = parseWebhookUrl(`https://hooks.slack.com/services/${SECRET}`);
    expect(verdict.ok && verdict.url.href).toBe(`https://hooks.slack.com/services/${SECRET}`);
    expect(parseWebhookUrl(`https://HOOKS.slack.com./services/${SECRET}`).ok).toBe(true);
  });

  it.each(refused(() => 8080))('refuses %s, without quoting it', (_label, url, reason) => {
    const verdict = parseWebhookUrl(url());
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.reason).toMatch(reason);
    expect(!verdict.ok && verdict.reason).not.toContain('SECRET');
  });

  it('accepts an extra https host only when the operator allows it', () => {
    const url = `https://slack-relay.corp.example/hooks/${SECRET}`;
    expect(parseWebhookUrl(url).ok).toBe(false);
    expect(parseWebhookUrl(url, ['slack-relay.corp.example']).ok).toBe(true);
    expect(parseWebhookUrl(url.replace('https:', 'http:'), ['slack-relay.corp.example']).ok).toBe(false);
  });

  it('refuses loopback, metadata and localhost even when allowed', () => {
    const allowed = ['127.0.0.1', '169.254.169.254', 'localhost', '::1'];
    for (const url of [
      'https://127.0.0.1/x',
      'https://169.254.169.254/x',
      'https://localhost/x',
      'https://[::1]/x',
    ]) {
      expect(parseWebhookUrl(url, allowed).ok).toBe(false);
    }
  });
});

describe('the Slack notifier sends nothing to a refused webhook URL', () => {
  it.each(refused(() => listener.port))(
    '%s: the listener receives nothing, the log says why',
    async (_l, url) => {
      // Prepare: the secret holds the URL; a fetch that would deliver anything to the listener
      const { fake, asked } = catchAll();
      const log = new RecordingLog();
      const notifier = slackWebhookNotifier({
        webhookUrl: async () => url(),
        controlPlane: 'cp',
        log,
        fetch: fake,
      });

      // Act
      await notifier.notify(entry);

      // Assess
      expect(asked).toEqual([]);
      expect(listener.connections).toBe(0);
      expect(log.at('warn').map((l) => l.message)).toEqual([
        'Slack webhook URL refused; notification logged only',
      ]);
      expect(JSON.stringify(log.lines)).not.toContain('SECRET');
    },
  );

  it.each(refused(() => listener.port))(
    '%s, with the real fetch: the listener receives nothing',
    async (_l, url) => {
      const log = new RecordingLog();
      const notifier = slackWebhookNotifier({
        webhookUrl: async () => url(),
        controlPlane: 'cp',
        log,
        timeoutMs: 500,
      });

      await notifier.notify(entry);

      expect(listener.connections).toBe(0);
      expect(JSON.stringify(log.lines)).not.toContain('SECRET');
    },
  );

  it('posts to an allowed URL (the catch-all fetch delivers it): the harness itself works', async () => {
    const { fake, asked } = catchAll();
    const log = new RecordingLog();
    const notifier = slackWebhookNotifier({
      webhookUrl: async () => `https://hooks.slack.com/services/${SECRET}`,
      controlPlane: 'cp',
      log,
      fetch: fake,
    });

    await notifier.notify(entry);

    expect(asked).toEqual([`https://hooks.slack.com/services/${SECRET}`]);
    expect(listener.requests).toBe(1);
    expect(log.at('warn')).toEqual([]);
  });

  it('does not follow a redirect from the allowed host, and does not log the URL', async () => {
    // Prepare: "Slack" (the listener, reached through the catch-all) redirects elsewhere
    listener.redirectTo = `${elsewhere.url}/stolen`;
    const { fake } = catchAll();
    const log = new RecordingLog();
    const notifier = slackWebhookNotifier({
      webhookUrl: async () => `https://hooks.slack.com/services/${SECRET}`,
      controlPlane: 'cp',
      log,
      fetch: fake,
    });

    // Act
    await notifier.notify(entry);

    // Assess
    expect(listener.requests).toBe(1);
    expect(elsewhere.connections).toBe(0);
    expect(log.at('warn').map((l) => l.message)).toEqual(['Slack notification failed; carrying on']);
    expect(JSON.stringify(log.lines)).not.toContain('SECRET');
  });
});
