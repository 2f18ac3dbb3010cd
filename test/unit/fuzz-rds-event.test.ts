import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idOfArn } from '../../functions/capabilities/database/planner';
import { databaseResources } from '../../functions/capabilities/database/rds-event';
import { parseConfig } from '../../functions/config/schema';
import { handleResourceEvent } from '../../functions/engine/resource-event';
import {
  anyInput,
  applyMutations,
  breather,
  deleteAt,
  envelopeTime,
  type FuzzEffects,
  type Mutation,
  mutationsOf,
  nastyString,
  setAt,
  untimely,
  withRecordingControlPlane,
} from '../support/fuzz';
import { fullExampleInput } from './fixtures';

/**
 * Fuzzing the RDS event entry point: handleResourceEvent(cp, 'database', raw), which classifies with
 * the database module's own rules, on a fake control plane whose every capability records its calls.
 * Random values and invalidating mutations of a valid event wake nothing: no capability call, no
 * store write, no exception. Random mutations may stay valid; the ignored ones touch nothing.
 */

const NOW = new Date('2026-11-22T10:00:00.000Z');
/** The example's shop: an RDS replica shop-db (eu-west-1) -> shop-db-standby (eu-west-2, home). */
const config = parseConfig(fullExampleInput());
const { account, region, maxEventAgeSeconds } = config.controlPlane;
const identifiers = new Set(
  config.services.flatMap((s) => (s.database ? databaseResources(s.database, region).map((r) => r.id) : [])),
);
const valid = {
  version: '0',
  id: '68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e',
  'detail-type': 'RDS DB Instance Event',
  source: 'aws.rds',
  account,
  time: envelopeTime(NOW.getTime() - 5_000),
  region,
  resources: [`arn:aws:rds:${region}:${account}:db:shop-db-standby`],
  detail: {
    EventCategories: ['read replica'],
    SourceType: 'DB_INSTANCE',
    SourceArn: `arn:aws:rds:${region}:${account}:db:shop-db-standby`,
    Date: envelopeTime(NOW.getTime() - 5_000),
    Message: 'Promoted Read Replica to a stand-alone database instance.',
    SourceIdentifier: 'shop-db-standby',
    EventID: 'RDS-EVENT-0045',
  },
};

const run = (raw: unknown) =>
  withRecordingControlPlane(config, NOW, (cp) => handleResourceEvent(cp, 'database', raw));

const untouched = (r: FuzzEffects & { result: readonly unknown[] }) => {
  expect(r.result).toEqual([]);
  expect(r.calls).toBe(0);
  expect(r.writes).toBe(0);
  expect(r.notified).toBe(0);
};

/** Changes that make the valid event one that must wake nothing. */
const invalidating: fc.Arbitrary<Mutation> = fc.oneof(
  fc
    .constantFrom<readonly (string | number)[]>(
      ['version'],
      ['id'],
      ['source'],
      ['account'],
      ['region'],
      ['time'],
      ['detail-type'],
      ['resources'],
      ['detail'],
      ['detail', 'SourceIdentifier'],
    )
    .map(deleteAt),
  nastyString.filter((s) => s !== 'aws.rds').map((s) => setAt(['source'], s)),
  nastyString.filter((s) => !s.startsWith('RDS DB ')).map((s) => setAt(['detail-type'], s)),
  nastyString.filter((s) => s !== account).map((s) => setAt(['account'], s)),
  // shop-db-standby lives in the home Region only
  nastyString.filter((s) => s !== region).map((s) => setAt(['region'], s)),
  nastyString
    .filter((s) => !identifiers.has(idOfArn(s)))
    .map((s) => setAt(['detail', 'SourceIdentifier'], s)),
  // the primary's id, but the event comes from the standby's Region
  fc.constant(setAt(['detail', 'SourceIdentifier'], 'shop-db')),
  // an ARN that names another Region or account than the event
  fc
    .constantFrom(
      `arn:aws:rds:eu-west-1:${account}:db:shop-db-standby`,
      `arn:aws:rds:${region}:999999999999:db:shop-db-standby`,
    )
    .map((arn) => setAt(['detail', 'SourceIdentifier'], arn)),
  untimely(NOW, maxEventAgeSeconds).map((t) => setAt(['time'], t)),
  fc
    .tuple(
      fc.constantFrom<readonly (string | number)[]>(
        ['account'],
        ['region'],
        ['time'],
        ['detail', 'SourceIdentifier'],
      ),
      fc.constantFrom(null, 42, true, [], {}),
    )
    .map(([path, value]) => setAt(path, value)),
);

describe('fuzz: RDS events through handleResourceEvent', () => {
  it('reconciles on the valid event (the counters do count)', async () => {
    const r = await run(valid);
    expect(r.result).toHaveLength(1);
    expect(r.calls).toBeGreaterThan(0);
    expect(r.writes).toBeGreaterThan(0);
  });

  it('ignores 5,000 arbitrary values: no call, no write, no exception', async () => {
    const breathe = breather();
    await fc.assert(
      fc.asyncProperty(anyInput, async (raw) => {
        await breathe();
        untouched(await run(raw));
      }),
      { numRuns: 5_000 },
    );
  });

  it('ignores 3,000 invalidating mutations of a valid event', async () => {
    const breathe = breather();
    await fc.assert(
      fc.asyncProperty(mutationsOf(valid), invalidating, async (noise, breaking) => {
        await breathe();
        untouched(await run(applyMutations(valid, [...noise, breaking])));
      }),
      { numRuns: 3_000 },
    );
  });

  it('2,000 random mutations of a valid event: an ignored one touches nothing', async () => {
    const breathe = breather();
    let acted = 0;
    await fc.assert(
      fc.asyncProperty(mutationsOf(valid), async (mutations) => {
        await breathe();
        const r = await run(applyMutations(valid, mutations));
        if (r.result.length === 0) untouched(r);
        else acted++;
      }),
      { numRuns: 2_000 },
    );
    expect(acted).toBeGreaterThan(0);
  });
});
