import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { Config } from '../functions/config/schema';
import { AlarmForwarderStack, alarmForwarderStackName, remoteAlarmNamesByRegion } from './alarm-forwarder';
import { UnderstudyStack, type UnderstudyStackProps } from './understudy-stack';

export interface BuildAppOptions {
  /**
   * The app to add the stacks to.
   * @default - a new App with `outdir` and `context`
   */
  readonly app?: App;
  /**
   * Cloud assembly directory for a new App.
   * @default - the CDK default (cdk.out, or the CLI's choice)
   */
  readonly outdir?: string;
  /**
   * Extra context for a new App.
   * @default - none
   */
  readonly context?: Record<string, unknown>;
  /**
   * Bundle the function code (new App only). Template-only tests turn it off: it is the slow part
   * of a synth.
   * @default true
   */
  readonly bundle?: boolean;
  /**
   * Run the cdk-nag AwsSolutions checks, whose findings fail `cdk synth`.
   * @default true
   */
  readonly nag?: boolean;
  /**
   * The capability modules and their infrastructure (a test adds a scratch capability here).
   * @default the registries
   */
  readonly modules?: UnderstudyStackProps['modules'];
  readonly infra?: UnderstudyStackProps['infra'];
}

export interface UnderstudyApp {
  readonly app: App;
  readonly stack: UnderstudyStack;
  /** One per other Region that holds configured alarms (same account), sorted by Region. */
  readonly alarmForwarders: AlarmForwarderStack[];
}

/**
 * The whole CDK app for one validated config: the control plane stack, plus a small alarm-forwarding
 * stack in each other Region with configured alarms. bin/app.ts and the infra tests both use it.
 */
export const buildApp = (config: Config, options: BuildAppOptions = {}): UnderstudyApp => {
  const app =
    options.app ??
    new App({
      ...(options.outdir !== undefined && { outdir: options.outdir }),
      context: {
        ...options.context,
        ...(options.bundle === false && { 'aws:cdk:bundling-stacks': [] }),
      },
    });
  const stack = new UnderstudyStack(app, config.controlPlane.stackName, {
    config,
    ...(options.modules && { modules: options.modules }),
    ...(options.infra && { infra: options.infra }),
  });
  // Alarms in other Regions (a Route 53 health-check alarm lives in us-east-1) reach the control
  // plane's bus through a forwarding rule deployed in their Region.
  const alarmForwarders = [...remoteAlarmNamesByRegion(config)].map(([region, alarmNames]) => {
    const name = alarmForwarderStackName(config, region);
    return new AlarmForwarderStack(app, name, { config, region, alarmNames });
  });
  if (options.nag ?? true) {
    // cdk-nag 3 runs as a CDK validation plugin: an unacknowledged finding fails the synth.
    // Acknowledgements are also written to the template metadata (`cdk_nag`) as an audit trail.
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
      new ServerlessChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
    );
  }
  return { app, stack, alarmForwarders };
};
