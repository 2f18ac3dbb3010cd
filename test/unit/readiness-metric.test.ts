import { afterEach, describe, expect, it, vi } from 'vitest';
import { CAPABILITY_MODULES } from '../../functions/capabilities/registry';
import { parseConfig } from '../../functions/config/schema';
import type { CapabilityModule } from '../../functions/engine/module';
import { Reporter } from '../../functions/engine/reporter';
import { createReadinessHandler } from '../../functions/handlers/readiness';
import { notReady, ready } from '../../functions/readiness/finding';
import { publishReadinessMetric } from '../../functions/readiness/metric';
import { FakeClock, FakeStore, minimalInput, RecordingLog, RecordingNotifier } from './fixtures';

/** Every embedded-metric-format document printed while `run` runs. */
const emitted = async (run: () => Promise<unknown>): Promise<Record<string, unknown>[]> => {
  const lines: string[] = [];
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    }),
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    }),
  ];
  try {
    await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes('_aws'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
};

afterEach(() => vi.restoreAllMocks());

describe('the Readiness metric', () => {
  it('is 1 or 0 per part (0 if any service is not ready there), and 0 for the control plane if any part is not', async () => {
    const docs = await emitted(() =>
      publishReadinessMetric([
        { service: 'shop', part: 'database', verdict: 'not-ready', findings: [] },
        { service: 'shop', part: 'shared', verdict: 'ready', findings: [] },
        { service: 'blog', part: 'database', verdict: 'ready', findings: [] },
        { service: 'blog', part: 'shared', verdict: 'ready', findings: [] },
      ]),
    );
    expect(docs.map((d) => [d.Capability ?? '*', d.Readiness])).toEqual([
      ['database', 0],
      ['shared', 1],
      ['*', 0],
    ]);
    // No per-service dimension: a thousand services stay a handful of metrics.
    expect(docs.some((d) => 'Service' in d)).toBe(false);
    expect(docs.every((d) => d.service === 'understudy')).toBe(true);
  });
});

describe('the readiness handler', () => {
  it('evaluates, awaits its Slack posts and returns one line per part', async () => {
    const store = new FakeStore();
    const notifier = new RecordingNotifier();
    const log = new RecordingLog();
    const [first] = CAPABILITY_MODULES;
    const handler = createReadinessHandler(() => ({
      config: parseConfig(minimalInput()),
      modules: [
        {
          ...first,
          readiness: async () => ({ findings: [notReady('failover', 'x', 'broken')] }),
        } as CapabilityModule,
      ],
      store,
      reporter: new Reporter(store, notifier, log),
      clock: new FakeClock(),
      log,
      context: {} as never,
      shared: { slack: async () => ready('failover', 'slack-secret', 'ok'), permissions: async () => [] },
    }));
    const verdicts = await handler({}, { getRemainingTimeInMillis: () => 60_000 } as never);
    expect(verdicts).toEqual([
      { service: 'shop', part: first.name, verdict: 'not-ready', change: 'changed' },
      { service: 'shop', part: 'shared', verdict: 'ready', change: 'changed' },
    ]);
    expect(notifier.sent).toHaveLength(1);
  });
});
