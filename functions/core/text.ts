/**
 * Bounds for free text that comes from outside (an event, an AWS error, a primary's reply) and is
 * stored or posted: a DynamoDB item holds at most 400 KB, a Slack section 3,000 characters, and a
 * forged event may carry megabytes. Pure.
 */

/** CloudWatch's own limit on an alarm's state reason; a longer one did not come from CloudWatch. */
export const MAX_ALARM_REASON = 1_023;
/** The desired state's `reason` (alarm name, the alarm's reason and what the trigger makes of it). */
export const MAX_INTENT_REASON = 4_096;
/** Who or what asked for a transition (`alarm:<name>`, `operator:<who>`). */
export const MAX_REQUESTED_BY = 512;
/** One audit line's message, and one capability status's detail. */
export const MAX_AUDIT_MESSAGE = 8_192;
/** An audit line's details, as JSON. */
export const MAX_AUDIT_DETAILS = 16_384;

/**
 * `text` if it has at most `max` characters; otherwise its start and a marker giving the original
 * length, `max` characters in all. Never splits a surrogate pair.
 */
export const clip = (text: string, max: number): string => {
  if (text.length <= max) return text;
  const marker = ` …[truncated from ${text.length} characters]`;
  let keep = Math.max(0, max - marker.length);
  // A high surrogate at the cut would leave half a character.
  const last = text.charCodeAt(keep - 1);
  if (keep > 0 && last >= 0xd800 && last <= 0xdbff) keep--;
  return `${text.slice(0, keep)}${marker}`.slice(0, max);
};

/**
 * Structured details kept if their JSON is at most `max` characters; otherwise replaced by a
 * clipped JSON preview, so an audit item can never outgrow DynamoDB's item limit.
 */
export const clipDetails = (
  details: Record<string, unknown> | undefined,
  max: number,
): Record<string, unknown> | undefined => {
  if (details === undefined) return undefined;
  let json: string;
  try {
    json = JSON.stringify(details) ?? '';
  } catch (error) {
    return { unserializable: clip(String(error), 300) };
  }
  return json.length <= max ? details : { clipped: clip(json, max) };
};
