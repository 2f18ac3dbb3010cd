import { METRICS_NAMESPACE } from '../report/aws';
import type { PartReadiness } from './engine';

/** The metric readiness is published as: 1 ready, 0 not ready. */
export const READINESS_METRIC = 'Readiness';

/**
 * Publishes readiness through Powertools Metrics (CloudWatch embedded metric format in the function's
 * log: no call, no client): one datapoint per service and part (dimensions Service, Capability), and
 * one for the whole control plane (no such dimensions: 0 if any part of any service is not ready),
 * which the `ReadinessFailing` alarm watches (infra/readiness.ts). Loaded on first use.
 */
export const publishReadinessMetric = async (verdicts: readonly PartReadiness[]): Promise<void> => {
  if (verdicts.length === 0) return;
  const { Metrics, MetricUnit } = await import('@aws-lambda-powertools/metrics');
  for (const part of verdicts) {
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'understudy' });
    metrics.addDimensions({ Service: part.service, Capability: part.part });
    metrics.addMetric(READINESS_METRIC, MetricUnit.Count, part.verdict === 'ready' ? 1 : 0);
    metrics.publishStoredMetrics();
  }
  const all = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'understudy' });
  all.addMetric(READINESS_METRIC, MetricUnit.Count, verdicts.every((p) => p.verdict === 'ready') ? 1 : 0);
  all.publishStoredMetrics();
};
