import type { S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { envelopeAddressProblem } from '../../functions/capabilities/mail/address';
import type { HeldMessage } from '../../functions/capabilities/mail/held';
import { sesLambdaEvent } from '../../functions/capabilities/mail/local';
import { recordHeldMail } from '../../functions/capabilities/mail/recorder';
import type { MailStore } from '../../functions/capabilities/mail/store';
import { parseConfig } from '../../functions/config/schema';
import { TerminalError } from '../../functions/core/errors';
import {
  anyInput,
  applyMutations,
  breather,
  deleteAt,
  type Mutation,
  mutationsOf,
  nastyString,
  setAt,
} from '../support/fuzz';
import { fullExampleInput, RecordingLog } from './fixtures';

/**
 * Fuzzing the SES recorder (SES's receipt-rule Lambda action): recordHeldMail with a fake store and
 * a fake S3. Random values and invalidating mutations of a valid event are refused with a
 * TerminalError (Lambda retries, then the failure queue keeps the event): no S3 call, no store write,
 * and no other exception. Random mutations may stay valid; a refused one touches nothing.
 */

const config = parseConfig(fullExampleInput()); // shop-mail holds mail for shop.example.com
const DOMAIN = 'shop.example.com';
const valid = sesLambdaEvent(
  {
    messageId: 'o3vrnil0e2ic28trm7dfhrc2v0cnbeccl4nbp0g1',
    receivedAt: new Date('2026-11-22T10:00:00.000Z'),
    mailFrom: 'sender@sender.example.org',
    recipients: [`customer@${DOMAIN}`, `orders@${DOMAIN}`],
    raw: Buffer.alloc(0),
  },
  'arn:aws:lambda:eu-west-2:111111111111:function:understudy-mail-recorder',
);

const run = async (raw: unknown) => {
  const written: HeldMessage[] = [];
  let s3Calls = 0;
  const deps = {
    config,
    store: {
      recordHeld: async (m: HeldMessage) => {
        written.push(m);
        return true;
      },
    } as unknown as MailStore,
    s3: {
      send: async () => {
        s3Calls++;
        return { ContentLength: 1_234 };
      },
    } as unknown as S3Client,
    bucket: 'understudy-held-mail',
    log: new RecordingLog(),
  };
  try {
    const outcome = await recordHeldMail(deps, raw);
    return { outcome, refused: undefined, written, s3Calls };
  } catch (error) {
    // Refusing is by design (TerminalError); anything else is an uncaught exception: the test fails.
    if (!(error instanceof TerminalError)) throw error;
    return { outcome: undefined, refused: error, written, s3Calls };
  }
};

type Result = Awaited<ReturnType<typeof run>>;

const refusedUntouched = (r: Result) => {
  expect(r.refused).toBeInstanceOf(TerminalError);
  expect(r.written).toEqual([]);
  expect(r.s3Calls).toBe(0);
};

const record = ['Records', 0] as const;
const mail = [...record, 'ses', 'mail'] as const;
const receipt = [...record, 'ses', 'receipt'] as const;
const badAddress = nastyString.filter((s) => envelopeAddressProblem(s) !== undefined);

/** Changes that make the valid event one that must be refused whole. */
const invalidating: fc.Arbitrary<Mutation> = fc.oneof(
  fc
    .constantFrom<readonly (string | number)[]>(
      ['Records'],
      [...record],
      [...record, 'eventSource'],
      [...record, 'eventVersion'],
      [...record, 'ses'],
      [...mail],
      [...mail, 'timestamp'],
      [...mail, 'source'],
      [...mail, 'messageId'],
      [...mail, 'destination'],
      [...receipt],
      [...receipt, 'recipients'],
      [...receipt, 'action'],
    )
    .map(deleteAt),
  fc.constant(setAt(['Records'], [])),
  fc.constant(setAt([...receipt, 'recipients'], [])),
  nastyString.filter((s) => s !== 'aws:ses').map((s) => setAt([...record, 'eventSource'], s)),
  nastyString.filter((s) => !/^[A-Za-z0-9._-]{1,256}$/.test(s)).map((s) => setAt([...mail, 'messageId'], s)),
  nastyString.filter((s) => !/^\d{4}-\d{2}-\d{2}T/.test(s)).map((s) => setAt([...mail, 'timestamp'], s)),
  // an address that could inject an SMTP command, as sender or as one of the recipients
  nastyString
    .filter((s) => s !== '<>' && envelopeAddressProblem(s, { allowNull: true }) !== undefined)
    .map((s) => setAt([...mail, 'source'], s)),
  fc.tuple(fc.constantFrom(0, 1), badAddress).map(([i, s]) => setAt([...receipt, 'recipients', i], s)),
  // a well-formed recipient in a domain no service holds mail for
  fc
    .domain()
    .filter((d) => d.toLowerCase() !== DOMAIN)
    .map((d) => setAt([...receipt, 'recipients'], [`someone@${d}`])),
  // a second record for a domain no service holds mail for: the first must not be recorded either
  fc.domain().map((d) => {
    const first = valid.Records[0] as (typeof valid.Records)[number];
    const second = {
      ...first,
      ses: { ...first.ses, receipt: { ...first.ses.receipt, recipients: [`someone@not-${d}`] } },
    };
    return setAt(['Records'], [first, second]);
  }),
  fc
    .tuple(
      fc.constantFrom<readonly (string | number)[]>(
        ['Records'],
        [...mail, 'source'],
        [...mail, 'messageId'],
        [...receipt, 'recipients'],
        [...receipt, 'recipients', 0],
      ),
      fc.constantFrom(null, 42, true, {}),
    )
    .map(([path, value]) => setAt(path, value)),
);

describe('fuzz: the SES recorder', () => {
  it('records the valid event (the counters do count)', async () => {
    const r = await run(valid);
    expect(r.outcome?.recorded).toEqual([valid.Records[0]?.ses.mail.messageId]);
    expect(r.written).toHaveLength(1);
    expect(r.s3Calls).toBe(1);
  });

  it('refuses 5,000 arbitrary values: no S3 call, no write, no other exception', async () => {
    const breathe = breather();
    await fc.assert(
      fc.asyncProperty(anyInput, async (raw) => {
        await breathe();
        refusedUntouched(await run(raw));
      }),
      { numRuns: 5_000 },
    );
  });

  it('refuses 3,000 invalidating mutations of a valid event', async () => {
    const breathe = breather();
    await fc.assert(
      fc.asyncProperty(mutationsOf(valid), invalidating, async (noise, breaking) => {
        await breathe();
        refusedUntouched(await run(applyMutations(valid, [...noise, breaking])));
      }),
      { numRuns: 3_000 },
    );
  });

  it('2,000 random mutations of a valid event: a refused one touches nothing, a recorded one is sound', async () => {
    const breathe = breather();
    let recorded = 0;
    await fc.assert(
      fc.asyncProperty(mutationsOf(valid), async (mutations) => {
        await breathe();
        const r = await run(applyMutations(valid, mutations));
        if (r.refused) return refusedUntouched(r);
        recorded++;
        for (const m of r.written) {
          expect(envelopeAddressProblem(m.mailFrom, { allowNull: true })).toBeUndefined();
          for (const to of m.recipients) expect(envelopeAddressProblem(to)).toBeUndefined();
        }
      }),
      { numRuns: 2_000 },
    );
    expect(recorded).toBeGreaterThan(0);
  });
});
