import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CAPABILITY_MODULES } from '../capabilities/registry';
import type { CapabilityName, Config } from '../config/schema';
import { type Clock, systemClock } from '../core/clock';
import type { Log } from '../core/log';
import { EngineMetrics, type MetricPublisher } from '../core/metrics';
import type { AlarmStateReader, ObservedAlarm } from '../engine/auto-failback';
import type { Capability, CapabilitySource } from '../engine/capability';
import type { ControlPlane } from '../engine/engine';
import type { CapabilityContext, CapabilityModule } from '../engine/module';
import { Reporter } from '../engine/reporter';
import { type Notifier, slackWebhookNotifier } from '../notify/slack';
import type { RecoveryRecorder } from '../report/recovery';
import { DynamoStateStore } from '../state/store';
import type { ClientKit } from './client-kit';
import type { RunScope } from './run-scope';
import { newRunScope } from './zone-records';

/**
 * The Slack webhook URL from Secrets Manager, cached for five minutes by whoever holds the returned
 * function: a Lambda container holds one for its life, so a storm of events reads the secret once
 * per container per five minutes, not once per invocation. The Secrets Manager client and the secret
 * cache are loaded on the first message, not at init: most invocations post nothing.
 */
export const webhookFromSecret = (clients: ClientKit, secretId: string | undefined) => {
  if (!secretId) return async () => undefined;
  let provider: Promise<{ get(id: string, options: { maxAge: number }): Promise<unknown> }> | undefined;
  let reading: Promise<unknown> | undefined;
  const load = async () => {
    const [{ SecretsProvider }, { SecretsManagerClient }] = await Promise.all([
      import('@aws-lambda-powertools/parameters/secrets'),
      import('@aws-sdk/client-secrets-manager'),
    ]);
    return new SecretsProvider({ awsSdkV3Client: clients.client(SecretsManagerClient) });
  };
  return async () => {
    if (!provider) {
      provider = load();
      // A failed load is retried on the next message, not cached.
      provider.catch(() => {
        provider = undefined;
      });
    }
    // Messages posted side by side wait for one read: the cache only knows a value once it arrived.
    const loaded = provider;
    reading ??= loaded
      .then((p) => p.get(secretId, { maxAge: 300 }))
      .finally(() => {
        reading = undefined;
      });
    const value = await reading;
    return typeof value === 'string' && /^https?:\/\//.test(value) ? value : undefined;
  };
};

/** The Slack notifier of a control plane: built once per container (it holds the secret cache). */
export const slackNotifier = (
  config: Config,
  clients: ClientKit,
  log: Log,
  secretId: string | undefined = config.controlPlane.slackWebhookSecretName,
): Notifier =>
  slackWebhookNotifier({
    webhookUrl: webhookFromSecret(clients, secretId),
    controlPlane: `understudy ${config.controlPlane.stackName} (${config.controlPlane.account}/${config.controlPlane.region})`,
    log,
  });

export interface ControlPlaneOptions {
  readonly config: Config;
  readonly clients: ClientKit;
  readonly log: Log;
  readonly clock?: Clock;
  readonly newId?: () => string;
  /** Default: a Slack notifier built here (pass the container's own to keep its secret cache). */
  readonly notifier?: Notifier;
  /** Secret (name or ARN) holding the Slack webhook URL; defaults to the config's. */
  readonly slackWebhookSecret?: string | undefined;
  /** How long one run waits for a Route 53 change to be INSYNC; default 10 x 3 s. */
  readonly changeVerify?: CapabilityContext['changeVerify'];
  /** Per-capability tuning (tests script the mail primary through `tuning.mail.smtp`). */
  readonly tuning?: CapabilityContext['tuning'];
  /** The capability modules; default: the registry. */
  readonly modules?: readonly CapabilityModule[];
  /** Capabilities already created (a container's), shared across invocations. */
  readonly capabilities?: CapabilitySource;
  readonly deadline?: Date | undefined;
  /** Who runs (the function's name, `cli`): names the holder of a service's lease. */
  readonly runName?: string | undefined;
  /** Where measured recoveries go besides audit and Slack (functions/report/recovery.ts). */
  readonly recovery?: RecoveryRecorder | undefined;
  /** Where each run's engine metrics go (functions/runtime/metrics.ts in Lambda); absent: none. */
  readonly metricPublisher?: MetricPublisher | undefined;
}

/**
 * Each capability created once, on first use, from its module: a function that never reconciles a
 * capability never imports its executor or builds its clients.
 */
export const capabilitySource = (
  modules: readonly CapabilityModule[],
  context: CapabilityContext,
): CapabilitySource => {
  const created = new Map<string, Promise<Capability>>();
  return (name: CapabilityName) => {
    const module = modules.find((m) => m.name === name);
    if (!module) return Promise.resolve(undefined);
    let capability = created.get(name);
    if (!capability) {
      capability = module.create(context);
      // A failed import or client build is retried on the next call, not cached.
      capability.catch(() => created.delete(name));
      created.set(name, capability);
    }
    return capability;
  };
};

/** DescribeAlarms takes at most 100 names per call. */
const DESCRIBE_ALARMS_BATCH = 100;

/**
 * Automatic failback's view of CloudWatch: DescribeAlarms by name (metric and composite alarms), at
 * most 100 names per call, in the alarm's Region (the home client, or one created per other Region).
 * CloudWatch's client is loaded on first use: only services that opted in need it.
 */
export const cloudWatchAlarmStates = (clients: ClientKit): AlarmStateReader => {
  return async (region, names) => {
    const { CloudWatchClient, DescribeAlarmsCommand } = await import('@aws-sdk/client-cloudwatch');
    const client = clients.client(CloudWatchClient, region);
    const observed: ObservedAlarm[] = [];
    for (let i = 0; i < names.length; i += DESCRIBE_ALARMS_BATCH) {
      const batch = names.slice(i, i + DESCRIBE_ALARMS_BATCH);
      let nextToken: string | undefined;
      do {
        const page = await client.send(
          new DescribeAlarmsCommand({
            AlarmNames: batch,
            AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
            MaxRecords: DESCRIBE_ALARMS_BATCH,
            NextToken: nextToken,
          }),
        );
        for (const alarm of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
          if (!alarm.AlarmName) continue;
          observed.push({
            name: alarm.AlarmName,
            region,
            state: alarm.StateValue ?? 'unknown',
            stateUpdatedAt: alarm.StateUpdatedTimestamp,
          });
        }
        nextToken = page.NextToken;
      } while (nextToken);
    }
    return observed;
  };
};

/**
 * What the capabilities of a control plane are built with; `run` is the scope their reads share (one
 * invocation's, or a container's current dispatch's).
 */
const capabilityContext = (
  options: ControlPlaneOptions,
  clock: Clock,
  newId: () => string,
  run: () => RunScope,
): CapabilityContext => ({
  config: options.config,
  clients: options.clients,
  clock,
  log: options.log,
  newId,
  changeVerify: options.changeVerify ?? { verifyAttempts: 10, verifyIntervalMs: 3_000 },
  tuning: options.tuning,
  run,
});

/** A control plane for one invocation (one Reporter each); clients are reused across invocations. */
export const createControlPlane = (options: ControlPlaneOptions): ControlPlane => {
  const clock = options.clock ?? systemClock;
  const { config, clients, log } = options;
  const newId = options.newId ?? randomUUID;
  const modules = options.modules ?? CAPABILITY_MODULES;
  const store = new DynamoStateStore(
    clients.client(DynamoDBClient),
    config.controlPlane.stateTableName,
    config.controlPlane.auditRetentionDays,
    newId,
  );
  const notifier = options.notifier ?? slackNotifier(config, clients, log, options.slackWebhookSecret);
  // This control plane is one run: its capabilities share one scope of reads.
  const run = newRunScope(clients);
  return {
    config,
    modules,
    store,
    clock,
    log,
    deadline: options.deadline,
    newId,
    runName: options.runName,
    recovery: options.recovery,
    metrics: options.metricPublisher && new EngineMetrics(options.metricPublisher, log),
    reporter: new Reporter(store, notifier, log),
    capability:
      options.capabilities ??
      capabilitySource(
        modules,
        capabilityContext(options, clock, newId, () => run),
      ),
  };
};

/**
 * How long before the function's timeout a run stops starting new work: enough for the step in
 * flight (an SDK call with its retries, a bounded verify) and the status, audit and Slack writes.
 */
export const DEADLINE_MARGIN_MS = 15_000;

/** Builds one invocation's control plane in a container (functions/handlers/wiring.ts calls it). */
export type InvocationControlPlanes = (remainingMs?: () => number, scheduledRun?: string) => ControlPlane;

/**
 * A Lambda container's control planes, one per invocation (its own Reporter and deadline), on the
 * container's clients and capabilities. `scheduledRun`: the dispatch a fan-out worker's invocation
 * belongs to; the container's invocations of one dispatch share its Route 53 zone reads (so an idle
 * dispatch reads each zone once per worker container, not once per batch), and the first invocation
 * of the next dispatch, or any invocation without a run, reads afresh. Lambda runs one invocation at
 * a time per container, so one current run is enough. functions/runtime/lambda.ts builds one per
 * container; the bench builds one per simulated container.
 */
export const containerControlPlanes = (
  options: Omit<ControlPlaneOptions, 'capabilities' | 'deadline' | 'notifier'> & {
    readonly notifier: Notifier;
  },
): InvocationControlPlanes => {
  const { clients } = options;
  const clock = options.clock ?? systemClock;
  const newId = options.newId ?? randomUUID;
  let run: RunScope | undefined;
  let runKey: string | undefined;
  const capabilities = capabilitySource(
    options.modules ?? CAPABILITY_MODULES,
    capabilityContext(options, clock, newId, () => {
      run ??= newRunScope(clients);
      return run;
    }),
  );
  return (remainingMs, scheduledRun) => {
    // Each run reads Route 53 afresh: nothing read in one run is believed in the next.
    if (scheduledRun === undefined || scheduledRun !== runKey || run === undefined)
      run = newRunScope(clients);
    runKey = scheduledRun;
    const remaining = remainingMs?.();
    return createControlPlane({
      ...options,
      clock,
      newId,
      capabilities,
      deadline:
        remaining === undefined
          ? undefined
          : new Date(clock.now().getTime() + remaining - DEADLINE_MARGIN_MS),
    });
  };
};
