import { formatDuration, recoverySentence, type TransitionTimeline } from './timeline';

/**
 * The execution report's data: what the HTML page draws and what the JSON file holds, the same for
 * one transition (from its timeline) and for a whole drill (from the drill's steps). Plain data.
 */
export interface ReportBar {
  /** The lane: a capability. */
  readonly lane: string;
  readonly label: string;
  /** Milliseconds since 1970. */
  readonly start: number;
  readonly end: number;
  readonly kind: 'action' | 'wait' | 'refused' | 'failed' | 'step';
  readonly ok: boolean;
  readonly detail: string;
}

export interface ReportMarker {
  readonly label: string;
  readonly at: number;
  readonly kind: 'evidence' | 'decision' | 'converged' | 'alarms-ok';
}

export interface ReportRecovery {
  readonly label: string;
  readonly seconds: number | undefined;
  readonly rtoSeconds: number | undefined;
  readonly withinRto: boolean | undefined;
  readonly sentence: string;
}

export interface ReportDecision {
  readonly at: string;
  readonly kind: string;
  readonly lane: string | undefined;
  readonly who: string;
  readonly message: string;
}

export interface ExecutionReport {
  readonly title: string;
  readonly subtitle: string;
  readonly generatedAt: string;
  /** Label / value pairs shown at the top: who asked, who approved, targets. */
  readonly facts: readonly (readonly [string, string])[];
  readonly lanes: readonly string[];
  readonly bars: readonly ReportBar[];
  readonly markers: readonly ReportMarker[];
  readonly recoveries: readonly ReportRecovery[];
  readonly decisions: readonly ReportDecision[];
  readonly notes: readonly string[];
}

const t = (iso: string) => Date.parse(iso);

/** One transition's report, from its timeline. */
export const transitionReport = (timeline: TransitionTimeline, generatedAt: Date): ExecutionReport => {
  const { recovery } = timeline;
  const rpo = Object.entries(recovery.rpoSeconds).map(([c, s]) => `${c}: ${s} s`);
  return {
    title: `${timeline.service}: epoch ${timeline.epoch}${timeline.target ? `, to the ${timeline.target}` : ''}`,
    subtitle: recoverySentence(recovery),
    generatedAt: generatedAt.toISOString(),
    facts: [
      ['Asked by', timeline.askedBy ?? 'unknown'],
      [
        'Approved by',
        timeline.approvedBy ??
          (timeline.askedBy?.startsWith('operator:')
            ? `${timeline.askedBy} (confirmed at the prompt)`
            : `not needed (mode ${timeline.mode ?? 'auto'})`),
      ],
      ['Capabilities moved', timeline.capabilities.join(', ') || 'none'],
      ['Alarm state change', timeline.evidenceAt],
      ['Decision', timeline.decidedAt],
      ['Converged', timeline.convergedAt ?? 'not yet'],
      ['Covering alarms OK', timeline.alarmsOkAt ?? 'not reported yet'],
      ['RTO', recovery.rtoMinutes === undefined ? 'not declared' : `${recovery.rtoMinutes} min`],
      ['RPO', rpo.length > 0 ? rpo.join(', ') : 'not declared'],
    ],
    lanes: timeline.capabilities,
    bars: timeline.spans.map((s) => ({
      lane: s.capability,
      label: s.label,
      start: t(s.start),
      end: t(s.end),
      kind: s.kind,
      ok: s.kind !== 'failed' && s.kind !== 'refused',
      detail: s.message,
    })),
    markers: timeline.milestones.map((m) => ({ label: m.label, at: t(m.at), kind: m.kind })),
    recoveries: [
      {
        label: `${timeline.service} epoch ${timeline.epoch}`,
        seconds: recovery.seconds,
        rtoSeconds: recovery.rtoMinutes === undefined ? undefined : recovery.rtoMinutes * 60,
        withinRto: recovery.withinRto,
        sentence: recoverySentence(recovery),
      },
    ],
    decisions: timeline.entries.map((e) => ({
      at: e.at,
      kind: e.kind,
      lane: e.capability,
      who: e.source ?? 'reconciler',
      message: e.message,
    })),
    notes: timeline.notes,
  };
};

export { formatDuration };
