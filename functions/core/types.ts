import type { CapabilityName } from '../config/schema';

export type Site = 'primary' | 'standby';

export const otherSite = (site: Site): Site => (site === 'primary' ? 'standby' : 'primary');

/**
 * Operator-given qualifiers of an intent, kept with it so every later run honours them
 * (e.g. a database capability's explicit acceptance of data loss). Capabilities define their own keys.
 */
export type IntentParams = Readonly<Record<string, string | number | boolean | readonly string[]>>;

/** What one capability of a service should be serving from, and since when. */
export interface CapabilityIntent {
  readonly active: Site;
  /** The service epoch at which this capability last changed site. */
  readonly epoch: number;
  readonly changedAt: string;
  readonly params?: IntentParams | undefined;
  /**
   * When the evidence behind the last change of this intent (a move, a reset or an amendment) was
   * observed: an alarm's state-change time, or the request time of an operator or policy. An event
   * observed before it is late or repeated and is ignored for this capability. Absent: `changedAt`.
   */
  readonly evidenceAt?: string | undefined;
}

/** The desired state of one service, as stored; absent item means everything on primary at epoch 0. */
export interface DesiredState {
  readonly service: string;
  /** Monotonic; every accepted transition increments it, and every action carries it. */
  readonly epoch: number;
  readonly capabilities: Partial<Record<CapabilityName, CapabilityIntent>>;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly reason: string;
  /**
   * The id of the request that wrote this state. A caller whose write response was lost (the SDK
   * retried and the retry failed the condition), or a re-delivered event, recognises its own write.
   */
  readonly requestId?: string | undefined;
}

export const initialDesiredState = (service: string): DesiredState => ({
  service,
  epoch: 0,
  capabilities: {},
  requestedBy: 'initial',
  requestedAt: new Date(0).toISOString(),
  reason: 'no transition recorded yet: the primary serves',
});

export const activeSite = (state: DesiredState, capability: CapabilityName): Site =>
  state.capabilities[capability]?.active ?? 'primary';

/** How far one capability has got towards the desired state, as last recorded by a reconciler. */
export type Phase = 'converged' | 'in-progress' | 'waiting' | 'refused' | 'failed';

export interface CapabilityStatus {
  readonly capability: CapabilityName;
  readonly epoch: number;
  readonly active: Site;
  readonly phase: Phase;
  readonly detail: string;
  /** The plan's reason code (capability.ts `reasonKey`), for telling people once per reason. */
  readonly code?: string | undefined;
  /** Capability-specific bookkeeping the next run needs (for DNS: the change id to verify). */
  readonly pending?: Record<string, string> | undefined;
  readonly updatedAt: string;
  /**
   * The lease token of the run that wrote it. Status writes are ordered by (epoch, leaseToken): one
   * from an older epoch, or from an earlier holder of the service in the same epoch, never lands.
   */
  readonly leaseToken?: number | undefined;
}

/** Who or what asks for a transition. */
export interface TransitionRequest {
  readonly service: string;
  readonly capabilities: readonly CapabilityName[];
  readonly target: Site;
  readonly requestedBy: string;
  readonly reason: string;
  /** Operators may move inside the cooldown window; alarms may not. */
  readonly ignoreCooldown: boolean;
  /** Stored with the intent of every capability this request moves. */
  readonly params?: IntentParams | undefined;
  /**
   * An amendment moves nothing: each capability already on `target` gains the request's `params`
   * (list values are added to the intent's), with a new epoch only if that adds something; one on
   * the other site is left alone. Compute's per-server replacement is one: "replace this server too".
   * Amendments are not moves, so the cooldown does not hold them; a list that only grows cannot flap.
   */
  readonly amend?: boolean | undefined;
  /**
   * Identifies this request across retries: an alarm's EventBridge event id (stable across
   * re-deliveries), otherwise a fresh id. Stored with the state it writes (DesiredState.requestId).
   */
  readonly requestId?: string | undefined;
  /**
   * When the trigger's evidence was observed (an alarm's state-change time). A capability whose intent
   * last changed on newer evidence is left alone: a late or repeated event never undoes a later move.
   * Absent: now (an operator's command, a policy).
   */
  readonly observedAt?: string | undefined;
}
