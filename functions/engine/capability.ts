import type { CapabilityName, ServiceConfig } from '../config/schema';
import type { CapabilityIntent, CapabilityStatus, Site } from '../core/types';

/** One AWS call a plan would make, with its reason: what `understudy plan` prints and executors perform. */
export interface PlannedAction {
  readonly capability: CapabilityName;
  /** IAM-style name of the call, e.g. route53:ChangeResourceRecordSets. */
  readonly api: string;
  readonly reason: string;
  readonly params: Readonly<Record<string, unknown>>;
}

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
