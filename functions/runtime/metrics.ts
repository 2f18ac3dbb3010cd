import { METRICS_NAMESPACE, METRICS_SERVICE, type MetricPoint, type MetricPublisher } from '../core/metrics';

/**
 * The control plane's one way to publish metrics in Lambda: Powertools Metrics (CloudWatch embedded
 * metric format in the function's log: no call, no client, no permission). Loaded with the first
 * points to publish, not at init: most runs (an idle schedule) publish none. Points with the same
 * dimensions go out as one record; Powertools keeps each metric's values as a list, so counts add up.
 */
export const powertoolsMetricPublisher: MetricPublisher = async (points: readonly MetricPoint[]) => {
  if (points.length === 0) return;
  const { Metrics, MetricUnit } = await import('@aws-lambda-powertools/metrics');
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
  const byDimensions = new Map<string, MetricPoint[]>();
  for (const point of points) {
    const key = JSON.stringify(Object.entries(point.dimensions).sort(([a], [b]) => a.localeCompare(b)));
    byDimensions.set(key, [...(byDimensions.get(key) ?? []), point]);
  }
  for (const group of byDimensions.values()) {
    metrics.addDimensions({ ...group[0]?.dimensions });
    for (const point of group) metrics.addMetric(point.name, MetricUnit[point.unit], point.value);
    metrics.publishStoredMetrics();
  }
};
