import type { CapabilityName, ServiceConfig } from '../config/schema';
import { activeSite, type CapabilityIntent, type DesiredState, type TransitionRequest } from '../core/types';

export type IntentDecision =
  | { readonly kind: 'transition'; readonly next: DesiredState; readonly changed: readonly CapabilityName[] }
  | { readonly kind: 'unchanged'; readonly reason: string }
  | { readonly kind: 'cooldown'; readonly reason: string; readonly until: Date };

/**
 * Decides what a trigger may change in the desired state. Pure: the caller writes `next`
 * conditionally on `current.epoch`, so two triggers racing on the same epoch produce one transition.
 */
export const decideIntent = (
  current: DesiredState,
  request: TransitionRequest,
  service: ServiceConfig,
  now: Date,
): IntentDecision => {
  const toMove = request.capabilities.filter((c) => activeSite(current, c) !== request.target);
  if (toMove.length === 0) {
    return {
      kind: 'unchanged',
      reason: `already on ${request.target} (epoch ${current.epoch}): nothing to change`,
    };
  }

  if (!request.ignoreCooldown && service.cooldownMinutes > 0) {
    const cooldownMs = service.cooldownMinutes * 60_000;
    const blocking = toMove
      .map((c) => ({ capability: c, intent: current.capabilities[c] }))
      .filter((x): x is { capability: CapabilityName; intent: CapabilityIntent } => x.intent !== undefined)
      .map((x) => ({ ...x, until: new Date(Date.parse(x.intent.changedAt) + cooldownMs) }))
      .filter((x) => x.until > now)
      .sort((a, b) => b.until.getTime() - a.until.getTime());
    const latest = blocking[0];
    if (latest) {
      return {
        kind: 'cooldown',
        until: latest.until,
        reason:
          `${latest.capability} moved at ${latest.intent.changedAt}; cooldown of ${service.cooldownMinutes} min ` +
          `holds automatic moves until ${latest.until.toISOString()} (an operator may still act)`,
      };
    }
  }

  const epoch = current.epoch + 1;
  const at = now.toISOString();
  const capabilities = { ...current.capabilities };
  for (const c of toMove)
    capabilities[c] = { active: request.target, epoch, changedAt: at, params: request.params };
  return {
    kind: 'transition',
    changed: toMove,
    next: {
      service: current.service,
      epoch,
      capabilities,
      requestedBy: request.requestedBy,
      requestedAt: at,
      reason: request.reason,
    },
  };
};
