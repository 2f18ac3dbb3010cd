import type { CapabilityName, ServiceConfig } from '../config/schema';
import type { CapabilityIntent, CapabilityStatus, Site } from '../core/types';

/** One AWS call a plan would make, with its reason: what `understudy plan` prints and executors perform. */
export interface PlannedAction {
  readonly capability: CapabilityName;
  /** IAM-style name of the call, e.g. route53:ChangeResourceRecordSets. */
  readonly api: string;
  readonly reason: string;
  readonly params: Readonly<Record<string, unknown>>;
  /**
   * Set on a side effect that must take effect at most once per epoch (a promotion, a failover, a
   * start): the pending key it is recorded under. The engine records `pending[once] = epoch` (and
   * `pending[once + 'At']`, when) in the capability status **before** the call, keeps it until the
   * capability converges, and never retries an attempt that may have taken effect; the planner then
   * decides from what AWS shows whether it happened (see `intended`), rather than calling again.
   */
  readonly once?: string | undefined;
}

/**
 * How long a side effect recorded as intended may stay invisible in AWS before the planner takes it
 * as never made (the run died between the record and the call, or the call failed before AWS took
 * it) and issues it again. AWS shows an accepted promotion, failover or start within seconds.
 */
export const ONCE_GRACE_MS = 2 * 60_000;

/** The pending key holding when a once-per-epoch call was recorded as intended. */
export const intendedAtKey = (key: string): string => `${key}At`;

/** True for a pending key that records a once-per-epoch call as intended (it has its time beside it). */
export const isIntentKey = (pending: Readonly<Record<string, string>>, key: string): boolean =>
  pending[intendedAtKey(key)] !== undefined;

/**
 * What the status says about a once-per-epoch call: `none`, or `intended` (recorded before the call,
 * so it may or may not have reached AWS), with whether the grace period is still on. A record counts
 * while it is recent, whatever epoch made it (a call just made is to be waited for, even if the
 * capability moved away and back meanwhile), and after that only from the epoch the capability last
 * moved to its current site onwards (a later epoch that did not move it, such as an operator
 * re-recording params, does not make the call due again). A record without a time (written by an
 * earlier version, after the call returned) counts as recent for the current move only.
 *
 * "Recent" is judged at `observedAt`, when the reads the plan rests on began, not at `now`: what AWS
 * did not show is proof that a call never took effect only if it was read after the grace period. A
 * run that stalls between its reads and its plan (an SDK backoff, a slow call, a paused process) must
 * not take a read made seconds after the call, from before AWS showed it, for such proof.
 */
export const intended = (
  input: Pick<PlanInput<unknown>, 'status' | 'epoch' | 'now' | 'observedAt' | 'intent'>,
  key: string,
):
  | { readonly kind: 'none' }
  | { readonly kind: 'intended'; readonly at?: string; readonly recent: boolean } => {
  const recorded = Number(input.status?.pending?.[key] ?? Number.NaN);
  if (Number.isNaN(recorded) || recorded > input.epoch) return { kind: 'none' };
  const currentMove = recorded >= (input.intent?.epoch ?? 0);
  const at = input.status?.pending?.[intendedAtKey(key)];
  if (at === undefined) return currentMove ? { kind: 'intended', recent: true } : { kind: 'none' };
  const readAt = (input.observedAt ?? input.now).getTime();
  const recent = readAt - Date.parse(at) < ONCE_GRACE_MS;
  return currentMove || recent ? { kind: 'intended', at, recent } : { kind: 'none' };
};

/** A planner's verdict for one capability of one service. */
export type CapabilityPlan<A extends PlannedAction = PlannedAction> =
  | { readonly kind: 'converged'; readonly detail: string; readonly code?: string }
  | { readonly kind: 'act'; readonly detail: string; readonly actions: readonly A[]; readonly code?: string }
  | { readonly kind: 'wait'; readonly detail: string; readonly code?: string }
  | { readonly kind: 'refuse'; readonly detail: string; readonly code?: string };

/**
 * Why a plan waits or refuses, as a stable code (e.g. `standby-unhealthy`): the engine tells people
 * once per code, so a refusal whose wording carries a changing reading is not posted every run.
 * Without a code, the detail text is the key.
 */
export const reasonKey = (plan: { readonly detail: string; readonly code?: string | undefined }): string =>
  plan.code ?? plan.detail;

export interface PlanInput<O> {
  readonly service: ServiceConfig;
  readonly target: Site;
  readonly epoch: number;
  /** The intent behind `target` (when and with which operator qualifiers it was asked for). */
  readonly intent?: CapabilityIntent | undefined;
  readonly observed: O;
  readonly status: CapabilityStatus | undefined;
  readonly now: Date;
  /**
   * When observing began: every read in `observed` was made at this time or later, and possibly long
   * before `now`. Whether AWS has had time to show a call recorded as intended is judged at this time
   * (see `intended`). Absent: `now` (the reads were just made).
   */
  readonly observedAt?: Date | undefined;
}

export interface ActionResult {
  /** False when the change is made but not yet verified; the next run checks `pending`. */
  readonly verified: boolean;
  readonly detail: string;
  readonly pending?: Record<string, string>;
}

/**
 * A capability is the triple the design asks for: observe (read AWS), plan (pure), execute (write AWS).
 * The reconcile engine owns ordering, fencing, status, audit and notification for all of them.
 */
export interface Capability<O = unknown, A extends PlannedAction = PlannedAction> {
  readonly name: CapabilityName;
  observe(service: ServiceConfig, target: Site, status: CapabilityStatus | undefined): Promise<O>;
  plan(input: PlanInput<O>): CapabilityPlan<A>;
  execute(
    action: A,
    context: { readonly service: ServiceConfig; readonly epoch: number },
  ): Promise<ActionResult>;
}

/** Finds (and on first use creates) the implementation of a capability. */
export type CapabilitySource = (name: CapabilityName) => Promise<Capability | undefined>;
