import type { CapabilityName, Mode } from '../config/schema';
import type { CapabilityStatus, Site } from '../core/types';
import type { CapabilityReport } from '../engine/engine';
import { findingLine, type ReadinessFinding } from '../readiness/finding';
import type { AuditEntry } from '../state/store';

/** One capability of one service as `status` shows it. */
export interface CapabilityStatusView {
  readonly capability: CapabilityName;
  readonly desired: Site;
  /** When the desired site last changed (absent: never moved, the primary serves). */
  readonly changedAt: string | undefined;
  readonly status:
    | Pick<CapabilityStatus, 'phase' | 'detail' | 'epoch' | 'active' | 'updatedAt' | 'pending'>
    | undefined;
}

/** One part's last readiness verdict (a capability, or `shared`), as `status` shows it. */
export interface ReadinessView {
  readonly part: string;
  readonly verdict: 'ready' | 'not-ready';
  readonly checkedAt: string;
  readonly changedAt: string;
  /** The checks that are not ready or were skipped. */
  readonly findings: readonly ReadinessFinding[];
}

export interface ServiceStatusView {
  readonly service: string;
  readonly mode: Mode;
  readonly cooldownMinutes: number;
  readonly epoch: number;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly reason: string;
  readonly capabilities: readonly CapabilityStatusView[];
  readonly audit?: readonly AuditEntry[] | undefined;
  /** The current transition's measured recovery against the RTO (functions/report/timeline.ts). */
  readonly recovery?:
    | {
        readonly epoch: number;
        readonly seconds?: number;
        readonly rtoMinutes?: number;
        readonly withinRto?: boolean;
        readonly sentence: string;
      }
    | undefined;
  /** The last readiness check (functions/readiness/); absent: never checked. */
  readonly readiness?: readonly ReadinessView[] | undefined;
}

const readinessLines = (views: readonly ReadinessView[]): string[] =>
  views.flatMap((view) => [
    `  readiness ${view.part}: ${view.verdict === 'ready' ? 'ready' : 'NOT READY'} since ${view.changedAt} (checked ${view.checkedAt})`,
    ...view.findings.map((f) => `    ${findingLine(f)}`),
  ]);

const statusLine = (view: CapabilityStatusView, epoch: number): string => {
  const head = `  ${view.capability}: desired ${view.desired}${view.changedAt ? ` since ${view.changedAt}` : ''}`;
  const status = view.status;
  if (!status) return `${head}\n    no status recorded yet: no reconciler has run for it`;
  const stale =
    status.epoch === epoch
      ? ''
      : ` [recorded for epoch ${status.epoch}, not the current ${epoch}: the next run updates it]`;
  return `${head}\n    ${status.phase} at ${status.updatedAt}${stale}: ${status.detail}`;
};

export const formatAuditEntry = (entry: AuditEntry): string =>
  `${entry.at} ${entry.kind}${entry.capability ? ` ${entry.capability}` : ''} (epoch ${entry.epoch}` +
  `${entry.source ? `, ${entry.source}` : ''}): ${entry.message.replace(/\n/g, '\n      ')}`;

/** Text for `understudy status`. */
export const formatStatus = (views: readonly ServiceStatusView[]): string[] =>
  views.flatMap((view, i) => [
    ...(i > 0 ? [''] : []),
    `${view.service}: mode ${view.mode}, epoch ${view.epoch}, cooldown ${view.cooldownMinutes} min`,
    `  desired state set ${view.requestedAt} by ${view.requestedBy}: ${view.reason}`,
    ...(view.recovery ? [`  recovery of epoch ${view.recovery.epoch}: ${view.recovery.sentence}`] : []),
    ...view.capabilities.map((c) => statusLine(c, view.epoch)),
    ...readinessLines(view.readiness ?? []),
    ...(view.audit === undefined
      ? []
      : view.audit.length === 0
        ? ['  audit: no entries']
        : [`  audit, newest first:`, ...view.audit.map((e) => `    ${formatAuditEntry(e)}`)]),
  ]);

/** One line per capability report: what the engine did or saw, and why. */
export const formatReport = (report: CapabilityReport): string => {
  const verdict = report.phase === 'planned' && report.plan ? `planned (${report.plan.kind})` : report.phase;
  return `  ${report.service}/${report.capability} (epoch ${report.epoch}): ${verdict}: ${report.detail}`;
};

/** Phases after which a capability needs nothing more from anyone. */
const DONE = new Set<CapabilityReport['phase']>(['converged']);

/**
 * True when every report is converged. With `planned`, a dry-run service's plan counts as done too:
 * nothing is expected of it (the scheduled run only plans such services).
 */
export const allConverged = (reports: readonly CapabilityReport[], options: { planned?: boolean } = {}) =>
  reports.every((r) => DONE.has(r.phase) || (options.planned === true && r.phase === 'planned'));

/** JSON-safe copy of a report (plans carry their AWS parameters, which are plain data). */
export const reportView = (report: CapabilityReport) => ({
  service: report.service,
  capability: report.capability,
  epoch: report.epoch,
  phase: report.phase,
  detail: report.detail,
  ...(report.plan && { plan: report.plan }),
});
