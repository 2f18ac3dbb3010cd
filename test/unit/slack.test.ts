import { describe, expect, it } from 'vitest';
import { slackMessage, slackWebhookNotifier } from '../../functions/notify/slack';
import type { AuditEntry } from '../../functions/state/store';
import { RecordingLog } from './fixtures';

const CONTROL_PLANE = 'understudy understudy (111111111111/eu-west-2)';
const WEBHOOK = 'https://hooks.slack.com/services/T000/B000/XXXX';

const entry = (overrides: Partial<AuditEntry> = {}): AuditEntry => ({
  service: 'shop',
  at: '2026-11-22T10:00:00.000Z',
  kind: 'decision',
  capability: 'dns',
  epoch: 7,
  message: 'alarm shop-primary-unhealthy is ALARM: moving dns to the standby (epoch 7)',
  source: 'alarm:shop-primary-unhealthy',
  ...overrides,
});

interface Posted {
  readonly url: string;
  readonly init: RequestInit | undefined;
}

/** A fetch that records what it was asked and answers with `status`. */
const recordingFetch = (status = 200) => {
  const posted: Posted[] = [];
  const fake: typeof fetch = async (input, init) => {
    posted.push({ url: String(input), init });
    return new Response(status === 200 ? 'ok' : 'invalid_payload', { status });
  };
  return { fake, posted };
};

const ALL_KINDS: AuditEntry['kind'][] = [
  'decision',
  'ignored',
  'held',
  'refused',
  'action',
  'completed',
  'waiting',
  'error',
  'plan',
];

describe('slackMessage', () => {
  it('builds a Block Kit message: header, message section, facts as fields, context', () => {
    // Act
    const message = slackMessage(entry(), CONTROL_PLANE);

    // Assess
    expect(message).toEqual({
      text: ':rotating_light: Decision: shop / dns: alarm shop-primary-unhealthy is ALARM: moving dns to the standby (epoch 7)',
      blocks: [
        {
          type: 'header',
          text: { type: 'plain_text', text: ':rotating_light: Decision: shop / dns', emoji: true },
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: 'alarm shop-primary-unhealthy is ALARM: moving dns to the standby (epoch 7)',
          },
        },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Service*\nshop' },
            { type: 'mrkdwn', text: '*Capability*\ndns' },
            { type: 'mrkdwn', text: '*Epoch*\n7' },
            { type: 'mrkdwn', text: '*Source*\nalarm:shop-primary-unhealthy' },
          ],
        },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: `${CONTROL_PLANE} · 2026-11-22T10:00:00.000Z` }],
        },
      ],
    });
  });

  it('says "all" and "reconciler" when the entry has no capability or source', () => {
    // Act
    const message = slackMessage(
      entry({ capability: undefined, source: undefined, kind: 'held' }),
      CONTROL_PLANE,
    );

    // Assess
    expect(message.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: ':pause_button: Held: shop', emoji: true },
    });
    const fields = message.blocks[2] as { fields: { text: string }[] };
    expect(fields.fields.map((f) => f.text)).toContain('*Capability*\nall');
    expect(fields.fields.map((f) => f.text)).toContain('*Source*\nreconciler');
  });

  it.each(ALL_KINDS)('has a headline for kind %s', (kind) => {
    // Act
    const message = slackMessage(entry({ kind }), CONTROL_PLANE);

    // Assess
    expect(message.text).not.toContain('undefined');
    expect(message.text).toMatch(/^:[a-z_]+: [A-Z]/);
  });

  it('keeps every text within Slack limits for a very long message and name', () => {
    // Prepare
    const long = entry({ message: 'x'.repeat(10_000), service: 's'.repeat(400) });

    // Act
    const message = slackMessage(long, 'c'.repeat(5_000));

    // Assess
    expect(message.text.length).toBeLessThanOrEqual(3000);
    const [header, section, facts, context] = message.blocks as unknown as [
      { text: { text: string } },
      { text: { text: string } },
      { fields: { text: string }[] },
      { elements: { text: string }[] },
    ];
    expect(header.text.text.length).toBeLessThanOrEqual(150);
    expect(section.text.text.length).toBe(3000);
    expect(facts.fields.length).toBeLessThanOrEqual(10);
    expect(context.elements[0]?.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('slackWebhookNotifier', () => {
  it('posts the Block Kit JSON to the webhook with a JSON content type and a timeout signal', async () => {
    // Prepare
    const { fake, posted } = recordingFetch();
    const log = new RecordingLog();
    const notifier = slackWebhookNotifier({
      webhookUrl: async () => WEBHOOK,
      controlPlane: CONTROL_PLANE,
      log,
      fetch: fake,
    });

    // Act
    await notifier.notify(entry());

    // Assess
    expect(posted).toHaveLength(1);
    const [call] = posted;
    expect(call?.url).toBe(WEBHOOK);
    expect(call?.init?.method).toBe('POST');
    expect(call?.init?.headers).toEqual({ 'content-type': 'application/json' });
    expect(JSON.parse(String(call?.init?.body))).toEqual(slackMessage(entry(), CONTROL_PLANE));
    expect(call?.init?.signal).toBeInstanceOf(AbortSignal);
    expect(log.at('warn')).toEqual([]);
  });

  it('swallows a rejected fetch and logs a warning', async () => {
    // Prepare
    const log = new RecordingLog();
    const notifier = slackWebhookNotifier({
      webhookUrl: async () => WEBHOOK,
      controlPlane: CONTROL_PLANE,
      log,
      fetch: async () => Promise.reject(new TypeError('fetch failed')),
    });

    // Act
    await expect(notifier.notify(entry())).resolves.toBeUndefined();

    // Assess
    expect(log.at('warn')).toEqual([
      {
        level: 'warn',
        message: 'Slack notification failed; carrying on',
        extra: [{ error: 'TypeError: fetch failed', kind: 'decision' }],
      },
    ]);
  });

  it('swallows a 500 response and logs the status', async () => {
    // Prepare
    const { fake } = recordingFetch(500);
    const log = new RecordingLog();
    const notifier = slackWebhookNotifier({
      webhookUrl: async () => WEBHOOK,
      controlPlane: CONTROL_PLANE,
      log,
      fetch: fake,
    });

    // Act
    await expect(notifier.notify(entry({ kind: 'error' }))).resolves.toBeUndefined();

    // Assess
    expect(log.at('warn')).toEqual([
      {
        level: 'warn',
        message: 'Slack webhook refused the notification',
        extra: [{ status: 500, kind: 'error' }],
      },
    ]);
  });

  it('gives up on a webhook that never answers once the timeout aborts the request', async () => {
    // Prepare: a fetch that only ever settles when its signal aborts, as the real fetch does
    const log = new RecordingLog();
    let signal: AbortSignal | undefined;
    const hanging: typeof fetch = (_input, init) =>
      new Promise<Response>((_resolve, reject) => {
        signal = init?.signal ?? undefined;
        signal?.addEventListener('abort', () => reject(signal?.reason));
      });
    const notifier = slackWebhookNotifier({
      webhookUrl: async () => WEBHOOK,
      controlPlane: CONTROL_PLANE,
      log,
      fetch: hanging,
      timeoutMs: 1,
    });

    // Act
    await expect(notifier.notify(entry())).resolves.toBeUndefined();

    // Assess
    expect(signal?.aborted).toBe(true);
    expect(log.at('warn')).toHaveLength(1);
    expect(log.at('warn')[0]?.message).toBe('Slack notification failed; carrying on');
    expect(String(log.at('warn')[0]?.extra[0]?.error)).toContain('TimeoutError');
  });

  it('only logs when no webhook is configured', async () => {
    // Prepare
    const { fake, posted } = recordingFetch();
    const log = new RecordingLog();
    const notifier = slackWebhookNotifier({
      webhookUrl: async () => undefined,
      controlPlane: CONTROL_PLANE,
      log,
      fetch: fake,
    });

    // Act
    await notifier.notify(entry());

    // Assess
    expect(posted).toEqual([]);
    expect(log.at('debug').map((l) => l.message)).toEqual([
      'no Slack webhook configured; notification logged only',
    ]);
    expect(log.at('warn')).toEqual([]);
  });

  it('swallows a failure to read the webhook secret', async () => {
    // Prepare
    const { fake, posted } = recordingFetch();
    const log = new RecordingLog();
    const notifier = slackWebhookNotifier({
      webhookUrl: async () => Promise.reject(new Error('AccessDeniedException')),
      controlPlane: CONTROL_PLANE,
      log,
      fetch: fake,
    });

    // Act
    await expect(notifier.notify(entry())).resolves.toBeUndefined();

    // Assess
    expect(posted).toEqual([]);
    expect(log.at('warn')).toHaveLength(1);
  });
});
