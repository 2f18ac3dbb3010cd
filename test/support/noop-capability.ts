import { Grant } from 'aws-cdk-lib/aws-iam';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import * as z from 'zod';
import type { Site } from '../../functions/core/types';
import type { Capability, PlannedAction } from '../../functions/engine/capability';
import type { CapabilityModule } from '../../functions/engine/module';
import type { CapabilityInfra } from '../../infra/capability-infra';

/**
 * A scratch capability, as a contributor would add one: a config section, a pure planner, an
 * executor and its infrastructure, handed to the shared code as data. Its "AWS" is one variable per
 * service: the site that serves. Nothing in functions/ or infra/ knows it.
 */
export const noopSection = z.strictObject({
  /** What the scratch resource is called, to show the section is validated. */
  label: z.string().min(1).max(20),
});

export interface NoopAction extends PlannedAction {
  readonly api: 'noop:Switch';
  readonly params: { readonly service: string; readonly to: Site };
}

/** The scratch capability's world: which site serves each service, and every switch made. */
export class NoopWorld {
  readonly serving = new Map<string, Site>();
  readonly switches: { service: string; to: Site; epoch: number }[] = [];
}

export const noopCapability = (world: NoopWorld): Capability<Site, NoopAction> => ({
  name: 'noop' as never,
  observe: async (service) => world.serving.get(service.name) ?? 'primary',
  // Pure: observed + desired -> actions with reasons.
  plan: ({ service, target, observed }) =>
    observed === target
      ? { kind: 'converged', detail: `the ${target} serves the scratch resource` }
      : {
          kind: 'act',
          detail: `switch the scratch resource to the ${target}`,
          actions: [
            {
              capability: 'noop' as never,
              api: 'noop:Switch',
              reason: `the ${target} should serve ${service.name}'s scratch resource`,
              params: { service: service.name, to: target },
            },
          ],
        },
  execute: async (action, { epoch }) => {
    world.serving.set(action.params.service, action.params.to);
    world.switches.push({ service: action.params.service, to: action.params.to, epoch });
    return { verified: true, detail: `switched to the ${action.params.to}` };
  },
});

export const noopModule = (world: NoopWorld): CapabilityModule<'noop', typeof noopSection> => ({
  name: 'noop',
  summary: 'switch a scratch resource to the standby',
  section: noopSection,
  create: async () => noopCapability(world) as unknown as Capability,
});

/** Its infrastructure: one parameter, and the right to read it for the functions that reconcile it. */
export const noopInfra: CapabilityInfra = {
  name: 'noop' as never,
  deploy: (scope) => {
    const parameter = new StringParameter(scope, 'NoopScratch', { stringValue: 'scratch' });
    return {
      grantReconcile: (fn) => {
        Grant.addToPrincipal({
          grantee: fn,
          actions: ['ssm:GetParameter'],
          resourceArns: [parameter.parameterArn],
        });
      },
      engineFunctions: [],
      otherFunctions: [],
    };
  },
};
