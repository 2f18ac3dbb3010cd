import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/schema';
import { classifyAlarmEvent } from '../../functions/trigger/alarm-event';
import { handleAlarmEvent } from '../../functions/trigger/handle-alarm';
import {
  anyInput,
  applyMutations,
  breather,
  type Mutation,
  mutationsOf,
  nastyString,
  setAt,
  untimely,
  withRecordingControlPlane,
} from '../support/fuzz';
import { alarmEvent, fullExampleInput } from './fixtures';

/**
 * Fuzzing the alarm entry point: the classifier, and handleAlarmEvent on a fake control plane whose
 * every capability records its calls. Random values and invalidating mutations of a valid event
 * must be ignored with a reason: no capability call, no store write, no notification, no exception.
 * Random mutations may stay valid; whatever they do, an input the classifier ignores touches nothing.
 */

const NOW = new Date('2026-11-22T10:00:00.000Z');
/** The whole example: every capability, per-server and mail alarms included; the shop in mode auto. */
const config = parseConfig(fullExampleInput());
const valid = alarmEvent({ alarmName: 'shop-primary-unhealthy', time: NOW });
const configuredNames = new Set(config.services.flatMap((s) => s.alarms.map((a) => a.name)));

const run = async (raw: unknown) => {
  const verdicts = classifyAlarmEvent(raw, config, NOW);
  const { result: outcomes, ...effects } = await withRecordingControlPlane(config, NOW, (cp) =>
    handleAlarmEvent(cp, raw),
  );
  return { verdicts, outcomes, ...effects };
};

type Result = Awaited<ReturnType<typeof run>>;

/** Nothing happened: what an ignored or invalid event must come to. */
const untouched = (r: Result) => {
  expect(r.calls).toBe(0);
  expect(r.writes).toBe(0);
  expect(r.notified).toBe(0);
  expect(r.outcomes.every((o) => o.kind === 'ignored')).toBe(true);
};

const set = setAt;

/** Changes that make the valid event one that must be ignored. */
const invalidating: fc.Arbitrary<Mutation> = fc.oneof(
  fc
    .constantFrom<readonly (string | number)[]>(
      ['version'],
      ['id'],
      ['source'],
      ['account'],
      ['time'],
      ['region'],
      ['resources'],
      ['detail-type'],
      ['detail'],
      ['detail', 'alarmName'],
      ['detail', 'state'],
      ['detail', 'state', 'value'],
    )
    .map((path): Mutation => ({ op: 'delete', path })),
  nastyString.filter((s) => s !== 'aws.cloudwatch').map((s) => set(['source'], s)),
  nastyString.filter((s) => s !== 'CloudWatch Alarm State Change').map((s) => set(['detail-type'], s)),
  nastyString.filter((s) => s !== config.controlPlane.account).map((s) => set(['account'], s)),
  nastyString.filter((s) => s !== config.controlPlane.region).map((s) => set(['region'], s)),
  nastyString.filter((s) => !configuredNames.has(s)).map((s) => set(['detail', 'alarmName'], s)),
  nastyString
    .filter((s) => !['OK', 'ALARM', 'INSUFFICIENT_DATA'].includes(s))
    .map((s) => set(['detail', 'state', 'value'], s)),
  untimely(NOW, config.controlPlane.maxEventAgeSeconds).map((t) => set(['time'], t)),
  // required text fields of another type
  fc
    .tuple(
      fc.constantFrom<readonly (string | number)[]>(
        ['id'],
        ['account'],
        ['region'],
        ['time'],
        ['detail', 'alarmName'],
      ),
      fc.constantFrom(null, 42, true, [], {}),
    )
    .map(([path, value]) => set(path, value)),
);

describe('fuzz: the alarm classifier and handleAlarmEvent', () => {
  it('acts on the valid event (the counters do count)', async () => {
    const r = await run(valid);
    expect(r.verdicts.map((v) => v.kind)).toEqual(['alarm']);
    expect(r.outcomes).toMatchObject([{ kind: 'transitioned' }]);
    expect(r.calls).toBeGreaterThan(0);
    expect(r.writes).toBeGreaterThan(0);
  });

  it('ignores 5,000 arbitrary values: no call, no write, no exception', async () => {
    const breathe = breather();
    await fc.assert(
      fc.asyncProperty(anyInput, async (raw) => {
        await breathe();
        const r = await run(raw);
        expect(r.verdicts.every((v) => v.kind === 'ignore')).toBe(true);
        untouched(r);
      }),
      { numRuns: 5_000 },
    );
  });

  it('ignores 3,000 invalidating mutations of a valid event, with a reason', async () => {
    const breathe = breather();
    await fc.assert(
      fc.asyncProperty(mutationsOf(valid), invalidating, async (noise, breaking) => {
        await breathe();
        const r = await run(applyMutations(valid, [...noise, breaking]));
        expect(r.verdicts.every((v) => v.kind === 'ignore' && v.reason.length > 0)).toBe(true);
        untouched(r);
      }),
      { numRuns: 3_000 },
    );
  });

  it('2,000 random mutations of a valid event: what the classifier ignores touches nothing', async () => {
    const breathe = breather();
    let acted = 0;
    await fc.assert(
      fc.asyncProperty(mutationsOf(valid), async (mutations) => {
        await breathe();
        const r = await run(applyMutations(valid, mutations));
        if (r.verdicts.every((v) => v.kind === 'ignore')) untouched(r);
        else acted++;
        for (const v of r.verdicts) expect(v.reason.length).toBeLessThanOrEqual(4_096);
      }),
      { numRuns: 2_000 },
    );
    // Some mutations keep the event valid (a changed reason, an extra field): the fuzz reaches both sides.
    expect(acted).toBeGreaterThan(0);
  });
});
