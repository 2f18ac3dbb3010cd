import { describe, expect, it } from 'vitest';
import { reconcileService } from '../../functions/engine/engine';
import { requestTransition } from '../../functions/engine/transition';
import { slackMessage } from '../../functions/notify/slack';
import { consoleLink } from '../../functions/report/aws';
import type { RecoveryRecorder } from '../../functions/report/recovery';
import {
  configWith,
  FakeCapability,
  FakeClock,
  onlyService,
  RecordingNotifier,
  testControlPlane,
} from './fixtures';

const T0 = '2026-11-22T10:00:00.000Z';

const setup = (recovery?: RecoveryRecorder, rtoMinutes = 5) => {
  const config = configWith({ mode: 'auto', rtoMinutes });
  const capability = new FakeCapability();
  const notifier = new RecordingNotifier();
  const base = testControlPlane({ config, capability, notifier, clock: new FakeClock(T0) });
  const cp = { ...base, recovery };
  return { cp, capability, notifier, service: onlyService(config), store: base.fakeStore };
};

const failover = {
  service: 'shop',
  capabilities: ['dns'] as const,
  target: 'standby' as const,
  requestedBy: 'alarm:shop-primary-unhealthy',
  reason: 'primary down',
  ignoreCooldown: false,
  // The alarm changed state 90 s before the control plane decided.
  observedAt: '2026-11-22T09:58:30.000Z',
};

describe('measured recovery, recorded by the engine', () => {
  it('records the recovery against the RTO once: audit, Slack with the report link, metric, stored report', async () => {
    // Prepare
    const metrics: unknown[][] = [];
    const stored: { key: string; html: string; json: string }[] = [];
    const { cp, notifier, service, store } = setup({
      metric: async (...args) => {
        metrics.push(args);
      },
      store: async (key, html, json) => {
        stored.push({ key, html, json });
        return consoleLink('eu-west-2', 'reports-bucket', `${key}.html`);
      },
    });

    // Act
    const outcome = await requestTransition(cp, service, { ...failover, capabilities: ['dns'] });
    await cp.reporter.flush();

    // Assess
    expect(outcome.kind).toBe('transitioned');
    const recovered = store.audit.filter((e) => e.kind === 'recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]?.details).toMatchObject({
      recoverySeconds: 90,
      rtoMinutes: 5,
      withinRto: true,
      evidenceAt: failover.observedAt,
      convergedAt: T0,
    });
    expect(recovered[0]?.message).toMatch(/recovered in 1 min 30 s, within the RTO of 5 min/);
    expect(metrics).toEqual([['shop', 90, 5]]);
    expect(stored.map((s) => s.key)).toEqual(['reports/shop/epoch-1']);
    expect(stored[0]?.html).toContain('<svg');
    expect(JSON.parse(stored[0]?.json ?? '{}').timeline.recovery.seconds).toBe(90);
    const slack = notifier.sent.find((e) => e.kind === 'recovered');
    expect(JSON.stringify(slackMessage(slack as never, 'cp'))).toContain('|Execution report>');

    // A later run that converges nothing new measures nothing again.
    await reconcileService(cp, service);
    await cp.reporter.flush();
    expect(store.audit.filter((e) => e.kind === 'recovered')).toHaveLength(1);
  });

  it("measures a transition its own run decided and converged from the run's reports, reading nothing back", async () => {
    // Prepare
    const { cp, service, store } = setup();

    // Act
    await requestTransition(cp, service, { ...failover, capabilities: ['dns'] });
    await cp.reporter.flush();

    // Assess: measured once, no audit read and no state read after the transition, and claimed
    // with the stored transition's own time (so a run that rebuilds it from the audit claims the same)
    expect(store.audit.filter((e) => e.kind === 'recovered')).toHaveLength(1);
    expect(store.count('readAudit')).toBe(0);
    expect(store.count('readService')).toBe(1);
    expect([...store.notices.values()]).toEqual([store.desired.get('shop')?.requestedAt]);
  });

  it('does not measure a transition that is not converged, and measures it once it is', async () => {
    // Prepare
    const { cp, capability, service, store } = setup(undefined, 1);
    capability.verifyImmediately = false;

    // Act: the change is written but not yet visible.
    await requestTransition(cp, service, { ...failover, capabilities: ['dns'] });
    await cp.reporter.flush();
    expect(store.audit.filter((e) => e.kind === 'recovered')).toHaveLength(0);

    // Act: three minutes later the next run sees it converged.
    capability.verifyImmediately = true;
    capability.serving = 'primary';
    cp.fakeClock.advance(180_000);
    await reconcileService(cp, service);
    await cp.reporter.flush();

    // Assess: 90 s before the decision plus 180 s after it, over the 1-minute RTO; no link without a bucket.
    const [recovered] = store.audit.filter((e) => e.kind === 'recovered');
    expect(recovered?.details).toMatchObject({ recoverySeconds: 270, rtoMinutes: 1, withinRto: false });
    expect(recovered?.details?.report).toBeUndefined();
    expect(recovered?.message).toMatch(/OVER the RTO of 1 min by 3 min 30 s/);
  });
});
