import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeActiveReceiptRuleSetCommand,
  DescribeReceiptRuleCommand,
  SESClient,
  SetActiveReceiptRuleSetCommand,
  UpdateReceiptRuleCommand,
} from '@aws-sdk/client-ses';
import type { ServiceConfig } from '../../config/schema';
import type { Clock } from '../../core/clock';
import { classifyAwsError } from '../../core/errors';
import type { Log } from '../../core/log';
import type { Site } from '../../core/types';
import { guardedAttempt } from '../../engine/call-guard';
import type { ActionResult, Capability } from '../../engine/capability';
import type { CapabilityContext } from '../../engine/module';
import { sdkErrorName } from '../../runtime/client-kit';
import { receiptRuleName, receiptRuleSetName } from './config';
import { messageBackoffMs, primaryBackoffMs } from './held';
import {
  DEFAULT_MAIL_LIMITS,
  handBackAllowed,
  isDue,
  type MailAction,
  type MailLimits,
  type MailObserved,
  type MessageRef,
  mailOf,
  planMail,
} from './planner';
import { type Envelope, type SendResult, SmtpConnectionError, SmtpSession, type SmtpTarget } from './smtp';
import { MailStore } from './store';

/** The SMTP side, injectable so unit tests can script the primary. */
export interface SmtpConnector {
  probe(target: SmtpTarget): Promise<{ readonly ok: boolean; readonly detail: string }>;
  open(target: SmtpTarget): Promise<{
    send(envelope: Envelope, raw: Uint8Array): Promise<SendResult>;
    close(): Promise<void>;
  }>;
}

export const nodeSmtp: SmtpConnector = {
  probe: (target) => SmtpSession.probe(target),
  open: (target) => SmtpSession.open(target),
};

export interface MailCapabilityOptions {
  readonly stackName: string;
  readonly limits?: MailLimits;
  /** Stop starting new deliveries after this long, so the run ends well inside the Lambda timeout. */
  readonly deliverBudgetMs?: number;
  /** A claim outlives a run that died by this much; then another run may take the message over. */
  readonly claimLeaseMs?: number;
  readonly smtpTimeoutMs?: number;
  /** How long the record of a purged message is kept (DynamoDB TTL). */
  readonly purgedRecordDays?: number;
  readonly smtp?: SmtpConnector;
  /** Monotonic milliseconds, for the run's budget (the injected clock may stand still in tests). */
  readonly elapsed?: () => number;
}

export interface MailClients {
  readonly s3: S3Client;
  readonly ses: SESClient;
  readonly store: MailStore;
  readonly clock: Clock;
  readonly log: Log;
  readonly newId: () => string;
}

export const smtpTargetOf = (service: ServiceConfig, timeoutMs: number): SmtpTarget => {
  const mail = mailOf(service);
  return {
    host: mail.primary.host,
    port: mail.primary.port,
    tls: mail.primary.tls,
    heloName: `understudy.${mail.domain}`,
    timeoutMs,
  };
};

/** The SDK error's name, also once the client kit's middleware has classified (wrapped) it. */
const isMissing = (error: unknown, ...names: string[]) => names.includes(sdkErrorName(error) ?? '');

/** The mail capability: SES receipt state, S3 and the held-mail records around the pure planner. */
export const mailCapability = (
  clients: MailClients,
  options: MailCapabilityOptions,
): Capability<MailObserved, MailAction> => {
  const { s3, ses, store, clock, log } = clients;
  const limits = options.limits ?? DEFAULT_MAIL_LIMITS;
  const smtp = options.smtp ?? nodeSmtp;
  const budgetMs = options.deliverBudgetMs ?? 25_000;
  const leaseMs = options.claimLeaseMs ?? 5 * 60_000;
  const smtpTimeoutMs = options.smtpTimeoutMs ?? 20_000;
  const elapsed = options.elapsed ?? (() => performance.now());
  const ruleSetName = receiptRuleSetName(options.stackName);

  const call = async <T>(operation: string, send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      throw classifyAwsError(operation, error);
    }
  };

  const readRule = async (service: ServiceConfig) => {
    try {
      const out = await ses.send(
        new DescribeReceiptRuleCommand({ RuleSetName: ruleSetName, RuleName: receiptRuleName(service.name) }),
      );
      return { exists: out.Rule !== undefined, enabled: out.Rule?.Enabled === true, rule: out.Rule };
    } catch (error) {
      if (
        isMissing(
          error,
          'RuleDoesNotExistException',
          'RuleSetDoesNotExistException',
          'RuleDoesNotExist',
          'RuleSetDoesNotExist',
        )
      ) {
        return { exists: false, enabled: false, rule: undefined };
      }
      throw classifyAwsError('SES DescribeReceiptRule', error);
    }
  };

  /** One message: claim it, read its raw bytes, send it, record what the primary said. */
  const deliverOne = async (
    service: ServiceConfig,
    ref: MessageRef,
    runId: string,
    session: () => Promise<Awaited<ReturnType<SmtpConnector['open']>>>,
  ): Promise<'delivered' | 'deferred' | 'rejected' | 'skipped'> => {
    const message = await store.claim({ service: service.name, ...ref }, runId, clock.now(), leaseMs);
    if (!message) return 'skipped';
    const settle = async (outcome: Parameters<MailStore['settle']>[2]) => {
      if (!(await store.settle(message, runId, outcome))) {
        log.warn('held message was taken over by another run before it was settled', {
          service: service.name,
          messageId: message.messageId,
          outcome: outcome.status,
        });
      }
    };
    const keep = (reply: string) =>
      settle({
        status: 'held',
        pendingRecipients: message.pendingRecipients,
        rejectedRecipients: message.rejectedRecipients,
        lastReply: reply,
        at: clock.now().toISOString(),
      });

    let raw: Uint8Array;
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: message.bucket, Key: message.key }));
      raw = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (error) {
      if (isMissing(error, 'NoSuchKey')) {
        // Nothing to send: report it as needing a person; never pretend it was delivered.
        await settle({
          status: 'rejected',
          pendingRecipients: message.pendingRecipients,
          rejectedRecipients: message.rejectedRecipients,
          lastReply: `the stored message s3://${message.bucket}/${message.key} is missing`,
          at: clock.now().toISOString(),
        });
        return 'rejected';
      }
      await keep(`could not read s3://${message.bucket}/${message.key}: ${(error as Error).message}`);
      throw classifyAwsError('S3 GetObject (held mail)', error);
    }

    let result: SendResult;
    try {
      const connection = await session();
      // Fenced like an AWS call: a message goes to the primary only while this run's epoch is current.
      result = await guardedAttempt('SMTP', 'DeliverHeldMail', () =>
        connection.send({ mailFrom: message.mailFrom, recipients: message.pendingRecipients }, raw),
      );
    } catch (error) {
      // Not accepted: the message stays first in line, with no per-message backoff, so order holds.
      await keep((error as Error).message);
      throw error;
    }
    const now = clock.now();
    const rejectedRecipients = [...message.rejectedRecipients, ...result.rejected];
    if (result.deferred.length > 0) {
      await settle({
        status: 'held',
        pendingRecipients: result.deferred,
        rejectedRecipients,
        lastReply: result.reply,
        nextAttemptAt: new Date(now.getTime() + messageBackoffMs(message.attempts)).toISOString(),
        at: now.toISOString(),
      });
      return 'deferred';
    }
    const status = rejectedRecipients.length > 0 ? 'rejected' : 'delivered';
    await settle({
      status,
      pendingRecipients: [],
      rejectedRecipients,
      lastReply: result.reply,
      at: now.toISOString(),
    });
    if (status === 'rejected') {
      log.warn('the primary refused a held message for good; it is kept and reported', {
        service: service.name,
        messageId: message.messageId,
        reply: result.reply,
      });
    }
    return status;
  };

  const deliver = async (
    service: ServiceConfig,
    action: Extract<MailAction, { api: 'smtp:DeliverHeldMail' }>,
  ): Promise<ActionResult> => {
    const started = elapsed();
    const runId = clients.newId();
    const counts = { delivered: 0, deferred: 0, rejected: 0, skipped: 0 };
    let connection: Awaited<ReturnType<SmtpConnector['open']>> | undefined;
    const session = async () => {
      connection ??= await smtp.open(smtpTargetOf(service, smtpTimeoutMs));
      return connection;
    };
    let stopped: string | undefined;
    let attempted = 0;
    try {
      for (const ref of action.params.messages) {
        if (elapsed() - started > budgetMs) {
          stopped = `run budget of ${budgetMs} ms spent; the next run continues`;
          break;
        }
        attempted++;
        try {
          counts[await deliverOne(service, ref, runId, session)]++;
        } catch (error) {
          if (!(error instanceof SmtpConnectionError)) throw error;
          stopped = error.message;
          const { meta } = await store.read(service.name);
          const failures = meta.primaryFailures + 1;
          await store.updateMeta(service.name, {
            primaryFailures: failures,
            primaryRetryAfter: new Date(clock.now().getTime() + primaryBackoffMs(failures)).toISOString(),
            primaryLastError: error.message.slice(0, 300),
          });
          connection = undefined;
          break;
        }
      }
    } finally {
      await connection?.close();
    }
    if (stopped === undefined) {
      // The primary took everything it was offered: forget earlier failures (their backoff included).
      await store.updateMeta(service.name, {
        primaryFailures: 0,
        primaryRetryAfter: undefined,
        primaryLastError: undefined,
      });
    }
    const left = action.params.due - attempted;
    const detail =
      `${counts.delivered} delivered, ${counts.deferred} deferred (4xx), ${counts.rejected} refused for good (kept)` +
      (counts.skipped > 0 ? `, ${counts.skipped} taken by another run` : '') +
      (stopped ? `; stopped: ${stopped}` : '') +
      (left > 0 ? `; ${left} left for the next run` : '');
    const clean = stopped === undefined && counts.deferred === 0 && counts.rejected === 0 && left <= 0;
    return { verified: clean, detail };
  };

  return {
    name: 'mail',

    async observe(service: ServiceConfig, target: Site): Promise<MailObserved> {
      const mail = mailOf(service);
      const [active, rule, records] = await Promise.all([
        call('SES DescribeActiveReceiptRuleSet', () => ses.send(new DescribeActiveReceiptRuleSetCommand({}))),
        readRule(service),
        store.read(service.name),
      ]);
      const now = clock.now();
      // The SMTP probe costs a connection: only when there is mail to hand back and no backoff.
      const probe =
        handBackAllowed(target, records.meta, now) && records.messages.some((m) => isDue(m, now))
          ? await smtp.probe(smtpTargetOf(service, smtpTimeoutMs))
          : undefined;
      log.debug('mail observed', {
        service: service.name,
        domain: mail.domain,
        held: records.messages.length,
      });
      return {
        ruleSetName,
        ruleName: receiptRuleName(service.name),
        activeRuleSet: active.Metadata?.Name,
        rule: { exists: rule.exists, enabled: rule.enabled },
        messages: records.messages,
        meta: records.meta,
        primary: probe,
      };
    },

    plan: (input) => planMail(input, limits),

    async execute(action: MailAction, context): Promise<ActionResult> {
      const { service } = context;
      switch (action.api) {
        case 'ses:SetActiveReceiptRuleSet':
          await call('SES SetActiveReceiptRuleSet', () =>
            ses.send(new SetActiveReceiptRuleSetCommand({ RuleSetName: action.params.RuleSetName })),
          );
          return { verified: true, detail: `receipt rule set ${action.params.RuleSetName} is active` };
        case 'ses:UpdateReceiptRule': {
          const { rule } = await readRule(service);
          if (!rule) return { verified: false, detail: `receipt rule ${action.params.RuleName} is gone` };
          await call('SES UpdateReceiptRule', () =>
            ses.send(
              new UpdateReceiptRuleCommand({
                RuleSetName: action.params.RuleSetName,
                Rule: { ...rule, Enabled: true },
              }),
            ),
          );
          return { verified: true, detail: `receipt rule ${action.params.RuleName} is enabled` };
        }
        case 's3:DeleteObject': {
          const keepDays = options.purgedRecordDays ?? 30;
          for (const ref of action.params.messages) {
            await call('S3 DeleteObject (held mail)', () =>
              s3.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: ref.key })),
            );
            await store.markPurged({ service: service.name, ...ref }, clock.now(), keepDays);
          }
          return {
            verified: true,
            detail: `${action.params.messages.length} delivered message(s) deleted after retention`,
          };
        }
        case 'understudy:ReportHeldMail':
          await store.updateMeta(service.name, {
            lastReportAt: clock.now().toISOString(),
            lastReportEpoch: action.params.epoch,
            lastReportCount: action.params.held,
          });
          return { verified: true, detail: `backlog reported: ${action.params.held} held message(s)` };
        case 'smtp:DeliverHeldMail':
          return deliver(service, action);
      }
    },
  };
};

/** The mail capability on the container's clients; loaded only when a function reconciles mail. */
export const createMailCapability = ({ config, clients, clock, log, newId, tuning }: CapabilityContext) =>
  mailCapability(
    {
      s3: clients.client(S3Client),
      ses: clients.client(SESClient),
      store: new MailStore(clients.client(DynamoDBClient), config.controlPlane.stateTableName),
      clock,
      log,
      newId,
    },
    { stackName: config.controlPlane.stackName, ...(tuning?.mail as Partial<MailCapabilityOptions>) },
  );
