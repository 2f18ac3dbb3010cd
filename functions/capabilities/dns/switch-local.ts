/**
 * Switched DNS records on the local emulator: the switch resources as the stack creates them, a local
 * stand-in for what CloudWatch and Route 53 evaluate on AWS, Route 53's answer computed from record
 * sets and health verdicts, and a Route 53 control plane that refuses record writes.
 *
 * What is simulated, and why: moto stores alarms and health checks but never evaluates an alarm and
 * reports every health check healthy (it even drops a CLOUDWATCH_METRIC check's alarm identifier).
 * So `evaluate()` does, in the harness, what AWS does on its own: it sets each switch alarm from the
 * newest minute of the switch metric the control plane published (missing data: the alarm keeps its
 * state), and derives every health check's verdict: a site check from what the harness says is
 * failing, the switch check from its alarm (no data: last known status, healthy when new), a
 * calculated check from its children. None of this runs in the control plane: it only publishes the
 * metric and reads the alarm, as it does on AWS.
 */
import {
  type CloudWatchClient,
  GetMetricDataCommand,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  ChangeTagsForResourceCommand,
  type CloudWatchRegion,
  CreateHealthCheckCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { Config, ServiceConfig } from '../../config/schema';
import { answerFor, localServiceConfig, supplyHealthCheckStatus } from '../../drill/local-aws';
import { harnessControlPlane, type LocalHarness, startHarness } from '../../drill/local-control-plane';
import type { ControlPlane } from '../../engine/engine';
import { newestDatapoint } from '../../runtime/metric-data';
import { provisionSiteChecks, type SiteChecks } from './local';
import {
  SWITCH_DIMENSION,
  SWITCH_EXPRESSION,
  SWITCH_METRIC,
  SWITCH_TAG,
  switchAlarmName,
  switchedSiteChecksOf,
  switchNamespace,
  switchPositionOf,
  switchTagValue,
} from './switch';

/** One service's switch on the emulator, and the ids the evaluator needs. */
export interface LocalSwitch {
  readonly service: string;
  readonly namespace: string;
  readonly alarmName: string;
  /** The CLOUDWATCH_METRIC health check that follows the alarm. */
  readonly switchCheckId: string;
  /** The calculated check (site AND switch) of each primary-site check. */
  readonly calculated: Readonly<Record<string, string>>;
}

const tag = async (route53: Route53Client, id: string, value: string) =>
  route53.send(
    new ChangeTagsForResourceCommand({
      ResourceType: 'healthcheck',
      ResourceId: id,
      AddTags: [{ Key: SWITCH_TAG, Value: value }],
    }),
  );

/** Creates a service's switch exactly as functions/capabilities/dns/infra.ts declares it. */
export const provisionSwitch = async (
  clients: { readonly route53: Route53Client; readonly cloudwatch: CloudWatchClient },
  config: Config,
  service: ServiceConfig,
): Promise<LocalSwitch> => {
  const alarmName = switchAlarmName(config, service);
  const namespace = switchNamespace(config);
  await clients.cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: alarmName,
      Metrics: [
        {
          Id: 'm',
          MetricStat: {
            Metric: {
              Namespace: namespace,
              MetricName: SWITCH_METRIC,
              Dimensions: [{ Name: SWITCH_DIMENSION, Value: service.name }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
          ReturnData: false,
        },
        { Id: 'position', Expression: SWITCH_EXPRESSION, ReturnData: true },
      ],
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'ignore',
      ActionsEnabled: false,
    }),
  );
  // A new alarm on AWS has no data until the first datapoint; moto starts it OK, so say what AWS would.
  await clients.cloudwatch.send(
    new SetAlarmStateCommand({
      AlarmName: alarmName,
      StateValue: 'INSUFFICIENT_DATA',
      StateReason: 'new alarm: no datapoint yet (set by the local harness, as AWS starts it)',
    }),
  );
  const value = switchTagValue(config, service);
  const metricCheck = await clients.route53.send(
    new CreateHealthCheckCommand({
      CallerReference: `switch-${service.name}-${Date.now()}-${Math.random()}`,
      HealthCheckConfig: {
        Type: 'CLOUDWATCH_METRIC',
        AlarmIdentifier: { Name: alarmName, Region: config.controlPlane.region as CloudWatchRegion },
        InsufficientDataHealthStatus: 'LastKnownStatus',
      },
    }),
  );
  const switchCheckId = metricCheck.HealthCheck?.Id ?? '';
  await tag(clients.route53, switchCheckId, value);
  const calculated: Record<string, string> = {};
  for (const site of switchedSiteChecksOf(service)) {
    const out = await clients.route53.send(
      new CreateHealthCheckCommand({
        CallerReference: `switch-${service.name}-${site}-${Date.now()}-${Math.random()}`,
        HealthCheckConfig: {
          Type: 'CALCULATED',
          ChildHealthChecks: [site, switchCheckId],
          HealthThreshold: 2,
        },
      }),
    );
    const id = out.HealthCheck?.Id ?? '';
    await tag(clients.route53, id, value);
    calculated[site] = id;
  }
  return { service: service.name, namespace, alarmName, switchCheckId, calculated };
};

/** The local stand-in for CloudWatch's alarm evaluation and Route 53's health checkers. */
export interface SwitchEvaluator {
  /**
   * Evaluates every switch alarm as CloudWatch would from the newest minute of its metric (the parity
   * of the Maximum, ALARM below 1; no datapoint: unchanged), then returns the id of every unhealthy
   * health check.
   */
  evaluate(): Promise<Set<string>>;
  /** Each switch alarm's state after the last evaluation. */
  readonly alarmStates: ReadonlyMap<string, 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'>;
}

export const switchEvaluator = (
  cloudwatch: CloudWatchClient,
  switches: readonly LocalSwitch[],
  /** Site health checks the harness reports as failing (Route 53's checkers, supplied). */
  failingSites: ReadonlySet<string>,
): SwitchEvaluator => {
  const alarmStates = new Map<string, 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'>(
    switches.map((s) => [s.alarmName, 'INSUFFICIENT_DATA']),
  );
  /** The switch check's last known status (Route 53's LastKnownStatus; healthy while new). */
  const lastKnown = new Map<string, boolean>();
  return {
    alarmStates,
    async evaluate() {
      const now = Date.now();
      for (const sw of switches) {
        const out = await cloudwatch.send(
          new GetMetricDataCommand({
            StartTime: new Date(now - 60 * 60_000),
            EndTime: new Date(now + 60_000),
            MetricDataQueries: [
              {
                Id: 'switch',
                MetricStat: {
                  Metric: {
                    Namespace: sw.namespace,
                    MetricName: SWITCH_METRIC,
                    Dimensions: [{ Name: SWITCH_DIMENSION, Value: sw.service }],
                  },
                  Period: 60,
                  Stat: 'Maximum',
                },
              },
            ],
          }),
        );
        const newest = newestDatapoint(out.MetricDataResults?.[0]);
        if (newest) {
          const state = switchPositionOf(newest.value) === 'primary' ? 'OK' : 'ALARM';
          if (alarmStates.get(sw.alarmName) !== state) {
            await cloudwatch.send(
              new SetAlarmStateCommand({
                AlarmName: sw.alarmName,
                StateValue: state,
                StateReason: `evaluated by the local harness: Maximum of ${SWITCH_METRIC} was ${newest.value}`,
              }),
            );
          }
          alarmStates.set(sw.alarmName, state);
        }
        // TreatMissingData ignore: no datapoint leaves the alarm as it was.
        const state = alarmStates.get(sw.alarmName);
        if (state === 'OK') lastKnown.set(sw.switchCheckId, true);
        if (state === 'ALARM') lastKnown.set(sw.switchCheckId, false);
      }
      const unhealthy = new Set<string>(failingSites);
      for (const sw of switches) {
        const switchHealthy = lastKnown.get(sw.switchCheckId) ?? true;
        if (!switchHealthy) unhealthy.add(sw.switchCheckId);
        for (const [site, calculated] of Object.entries(sw.calculated)) {
          const healthyChildren = [!failingSites.has(site), switchHealthy].filter(Boolean).length;
          if (healthyChildren < 2) unhealthy.add(calculated);
        }
      }
      return unhealthy;
    },
  };
};

/**
 * Makes the harness's Route 53 client refuse calls as a Route 53 whose control plane is impaired
 * would (HTTP 503): while `refusing()` says `changes`, every ChangeResourceRecordSets and GetChange;
 * while it says `all`, every Route 53 call (reads too). Injected in the harness's client only: the
 * control plane's code is the same as on AWS. Returns the refusals, by command.
 */
export const refuseRoute53Changes = (
  route53: Route53Client,
  refusing: () => 'none' | 'changes' | 'all',
): Map<string, number> => {
  const refused = new Map<string, number>();
  route53.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? '';
      const mode = refusing();
      const change = command === 'ChangeResourceRecordSetsCommand' || command === 'GetChangeCommand';
      if (mode === 'all' || (mode === 'changes' && change)) {
        refused.set(command, (refused.get(command) ?? 0) + 1);
        throw Object.assign(
          new Error(
            `Route 53 ${command.replace(/Command$/, '')} refused: the control plane is impaired (injected)`,
          ),
          { name: 'ServiceUnavailable', $fault: 'server', $metadata: { httpStatusCode: 503 } },
        );
      }
      return next(args);
    },
    { step: 'initialize', priority: 'low', name: `harnessRefuseRoute53Changes${Math.random()}` },
  );
  return refused;
};

/** A web shop whose www name is switched, on the emulator. */
export interface SwitchedTopology extends SiteChecks {
  readonly config: Config;
  readonly recordName: string;
  readonly switch: LocalSwitch;
}

export const PRIMARY_IP = '192.0.2.20';
export const STANDBY_IP = '198.51.100.20';

/**
 * The zone, each site's health check, the alarm on the primary, the state table, the Slack secret
 * and the service's switch (as the stack would create it). The records are not created here: the
 * control plane's first reconcile creates them once.
 */
export const provisionSwitchedTopology = async (
  harness: LocalHarness,
  options: { readonly mode?: 'auto' | 'approve' | 'dry-run' } = {},
): Promise<SwitchedTopology> => {
  const { clients } = harness;
  const site = await provisionSiteChecks(clients, {
    zoneName: 'switched.example.test',
    primaryIp: PRIMARY_IP,
    standbyIp: STANDBY_IP,
    alarmName: 'switched-shop-primary-unhealthy',
  });
  const config = await localServiceConfig(
    clients,
    { slackWebhookUrl: harness.sink.webhookUrl, mode: options.mode },
    {
      name: 'shop',
      cooldownMinutes: 30,
      alarms: [{ name: site.alarmName, capabilities: ['dns'] }],
      dns: {
        hostedZoneId: site.hostedZoneId,
        records: [
          {
            name: 'www.switched.example.test',
            type: 'A',
            routing: 'switched',
            ttl: 60,
            primary: { values: [PRIMARY_IP], healthCheckId: site.primaryHealthCheckId },
            standby: { values: [STANDBY_IP], healthCheckId: site.standbyHealthCheckId },
          },
        ],
      },
    },
    'switched topology config',
  );
  const service = config.services[0] as ServiceConfig;
  return {
    config,
    ...site,
    recordName: 'www.switched.example.test.',
    switch: await provisionSwitch(clients, config, service),
  };
};

export interface LocalSwitchedControlPlane extends LocalHarness {
  readonly topology: SwitchedTopology;
  /** Site checks the harness reports as failing. */
  readonly failing: Set<string>;
  readonly evaluator: SwitchEvaluator;
  /** Evaluates the switch and health, and returns www's answer. */
  answer(): Promise<string[]>;
  controlPlane(): ControlPlane;
}

export const startSwitchedControlPlane = async (
  endpoint: string,
  options: { readonly maxAttempts?: number; readonly mode?: 'auto' | 'approve' | 'dry-run' } = {},
): Promise<LocalSwitchedControlPlane> => {
  const harness = await startHarness(endpoint, options.maxAttempts);
  const topology = await provisionSwitchedTopology(harness, options);
  const failing = new Set<string>();
  // The same failing sites for the control plane's readiness reads (GetHealthCheckStatus) as for the answers.
  supplyHealthCheckStatus(harness.clients.route53, failing);
  const evaluator = switchEvaluator(harness.clients.cloudwatch, [topology.switch], failing);
  return {
    ...harness,
    topology,
    failing,
    evaluator,
    answer: async () =>
      answerFor(
        harness.clients.route53,
        topology.hostedZoneId,
        topology.recordName,
        'A',
        await evaluator.evaluate(),
      ),
    controlPlane: harnessControlPlane(harness, topology.config),
  };
};
