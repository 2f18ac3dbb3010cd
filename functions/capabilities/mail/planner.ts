import type { ServiceConfig } from '../../config/schema';
import type { Site } from '../../core/types';
import type { CapabilityPlan, PlanInput, PlannedAction } from '../../engine/capability';
import type { HeldMessage, MailMeta } from './held';

/** What SES and the held-mail records say, in the planner's own terms (no SDK types). */
export interface MailObserved {
  readonly ruleSetName: string;
  readonly ruleName: string;
  /** The account's active receipt rule set in the inbound Region (only one can be active). */
  readonly activeRuleSet: string | undefined;
  readonly rule: { readonly exists: boolean; readonly enabled: boolean };
  /** Every message not yet purged, oldest first. */
  readonly messages: readonly HeldMessage[];
  readonly meta: MailMeta;
  /** Whether the primary answers SMTP; probed only when there is mail to hand back. */
  readonly primary?: { readonly ok: boolean; readonly detail: string } | undefined;
}

export interface MessageRef {
  readonly messageId: string;
  readonly receivedAt: string;
  readonly size: number;
}

export interface PurgeRef extends MessageRef {
  readonly bucket: string;
  readonly key: string;
}

export type MailAction =
  | (PlannedAction & {
      readonly api: 'ses:SetActiveReceiptRuleSet';
      readonly params: { readonly RuleSetName: string };
    })
  | (PlannedAction & {
      readonly api: 'ses:UpdateReceiptRule';
      readonly params: { readonly RuleSetName: string; readonly RuleName: string; readonly Enabled: true };
    })
  | (PlannedAction & {
      readonly api: 'smtp:DeliverHeldMail';
      readonly params: {
        readonly messages: readonly MessageRef[];
        readonly bytes: number;
        readonly due: number;
      };
    })
  | (PlannedAction & {
      readonly api: 's3:DeleteObject';
      readonly params: { readonly messages: readonly PurgeRef[] };
    })
  | (PlannedAction & {
      readonly api: 'understudy:ReportHeldMail';
      readonly params: { readonly held: number; readonly bytes: number; readonly epoch: number };
    });

/** How much one run may take on: a Lambda must never time out in the middle of a delivery. */
export interface MailLimits {
  readonly maxMessagesPerRun: number;
  readonly maxBytesPerRun: number;
  readonly maxPurgesPerRun: number;
}

export const DEFAULT_MAIL_LIMITS: MailLimits = {
  maxMessagesPerRun: 100,
  maxBytesPerRun: 64 * 1024 * 1024,
  maxPurgesPerRun: 50,
};

const DAY_MS = 86_400_000;

/** Held and due now: never claimed, deferred until now or earlier, or claimed by a run that died. */
export const isDue = (m: HeldMessage, now: Date): boolean =>
  (m.status === 'held' && (m.nextAttemptAt === undefined || Date.parse(m.nextAttemptAt) <= now.getTime())) ||
  (m.status === 'delivering' && m.claimedUntil !== undefined && Date.parse(m.claimedUntil) < now.getTime());

/** Still the primary's to receive (held, deferred or in flight): the backlog. */
export const isOutstanding = (m: HeldMessage): boolean => m.status === 'held' || m.status === 'delivering';

/** Held mail goes back only while the desired state says the primary serves, and not during a backoff. */
export const handBackAllowed = (target: Site, meta: MailMeta, now: Date): boolean =>
  target === 'primary' &&
  (meta.primaryRetryAfter === undefined || Date.parse(meta.primaryRetryAfter) <= now.getTime());

/** The messages the next delivery run takes, oldest first, bounded by count and bytes (at least one). */
export const nextBatch = (
  messages: readonly HeldMessage[],
  now: Date,
  limits: MailLimits = DEFAULT_MAIL_LIMITS,
): MessageRef[] => {
  const batch: MessageRef[] = [];
  let bytes = 0;
  for (const m of messages) {
    if (!isDue(m, now)) continue;
    if (batch.length >= limits.maxMessagesPerRun) break;
    if (batch.length > 0 && bytes + m.size > limits.maxBytesPerRun) break;
    batch.push({ messageId: m.messageId, receivedAt: m.receivedAt, size: m.size });
    bytes += m.size;
  }
  return batch;
};

/** Delivered messages whose retention has passed: the only ones ever deleted. */
export const purgeable = (
  messages: readonly HeldMessage[],
  retentionDays: number,
  now: Date,
  limit: number,
): PurgeRef[] =>
  messages
    .filter(
      (m) =>
        m.status === 'delivered' &&
        m.deliveredAt !== undefined &&
        Date.parse(m.deliveredAt) + retentionDays * DAY_MS <= now.getTime(),
    )
    .slice(0, limit)
    .map((m) => ({
      messageId: m.messageId,
      receivedAt: m.receivedAt,
      size: m.size,
      bucket: m.bucket,
      key: m.key,
    }));

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export const backlogSummary = (messages: readonly HeldMessage[]): string => {
  const outstanding = messages.filter(isOutstanding);
  const rejected = messages.filter((m) => m.status === 'rejected');
  const bytes = outstanding.reduce((sum, m) => sum + m.size, 0);
  const oldest = outstanding[0]?.receivedAt;
  return (
    `${outstanding.length} held message(s), ${mb(bytes)}` +
    (oldest ? `, oldest received ${oldest}` : '') +
    (rejected.length > 0 ? `; ${rejected.length} rejected by the primary and kept` : '')
  );
};

/** While the primary is down: on the first run of the outage, then at most every `everyMinutes`. */
export const backlogReportDue = (
  meta: MailMeta,
  epoch: number,
  held: number,
  now: Date,
  everyMinutes: number,
): boolean => {
  if (held === 0) return false;
  if (meta.lastReportAt === undefined || meta.lastReportEpoch !== epoch) return true;
  return (
    now.getTime() - Date.parse(meta.lastReportAt) >= everyMinutes * 60_000 && meta.lastReportCount !== held
  );
};

/**
 * The mail planner: desired site + SES's receipt state + the held-mail records -> what to do next.
 * Pure; every mail safety rule lives here.
 *
 * - The backup MX always accepts: the receipt rule set is kept active and the rule enabled whatever
 *   the desired site, because the backup MX is published all the time and senders fall back to it
 *   whenever the primary does not answer. It never deactivates another team's active rule set.
 * - Held mail goes back only when the desired state says the primary serves (its alarm is OK) and
 *   the primary answers SMTP; oldest first, in bounded batches.
 * - Nothing is deleted before it is delivered and its retention has passed; rejected mail is kept
 *   and reported.
 */
export const planMail = (
  input: PlanInput<MailObserved>,
  limits: MailLimits = DEFAULT_MAIL_LIMITS,
): CapabilityPlan<MailAction> => {
  const { service, target, epoch, observed, now } = input;
  const mail = service.mail;
  if (!mail) return { kind: 'converged', detail: 'no mail section configured' };
  const actions: MailAction[] = [];
  const notes: string[] = [];

  if (!observed.rule.exists) {
    return {
      kind: 'refuse',
      detail:
        `receipt rule ${observed.ruleName} is missing from rule set ${observed.ruleSetName}: SES would reject ` +
        `the domain's mail instead of holding it. Deploy the stack (cdk deploy) to recreate it`,
    };
  }
  if (observed.activeRuleSet === undefined) {
    actions.push({
      capability: 'mail',
      api: 'ses:SetActiveReceiptRuleSet',
      reason: `no receipt rule set is active: SES would reject mail for ${mail.domain}; activate ${observed.ruleSetName} so the backup MX holds it`,
      params: { RuleSetName: observed.ruleSetName },
    });
  } else if (observed.activeRuleSet !== observed.ruleSetName) {
    const why =
      `receipt rule set ${observed.activeRuleSet} is active, not ${observed.ruleSetName}; only one can be ` +
      `active per Region, and replacing another team's would break their mail. Add rule ${observed.ruleName} ` +
      `to ${observed.activeRuleSet}, or activate ${observed.ruleSetName}`;
    if (target === 'standby') return { kind: 'refuse', detail: `cannot make sure SES holds mail: ${why}` };
    notes.push(why);
  }
  if (!observed.rule.enabled) {
    actions.push({
      capability: 'mail',
      api: 'ses:UpdateReceiptRule',
      reason: `receipt rule ${observed.ruleName} is disabled: the backup MX must hold mail for ${mail.domain} whenever senders fall back to it`,
      params: { RuleSetName: observed.ruleSetName, RuleName: observed.ruleName, Enabled: true },
    });
  }

  const purge = purgeable(observed.messages, mail.retentionDays, now, limits.maxPurgesPerRun);
  if (purge.length > 0) {
    actions.push({
      capability: 'mail',
      api: 's3:DeleteObject',
      reason: `${purge.length} message(s) were delivered to the primary more than ${mail.retentionDays} day(s) ago (retention)`,
      params: { messages: purge },
    });
  }

  const outstanding = observed.messages.filter(isOutstanding);
  const rejected = observed.messages.filter((m) => m.status === 'rejected');
  const summary = backlogSummary(observed.messages);

  if (target === 'standby') {
    if (backlogReportDue(observed.meta, epoch, outstanding.length, now, mail.backlogReportMinutes)) {
      actions.push({
        capability: 'mail',
        api: 'understudy:ReportHeldMail',
        reason: `the primary mail server is down; SES holds the mail for ${mail.domain}: ${summary}`,
        params: {
          held: outstanding.length,
          bytes: outstanding.reduce((sum, m) => sum + m.size, 0),
          epoch,
        },
      });
    }
    const detail = `SES holds inbound mail for ${mail.domain} until the primary is back (${summary})`;
    return actions.length > 0 ? { kind: 'act', detail, actions } : { kind: 'converged', detail };
  }

  const due = outstanding.filter((m) => isDue(m, now));
  const allowed = handBackAllowed(target, observed.meta, now);
  if (due.length > 0 && allowed && observed.primary?.ok === true) {
    const batch = nextBatch(observed.messages, now, limits);
    const bytes = batch.reduce((sum, m) => sum + m.size, 0);
    actions.push({
      capability: 'mail',
      api: 'smtp:DeliverHeldMail',
      reason:
        `the primary is back (alarm OK, ${observed.primary.detail}); hand back ${batch.length} of ${due.length} ` +
        `due held message(s), oldest first, ${mb(bytes)}, byte-identical with the original envelope`,
      params: { messages: batch, bytes, due: due.length },
    });
  }
  if (actions.length > 0) {
    return { kind: 'act', detail: `hand back held mail for ${mail.domain}`, actions };
  }

  const extra = notes.length > 0 ? `; note: ${notes.join('; ')}` : '';
  if (outstanding.length > 0) {
    // Counts stay out of a waiting detail: the engine posts every change of it to Slack.
    const why = !allowed
      ? `the primary could not take mail (${observed.meta.primaryLastError ?? 'unknown'}); retrying with backoff`
      : due.length === 0
        ? 'the primary deferred them (4xx); retrying each with backoff'
        : `the primary mail server does not answer SMTP (${observed.primary?.detail ?? 'not probed'})`;
    return { kind: 'wait', detail: `held mail for ${mail.domain} waits: ${why}${extra}` };
  }
  if (rejected.length > 0) {
    const first = rejected[0];
    return {
      kind: 'refuse',
      detail:
        `${rejected.length} held message(s) for ${mail.domain} were refused for good by the primary ` +
        `(e.g. ${first?.messageId}: ${first?.lastReply ?? '5xx'}; kept at s3://${first?.bucket}/${first?.key}). ` +
        `They are never deleted: deliver or discard them by hand${extra}`,
    };
  }
  return {
    kind: 'converged',
    detail: `no held mail for ${mail.domain}: everything SES held is delivered${extra}`,
  };
};

/** The service's mail config, or a typed error for a capability asked to act on a service without it. */
export const mailOf = (service: ServiceConfig) => {
  if (!service.mail) throw new Error(`service ${service.name} has no mail section`);
  return service.mail;
};
