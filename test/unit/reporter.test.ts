import { describe, expect, it } from 'vitest';
import { Reporter } from '../../functions/engine/reporter';
import type { AuditEntry, UnwrittenAudit } from '../../functions/state/store';
import { RecordingLog, RecordingNotifier } from './fixtures';

/**
 * The reporter's audit writes as a group commit: what is reported while a write is in flight leaves
 * together with the next one, every entry is written or logged as failed, and flush waits for all.
 */

const entry = (i: number): AuditEntry => ({
  service: `svc-${i % 7}`,
  at: new Date(Date.parse('2026-12-01T08:00:00.000Z') + i).toISOString(),
  kind: 'action',
  epoch: 1,
  message: `step ${i}`,
});

/** A store whose batched write answers when the test says so, failing the entries it is told to. */
const slowStore = (fail: (e: AuditEntry) => boolean = () => false) => {
  const calls: AuditEntry[][] = [];
  const waiting: (() => void)[] = [];
  return {
    calls,
    answer: () => {
      for (const go of waiting.splice(0)) go();
    },
    async appendAudits(entries: readonly AuditEntry[]): Promise<UnwrittenAudit[]> {
      calls.push([...entries]);
      await new Promise<void>((go) => waiting.push(go));
      return entries.filter(fail).map((e) => ({ entry: e, error: new Error('throttled') }));
    },
  };
};

const settle = () => new Promise((r) => setImmediate(r));

describe('the audit group commit', () => {
  it('sends what one turn reports together, and what comes while it is in flight with the next write', async () => {
    // Prepare
    const store = slowStore();
    const reporter = new Reporter(store, new RecordingNotifier(), new RecordingLog());

    // Act: 3 reported in one turn, then 40 while that write is in flight
    for (let i = 0; i < 3; i++) reporter.report(entry(i), { notify: false });
    await settle();
    for (let i = 3; i < 43; i++) reporter.report(entry(i), { notify: false });
    await settle();
    const inFlight = store.calls.length;
    store.answer();
    await settle();
    const flushed = reporter.flush();
    store.answer();
    await flushed;

    // Assess
    expect(inFlight).toBe(1);
    expect(store.calls.map((c) => c.length)).toEqual([3, 40]);
    expect(store.calls.flat().map((e) => e.message)).toEqual(
      Array.from({ length: 43 }, (_, i) => `step ${i}`),
    );
  });

  it('logs every entry the store could not write, and flush waits for the last write', async () => {
    const store = slowStore((e) => e.message === 'step 1');
    const log = new RecordingLog();
    const reporter = new Reporter(store, new RecordingNotifier(), log);
    reporter.report(entry(0), { notify: false });
    reporter.report(entry(1), { notify: false });
    let done = false;
    const flushed = reporter.flush().then(() => {
      done = true;
    });
    await settle();
    expect(done).toBe(false);
    store.answer();
    await flushed;
    expect(log.at('error').map((l) => (l.extra[0]?.entry as AuditEntry | undefined)?.message)).toEqual([
      'step 1',
    ]);
  });
});
