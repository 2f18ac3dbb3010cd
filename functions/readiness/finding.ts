import type { ServiceConfig } from '../config/schema';
import type { Site } from '../core/types';

/**
 * Readiness: would a failover (and a failback) work right now, and if not, why. Each capability
 * module answers for itself (CapabilityModule.readiness), reading only; the readiness engine
 * (functions/readiness/engine.ts) adds the checks every service shares (the Slack secret, the
 * functions' IAM rights), records the verdicts and tells people when one changes.
 */

/** Which move a finding is about: to the standby (failover) or back to the primary (failback). */
export type ReadinessDirection = 'failover' | 'failback';

export const DIRECTION_TARGET: Readonly<Record<ReadinessDirection, Site>> = {
  failover: 'standby',
  failback: 'primary',
};

/**
 * One check's verdict. `skipped`: the check could not be made here (the emulator lacks the call, no
 * role to simulate): reported as such, never counted as ready nor as not ready.
 */
export type ReadinessState = 'ready' | 'not-ready' | 'skipped';

export interface ReadinessFinding {
  readonly direction: ReadinessDirection;
  /** A stable short name of the check, e.g. `replica-lag`: the same check keeps its name. */
  readonly check: string;
  readonly state: ReadinessState;
  /** One line: what was seen (and, when not ready, what is wrong). */
  readonly reason: string;
}

/**
 * One call a move would make, for the IAM check (iam:SimulatePrincipalPolicy): the action, the
 * resource it acts on, and the request context a condition of the grant reads (e.g. a resource tag).
 */
export interface RequiredCall {
  readonly direction: ReadinessDirection;
  /** IAM action, e.g. rds:PromoteReadReplica. */
  readonly action: string;
  /** The resource's ARN, or `*` for actions without resource-level permissions. */
  readonly resource: string;
  /** Context keys and values (a list for a multi-valued key such as a ForAllValues condition's). */
  readonly context?: Readonly<Record<string, string | readonly string[]>> | undefined;
}

/** A capability's readiness for one service: its findings, and the calls its moves would make. */
export interface CapabilityReadiness {
  readonly findings: readonly ReadinessFinding[];
  readonly calls?: readonly RequiredCall[] | undefined;
}

/** What a capability's readiness check is told besides the service. */
export interface ReadinessInput {
  /** Where the capability is meant to be now (the desired state): a failover from there, or back. */
  readonly active: Site;
  /** The control plane's account and partition, for the ARNs of `calls`. */
  readonly account: string;
  readonly partition: string;
}

/** The verdict over findings: not ready if any check is not ready; skipped checks never make it ready. */
export const verdictOf = (findings: readonly ReadinessFinding[]): 'ready' | 'not-ready' =>
  findings.some((f) => f.state === 'not-ready') ? 'not-ready' : 'ready';

export const ready = (direction: ReadinessDirection, check: string, reason: string): ReadinessFinding => ({
  direction,
  check,
  state: 'ready',
  reason,
});

export const notReady = (direction: ReadinessDirection, check: string, reason: string): ReadinessFinding => ({
  direction,
  check,
  state: 'not-ready',
  reason,
});

export const skipped = (direction: ReadinessDirection, check: string, reason: string): ReadinessFinding => ({
  direction,
  check,
  state: 'skipped',
  reason,
});

/** One line for people: `not ready  failover  replica-lag: ...`. */
export const findingLine = (finding: ReadinessFinding): string =>
  `${finding.state === 'not-ready' ? 'NOT READY' : finding.state === 'skipped' ? 'skipped' : 'ready'} ${finding.direction} ${finding.check}: ${finding.reason}`;

/**
 * A record name as IAM's `route53:ChangeResourceRecordSetsNormalizedRecordNames` sees it (as
 * infra/route53-grants.ts grants it): lowercase, no trailing dot, other characters octal-escaped.
 */
export const iamRecordName = (name: string): string =>
  name
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/[^a-z0-9_.-]/g, (c) => `\\${(c.codePointAt(0) ?? 0).toString(8).padStart(3, '0')}`);

/**
 * A capability's pure readiness assessment: one service, what its reader observed, and which site
 * is active. Reads nothing itself, so it is tested without AWS.
 */
export type AssessReadiness<Observed> = (
  service: ServiceConfig,
  observed: Observed,
  input: ReadinessInput,
) => CapabilityReadiness;
