import { describe, expect, it } from 'vitest';
import type { CapabilityName } from '../../functions/config/schema';
import { type DesiredState, initialDesiredState } from '../../functions/core/types';
import { decideIntent } from '../../functions/state/intent';
import { configWith, onlyService, failoverRequest as request } from './fixtures';

const NOW = new Date('2026-11-22T10:00:00.000Z');
const minutes = (n: number) => n * 60_000;

/** A service whose dns moved to `active` at `changedAt`, at `epoch`. */
const movedState = (active: 'primary' | 'standby', changedAt: Date, epoch = 3): DesiredState => ({
  service: 'shop',
  epoch,
  capabilities: { dns: { active, epoch, changedAt: changedAt.toISOString() } },
  requestedBy: 'operator:alice',
  requestedAt: changedAt.toISOString(),
  reason: 'drill',
});

const service = (cooldownMinutes = 30) => onlyService(configWith({ cooldownMinutes }));

describe('decideIntent: transitions', () => {
  it('moves a fresh service to the standby at epoch 1, recording who asked, why and when', () => {
    // Prepare
    const current = initialDesiredState('shop');

    // Act
    const decision = decideIntent(current, request(), service(), NOW);

    // Assess
    expect(decision).toEqual({
      kind: 'transition',
      changed: ['dns'],
      next: {
        service: 'shop',
        epoch: 1,
        capabilities: { dns: { active: 'standby', epoch: 1, changedAt: NOW.toISOString() } },
        requestedBy: 'alarm:shop-primary-unhealthy',
        requestedAt: NOW.toISOString(),
        reason: 'alarm shop-primary-unhealthy is ALARM',
      },
    });
  });

  it('increments the epoch by exactly one from any starting epoch', () => {
    // Prepare
    const current = movedState('standby', new Date(NOW.getTime() - minutes(120)), 41);

    // Act
    const decision = decideIntent(current, request({ target: 'primary' }), service(), NOW);

    // Assess
    expect(decision.kind).toBe('transition');
    if (decision.kind !== 'transition') return;
    expect(decision.next.epoch).toBe(42);
    expect(decision.next.capabilities.dns).toEqual({
      active: 'primary',
      epoch: 42,
      changedAt: NOW.toISOString(),
    });
  });

  it('changes only the capabilities not already at the target and keeps the others as they were', () => {
    // Prepare: a second capability name stands in for the ones the design adds later (database, ...).
    const database = 'database' as CapabilityName;
    const dnsMovedAt = new Date(NOW.getTime() - minutes(120));
    const current: DesiredState = {
      ...movedState('standby', dnsMovedAt, 5),
      capabilities: { dns: { active: 'standby', epoch: 5, changedAt: dnsMovedAt.toISOString() } },
    };

    // Act
    const decision = decideIntent(current, request({ capabilities: ['dns', database] }), service(), NOW);

    // Assess
    expect(decision.kind).toBe('transition');
    if (decision.kind !== 'transition') return;
    expect(decision.changed).toEqual([database]);
    expect(decision.next.epoch).toBe(6);
    expect(decision.next.capabilities.dns).toEqual({
      active: 'standby',
      epoch: 5,
      changedAt: dnsMovedAt.toISOString(),
    });
    expect(decision.next.capabilities[database]).toEqual({
      active: 'standby',
      epoch: 6,
      changedAt: NOW.toISOString(),
    });
  });

  it('does not mutate the current state', () => {
    // Prepare
    const current = movedState('standby', new Date(NOW.getTime() - minutes(120)));
    const before = structuredClone(current);

    // Act
    decideIntent(current, request({ target: 'primary' }), service(), NOW);

    // Assess
    expect(current).toEqual(before);
  });
});

describe('decideIntent: unchanged', () => {
  it('is unchanged when a fresh service is asked to be on the primary', () => {
    // Act
    const decision = decideIntent(
      initialDesiredState('shop'),
      request({ target: 'primary' }),
      service(),
      NOW,
    );

    // Assess
    expect(decision.kind).toBe('unchanged');
    expect(decision.kind === 'unchanged' && decision.reason).toContain('already on primary (epoch 0)');
  });

  it('is unchanged (not cooldown) when every capability is already at the target, even inside the window', () => {
    // Prepare
    const current = movedState('standby', new Date(NOW.getTime() - minutes(1)), 7);

    // Act
    const decision = decideIntent(current, request(), service(), NOW);

    // Assess
    expect(decision).toEqual({
      kind: 'unchanged',
      reason: 'already on standby (epoch 7): nothing to change',
    });
  });
});

describe('decideIntent: cooldown', () => {
  it('blocks an automatic move inside the window and says until when', () => {
    // Prepare
    const movedAt = new Date(NOW.getTime() - minutes(10));
    const current = movedState('primary', movedAt);

    // Act
    const decision = decideIntent(current, request(), service(30), NOW);

    // Assess
    expect(decision.kind).toBe('cooldown');
    if (decision.kind !== 'cooldown') return;
    expect(decision.until.toISOString()).toBe(new Date(movedAt.getTime() + minutes(30)).toISOString());
    expect(decision.reason).toContain('cooldown of 30 min');
    expect(decision.reason).toContain(decision.until.toISOString());
  });

  it('blocks one millisecond before the window ends', () => {
    // Prepare
    const current = movedState('primary', new Date(NOW.getTime() - minutes(30) + 1));

    // Act
    const decision = decideIntent(current, request(), service(30), NOW);

    // Assess
    expect(decision.kind).toBe('cooldown');
  });

  it('does not block exactly at the end of the window', () => {
    // Prepare
    const current = movedState('primary', new Date(NOW.getTime() - minutes(30)));

    // Act
    const decision = decideIntent(current, request(), service(30), NOW);

    // Assess
    expect(decision.kind).toBe('transition');
  });

  it('does not block after the window', () => {
    // Prepare
    const current = movedState('primary', new Date(NOW.getTime() - minutes(31)));

    // Act
    const decision = decideIntent(current, request(), service(30), NOW);

    // Assess
    expect(decision.kind).toBe('transition');
  });

  it('never blocks an operator (ignoreCooldown), even a second after the last move', () => {
    // Prepare
    const current = movedState('standby', new Date(NOW.getTime() - 1000), 2);

    // Act
    const decision = decideIntent(
      current,
      request({ target: 'primary', ignoreCooldown: true, requestedBy: 'operator:alice' }),
      service(30),
      NOW,
    );

    // Assess
    expect(decision.kind).toBe('transition');
    expect(decision.kind === 'transition' && decision.next.epoch).toBe(3);
  });

  it('never blocks when the cooldown is 0 minutes', () => {
    // Prepare: moved this very instant
    const current = movedState('primary', NOW);

    // Act
    const decision = decideIntent(current, request(), service(0), NOW);

    // Assess
    expect(decision.kind).toBe('transition');
  });

  it('does not block a capability that has never moved', () => {
    // Prepare: the service moved recently, but its dns intent has no record (epoch>0, no capability entry)
    const current: DesiredState = { ...movedState('primary', NOW), capabilities: {} };

    // Act
    const decision = decideIntent(current, request(), service(30), NOW);

    // Assess
    expect(decision.kind).toBe('transition');
  });

  it('reports the latest blocking window when several capabilities are cooling down', () => {
    // Prepare
    const database = 'database' as CapabilityName;
    const dnsAt = new Date(NOW.getTime() - minutes(20));
    const dbAt = new Date(NOW.getTime() - minutes(5));
    const current: DesiredState = {
      ...movedState('primary', dnsAt),
      capabilities: Object.fromEntries([
        ['dns', { active: 'primary', epoch: 2, changedAt: dnsAt.toISOString() }],
        [database, { active: 'primary', epoch: 3, changedAt: dbAt.toISOString() }],
      ]),
    };

    // Act
    const decision = decideIntent(current, request({ capabilities: ['dns', database] }), service(30), NOW);

    // Assess
    expect(decision.kind).toBe('cooldown');
    expect(decision.kind === 'cooldown' && decision.until.toISOString()).toBe(
      new Date(dbAt.getTime() + minutes(30)).toISOString(),
    );
  });
});

describe('decideIntent: operator params on a capability already at its target', () => {
  it('re-records explicit params at a new epoch (an override given after an alarm moved it)', () => {
    // Prepare: an alarm moved dns to the standby without params
    const current = movedState('standby', new Date(NOW.getTime() - minutes(5)));

    // Act
    const decision = decideIntent(current, request({ params: { acceptDataLoss: true } }), service(), NOW);

    // Assess
    expect(decision.kind).toBe('transition');
    if (decision.kind !== 'transition') return;
    expect(decision.next.epoch).toBe(current.epoch + 1);
    expect(decision.next.capabilities.dns).toMatchObject({
      active: 'standby',
      params: { acceptDataLoss: true },
    });
    // Not a move: the cooldown still measures from the alarm's move.
    expect(decision.next.capabilities.dns?.changedAt).toBe(current.capabilities.dns?.changedAt);
  });

  it('leaves a duplicate without params unchanged, and the same params twice unchanged', () => {
    // Prepare
    const current = movedState('standby', new Date(NOW.getTime() - minutes(5)));
    const withParams = decideIntent(current, request({ params: { acceptDataLoss: true } }), service(), NOW);
    if (withParams.kind !== 'transition') throw new Error('expected a transition');

    // Act / Assess
    expect(decideIntent(current, request(), service(), NOW).kind).toBe('unchanged');
    expect(
      decideIntent(withParams.next, request({ params: { acceptDataLoss: true } }), service(), NOW).kind,
    ).toBe('unchanged');
  });
});
