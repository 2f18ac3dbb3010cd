import type { AuditEntry } from '../state/store';

/**
 * Measured recovery: the timeline of one transition, built from the audit log alone (pure). The
 * decision entry carries what the rest of the log cannot say (the alarm's own state-change time,
 * the capabilities moved, the targets), so a transition can be measured and reported long after it
 * happened, by the CLI as well as by the engine.
 */

/** What a transition's decision entry records in its details (functions/engine/transition.ts). */
export interface DecisionDetails {
  /** When the evidence was observed: the alarm's state-change time, or the request time. */
  readonly evidenceAt?: string | undefined;
  readonly capabilities?: readonly string[] | undefined;
  readonly target?: string | undefined;
  readonly mode?: string | undefined;
  readonly rtoMinutes?: number | undefined;
  /** Per capability that declares one (the database's `rpoSeconds`). */
  readonly rpoSeconds?: Readonly<Record<string, number>> | undefined;
}

export type SpanKind = 'action' | 'wait' | 'refused' | 'failed';

/** One bar of a capability's lane: an action and its verification, a wait, a refusal, a failure. */
export interface TimelineSpan {
  readonly capability: string;
  readonly kind: SpanKind;
  readonly label: string;
  readonly start: string;
  /** The next entry of the same capability (the verification that ended it); = start if none came. */
  readonly end: string;
  readonly message: string;
}

export interface Milestone {
  readonly kind: 'evidence' | 'decision' | 'converged' | 'alarms-ok';
  readonly label: string;
  readonly at: string;
  readonly capability?: string | undefined;
}

export interface TransitionTimeline {
  readonly service: string;
  readonly epoch: number;
  readonly target: string | undefined;
  readonly mode: string | undefined;
  readonly reason: string;
  /** Who asked: the alarm, or the operator; with `approvedBy` when a plan was approved by an operator. */
  readonly askedBy: string | undefined;
  readonly approvedBy: string | undefined;
  readonly capabilities: readonly string[];
  readonly evidenceAt: string;
  readonly decidedAt: string;
  /** Every moved capability's convergence, the latest: undefined while one is not converged. */
  readonly convergedAt: string | undefined;
  /** When the covering alarms were reported OK again (the held notice), if they were. */
  readonly alarmsOkAt: string | undefined;
  readonly spans: readonly TimelineSpan[];
  readonly milestones: readonly Milestone[];
  /** Every entry of this transition, oldest first: the decisions with their reasons. */
  readonly entries: readonly AuditEntry[];
  readonly recovery: Recovery;
  /** Said when the clocks disagree (the alarm's time is after the decision's). */
  readonly notes: readonly string[];
}

export interface Recovery {
  /** Alarm state change (or request) to every moved capability converged; undefined until then. */
  readonly seconds: number | undefined;
  readonly rtoMinutes: number | undefined;
  /** True/false against the RTO; undefined without an RTO or before convergence. */
  readonly withinRto: boolean | undefined;
  readonly rpoSeconds: Readonly<Record<string, number>>;
}

const ms = (iso: string) => Date.parse(iso);
/** Within one millisecond (a fast step, a clock that stands still), the order in which they happen. */
const RANK: Record<AuditEntry['kind'], number> = {
  plan: 0,
  ignored: 0,
  decision: 1,
  action: 2,
  waiting: 3,
  refused: 3,
  error: 3,
  completed: 4,
  recovered: 5,
  held: 6,
  readiness: 6,
};
const byTime = (a: AuditEntry, b: AuditEntry) => ms(a.at) - ms(b.at) || RANK[a.kind] - RANK[b.kind];

const SPAN_OF: Partial<Record<AuditEntry['kind'], SpanKind>> = {
  action: 'action',
  waiting: 'wait',
  refused: 'refused',
  error: 'failed',
};

/** An action's label is its API call (`PromoteReadReplica: ...`); other entries say what they are. */
const labelOf = (entry: AuditEntry, kind: SpanKind): string => {
  if (kind === 'action') return entry.message.split(': ')[0]?.trim() || 'action';
  return kind === 'wait' ? 'waiting' : kind === 'refused' ? 'refused' : 'failed';
};

export const decisionDetails = (entry: AuditEntry): DecisionDetails =>
  (entry.details ?? {}) as DecisionDetails;

/** The epochs that have a transition (a decision entry), newest first. */
export const transitionEpochs = (entries: readonly AuditEntry[]): number[] =>
  [...new Set(entries.filter((e) => e.kind === 'decision').map((e) => e.epoch))].sort((a, b) => b - a);

/**
 * The timeline of the transition to `epoch` of one service, from its audit entries (any order, any
 * epochs); undefined when no decision for that epoch is in them.
 */
export const transitionTimeline = (
  audit: readonly AuditEntry[],
  service: string,
  epoch: number,
): TransitionTimeline | undefined => {
  const all = audit.filter((e) => e.service === service).sort(byTime);
  const decision = all.find((e) => e.kind === 'decision' && e.epoch === epoch);
  if (!decision) return undefined;
  const details = decisionDetails(decision);
  const entries = all.filter((e) => e.epoch === epoch || e === decision);
  const capabilities =
    details.capabilities && details.capabilities.length > 0
      ? [...details.capabilities]
      : [...new Set(entries.flatMap((e) => (e.capability ? [e.capability] : [])))];

  const notes: string[] = [];
  let evidenceAt = details.evidenceAt ?? decision.at;
  if (Number.isNaN(ms(evidenceAt)) || ms(evidenceAt) > ms(decision.at)) {
    notes.push(
      `the evidence time (${evidenceAt}) is after the decision (${decision.at}): the clocks disagree, so recovery is counted from the decision`,
    );
    evidenceAt = decision.at;
  }

  const spans: TimelineSpan[] = [];
  const milestones: Milestone[] = [
    { kind: 'evidence', label: 'alarm state change', at: evidenceAt },
    { kind: 'decision', label: 'decision', at: decision.at },
  ];
  const convergedOf = new Map<string, string>();
  for (const capability of capabilities) {
    const own = entries.filter((e) => e.capability === capability && e.at >= decision.at);
    for (const [i, entry] of own.entries()) {
      if (entry.kind === 'completed') {
        // Its first convergence is its recovery; later upkeep (a backlog report) does not move it.
        if (!convergedOf.has(capability)) convergedOf.set(capability, entry.at);
        continue;
      }
      const kind = SPAN_OF[entry.kind];
      if (!kind) continue;
      const next = own[i + 1];
      spans.push({
        capability,
        kind,
        label: labelOf(entry, kind),
        start: entry.at,
        end: next && ms(next.at) >= ms(entry.at) ? next.at : entry.at,
        message: entry.message,
      });
    }
    const converged = convergedOf.get(capability);
    if (converged)
      milestones.push({ kind: 'converged', label: `${capability} converged`, at: converged, capability });
  }
  const convergedAt =
    capabilities.length > 0 && capabilities.every((c) => convergedOf.has(c))
      ? capabilities.map((c) => convergedOf.get(c) as string).reduce((a, b) => (ms(a) >= ms(b) ? a : b))
      : undefined;
  const held = entries.find((e) => e.kind === 'held' && e.at >= decision.at);
  const alarmsOkAt =
    held === undefined
      ? undefined
      : typeof held.details?.alarmStateAt === 'string'
        ? held.details.alarmStateAt
        : held.at;
  if (alarmsOkAt) milestones.push({ kind: 'alarms-ok', label: 'covering alarms OK', at: alarmsOkAt });

  const seconds = convergedAt === undefined ? undefined : (ms(convergedAt) - ms(evidenceAt)) / 1000;
  const rtoMinutes = details.rtoMinutes;
  const plan = [...all]
    .reverse()
    .find((e) => e.kind === 'plan' && e.epoch === epoch - 1 && ms(e.at) <= ms(decision.at));
  const byOperator = decision.source?.startsWith('operator:') === true;
  return {
    service,
    epoch,
    target: details.target,
    mode: details.mode,
    reason: decision.message,
    askedBy: plan && byOperator ? plan.source : decision.source,
    approvedBy: plan && byOperator ? decision.source : undefined,
    capabilities,
    evidenceAt,
    decidedAt: decision.at,
    convergedAt,
    alarmsOkAt,
    spans,
    milestones: milestones.sort((a, b) => ms(a.at) - ms(b.at)),
    entries: [...(plan ? [plan] : []), ...entries],
    recovery: {
      seconds,
      rtoMinutes,
      withinRto: seconds === undefined || rtoMinutes === undefined ? undefined : seconds <= rtoMinutes * 60,
      rpoSeconds: details.rpoSeconds ?? {},
    },
    notes,
  };
};

/** `42.5 s`, `3 min 5 s`: a recovery time as people read it. */
export const formatDuration = (seconds: number): string => {
  if (seconds < 60) return `${Number(seconds.toFixed(seconds < 10 ? 2 : 1))} s`;
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  const rest = whole % 60;
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
};

/** One line: the measured recovery against the target. */
export const recoverySentence = (recovery: Recovery): string => {
  if (recovery.seconds === undefined) return 'not recovered yet: a moved capability is not converged';
  const took = `recovered in ${formatDuration(recovery.seconds)}`;
  if (recovery.rtoMinutes === undefined) return `${took} (no rtoMinutes declared)`;
  return recovery.withinRto
    ? `${took}, within the RTO of ${recovery.rtoMinutes} min`
    : `${took}: OVER the RTO of ${recovery.rtoMinutes} min by ${formatDuration(recovery.seconds - recovery.rtoMinutes * 60)}`;
};
