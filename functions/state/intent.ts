import type { CapabilityName, ServiceConfig } from '../config/schema';
import { clip, MAX_INTENT_REASON, MAX_REQUESTED_BY } from '../core/text';
import {
  activeSite,
  type CapabilityIntent,
  type DesiredState,
  type IntentParams,
  type TransitionRequest,
} from '../core/types';

/** The trigger's words as the desired state keeps them: bounded, whatever the trigger quoted. */
const said = (request: TransitionRequest) => ({
  requestedBy: clip(request.requestedBy, MAX_REQUESTED_BY),
  reason: clip(request.reason, MAX_INTENT_REASON),
});

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
  if (request.amend) return decideAmendment(current, request, now);
  const toMove = request.capabilities.filter((c) => activeSite(current, c) !== request.target);
  // Back on the primary means back as configured: a failback also clears what was recorded while the
  // capability stayed there (compute: servers replaced one by one), so it restores the original.
  // And explicit params re-record on either site: an operator who adds --accept-data-loss after an
  // alarm already moved the database must be heard. Alarms never carry params, so their duplicates
  // stay "unchanged".
  const toReset = request.capabilities.filter(
    (c) =>
      activeSite(current, c) === request.target &&
      !sameParams(current.capabilities[c]?.params, request.params) &&
      (request.params !== undefined || request.target === 'primary'),
  );
  if (toMove.length === 0 && toReset.length === 0) {
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
  // Not a move: changedAt keeps the last move, which is what the cooldown measures.
  for (const c of toReset) {
    const intent = current.capabilities[c];
    if (intent) capabilities[c] = { ...intent, params: request.params };
  }
  return {
    kind: 'transition',
    changed: [...toMove, ...toReset],
    next: {
      service: current.service,
      epoch,
      capabilities,
      requestedAt: at,
      ...said(request),
    },
  };
};

/** Params compared as values: key order and list order do not matter. */
const canonical = (params: IntentParams | undefined): string =>
  JSON.stringify(
    Object.entries(params ?? {})
      .map(([key, value]) => [key, Array.isArray(value) ? [...value].sort() : value] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );

const sameParams = (a: IntentParams | undefined, b: IntentParams | undefined): boolean =>
  canonical(a) === canonical(b);

/** The intent's params with the request's added: lists are merged (no duplicates, sorted), scalars set. */
const mergeParams = (current: IntentParams | undefined, added: IntentParams | undefined): IntentParams => {
  const merged: Record<string, IntentParams[string]> = { ...current };
  for (const [key, value] of Object.entries(added ?? {})) {
    const before = merged[key];
    merged[key] = Array.isArray(value)
      ? [...new Set([...(Array.isArray(before) ? (before as readonly string[]) : []), ...value])].sort()
      : value;
  }
  return merged;
};

/**
 * An amendment (TransitionRequest.amend): adds params to capabilities that stay where they are. The
 * same amendment twice is "unchanged", exactly like a duplicate move, so at-least-once delivery of a
 * per-server alarm still makes one conditional write and one replacement.
 */
const decideAmendment = (current: DesiredState, request: TransitionRequest, now: Date): IntentDecision => {
  const capabilities = { ...current.capabilities };
  const changed: CapabilityName[] = [];
  for (const c of request.capabilities) {
    if (activeSite(current, c) !== request.target) continue;
    const intent = current.capabilities[c];
    const params = mergeParams(intent?.params, request.params);
    if (sameParams(params, intent?.params)) continue;
    // A capability that never moved keeps epoch 0 and the epoch-0 time: the cooldown measures moves only.
    capabilities[c] = intent
      ? { ...intent, params }
      : { active: request.target, epoch: 0, changedAt: new Date(0).toISOString(), params };
    changed.push(c);
  }
  if (changed.length === 0) {
    const elsewhere = request.capabilities.filter((c) => activeSite(current, c) !== request.target);
    return {
      kind: 'unchanged',
      reason:
        elsewhere.length > 0
          ? `${elsewhere.join(', ')} is not on the ${request.target} (epoch ${current.epoch}): nothing to amend`
          : `already recorded (epoch ${current.epoch}): nothing to change`,
    };
  }
  const at = now.toISOString();
  return {
    kind: 'transition',
    changed,
    next: {
      service: current.service,
      epoch: current.epoch + 1,
      capabilities,
      requestedAt: at,
      ...said(request),
    },
  };
};
