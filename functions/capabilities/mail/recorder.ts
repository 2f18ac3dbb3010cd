import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../../config/schema';
import { classifyAwsError, RetryableError, TerminalError } from '../../core/errors';
import type { Log } from '../../core/log';
import { sdkErrorName } from '../../runtime/client-kit';
import { heldMailPrefix } from './config';
import { heldMessageFrom, type SesReceiptEvent, serviceForRecord, sesReceiptEventSchema } from './ses-event';
import type { MailStore } from './store';

export interface RecorderDependencies {
  readonly config: Config;
  readonly store: MailStore;
  readonly s3: S3Client;
  /** The held-mail bucket the receipt rule's S3 action writes to. */
  readonly bucket: string;
  readonly log: Log;
}

export interface RecordOutcome {
  readonly recorded: readonly string[];
  /** Already recorded: SES or Lambda delivered the event again; the record is left as it is. */
  readonly duplicates: readonly string[];
}

/**
 * SES's Lambda action -> one held-mail record per message, after the rule's S3 action stored it.
 * Anything it cannot record throws, so Lambda retries and then parks the event in the failure
 * queue: a message SES holds is never silently left out of the hand-back.
 */
export const recordHeldMail = async (deps: RecorderDependencies, raw: unknown): Promise<RecordOutcome> => {
  const parsed = sesReceiptEventSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
      .join('; ');
    throw new TerminalError(`not an SES receipt event: ${issues}`);
  }
  const event: SesReceiptEvent = parsed.data;
  const domains = new Map(
    deps.config.services.flatMap((svc) => (svc.mail ? [[svc.mail.domain, svc.name] as const] : [])),
  );
  // Every record is checked before anything is read or written: an event that cannot be recorded
  // whole records nothing (and the retry or the failure queue sees it as it came).
  const owned = event.Records.map((record) => {
    const service = serviceForRecord(record, domains);
    if (!service) {
      throw new TerminalError(
        `message ${record.ses.mail.messageId} is for ${record.ses.receipt.recipients.length} recipient(s) ` +
          'in no domain a service holds mail for',
      );
    }
    return { record, service };
  });
  const recorded: string[] = [];
  const duplicates: string[] = [];
  for (const { record, service } of owned) {
    const { messageId } = record.ses.mail;
    const key = `${heldMailPrefix(service)}${messageId}`;
    let size: number;
    try {
      const head = await deps.s3.send(new HeadObjectCommand({ Bucket: deps.bucket, Key: key }));
      size = head.ContentLength ?? 0;
    } catch (error) {
      const name = sdkErrorName(error);
      if (name === 'NotFound' || name === 'NoSuchKey') {
        throw new RetryableError(`message ${messageId} is not (yet) stored at s3://${deps.bucket}/${key}`, {
          cause: error,
        });
      }
      throw classifyAwsError('S3 HeadObject (held mail)', error);
    }
    const held = heldMessageFrom(record, { service, bucket: deps.bucket, key, size });
    if (await deps.store.recordHeld(held)) recorded.push(messageId);
    else duplicates.push(messageId);
    // Verdicts are recorded, never acted on: the primary's own filters decide what is spam.
    deps.log.info('held mail recorded', {
      service,
      messageId,
      receivedAt: held.receivedAt,
      size,
      recipients: held.recipients.length,
      verdicts: held.verdicts,
      duplicate: !recorded.includes(messageId),
    });
  }
  return { recorded, duplicates };
};
