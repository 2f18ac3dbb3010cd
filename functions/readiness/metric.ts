import {
  CAPABILITY_DIMENSION,
  ENGINE_METRICS,
  type MetricPoint,
  type MetricPublisher,
} from '../core/metrics';
import { powertoolsMetricPublisher } from '../runtime/metrics';
import type { PartReadiness } from './engine';

/** The metric readiness is published as: 1 ready, 0 not ready (reserved in functions/core/metrics.ts). */
export const READINESS_METRIC = ENGINE_METRICS.readiness;

/**
 * The readiness datapoints of one evaluation: per part (dimension `Capability`: a capability, or
 * `shared`), 0 if that part of any service is not ready, and one for the whole control plane (no
 * dimension but Powertools' `service`), which the `ReadinessFailing` alarm watches
 * (infra/readiness.ts). No per-service dimension: 1,000 services would be thousands of custom
 * metrics; which service is not ready is in `understudy check`, `status` and Slack.
 */
export const readinessPoints = (verdicts: readonly PartReadiness[]): MetricPoint[] => {
  if (verdicts.length === 0) return [];
  const parts = [...new Set(verdicts.map((v) => v.part))];
  const point = (ready: boolean, dimensions: Record<string, string>): MetricPoint => ({
    name: READINESS_METRIC,
    unit: 'Count',
    value: ready ? 1 : 0,
    dimensions,
  });
  return [
    ...parts.map((part) =>
      point(
        verdicts.filter((v) => v.part === part).every((v) => v.verdict === 'ready'),
        { [CAPABILITY_DIMENSION]: part },
      ),
    ),
    point(
      verdicts.every((v) => v.verdict === 'ready'),
      {},
    ),
  ];
};

/** Publishes readiness through the control plane's one metric path (Powertools Metrics, functions/runtime/metrics.ts). */
export const publishReadinessMetric = (
  verdicts: readonly PartReadiness[],
  publish: MetricPublisher = powertoolsMetricPublisher,
): Promise<void> => publish(readinessPoints(verdicts));
