import * as z from 'zod';
import { clip } from '../../core/text';
import { envelopeAddressProblem } from './address';
import type { HeldMessage } from './held';

/** SES's verdicts are a word (PASS, FAIL, GRAY, ...): kept for the record, bounded like all event text. */
const verdict = z.object({ status: z.string().transform((s) => clip(s, 64)) }).optional();

/**
 * An envelope address that can be written into MAIL FROM / RCPT TO as it is (no line break, no angle
 * bracket: see address.ts). A bad one refuses the whole event, before anything is recorded.
 */
const envelopeAddress = (allowNull: boolean) =>
  z.string().superRefine((address, ctx) => {
    const problem = envelopeAddressProblem(address, { allowNull });
    if (problem) ctx.addIssue({ code: 'custom', message: `envelope address ${problem}` });
  });

/**
 * The event SES's receipt-rule Lambda action delivers (one record per message; the body is not in
 * it: the rule's S3 action stored it first). Only the fields we rely on are validated.
 */
export const sesReceiptEventSchema = z.object({
  Records: z
    .array(
      z.object({
        eventSource: z.literal('aws:ses'),
        eventVersion: z.string(),
        ses: z.object({
          mail: z.object({
            timestamp: z.iso.datetime({ offset: true }),
            /** The envelope sender (MAIL FROM); empty (or <>) for a bounce. */
            source: z
              .string()
              .transform((source) => (source === '<>' ? '' : source))
              .pipe(envelopeAddress(true)),
            messageId: z.string().regex(/^[A-Za-z0-9._-]{1,256}$/, 'must be an SES message id'),
            destination: z.array(z.string()),
          }),
          receipt: z.object({
            timestamp: z.iso.datetime({ offset: true }).optional(),
            /** The envelope recipients this receipt rule accepted (SES: at most 50; the record is one item). */
            recipients: z.array(envelopeAddress(false)).min(1).max(100),
            spamVerdict: verdict,
            virusVerdict: verdict,
            spfVerdict: verdict,
            dkimVerdict: verdict,
            dmarcVerdict: verdict,
            action: z.object({ type: z.string() }).passthrough(),
          }),
        }),
      }),
    )
    .min(1),
});

export type SesReceiptEvent = z.infer<typeof sesReceiptEventSchema>;
export type SesReceiptRecord = SesReceiptEvent['Records'][number];

const domainOf = (address: string) => (address.split('@').pop() ?? '').toLowerCase();

/** Which service's domain a record's recipients belong to (the rule matches one domain). */
export const serviceForRecord = (
  record: SesReceiptRecord,
  domains: ReadonlyMap<string, string>,
): string | undefined => {
  for (const recipient of record.ses.receipt.recipients) {
    const service = domains.get(domainOf(recipient));
    if (service) return service;
  }
  return undefined;
};

/** The record kept for one message SES stored at `key` (in `bucket`), `size` bytes. */
export const heldMessageFrom = (
  record: SesReceiptRecord,
  where: { readonly service: string; readonly bucket: string; readonly key: string; readonly size: number },
): HeldMessage => {
  const { mail, receipt } = record.ses;
  return {
    service: where.service,
    messageId: mail.messageId,
    receivedAt: new Date(mail.timestamp).toISOString(),
    bucket: where.bucket,
    key: where.key,
    size: where.size,
    mailFrom: mail.source,
    recipients: receipt.recipients,
    pendingRecipients: receipt.recipients,
    rejectedRecipients: [],
    verdicts: {
      spam: receipt.spamVerdict?.status,
      virus: receipt.virusVerdict?.status,
      spf: receipt.spfVerdict?.status,
      dkim: receipt.dkimVerdict?.status,
      dmarc: receipt.dmarcVerdict?.status,
    },
    status: 'held',
    attempts: 0,
  };
};
