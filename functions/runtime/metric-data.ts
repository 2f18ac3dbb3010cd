import type { MetricDataResult } from '@aws-sdk/client-cloudwatch';

/** One reading of a CloudWatch metric. */
export interface Datapoint {
  readonly at: Date;
  readonly value: number;
}

/**
 * The newest datapoint of one GetMetricData result, or undefined when it has none. Picked by
 * timestamp rather than position: ScanBy orders a page, but a result merged from several pages or
 * queries is in no order at all.
 */
export const newestDatapoint = (result: MetricDataResult | undefined): Datapoint | undefined => {
  let newest: Datapoint | undefined;
  (result?.Timestamps ?? []).forEach((t, i) => {
    const value = result?.Values?.[i];
    const at = new Date(t);
    if (typeof value === 'number' && (newest === undefined || at.getTime() > newest.at.getTime())) {
      newest = { at, value };
    }
  });
  return newest;
};
