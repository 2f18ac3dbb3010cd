import type { Config } from '../config/schema';
import { evaluateReadiness, type PartReadiness, type ReadinessPlane } from '../readiness/engine';
import { findingLine } from '../readiness/finding';
import { createReadinessPlane } from '../readiness/plane';
import { LOCAL_ACCOUNT } from './local-aws';
import type { LocalHarness } from './local-control-plane';

/**
 * The role the drill's IAM check simulates. moto does not implement iam:SimulatePrincipalPolicy (it
 * answers 500), so the check is reported as skipped, and says so: never as ready.
 */
export const LOCAL_ACTING_ROLE = `arn:aws:iam::${LOCAL_ACCOUNT}:role/understudy-drill-acting`;

export interface LocalReadiness {
  /** Evaluates readiness as the scheduled function does (recorded, a change posted to the sink). */
  check(): Promise<PartReadiness[]>;
  /** Every batch of verdicts the `Readiness` metric was given, in order. */
  readonly metrics: (readonly PartReadiness[])[];
  /** The Slack messages about readiness the sink has received so far. */
  posts(): number;
}

/** A harness's readiness: the real engine and plane on the harness's clients, clock and Slack sink. */
export const localReadiness = (harness: LocalHarness, config: Config): LocalReadiness => {
  const metrics: (readonly PartReadiness[])[] = [];
  const plane = (): ReadinessPlane =>
    createReadinessPlane({
      config,
      clients: harness.clients.kit,
      log: harness.log,
      clock: harness.clock,
      notifier: harness.sink.notifier(config, harness.clients.kit, harness.log),
      roles: [LOCAL_ACTING_ROLE],
      metric: (verdicts) => {
        metrics.push(verdicts);
      },
    });
  return {
    metrics,
    async check() {
      const p = plane();
      try {
        return await evaluateReadiness(p);
      } finally {
        await p.reporter.flush();
      }
    },
    posts: () => harness.sink.messages.filter((m) => (m.body.text ?? '').includes('Readiness')).length,
  };
};

/** One line for a drill step: each part's verdict, and the first reason of an unready one. */
export const readinessDetail = (verdicts: readonly PartReadiness[]): string =>
  verdicts
    .map((v) => {
      const reason =
        v.findings.find((f) => f.state === 'not-ready') ?? v.findings.find((f) => f.state === 'skipped');
      return `${v.part} ${v.verdict}${reason ? ` (${findingLine(reason)})` : ''}`;
    })
    .join('; ');
