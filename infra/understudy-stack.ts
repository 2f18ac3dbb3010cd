import { CfnOutput, CfnResource, Stack, type StackProps } from 'aws-cdk-lib';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { CAPABILITY_MODULES } from '../functions/capabilities/registry';
import {
  type CapabilityName,
  type Config,
  ConfigError,
  type ServiceConfig,
} from '../functions/config/schema';
import type { CapabilityModule } from '../functions/engine/module';
import { eventFunctionShare, ROUTE53_SHARES } from '../functions/runtime/route53-shares';
import { AlarmTrigger, alarmNamesOf } from './alarm-trigger';
import { CAPABILITY_INFRA } from './capabilities';
import type { CapabilityInfra, CapabilityResources } from './capability-infra';
import type { ControlFunction } from './control-function';
import { ControlPlaneDashboard } from './control-plane-dashboard';
import { RESOURCES_PER_STACK } from './limits';
import { Notifications } from './notifications';
import { OperatorAlarms, pathName } from './operator-alarms';
import { ACTING_ROLES_ENV, Readiness } from './readiness';
import { Reconciler } from './reconciler';
import { ExecutionReports } from './report-bucket';
import { StateStore } from './state-store';

export interface UnderstudyStackProps extends StackProps {
  /** The validated config (functions/config/load.ts); the stack's env comes from its controlPlane. */
  readonly config: Config;
  /**
   * The capability modules and their infrastructure.
   * @default the registries (functions/capabilities/registry.ts, infra/capabilities.ts)
   */
  readonly modules?: readonly CapabilityModule[];
  readonly infra?: Readonly<Record<string, CapabilityInfra>>;
}

/** The capabilities a service configures, among these modules, in registry order. */
const sectionsOf = (service: ServiceConfig, modules: readonly CapabilityModule[]): CapabilityName[] =>
  modules
    .map((m) => m.name as CapabilityName)
    .filter((name) => (service as Record<string, unknown>)[name] !== undefined);

/**
 * The control plane: one state table, an alarm trigger, a reconcile schedule fanned out to parallel
 * workers, and each configured
 * capability's own resources. Every function is granted only what it runs: the schedule reconciles
 * every capability, the alarm function those some alarm moves, a capability's event function only
 * that capability, and the mail recorder only its bucket prefix and table writes.
 *
 * Safety property: this stack creates no Route 53 record sets (or anything else the control plane
 * flips). The reconciler UPSERTs the configured records itself, so CloudFormation never owns them
 * and a later `cdk deploy` (or a rollback) can never put traffic back on a failed primary.
 */
export class UnderstudyStack extends Stack {
  readonly stateStore: StateStore;
  readonly notifications: Notifications;
  readonly reconciler: Reconciler;
  /** The bucket of every transition's execution report. */
  readonly reports: ExecutionReports;
  /** Absent when no service configures an alarm: failovers are then started by an operator only. */
  readonly alarmTrigger: AlarmTrigger | undefined;
  /** What each configured capability deployed, by capability name. */
  readonly capabilities: ReadonlyMap<string, CapabilityResources>;
  /**
   * The control plane's own alarms and the SNS topic they reach people by. Another construct adds
   * its alarm with `operatorAlarms.watch(alarm)`.
   */
  readonly operatorAlarms: OperatorAlarms;
  readonly dashboard: ControlPlaneDashboard;
  /** The queues whose URLs are outputs already (each function's failure queue, by function name). */
  private readonly queuesWithOutputs = new Set<Queue>();
  /** The scheduled readiness check and its `ReadinessFailing` alarm (infra/readiness.ts). */
  readonly readiness: Readiness;

  constructor(scope: Construct, id: string, props: UnderstudyStackProps) {
    const { config } = props;
    super(scope, id, {
      description: 'understudy: serverless failover control plane',
      ...props,
      env: props.env ?? { account: config.controlPlane.account, region: config.controlPlane.region },
    });
    const modules = props.modules ?? CAPABILITY_MODULES;
    const infra: Readonly<Record<string, CapabilityInfra>> = props.infra ?? CAPABILITY_INFRA;

    this.stateStore = new StateStore(this, 'State', { config });
    this.notifications = new Notifications(this, 'Notifications', { config });
    this.reports = new ExecutionReports(this, 'Reports', { config });

    const configured = new Set(config.services.flatMap((svc) => sectionsOf(svc, modules)));
    const capabilities = new Map<string, CapabilityResources>();
    for (const module of modules) {
      if (!configured.has(module.name as CapabilityName)) continue;
      const deploy = infra[module.name];
      if (!deploy) throw new Error(`capability "${module.name}" has no entry in infra/capabilities.ts`);
      capabilities.set(module.name, deploy.deploy(this, { config, table: this.stateStore.table }));
    }
    this.capabilities = capabilities;

    this.reconciler = new Reconciler(this, 'Reconciler', { config });
    this.alarmTrigger =
      alarmNamesOf(config).length > 0 ? new AlarmTrigger(this, 'AlarmTrigger', { config }) : undefined;

    // Which capabilities each engine function runs.
    const alarmMoves = new Set(
      config.services.flatMap((svc) =>
        svc.alarms.length === 0
          ? []
          : svc.alarms.flatMap((alarm) => alarm.capabilities ?? sectionsOf(svc, modules)),
      ),
    );
    const engineFunctions: [string, ControlFunction, readonly string[]][] = [
      ['Reconcile', this.reconciler.handler, [...capabilities.keys()]],
    ];
    if (this.alarmTrigger) {
      engineFunctions.push([
        'Alarm',
        this.alarmTrigger.handler,
        [...capabilities.keys()].filter((c) => alarmMoves.has(c as CapabilityName)),
      ]);
    }
    for (const [name, resources] of capabilities) {
      resources.engineFunctions.forEach((fn, i) => {
        engineFunctions.push([`${pascal(name)}Event${i > 0 ? i + 1 : ''}`, fn, [name]]);
      });
    }
    // Every function that may call Route 53 runs within its share of the account's rate.
    const eventFunctions = engineFunctions.filter(([name]) => name !== 'Reconcile' && name !== 'Alarm');
    this.alarmTrigger?.handler.shareRoute53(ROUTE53_SHARES.alarm);
    for (const [, fn] of eventFunctions) fn.shareRoute53(eventFunctionShare(eventFunctions.length));
    // The dispatcher reads every service's state and queues it; it touches nothing else.
    this.stateStore.table.grantReadData(this.reconciler.dispatcher);
    this.outputs('Dispatch', this.reconciler.dispatcher);
    for (const [name, fn, runs] of engineFunctions) {
      this.stateStore.table.grantReadWriteData(fn);
      this.notifications.notifyFrom(fn);
      this.reports.writeFrom(fn);
      for (const capability of runs) capabilities.get(capability)?.grantReconcile(fn);
      this.outputs(name, fn);
    }
    this.readiness = new Readiness(this, 'Readiness', {
      config,
      table: this.stateStore.table,
      notifications: this.notifications,
      capabilities,
      actingFunctions: engineFunctions.map(([, fn]) => fn),
    });
    this.outputs('Readiness', this.readiness.handler);
    new CfnOutput(this, 'ActingRoleArns', {
      value: this.readiness.actingRoleArns.join(','),
      description: `The acting functions' roles: set ${ACTING_ROLES_ENV} to this for \`understudy check\` to simulate them`,
    });
    for (const [name, resources] of capabilities) {
      resources.otherFunctions.forEach((fn, i) => {
        this.outputs(`${pascal(name)}${pascal(fn.node.id)}${i > 0 ? i + 1 : ''}`, fn);
      });
    }
    new CfnOutput(this, 'StateTableName', { value: this.stateStore.table.tableName });
    new CfnOutput(this, 'ReportBucketName', {
      value: this.reports.bucket.bucketName,
      description: 'Execution reports: reports/<service>/epoch-<n>.html and .json',
    });
    new CfnOutput(this, 'SlackWebhookSecretArn', {
      value: this.notifications.webhookSecret.secretArn,
      description: 'The secret whose value is the Slack incoming-webhook URL',
    });

    // Watching the watcher: every function and dead-letter queue above, found by walking the tree
    // (a new capability's are watched without being named), and the schedule's heartbeat.
    this.operatorAlarms = new OperatorAlarms(this, 'OperatorAlarms', { config });
    this.operatorAlarms.watchScope(this);
    // Readiness failing reaches people by the same path: a failover that would not work is news.
    this.operatorAlarms.watch(this.readiness.alarm, 'other', this.readiness.handler);
    this.operatorAlarms.heartbeat(this.reconciler.dispatcher, this.reconciler.interval);
    this.operatorAlarms.heartbeat(
      this.readiness.handler,
      this.readiness.interval,
      'readiness is not checked, and a standby that broke goes unnoticed until the incident',
    );
    const queues = this.node.findAll().filter((c): c is Queue => c instanceof Queue);
    for (const queue of queues.filter((q) => !this.queuesWithOutputs.has(q))) {
      new CfnOutput(this, `${pathName(queue).replace(/-/g, '')}Url`, { value: queue.queueUrl });
    }
    this.dashboard = new ControlPlaneDashboard(this, 'Dashboard', {
      capabilities: [...capabilities.keys()],
      functions: this.node
        .findAll()
        .filter((c): c is LambdaFunction => c instanceof LambdaFunction)
        .map((fn) => ({ name: pathName(fn), fn })),
      queues: queues.map((queue) => ({ name: pathName(queue), queue })),
      alarms: this.operatorAlarms,
    });
    new CfnOutput(this, 'OperatorAlarmTopicArn', {
      value: this.operatorAlarms.topic.topicArn,
      description: "The control plane's own alarms: subscribe people or a chat integration here",
    });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboard.dashboardName });
    checkResourceBudget(this, config, modules, capabilities);
  }

  private outputs(name: string, fn: ControlFunction): void {
    this.queuesWithOutputs.add(fn.failureQueue);
    new CfnOutput(this, `${name}FunctionName`, { value: fn.functionName });
    new CfnOutput(this, `${name}DeadLetterQueueUrl`, {
      value: fn.failureQueue.queueUrl,
      description: `Failed ${name} invocations and undeliverable events`,
    });
  }
}

/** Resources CDK adds at synth, after the stack's constructor (its metadata), with room to spare. */
const SYNTH_ADDED_RESOURCES = 5;

const pascal = (name: string): string =>
  name.replace(/(^|[-_ ])([a-z])/g, (_m, _s, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, '');

/**
 * CloudFormation takes at most 500 resources per stack, and CDK stops `cdk synth` with a stack trace
 * past that. Most resources are shared, but some capabilities add a few per configured section (a
 * receipt rule, an identity, an alarm): a runbook with many of those is refused here with a message
 * that says which sections fill the stack, before CDK's own check.
 */
const checkResourceBudget = (
  stack: Stack,
  config: Config,
  modules: readonly CapabilityModule[],
  capabilities: ReadonlyMap<string, CapabilityResources>,
): void => {
  const resourcesUnder = (scope: IConstruct) => scope.node.findAll().filter(CfnResource.isCfnResource).length;
  const total = resourcesUnder(stack) + SYNTH_ADDED_RESOURCES;
  if (total <= RESOURCES_PER_STACK) return;
  const byCapability = [...capabilities.entries()]
    .filter((entry): entry is [string, CapabilityResources & IConstruct] => Construct.isConstruct(entry[1]))
    .map(([name, resources]) => ({
      name,
      resources: resourcesUnder(resources),
      sections: config.services.filter((svc) => sectionsOf(svc, modules).includes(name as CapabilityName))
        .length,
    }))
    .filter((c) => c.resources > 0)
    .sort((a, b) => b.resources - a.resources);
  const most = byCapability
    .map((c) => `services[].${c.name} (${c.sections} configured, ${c.resources} resources)`)
    .join(', ');
  const issue =
    `services: the control plane stack would hold about ${total} CloudFormation resources, over CloudFormation's ${RESOURCES_PER_STACK} per stack` +
    `${most === '' ? '' : `; the most come from ${most}`}. Configure fewer of those sections in one control plane, or split the runbook across two (each with its own stackName and stateTableName)`;
  throw new ConfigError(`Config too large for one stack:\n  - ${issue}`, [issue]);
};
