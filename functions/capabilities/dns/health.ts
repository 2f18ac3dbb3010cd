import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { GetHealthCheckStatusCommand, type Route53Client } from '@aws-sdk/client-route-53';
import type { Clock } from '../../core/clock';
import { classifyAwsError } from '../../core/errors';
import { newestDatapoint } from '../../runtime/metric-data';
import type { HealthCheckVerdict } from './planner';

/** Route 53 publishes health check metrics in us-east-1 only (aws partition). */
export const HEALTH_METRIC_REGION = 'us-east-1';
/** GetMetricData takes at most 500 queries per call. */
export const METRIC_QUERIES_PER_CALL = 500;
/** A datapoint older than this says nothing about now: the check is asked directly instead. */
const FRESH_MS = 5 * 60_000;

/**
 * Route 53 reports one observation per health checker; it treats the endpoint as healthy when more
 * than 18% of checkers do. We use the same rule so our gate agrees with Route 53's own failover.
 */
export const healthFromObservations = (statuses: readonly (string | undefined)[]): HealthCheckVerdict => {
  if (statuses.length === 0) return { healthy: false, detail: 'no health checker has reported yet' };
  const ok = statuses.filter((s) => s?.startsWith('Success')).length;
  const healthy = ok / statuses.length > 0.18;
  const sample = statuses.find((s) => (healthy ? s?.startsWith('Success') : !s?.startsWith('Success')));
  return {
    healthy,
    detail: `${ok}/${statuses.length} checkers report success${sample ? `; e.g. "${sample}"` : ''}`,
  };
};

/** The newest datapoint of one query, if it is fresh: Route 53's own verdict (1 healthy, 0 not). */
const verdictOf = (result: MetricDataResult | undefined, now: Date): HealthCheckVerdict | undefined => {
  const newest = newestDatapoint(result);
  if (!newest || now.getTime() - newest.at.getTime() > FRESH_MS) return undefined;
  const healthy = newest.value >= 1;
  return {
    healthy,
    detail: `Route 53 reports it ${healthy ? 'healthy' : 'unhealthy'} (HealthCheckStatus ${newest.value} at ${newest.at.toISOString()})`,
  };
};

export interface HealthReader {
  /** Each check's verdict; checks asked for by several callers of one run are read once. */
  read(ids: readonly string[]): Promise<Record<string, HealthCheckVerdict>>;
}

/**
 * Health checks read in batches: every check asked for in the same turn of the event loop goes into
 * one CloudWatch GetMetricData (the `AWS/Route53 HealthCheckStatus` metric, up to 500 checks per
 * call), and only a check whose metric has no fresh datapoint is asked directly
 * (GetHealthCheckStatus, which Route 53 allows once per second per account). Without CloudWatch, every
 * check is asked directly. One reader per run: a verdict is never carried into the next run.
 */
export const healthReader = (
  route53: Route53Client,
  cloudwatch: CloudWatchClient | undefined,
  clock: Clock,
): HealthReader => {
  const verdicts = new Map<string, Promise<HealthCheckVerdict>>();
  let queue: { id: string; resolve: (v: HealthCheckVerdict) => void; reject: (e: unknown) => void }[] = [];

  const direct = async (id: string): Promise<HealthCheckVerdict> => {
    try {
      const out = await route53.send(new GetHealthCheckStatusCommand({ HealthCheckId: id }));
      return healthFromObservations((out.HealthCheckObservations ?? []).map((o) => o.StatusReport?.Status));
    } catch (error) {
      throw classifyAwsError('Route 53 GetHealthCheckStatus', error);
    }
  };

  const fromMetrics = async (ids: readonly string[]): Promise<Map<string, HealthCheckVerdict>> => {
    const found = new Map<string, HealthCheckVerdict>();
    if (!cloudwatch) return found;
    const now = clock.now();
    for (let i = 0; i < ids.length; i += METRIC_QUERIES_PER_CALL) {
      const batch = ids.slice(i, i + METRIC_QUERIES_PER_CALL);
      const results: MetricDataResult[] = [];
      let nextToken: string | undefined;
      try {
        do {
          const out = await cloudwatch.send(
            new GetMetricDataCommand({
              StartTime: new Date(now.getTime() - FRESH_MS),
              // A little ahead: the newest datapoint is stamped up to "now", and EndTime is exclusive.
              EndTime: new Date(now.getTime() + 60_000),
              ScanBy: 'TimestampDescending',
              NextToken: nextToken,
              MetricDataQueries: batch.map((id, j) => ({
                Id: `h${j}`,
                MetricStat: {
                  Metric: {
                    Namespace: 'AWS/Route53',
                    MetricName: 'HealthCheckStatus',
                    Dimensions: [{ Name: 'HealthCheckId', Value: id }],
                  },
                  Period: 60,
                  // The lowest of the minute: any unhealthy report counts.
                  Stat: 'Minimum',
                },
              })),
            }),
          );
          results.push(...(out.MetricDataResults ?? []));
          nextToken = out.NextToken;
        } while (nextToken);
      } catch {
        // CloudWatch unavailable or not allowed: every check of this batch is asked directly.
        continue;
      }
      batch.forEach((id, j) => {
        const byId = results.filter((r) => r.Id === `h${j}`);
        const merged: MetricDataResult = {
          Timestamps: byId.flatMap((r) => r.Timestamps ?? []),
          Values: byId.flatMap((r) => r.Values ?? []),
        };
        const verdict = verdictOf(merged, now);
        if (verdict) found.set(id, verdict);
      });
    }
    return found;
  };

  const flush = async () => {
    const batch = queue;
    queue = [];
    try {
      const metrics = await fromMetrics(batch.map((q) => q.id));
      for (const { id, resolve, reject } of batch) {
        const verdict = metrics.get(id);
        if (verdict) resolve(verdict);
        else {
          // Sequential on purpose: GetHealthCheckStatus is limited per account.
          await direct(id).then(resolve, reject);
        }
      }
    } catch (error) {
      for (const { reject } of batch) reject(error);
    }
  };

  const one = (id: string): Promise<HealthCheckVerdict> => {
    let verdict = verdicts.get(id);
    if (!verdict) {
      verdict = new Promise<HealthCheckVerdict>((resolve, reject) => {
        if (queue.length === 0) setImmediate(() => void flush());
        queue.push({ id, resolve, reject });
      });
      // A failed read is tried again by the next caller, not remembered.
      verdict.catch(() => {
        if (verdicts.get(id) === verdict) verdicts.delete(id);
      });
      verdicts.set(id, verdict);
    }
    return verdict;
  };

  return {
    async read(ids) {
      const unique = [...new Set(ids)];
      const values = await Promise.all(unique.map(one));
      return Object.fromEntries(unique.map((id, i) => [id, values[i] as HealthCheckVerdict]));
    },
  };
};
