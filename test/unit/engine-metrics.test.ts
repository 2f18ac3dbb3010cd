import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConfigInput } from '../../functions/config/schema';
import { EngineMetrics, type MetricPoint } from '../../functions/core/metrics';
import { reconcileService } from '../../functions/engine/engine';
import { requestTransition } from '../../functions/engine/transition';
import { powertoolsMetricPublisher } from '../../functions/runtime/metrics';
import {
  configWith,
  desiredDns,
  FakeCapability,
  FakeClock,
  failoverRequest,
  onlyService,
  testControlPlane,
} from './fixtures';

const T0 = '2026-11-22T10:00:00.000Z';

/** A control plane whose engine metrics are published into `published`. */
const setup = (overrides: Partial<ConfigInput['services'][number]> = {}) => {
  const config = configWith({ mode: 'auto', ...overrides });
  const capability = new FakeCapability();
  const published: MetricPoint[][] = [];
  const base = testControlPlane({ config, capability, clock: new FakeClock(T0) });
  const metrics = new EngineMetrics(async (points) => {
    published.push([...points]);
  }, base.log);
  const cp = { ...base, metrics };
  return { cp, capability, metrics, published, service: onlyService(config), store: base.fakeStore };
};

/** name -> summed value, over everything published. */
const totals = (published: readonly MetricPoint[][]) => {
  const sums: Record<string, number> = {};
  for (const p of published.flat()) sums[p.name] = (sums[p.name] ?? 0) + p.value;
  return sums;
};

describe('engine metrics', () => {
  it('counts a transition and its convergence, with the seconds from decision to converged', async () => {
    // Prepare: the first run writes the change, which is not yet visible
    const { cp, capability, service, published } = setup();
    capability.verifyImmediately = false;

    // Act
    await requestTransition(cp, service, failoverRequest());
    await cp.metrics.flush();
    cp.fakeClock.advance(42_000);
    capability.verifyImmediately = true;
    capability.serving = 'standby';
    await reconcileService(cp, service);
    await cp.metrics.flush();

    // Assess
    expect(published).toHaveLength(2);
    expect(published[0]).toEqual([
      { name: 'Transitions', unit: 'Count', value: 1, dimensions: { Capability: 'dns' } },
    ]);
    expect(published[1]).toEqual([
      { name: 'SecondsToConverge', unit: 'Seconds', value: 42, dimensions: { Capability: 'dns' } },
    ]);
  });

  it('counts a refusal once, as the audit log records it, and publishes nothing for an idle run', async () => {
    // Prepare
    const { cp, capability, service, store, published } = setup();
    store.seed(desiredDns('standby', 3, '2026-11-22T09:00:00.000Z'));
    capability.standbyReady = false;

    // Act
    await reconcileService(cp, service);
    await cp.metrics.flush();
    await reconcileService(cp, service);
    await cp.metrics.flush();

    // Assess
    expect(totals(published)).toEqual({ Refusals: 1 });
    expect(published).toHaveLength(1);
  });

  it('counts a move refused by the cooldown per capability it would have moved', async () => {
    // Prepare: failed back ten minutes ago, 30 minutes of cooldown
    const { cp, service, store, published } = setup({ cooldownMinutes: 30 });
    store.seed(desiredDns('primary', 2, '2026-11-22T09:50:00.000Z'));

    // Act
    const outcome = await requestTransition(cp, service, failoverRequest());
    await cp.metrics.flush();

    // Assess
    expect(outcome.kind).toBe('cooldown');
    expect(published).toEqual([
      [{ name: 'Refusals', unit: 'Count', value: 1, dimensions: { Capability: 'dns' } }],
    ]);
  });

  it('counts a failed step', async () => {
    // Prepare
    const { cp, capability, service, store, published } = setup();
    store.seed(desiredDns('standby', 3, '2026-11-22T09:00:00.000Z'));
    capability.executeError = Object.assign(new Error('Rate exceeded'), {
      name: 'Throttling',
      $metadata: { httpStatusCode: 400 },
    });

    // Act
    await reconcileService(cp, service);
    await cp.metrics.flush();

    // Assess
    expect(totals(published)).toEqual({ Failures: 1 });
  });

  it('never throws when publishing fails, and says so', async () => {
    // Prepare
    const warnings: string[] = [];
    const metrics = new EngineMetrics(
      async () => {
        throw new Error('stdout closed');
      },
      { warn: (message) => warnings.push(message) },
    );
    metrics.readiness('dns', false);

    // Act
    await metrics.flush();

    // Assess
    expect(warnings).toEqual(['metrics not published']);
    expect(metrics.pending).toEqual([]);
  });
});

describe('powertoolsMetricPublisher', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes one embedded-metric-format record per dimension set, in the Understudy namespace', async () => {
    // Prepare
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });

    // Act
    await powertoolsMetricPublisher([
      { name: 'Transitions', unit: 'Count', value: 1, dimensions: { Capability: 'dns' } },
      { name: 'Transitions', unit: 'Count', value: 1, dimensions: { Capability: 'dns' } },
      { name: 'Failures', unit: 'Count', value: 1, dimensions: { Capability: 'mail' } },
    ]);

    // Assess
    const records = lines.map((line) => JSON.parse(line));
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'Understudy',
            Dimensions: [['service', 'Capability']],
            Metrics: [{ Name: 'Transitions', Unit: 'Count' }],
          },
        ],
      },
      service: 'understudy',
      Capability: 'dns',
      Transitions: [1, 1],
    });
    expect(records[1]).toMatchObject({ Capability: 'mail', Failures: 1 });
  });
});
