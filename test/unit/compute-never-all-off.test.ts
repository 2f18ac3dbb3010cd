import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InstanceState, TargetState } from '../../functions/capabilities/compute/planner';
import { planCompute } from '../../functions/capabilities/compute/planner';
import { breather } from '../support/breather';
import { computeService, planInput, TG, TG2, world } from '../support/compute-fixtures';

const breathe = breather();

const id = (prefix: string, n: number) => `i-${prefix}${String(n).padStart(16, '0')}`;
const targetState = fc.constantFrom<TargetState>(
  'initial',
  'healthy',
  'healthy',
  'unhealthy',
  'unused',
  'draining',
);
const instanceState = fc.constantFrom<InstanceState>(
  'running',
  'running',
  'pending',
  'stopped',
  'stopping',
  'terminated',
);

/**
 * Random target-group states: up to 4 primaries and 4 standbys (and one server nobody configured),
 * each in any instance state and, per group, absent or registered in any health state.
 */
const scenario = fc
  .record({
    primaries: fc.integer({ min: 1, max: 4 }),
    standbys: fc.integer({ min: 0, max: 4 }),
    minHealthy: fc.integer({ min: 1, max: 4 }),
    target: fc.constantFrom('primary' as const, 'standby' as const),
    replaceMask: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    states: fc.array(instanceState, { minLength: 9, maxLength: 9 }),
    membership: fc.array(
      fc.array(fc.option(targetState, { nil: undefined }), { minLength: 9, maxLength: 9 }),
      {
        minLength: 2,
        maxLength: 2,
      },
    ),
  })
  .map((s) => {
    const primaries = Array.from({ length: s.primaries }, (_, i) => id('a', i));
    const standbys = Array.from({ length: s.standbys }, (_, i) => id('b', i));
    const all = [...primaries, ...standbys, id('f', 0)];
    const groups = [TG, TG2].map((arn, g) => [
      arn,
      Object.fromEntries(
        all.flatMap((instance, i) => {
          const state = s.membership[g]?.[i];
          return state === undefined ? [] : [[instance, state]];
        }),
      ),
    ]);
    return {
      ...s,
      primaries,
      standbys,
      replace: primaries.filter((_, i) => s.replaceMask[i]),
      observed: world({
        primaries,
        standbys,
        instances: Object.fromEntries(all.map((instance, i) => [instance, s.states[i] ?? 'running'])),
        groups: Object.fromEntries(groups),
      }),
    };
  });

describe('never all-off (property)', () => {
  it('no plan leaves a group with fewer than minHealthyTargets healthy targets, nor deregisters a wanted one', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await breathe();
        const service = computeService({
          targetGroupArns: [TG, TG2],
          primaries: { tag: { key: 'role', value: 'primary' } },
          minHealthyTargets: s.minHealthy,
        });
        const plan = planCompute(
          planInput(s.observed, s.target, {
            service,
            replace: s.target === 'primary' ? s.replace : undefined,
          }),
        );
        if (plan.kind !== 'act') return;
        for (const arn of [TG, TG2]) {
          const targets = s.observed.groups[arn] ?? [];
          const removed = new Set(
            plan.actions
              .filter(
                (a) => a.api === 'elasticloadbalancing:DeregisterTargets' && a.params.TargetGroupArn === arn,
              )
              .flatMap((a) => ('Targets' in a.params ? a.params.Targets.map((t) => t.Id) : [])),
          );
          if (removed.size === 0) continue;
          const healthyAfter = targets.filter((t) => t.state === 'healthy' && !removed.has(t.id)).length;
          // Removing anything at all needs minHealthy healthy targets to stay behind.
          expect(healthyAfter).toBeGreaterThanOrEqual(s.minHealthy);
          // Only managed servers are ever removed, and never one that is currently draining.
          for (const gone of removed) {
            expect([...s.primaries, ...s.standbys]).toContain(gone);
            expect(targets.find((t) => t.id === gone)?.state).not.toBe('draining');
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('a failed server is never removed before a healthy spare stands in for it', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await breathe();
        if (s.replace.length === 0) return;
        const service = computeService({
          targetGroupArns: [TG],
          primaries: { tag: { key: 'role', value: 'primary' } },
        });
        const plan = planCompute(planInput(s.observed, 'primary', { service, replace: s.replace }));
        if (plan.kind !== 'act') return;
        const targets = s.observed.groups[TG] ?? [];
        const removedFailed = plan.actions
          .filter((a) => a.api === 'elasticloadbalancing:DeregisterTargets')
          .flatMap((a) => ('Targets' in a.params ? a.params.Targets.map((t) => t.Id) : []))
          .filter((gone) => s.replace.includes(gone));
        const removed = new Set(
          plan.actions
            .filter((a) => a.api === 'elasticloadbalancing:DeregisterTargets')
            .flatMap((a) => ('Targets' in a.params ? a.params.Targets.map((t) => t.Id) : [])),
        );
        // Taking a healthy failed server out leaves the tier at its full size in healthy servers of its
        // own (a healthy spare stands in); someone else's target never counts as the stand-in.
        if (removedFailed.some((gone) => targets.find((t) => t.id === gone)?.state === 'healthy')) {
          const own = [...s.primaries, ...s.standbys];
          const healthyOwnAfter = targets.filter(
            (t) => t.state === 'healthy' && own.includes(t.id) && !removed.has(t.id),
          ).length;
          expect(healthyOwnAfter).toBeGreaterThanOrEqual(s.primaries.length);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
