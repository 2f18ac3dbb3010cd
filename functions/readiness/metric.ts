import { METRICS_NAMESPACE } from '../report/aws';
import type { PartReadiness } from './engine';

/** The metric readiness is published as: 1 ready, 0 not ready. */
export const READINESS_METRIC = 'Readiness';

/**
 * Publishes readiness through Powertools Metrics (CloudWatch embedded metric format in the function's
 * log: no call, no client): per part (dimension `Capability`: a capability, or `shared`), 0 if that
 * part of any service is not ready, and one datapoint for the whole control plane (Powertools'
 * `service` dimension only), which the `ReadinessFailing` alarm watches (infra/readiness.ts). No
 * per-service dimension: 1,000 services would be thousands of custom metrics; which service is not
 * ready is in `understudy check`, `status` and Slack. Loaded on first use.
 */
export const publishReadinessMetric = async (verdicts: readonly PartReadiness[]): Promise<void> => {
  if (verdicts.length === 0) return;
  const { Metrics, MetricUnit } = await import('@aws-lambda-powertools/metrics');
  const parts = [...new Set(verdicts.map((v) => v.part))];
  for (const part of parts) {
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'understudy' });
    metrics.addDimension('Capability', part);
    const ready = verdicts.filter((v) => v.part === part).every((v) => v.verdict === 'ready');
    metrics.addMetric(READINESS_METRIC, MetricUnit.Count, ready ? 1 : 0);
    metrics.publishStoredMetrics();
  }
  const all = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'understudy' });
  all.addMetric(READINESS_METRIC, MetricUnit.Count, verdicts.every((p) => p.verdict === 'ready') ? 1 : 0);
  all.publishStoredMetrics();
};
