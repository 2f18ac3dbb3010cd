import type { Log } from './log';

/**
 * The control plane's own metrics: names, dimensions and a per-run buffer. Pure (no AWS SDK, no
 * Powertools): a run records into the buffer, and the handler flushes it once, at its end, through
 * whatever publisher it was given (functions/runtime/metrics.ts: Powertools Metrics, loaded only
 * when a run has something to publish). infra/control-plane-dashboard.ts and
 * infra/operator-alarms.ts read the same names.
 */

/** The CloudWatch namespace of every metric the control plane publishes. */
export const METRICS_NAMESPACE = 'Understudy';

/** Powertools' `service` dimension on every metric (the functions' POWERTOOLS_SERVICE_NAME). */
export const METRICS_SERVICE = 'understudy';

/**
 * The engine's metrics, each dimensioned by `Capability` (a handful of values, whatever the number
 * of services: a per-service dimension would make 1,000 services 5,000 custom metrics).
 */
export const ENGINE_METRICS = {
  /** A capability's desired state moved (one per capability a transition moves). */
  transitions: 'Transitions',
  /** A capability refused to act (readiness, never-all-off) or a move was refused (cooldown). */
  refusals: 'Refusals',
  /** A capability's step failed (retryable or needing a person). */
  failures: 'Failures',
  /** From the decision that moved a capability to the run that saw it converged. */
  secondsToConverge: 'SecondsToConverge',
  /**
   * Readiness: 1 when a capability would fail over right now, 0 when not. Reserved for the readiness
   * checks, which publish it through `EngineMetrics.readiness`.
   */
  readiness: 'Readiness',
} as const;

export type EngineMetricName = (typeof ENGINE_METRICS)[keyof typeof ENGINE_METRICS];

/** The dimension every engine metric carries besides `service`. */
export const CAPABILITY_DIMENSION = 'Capability';

export type MetricUnitName = 'Count' | 'Seconds';

/** One datapoint, with its own dimensions (besides `service`). */
export interface MetricPoint {
  readonly name: string;
  readonly unit: MetricUnitName;
  readonly value: number;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** Publishes datapoints (CloudWatch embedded metric format in Lambda); may throw. */
export type MetricPublisher = (points: readonly MetricPoint[]) => Promise<void>;

/**
 * One run's engine metrics: recorded as the engine decides (synchronous, free), published once by
 * `flush()` at the end of the invocation (functions/handlers/wiring.ts). A run that recorded nothing
 * publishes nothing and loads nothing. Never throws.
 */
export class EngineMetrics {
  private buffer: MetricPoint[] = [];

  constructor(
    private readonly publish: MetricPublisher,
    private readonly log: Pick<Log, 'warn'>,
  ) {}

  /** What is recorded and not yet published (the tests read it). */
  get pending(): readonly MetricPoint[] {
    return this.buffer;
  }

  count(name: EngineMetricName, capability: string, value = 1): void {
    this.buffer.push({ name, unit: 'Count', value, dimensions: { [CAPABILITY_DIMENSION]: capability } });
  }

  seconds(name: EngineMetricName, capability: string, value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    this.buffer.push({ name, unit: 'Seconds', value, dimensions: { [CAPABILITY_DIMENSION]: capability } });
  }

  /** A readiness verdict of one capability (1 ready, 0 not): the readiness checks call this. */
  readiness(capability: string, ready: boolean): void {
    this.count(ENGINE_METRICS.readiness, capability, ready ? 1 : 0);
  }

  async flush(): Promise<void> {
    const points = this.buffer.splice(0);
    if (points.length === 0) return;
    try {
      await this.publish(points);
    } catch (error) {
      this.log.warn('metrics not published', { error: String(error), points: points.length });
    }
  }
}
