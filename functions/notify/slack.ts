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
};

/** Slack's limit for a section's text. */
const MAX_TEXT = 3000;
/** A field's text (Slack allows 2,000; a field here is a label and one short value). */
const MAX_FIELD = 300;

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
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: clip(`${controlPlane} · ${entry.at}`, MAX_TEXT) }],
      },
    ],
  };
};

export interface SlackWebhookOptions {
  /** Resolves the webhook URL (from Secrets Manager); undefined means "not configured": log only. */
  readonly webhookUrl: () => Promise<string | undefined>;
  readonly controlPlane: string;
  readonly log: Log;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** Posts to a Slack incoming webhook; failures are logged, never thrown. */
export const slackWebhookNotifier = (options: SlackWebhookOptions): Notifier => {
  const post = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 3_000;
  return {
    async notify(entry) {
      try {
        const url = await options.webhookUrl();
        if (!url) {
          options.log.debug('no Slack webhook configured; notification logged only', { entry });
          return;
        }
        const response = await post(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(slackMessage(entry, options.controlPlane)),
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!response.ok) {
          options.log.warn('Slack webhook refused the notification', {
            status: response.status,
            kind: entry.kind,
          });
        }
      } catch (error) {
        options.log.warn('Slack notification failed; carrying on', {
          error: String(error),
          kind: entry.kind,
        });
      }
    },
  };
};
