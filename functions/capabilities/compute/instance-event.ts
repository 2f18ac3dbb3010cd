import * as z from 'zod';
import type { Config, ServiceConfig } from '../../config/schema';
import { eventTimeProblem } from '../../core/event-time';

export const INSTANCE_EVENT_DETAIL_TYPE = 'EC2 Instance State-change Notification';

/** EventBridge "EC2 Instance State-change Notification", as AWS emits it (only the fields we rely on). */
export const instanceStateChangeSchema = z.object({
  source: z.literal('aws.ec2'),
  'detail-type': z.literal(INSTANCE_EVENT_DETAIL_TYPE),
  account: z.string(),
  region: z.string(),
  time: z.iso.datetime(),
  detail: z.object({
    'instance-id': z.string().regex(/^i-[0-9a-f]{8,17}$/),
    state: z.string().min(1).max(64),
  }),
});

export type InstanceEventVerdict =
  | { readonly kind: 'ignore'; readonly reason: string }
  | {
      readonly kind: 'reconcile';
      readonly instanceId: string;
      readonly state: string;
      readonly services: readonly ServiceConfig[];
    };

/**
 * Which services' compute an instance's state change concerns: those that name the instance as a
 * standby or primary, and those that select servers by tag (the event carries no tags; reconciling
 * reads them, and a reconcile that finds nothing to do writes nothing). Pure.
 */
export const classifyInstanceEvent = (raw: unknown, config: Config, now: Date): InstanceEventVerdict => {
  const parsed = instanceStateChangeSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
      .join('; ');
    return { kind: 'ignore', reason: `not an EC2 instance state-change event: ${issues}` };
  }
  const event = parsed.data;
  const { account, region, maxEventAgeSeconds } = config.controlPlane;
  if (event.account !== account || event.region !== region) {
    return {
      kind: 'ignore',
      reason: `event from ${event.account}/${event.region}, but this control plane watches ${account}/${region}`,
    };
  }
  const untimely = eventTimeProblem(event.time, now, maxEventAgeSeconds);
  if (untimely) return { kind: 'ignore', reason: `${untimely}; the schedule covers it` };
  const instanceId = event.detail['instance-id'];
  const services = config.services.filter((svc) => {
    const compute = svc.compute;
    if (!compute) return false;
    const ids = [...(compute.primaries.instanceIds ?? []), ...(compute.standbys.instanceIds ?? [])];
    return (
      ids.includes(instanceId) || compute.primaries.tag !== undefined || compute.standbys.tag !== undefined
    );
  });
  if (services.length === 0) {
    return { kind: 'ignore', reason: `instance ${instanceId} is no server of any protected service` };
  }
  return { kind: 'reconcile', instanceId, state: event.detail.state, services };
};
