/**
 * Events carry their own time, and one rule for every event source says whether that time is
 * believable: not older than the configured `maxEventAgeSeconds` (EventBridge retries for up to
 * 24 hours; the scheduled run has long covered an old event), and not further in the future than
 * clocks plausibly disagree (a future-dated event is forged or replayed: it would also outlive
 * every staleness check). Pure.
 */

/** How far an event's time may be ahead of ours: AWS's clocks and the Lambda's agree far better. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/** Why the event's time disqualifies it, or undefined when the event is fresh enough to act on. */
export const eventTimeProblem = (
  time: string,
  now: Date,
  maxAgeSeconds: number,
  maxSkewSeconds: number = MAX_CLOCK_SKEW_SECONDS,
): string | undefined => {
  const at = Date.parse(time);
  if (!Number.isFinite(at)) return `unreadable event time "${time.slice(0, 64)}"`;
  const ageSeconds = (now.getTime() - at) / 1000;
  if (ageSeconds > maxAgeSeconds) {
    return `stale event from ${time}, ${Math.round(ageSeconds)} s ago (max ${maxAgeSeconds} s)`;
  }
  if (-ageSeconds > maxSkewSeconds) {
    return `event dated ${time}, ${Math.round(-ageSeconds)} s in the future (max clock skew ${maxSkewSeconds} s)`;
  }
  return undefined;
};
