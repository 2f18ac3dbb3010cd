import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
 * Fuzzing the EC2 event entry point: handleResourceEvent(cp, 'compute', raw), which classifies with
 * the compute module's own rules, on a fake control plane whose every capability records its calls.
 * Random values and invalidating mutations of a valid event wake nothing: no capability call, no
 * store write, no exception. Random mutations may stay valid; the ignored ones touch nothing.
 */

const NOW = new Date('2026-11-22T10:00:00.000Z');
/** The example's shop selects its servers by tag: any instance's state change concerns it. */
const config = parseConfig(fullExampleInput());
const { account, region, maxEventAgeSeconds } = config.controlPlane;
const INSTANCE = 'i-0123456789abcdef0';
const valid = {
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account,
  time: envelopeTime(NOW.getTime() - 5_000),
  region,
  resources: [`arn:aws:ec2:${region}:${account}:instance/${INSTANCE}`],
  detail: { 'instance-id': INSTANCE, state: 'running' },
};

const run = (raw: unknown) =>
  withRecordingControlPlane(config, NOW, (cp) => handleResourceEvent(cp, 'compute', raw));

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
      ['source'],
      ['account'],
      ['region'],
      ['time'],
      ['detail-type'],
      ['detail'],
      ['detail', 'instance-id'],
      ['detail', 'state'],
    )
    .map(deleteAt),
  nastyString.filter((s) => s !== 'aws.ec2').map((s) => setAt(['source'], s)),
  nastyString
    .filter((s) => s !== 'EC2 Instance State-change Notification')
    .map((s) => setAt(['detail-type'], s)),
  nastyString.filter((s) => s !== account).map((s) => setAt(['account'], s)),
  nastyString.filter((s) => s !== region).map((s) => setAt(['region'], s)),
  nastyString.filter((s) => !/^i-[0-9a-f]{8,17}$/.test(s)).map((s) => setAt(['detail', 'instance-id'], s)),
  fc.constant(setAt(['detail', 'state'], '')),
  untimely(NOW, maxEventAgeSeconds).map((t) => setAt(['time'], t)),
  fc
    .tuple(
      fc.constantFrom<readonly (string | number)[]>(
        ['account'],
        ['region'],
        ['time'],
        ['detail', 'instance-id'],
        ['detail', 'state'],
      ),
      fc.constantFrom(null, 42, true, [], {}),
    )
    .map(([path, value]) => setAt(path, value)),
);

describe('fuzz: EC2 instance events through handleResourceEvent', () => {
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
