import * as z from 'zod';
import { dnsName, hostedZoneId } from '../../config/fields';

/** The `dns` section of a service: Route 53 records moved between the primary and the standby. */

/**
 * Built on first use (`z.lazy`): constructing every schema is about a fifth of a Lambda
 * function's module init, and the functions never parse a config (synth validated it; see
 * functions/runtime/bundled-config.ts). Only synth and the CLI pay for it.
 */
export const dnsSection = z.lazy(() => {
  const aliasTarget = z.strictObject({
    dnsName,
    hostedZoneId,
    evaluateTargetHealth: z.boolean().default(true),
  });

  /** Where one side (primary or standby) of a record points. */
  const recordSide = z
    .strictObject({
      values: z.array(z.string().min(1)).min(1).max(100).optional(),
      aliasTarget: aliasTarget.optional(),
      healthCheckId: z.string().uuid('must be a Route 53 health check id (a UUID)').optional(),
    })
    .refine((side) => (side.values === undefined) !== (side.aliasTarget === undefined), {
      message: 'give exactly one of values or aliasTarget',
    });

  const recordType = z.enum(['A', 'AAAA', 'CNAME']);

  /** What every routing kind has: the name, its type and TTL, and where each side points. */
  const recordBase = {
    name: dnsName,
    type: recordType,
    ttl: z.number().int().min(0).max(86_400).default(60),
    primary: recordSide,
    standby: recordSide,
  };

  // A weighted pair's two record sets; both weighted kinds name them alike.
  const setIdentifiers = z
    .strictObject({ primary: z.string().min(1).max(128), standby: z.string().min(1).max(128) })
    .optional();

  const weightedRecord = z.strictObject({
    ...recordBase,
    /** Weighted pair switched by weight 1/0 <-> 0/1; Route 53 health checks fail over even without us. */
    routing: z.literal('weighted'),
    setIdentifiers,
  });

  const swapRecord = z.strictObject({
    ...recordBase,
    /** A plain record whose value is replaced; for names with no health check. */
    routing: z.literal('swap'),
  });

  const switchedRecord = z.strictObject({
    ...recordBase,
    /**
     * A weighted pair written once (primary weight 1, standby weight 0) and never edited to fail over:
     * the primary's record carries a calculated health check (its own check AND the service's switch),
     * and the control plane fails over by turning the switch off with a CloudWatch data-plane call.
     */
    routing: z.literal('switched'),
    setIdentifiers,
  });

  const dnsRecord = z
    .discriminatedUnion('routing', [weightedRecord, swapRecord, switchedRecord])
    .superRefine((record, ctx) => {
      if (record.type === 'CNAME') {
        for (const side of ['primary', 'standby'] as const) {
          if ((record[side].values?.length ?? 0) > 1) {
            ctx.addIssue({
              code: 'custom',
              path: [side, 'values'],
              message: 'a CNAME record takes exactly one value',
            });
          }
        }
      }
      if (record.routing === 'swap') return;
      if (record.setIdentifiers && record.setIdentifiers.primary === record.setIdentifiers.standby) {
        ctx.addIssue({
          code: 'custom',
          path: ['setIdentifiers', 'standby'],
          message: 'primary and standby need different set identifiers',
        });
      }
      for (const side of ['primary', 'standby'] as const) {
        if (!record[side].healthCheckId) {
          ctx.addIssue({
            code: 'custom',
            path: [side, 'healthCheckId'],
            message: `a ${record.routing} record needs a health check on both sides, or Route 53 cannot fail over without the control plane`,
          });
        }
      }
    });

  return z.strictObject({
    hostedZoneId,
    records: z.array(dnsRecord).min(1),
  });
});

export type DnsConfig = z.output<typeof dnsSection>;
export type DnsRecordConfig = DnsConfig['records'][number];
export type RecordSide = DnsRecordConfig['primary'];
