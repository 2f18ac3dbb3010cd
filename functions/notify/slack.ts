import { isIP } from 'node:net';
import type { Log } from '../core/log';
import { clip } from '../core/text';
import type { AuditEntry } from '../state/store';

/** Anything that tells people what happened. Implementations never throw: a Slack outage never blocks failover. */
export interface Notifier {
  notify(entry: AuditEntry): Promise<void>;
}

const HEADLINE: Record<AuditEntry['kind'], string> = {
  decision: ':rotating_light: Decision',
  action: ':hammer_and_wrench: Acting',
  completed: ':white_check_mark: Converged',
  waiting: ':hourglass_flowing_sand: Waiting',
  refused: ':no_entry: Refused',
  ignored: ':zzz: Ignored',
  held: ':pause_button: Held',
  error: ':x: Step failed',
  plan: ':clipboard: Plan only',
  recovered: ':stopwatch: Recovered',
  readiness: ':traffic_light: Readiness',
};

/** Slack's limit for a section's text. */
const MAX_TEXT = 3000;
/** A field's text (Slack allows 2,000; a field here is a label and one short value). */
const MAX_FIELD = 300;

/** The execution report's link, when the entry carries one (an https console link the stack made). */
const reportLink = (entry: AuditEntry) => {
  const link = entry.details?.report;
  if (typeof link !== 'string' || !link.startsWith('https://') || /[<>|\s]/.test(link)) return [];
  return [{ type: 'section', text: { type: 'mrkdwn', text: clip(`<${link}|Execution report>`, MAX_TEXT) } }];
};

/** Block Kit message for one audit entry. Only facts we have; no links to things that may not exist. */
export const slackMessage = (entry: AuditEntry, controlPlane: string) => {
  const title = `${HEADLINE[entry.kind]}: ${entry.service}${entry.capability ? ` / ${entry.capability}` : ''}`;
  const fields = [
    `*Service*\n${entry.service}`,
    `*Capability*\n${entry.capability ?? 'all'}`,
    `*Epoch*\n${entry.epoch}`,
    `*Source*\n${entry.source ?? 'reconciler'}`,
  ];
  return {
    text: clip(`${title}: ${entry.message}`, MAX_TEXT),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(title, 150), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: clip(entry.message, MAX_TEXT) } },
      { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn', text: clip(text, MAX_FIELD) })) },
      ...reportLink(entry),
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: clip(`${controlPlane} · ${entry.at}`, MAX_TEXT) }],
      },
    ],
  };
};

/** Where a Slack incoming webhook lives; any other host needs the operator's explicit allow-list. */
export const SLACK_WEBHOOK_HOST = 'hooks.slack.com';

export type WebhookUrlVerdict =
  | { readonly ok: true; readonly url: URL }
  | { readonly ok: false; readonly reason: string };

const normalHost = (host: string) => host.toLowerCase().replace(/\.$/, '');
const isIpLiteral = (host: string) => host.startsWith('[') || isIP(host) !== 0;
const isLocalName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

/**
 * Whether a webhook URL (from the Slack secret) may be POSTed to: https only, on hooks.slack.com or a
 * host the operator allowed (`allowedHosts`, DNS names), on the default port, without credentials.
 * An IP address (the instance metadata service 169.254.169.254, the Lambda runtime API on
 * 127.0.0.1, any private address) and localhost are refused whatever the allow-list says: the secret
 * must not be able to point the control plane's own requests at its own infrastructure. The reason
 * never quotes the URL: it is a secret.
 */
export const parseWebhookUrl = (value: unknown, allowedHosts: readonly string[] = []): WebhookUrlVerdict => {
  if (typeof value !== 'string' || value.trim() === '') return { ok: false, reason: 'it is empty' };
  if (value.length > 2_048) return { ok: false, reason: 'it is longer than 2,048 characters' };
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return { ok: false, reason: 'it is not a URL' };
  }
  if (url.protocol !== 'https:') return { ok: false, reason: `its scheme is ${url.protocol}, not https:` };
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'it carries credentials' };
  if (url.port !== '')
    return { ok: false, reason: 'it names a port; only the https default (443) is allowed' };
  const host = normalHost(url.hostname);
  if (isIpLiteral(host)) return { ok: false, reason: 'its host is an IP address, not a DNS name' };
  if (isLocalName(host)) return { ok: false, reason: 'its host is localhost' };
  const allowed = new Set([SLACK_WEBHOOK_HOST, ...allowedHosts.map(normalHost)]);
  if (!allowed.has(host)) {
    return {
      ok: false,
      reason: `its host is not ${SLACK_WEBHOOK_HOST}${allowedHosts.length > 0 ? ' or an allowed host' : ''}`,
    };
  }
  return { ok: true, url };
};

/** An error's text without the webhook URL or its secret path, for the log. */
const scrub = (text: string, url: URL | undefined): string => {
  if (!url) return text;
  let out = text;
  for (const secret of [url.href, url.pathname + url.search]) {
    if (secret.length > 1) out = out.split(secret).join('<webhook>');
  }
  return out;
};

export interface SlackWebhookOptions {
  /** Resolves the webhook URL (from Secrets Manager); undefined means "not configured": log only. */
  readonly webhookUrl: () => Promise<string | undefined>;
  readonly controlPlane: string;
  readonly log: Log;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  /** Hosts besides hooks.slack.com the webhook URL may name (https, DNS names only); default none. */
  readonly allowedHosts?: readonly string[];
}

/**
 * Posts to a Slack incoming webhook; failures are logged, never thrown. The URL is checked before
 * every POST (parseWebhookUrl) and redirects are refused, so the secret's value can only ever reach
 * Slack (or an allowed host); a refused URL is logged with the reason, never the URL.
 */
export const slackWebhookNotifier = (options: SlackWebhookOptions): Notifier => {
  const post = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 3_000;
  return {
    async notify(entry) {
      let url: URL | undefined;
      try {
        const value = await options.webhookUrl();
        if (!value) {
          options.log.debug('no Slack webhook configured; notification logged only', { entry });
          return;
        }
        const verdict = parseWebhookUrl(value, options.allowedHosts);
        if (!verdict.ok) {
          options.log.warn('Slack webhook URL refused; notification logged only', {
            reason: `the webhook URL in the secret is refused: ${verdict.reason}`,
            kind: entry.kind,
          });
          return;
        }
        url = verdict.url;
        const response = await post(url.href, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(slackMessage(entry, options.controlPlane)),
          signal: AbortSignal.timeout(timeoutMs),
          // A redirect could lead anywhere, the body (and the URL's secret path) with it.
          redirect: 'error',
        });
        if (!response.ok) {
          options.log.warn('Slack webhook refused the notification', {
            status: response.status,
            kind: entry.kind,
          });
        }
      } catch (error) {
        options.log.warn('Slack notification failed; carrying on', {
          error: scrub(String(error), url),
          kind: entry.kind,
        });
      }
    },
  };
};
