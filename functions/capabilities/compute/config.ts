import * as z from 'zod';

/**
 * The `compute` section of a service: which load balancer target groups carry the tier, which
 * servers normally serve (primaries) and which wait as warm spares (standbys).
 */

/**
 * Built on first use (`z.lazy`): constructing every schema is about a fifth of a Lambda
 * function's module init, and the functions never parse a config (synth validated it; see
 * functions/runtime/bundled-config.ts). Only synth and the CLI pay for it.
 */
export const computeSection = z.lazy(() => {
  const targetGroupArn = z
    .string()
    .regex(
      /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/,
      'must be an ELBv2 target group ARN such as arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef',
    );

  const instanceId = z
    .string()
    .regex(/^i-[0-9a-f]{8,17}$/, 'must be an EC2 instance id such as i-0123456789abcdef0');

  const tagKey = z
    .string()
    .min(1)
    .max(128)
    .refine((key) => !key.startsWith('aws:'), 'tag keys starting with aws: are reserved by AWS');

  /**
   * A set of servers, named once: by instance ids (fixed fleet) or by one tag (e.g.
   * `understudy:role=standby`), resolved on every run so replaced hardware is picked up.
   */
  const instanceSelector = z
    .strictObject({
      instanceIds: z.array(instanceId).min(1).max(100).optional(),
      tag: z.strictObject({ key: tagKey, value: z.string().min(1).max(256) }).optional(),
    })
    .refine((s) => (s.instanceIds === undefined) !== (s.tag === undefined), {
      message: 'give exactly one of instanceIds or tag',
    });

  const autoScalingGroupName = z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^:]+$/, 'must be an Auto Scaling group name (not an ARN)');

  return z
    .strictObject({
      /** ALB/NLB target groups the tier serves behind; every one gets the same membership. */
      targetGroupArns: z.array(targetGroupArn).min(1).max(10),
      /** Port the servers listen on; default: the port each target group was created with. */
      port: z.number().int().min(1).max(65_535).optional(),
      primaries: instanceSelector,
      standbys: instanceSelector,
      /** Never deregister a target if that leaves fewer healthy targets than this in a group. */
      minHealthyTargets: z.number().int().min(1).max(1000).default(1),
      /** Optional: an Auto Scaling group whose InService instances are standbys too, scaled up on failover. */
      standbyAutoScalingGroup: z
        .strictObject({
          name: autoScalingGroupName,
          /** Desired capacity set when the whole tier fails over. */
          failoverCapacity: z.number().int().min(1).max(1000),
          /** Desired capacity set back once a failback has converged. */
          standbyCapacity: z.number().int().min(0).max(1000).default(0),
        })
        .optional(),
      /** After a failback has converged, stop the standbys that no longer serve. */
      stopStandbysOnFailback: z.boolean().default(false),
    })
    .superRefine((compute, ctx) => {
      const seen = new Set<string>();
      compute.targetGroupArns.forEach((arn, i) => {
        if (seen.has(arn)) {
          ctx.addIssue({ code: 'custom', path: ['targetGroupArns', i], message: 'duplicate target group' });
        }
        seen.add(arn);
      });
      const primaries = new Set(compute.primaries.instanceIds ?? []);
      compute.standbys.instanceIds?.forEach((id, i) => {
        if (primaries.has(id)) {
          ctx.addIssue({
            code: 'custom',
            path: ['standbys', 'instanceIds', i],
            message: `${id} is also a primary; a server is either a primary or a standby`,
          });
        }
      });
      const { primaries: p, standbys: s } = compute;
      if (p.tag && s.tag && p.tag.key === s.tag.key && p.tag.value === s.tag.value) {
        ctx.addIssue({
          code: 'custom',
          path: ['standbys', 'tag'],
          message: 'primaries and standbys need different tags',
        });
      }
      const asg = compute.standbyAutoScalingGroup;
      if (asg && asg.standbyCapacity > asg.failoverCapacity) {
        ctx.addIssue({
          code: 'custom',
          path: ['standbyAutoScalingGroup', 'standbyCapacity'],
          message: 'standbyCapacity cannot exceed failoverCapacity',
        });
      }
    });
});

export type ComputeConfig = z.output<typeof computeSection>;
export type InstanceSelector = ComputeConfig['primaries'];

/** The tag that marks a server taken out of service, valued with the epoch that took it out. */
export const QUARANTINE_TAG = 'understudy:quarantined';

/** The intent param listing the servers a per-server alarm asked to replace (see functions/capabilities/compute/planner.ts). */
export const REPLACE_PARAM = 'replace';
