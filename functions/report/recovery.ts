import type { ServiceConfig } from '../config/schema';
import type { ControlPlane } from '../engine/engine';
import type { AuditEntry } from '../state/store';
import { recoverySentence, type TransitionTimeline, transitionTimeline } from './timeline';

/**
 * Where a measured recovery goes besides the audit log and Slack: a metric, and the execution report
 * stored for people to open. Both optional: the CLI and the drill have neither (the CLI writes its
 * reports locally, `understudyctl report`).
 */
export interface RecoveryRecorder {
  /** Publishes the measured recovery (seconds) and the target as metrics. */
  readonly metric?: (service: string, seconds: number, rtoMinutes: number | undefined) => Promise<void>;
  /** Stores the report's HTML and JSON under `key` (without extension); returns a link to the HTML. */
  readonly store?: (key: string, html: string, json: string) => Promise<string | undefined>;
}

/** How many audit entries are read to rebuild a transition: its own always fit in the newest ones. */
export const RECOVERY_AUDIT_WINDOW = 300;

/** Where a transition's report lives in the report bucket (without extension). */
export const reportKey = (service: string, epoch: number) => `reports/${service}/epoch-${epoch}`;

const sameEntry = (a: AuditEntry, b: AuditEntry) =>
  a.at === b.at && a.kind === b.kind && a.capability === b.capability && a.message === b.message;

/** The audit as stored, plus what this run reported (its writes may still be on their way). */
const withReported = (stored: readonly AuditEntry[], reported: readonly AuditEntry[]) => [
  ...stored,
  ...reported.filter((r) => !stored.some((s) => sameEntry(s, r))),
];

interface MeasuredTransition {
  readonly timeline: TransitionTimeline & { readonly convergedAt: string };
  readonly epoch: number;
  /** The transition's request time: the stamp its one recovery notice is claimed with. */
  readonly requestedAt: string;
}

const complete = (timeline: TransitionTimeline | undefined): timeline is MeasuredTransition['timeline'] =>
  timeline?.convergedAt !== undefined && timeline.recovery.seconds !== undefined;

/**
 * A transition this very run decided and saw converge in full: its own reports hold all of it, so
 * nothing is read back (a storm's worker saves two Queries and a flush per service).
 */
const ownTransition = (cp: ControlPlane, service: string): MeasuredTransition | undefined => {
  const decision = cp.reporter.reported.findLast((e) => e.service === service && e.kind === 'decision');
  const requestedAt = decision?.details?.requestedAt;
  if (!decision || typeof requestedAt !== 'string') return undefined;
  const timeline = transitionTimeline(cp.reporter.reported, service, decision.epoch);
  return complete(timeline) ? { timeline, epoch: decision.epoch, requestedAt } : undefined;
};

/** A transition rebuilt from the stored state and audit log (decided or converged by other runs). */
const storedTransition = async (
  cp: ControlPlane,
  service: string,
): Promise<MeasuredTransition | undefined> => {
  const record = await cp.store.readService(service);
  const { epoch } = record.desired;
  await cp.reporter.flush();
  const audit = withReported(await cp.store.readAudit(service, RECOVERY_AUDIT_WINDOW), cp.reporter.reported);
  const timeline = transitionTimeline(audit, service, epoch);
  if (!complete(timeline)) return undefined;
  // The statuses agree (a capability converged, then waiting again in a later run, is not recovered).
  const settled = timeline.capabilities.every((c) => {
    const status = record.statuses[c as keyof typeof record.statuses];
    return status?.epoch === epoch && status.phase === 'converged';
  });
  return settled ? { timeline, epoch, requestedAt: record.desired.requestedAt } : undefined;
};

/**
 * After a run that converged a capability of a transition: if every capability the transition moved
 * is now converged, measure the recovery once (a notice claimed per transition), and tell it to the
 * audit log, Slack (with a link to the execution report), the metric and the report bucket. Runs only
 * when this run recorded a convergence, so idle runs pay nothing. Never throws.
 */
export const recordRecovery = async (
  cp: ControlPlane,
  service: ServiceConfig,
): Promise<TransitionTimeline | undefined> => {
  const converged = cp.reporter.reported.some(
    (e) => e.service === service.name && e.kind === 'completed' && e.epoch > 0,
  );
  if (!converged) return undefined;
  try {
    const measured = ownTransition(cp, service.name) ?? (await storedTransition(cp, service.name));
    if (!measured) return undefined;
    const { timeline, epoch } = measured;
    if (!(await cp.store.claimNotice(service.name, 'recovered', measured.requestedAt))) return undefined;

    const { recovery } = timeline;
    const seconds = recovery.seconds as number;
    let link: string | undefined;
    if (cp.recovery?.store) {
      try {
        // The page is drawn only where it is stored: loaded on first use, not at every function's init.
        const [{ renderReportHtml }, { transitionReport }] = await Promise.all([
          import('./html'),
          import('./model'),
        ]);
        const report = transitionReport(timeline, cp.clock.now());
        link = await cp.recovery.store(
          reportKey(service.name, epoch),
          renderReportHtml(report),
          JSON.stringify({ report, timeline }, null, 2),
        );
      } catch (error) {
        cp.log.warn('execution report not stored; understudyctl report writes it from the audit log', {
          service: service.name,
          epoch,
          error: String(error),
        });
      }
    }
    try {
      await cp.recovery?.metric?.(service.name, seconds, recovery.rtoMinutes);
    } catch (error) {
      cp.log.warn('recovery metric not published', { service: service.name, error: String(error) });
    }
    cp.reporter.report({
      service: service.name,
      at: cp.clock.now().toISOString(),
      epoch,
      kind: 'recovered',
      message: `${timeline.capabilities.join(', ')} on the ${timeline.target ?? 'desired site'}: ${recoverySentence(recovery)} (from ${timeline.evidenceAt} to ${timeline.convergedAt})`,
      details: {
        recoverySeconds: seconds,
        ...(recovery.rtoMinutes !== undefined && {
          rtoMinutes: recovery.rtoMinutes,
          withinRto: recovery.withinRto,
        }),
        evidenceAt: timeline.evidenceAt,
        decidedAt: timeline.decidedAt,
        convergedAt: timeline.convergedAt,
        ...(link !== undefined && { report: link }),
      },
    });
    return timeline;
  } catch (error) {
    cp.log.warn('recovery not measured; understudyctl report measures it from the audit log', {
      service: service.name,
      error: String(error),
    });
    return undefined;
  }
};
