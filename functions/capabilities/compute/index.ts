import { CLI_NAME } from '../../core/operator-command';
import type { CapabilityModule } from '../../engine/module';
import { computeSection, REPLACE_PARAM } from './config';
import { classifyInstanceEvent, INSTANCE_EVENT_DETAIL_TYPE } from './instance-event';

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/** Compute: warm standby servers swapped into the load balancer's target groups, the sick ones out. */
export const computeModule: CapabilityModule<'compute', typeof computeSection> = {
  name: 'compute',
  summary: "swap warm-standby EC2 instances into the load balancer's target groups",
  section: computeSection,
  alarms: {
    perServer: {
      param: REPLACE_PARAM,
      // Servers chosen by tag are resolved at run time: any instance may be one of them.
      isServer: ({ compute }, instanceId) =>
        compute?.primaries.instanceIds === undefined || compute.standbys.instanceIds === undefined
          ? undefined
          : [...compute.primaries.instanceIds, ...compute.standbys.instanceIds].includes(instanceId),
    },
  },
  commands: [
    {
      name: 'replace',
      args: '<instance-id>...',
      help:
        'Replaces these failed servers with spares, 1:1, as a per-server alarm does in auto mode (in ' +
        'approve mode this is the approval). The failed servers leave only once their spares are ' +
        'healthy, and are quarantined by tag, never terminated. Undone by failback.',
      parseArgs: (args) => {
        if (args.length === 0) {
          return {
            ok: false,
            message: `replace: which servers? usage: ${CLI_NAME} replace <service> <instance-id>...`,
          };
        }
        const bad = args.find((id) => !INSTANCE_ID.test(id));
        if (bad !== undefined) {
          return {
            ok: false,
            message: `replace: "${bad}" is not an EC2 instance id such as i-0123456789abcdef0`,
          };
        }
        return { ok: true, values: [...new Set(args)] };
      },
      refuse: (service) =>
        service.compute === undefined
          ? `service "${service.name}" has no compute section: there are no spares to swap in`
          : undefined,
      request: (service, instanceIds, operator) => ({
        service: service.name,
        capabilities: ['compute'],
        target: 'primary',
        requestedBy: `operator:${operator}`,
        reason: `operator ${operator} asked to replace ${instanceIds.join(', ')} with spares`,
        ignoreCooldown: true,
        amend: true,
        params: { [REPLACE_PARAM]: instanceIds },
      }),
    },
  ],
  events: {
    pattern: { source: ['aws.ec2'], detailType: [INSTANCE_EVENT_DETAIL_TYPE] },
    classify: (raw, config, now) => {
      const verdict = classifyInstanceEvent(raw, config, now);
      return verdict.kind === 'ignore'
        ? verdict
        : {
            kind: 'reconcile',
            services: verdict.services,
            reason: `instance ${verdict.instanceId} is ${verdict.state}`,
          };
    },
  },
  create: async (context) => (await import('./ec2')).createComputeCapability(context),
  readiness: async (context, service, input) =>
    (await import('./ec2')).computeReadiness(context, service, input),
};
