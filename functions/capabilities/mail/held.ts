/**
 * One message SES accepted for the primary and stored in S3, as the control plane tracks it.
 * Pure types and rules (no AWS SDK): shared by the recorder, the planner and the executor.
 *
 * Lifecycle (status):
 *   held ──claim──▶ delivering ──250 for DATA, every recipient settled──▶ delivered ──retention──▶ purged
 *     ▲                │ 4xx / connection lost: back to held (per-message 4xx: with nextAttemptAt)
 *     └────────────────┘ 5xx for every remaining recipient: rejected (kept, reported, never deleted)
 * A claim is a conditional write, so two runs never send the same message at once, and a message
 * marked delivered is never claimed again. A claim whose run died (lease expired) may be taken over:
 * that is the at-least-once edge (see README, "Mail").
 */

export type HeldStatus = 'held' | 'delivering' | 'delivered' | 'rejected' | 'purged';

/** SES's verdicts, recorded as SES gave them; never used to drop mail (the primary's filters decide). */
export interface Verdicts {
  readonly spam?: string | undefined;
  readonly virus?: string | undefined;
  readonly spf?: string | undefined;
  readonly dkim?: string | undefined;
  readonly dmarc?: string | undefined;
}

export interface HeldMessage {
  readonly service: string;
  /** SES's message id; also the S3 object name under the service's prefix. */
  readonly messageId: string;
  /** When SES received it: the delivery order. */
  readonly receivedAt: string;
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** The envelope sender (SMTP MAIL FROM), empty for bounces. */
  readonly mailFrom: string;
  /** Envelope recipients SES accepted for this domain (SMTP RCPT TO). */
  readonly recipients: readonly string[];
  /** Recipients still to deliver to; the others were accepted (or refused for good) by the primary. */
  readonly pendingRecipients: readonly string[];
  readonly rejectedRecipients: readonly string[];
  readonly verdicts: Verdicts;
  readonly status: HeldStatus;
  /** Delivery attempts started (claims). */
  readonly attempts: number;
  /** A per-message temporary failure (4xx) holds the message back until then. */
  readonly nextAttemptAt?: string | undefined;
  /** The primary's last reply (or the connection error) for this message. */
  readonly lastReply?: string | undefined;
  readonly claimedBy?: string | undefined;
  readonly claimedUntil?: string | undefined;
  readonly deliveredAt?: string | undefined;
  readonly rejectedAt?: string | undefined;
}

/** Sort key: receive time first, so one Query returns the backlog oldest first. */
export const messageSortKey = (m: Pick<HeldMessage, 'receivedAt' | 'messageId'>): string =>
  `MSG#${m.receivedAt}#${m.messageId}`;

export const byReceiveOrder = (a: HeldMessage, b: HeldMessage): number =>
  messageSortKey(a) < messageSortKey(b) ? -1 : messageSortKey(a) > messageSortKey(b) ? 1 : 0;

/** Service-level bookkeeping of the hand-back, kept beside the messages. */
export interface MailMeta {
  /** Consecutive runs that could not reach the primary (connect, 421, lost connection). */
  readonly primaryFailures: number;
  /** No delivery attempt before this (backoff after a primary-level failure). */
  readonly primaryRetryAfter?: string | undefined;
  readonly primaryLastError?: string | undefined;
  /** The last backlog report posted to Slack. */
  readonly lastReportAt?: string | undefined;
  readonly lastReportEpoch?: number | undefined;
  readonly lastReportCount?: number | undefined;
}

export const emptyMeta: MailMeta = { primaryFailures: 0 };

/** Backoff for a primary that cannot be reached: 1, 2, 4, 8, then every 15 minutes. */
export const primaryBackoffMs = (failures: number): number =>
  Math.min(15 * 60_000, 60_000 * 2 ** Math.max(0, Math.min(failures, 10) - 1));

/** Backoff for one message the primary deferred (4xx): 1, 2, 4, ... minutes, at most an hour. */
export const messageBackoffMs = (attempts: number): number =>
  Math.min(60 * 60_000, 60_000 * 2 ** Math.max(0, Math.min(attempts, 10) - 1));
