import { PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateHealthCheckCommand,
  CreateHostedZoneCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { type Config, type ConfigInput, parseConfig } from '../../config/schema';
import {
  type AwsClients,
  createSlackSecret,
  createStateTable,
  localControlPlaneInput,
} from '../../drill/local-aws';
import { harnessControlPlane, type LocalHarness, startHarness } from '../../drill/local-control-plane';
import type { ControlPlane } from '../../engine/engine';

/** The DNS capability's local topology: a web shop with a weighted and a swapped record, on the emulator. */

export interface SampleTopology {
  readonly config: Config;
  readonly hostedZoneId: string;
  readonly primaryHealthCheckId: string;
  readonly standbyHealthCheckId: string;
  readonly alarmName: string;
  readonly slackSecretArn: string;
  readonly recordName: string;
  readonly apiRecordName: string;
}

export interface TopologyOptions {
  readonly slackWebhookUrl: string;
  readonly mode?: 'auto' | 'approve' | 'dry-run';
  readonly cooldownMinutes?: number;
  readonly maxEventAgeSeconds?: number;
}

export const createHealthCheck = async (route53: Route53Client, ip: string, reference: string) => {
  const out = await route53.send(
    new CreateHealthCheckCommand({
      CallerReference: `${reference}-${Date.now()}-${Math.random()}`,
      HealthCheckConfig: {
        Type: 'HTTPS',
        IPAddress: ip,
        Port: 443,
        ResourcePath: '/health',
        RequestInterval: 10,
        FailureThreshold: 3,
      },
    }),
  );
  const id = out.HealthCheck?.Id;
  if (!id) throw new Error('moto returned no health check id');
  return id;
};

/**
 * A primary/standby web shop in the local AWS: a hosted zone, a health check per site, the alarm
 * that watches the primary's health check, the state table and the Slack secret. The records
 * themselves are not created here: the control plane's first reconcile creates them from the config.
 */
export const provisionSampleTopology = async (
  clients: AwsClients,
  options: TopologyOptions,
): Promise<SampleTopology> => {
  const zone = await clients.route53.send(
    new CreateHostedZoneCommand({
      Name: 'shop.example.test',
      CallerReference: `zone-${Date.now()}-${Math.random()}`,
    }),
  );
  const hostedZoneId = (zone.HostedZone?.Id ?? '').replace('/hostedzone/', '');
  const primaryHealthCheckId = await createHealthCheck(clients.route53, '192.0.2.10', 'primary');
  const standbyHealthCheckId = await createHealthCheck(clients.route53, '198.51.100.10', 'standby');
  const alarmName = 'shop-primary-unhealthy';
  await clients.cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: alarmName,
      AlarmDescription: 'The primary site of the shop fails its Route 53 health check',
      Namespace: 'AWS/Route53',
      MetricName: 'HealthCheckStatus',
      Dimensions: [{ Name: 'HealthCheckId', Value: primaryHealthCheckId }],
      Statistic: 'Minimum',
      Period: 60,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    }),
  );
  const slackSecretArn = await createSlackSecret(clients.secrets, options.slackWebhookUrl);
  const input: ConfigInput = {
    controlPlane: localControlPlaneInput(slackSecretArn, {
      maxEventAgeSeconds: options.maxEventAgeSeconds ?? 600,
    }),
    services: [
      {
        name: 'shop',
        mode: options.mode ?? 'auto',
        rtoMinutes: 5,
        cooldownMinutes: options.cooldownMinutes ?? 30,
        alarms: [{ name: alarmName, capabilities: ['dns'] }],
        dns: {
          hostedZoneId,
          records: [
            {
              name: 'www.shop.example.test',
              type: 'A',
              routing: 'weighted',
              ttl: 60,
              primary: { values: ['192.0.2.10'], healthCheckId: primaryHealthCheckId },
              standby: { values: ['198.51.100.10'], healthCheckId: standbyHealthCheckId },
            },
            {
              name: 'api.shop.example.test',
              type: 'CNAME',
              routing: 'swap',
              ttl: 30,
              primary: { values: ['api-primary.shop.example.test'] },
              standby: { values: ['api-standby.shop.example.test'], healthCheckId: standbyHealthCheckId },
            },
          ],
        },
      },
    ],
  };
  const config = parseConfig(input, 'sample topology config');
  await createStateTable(clients.dynamodb, config.controlPlane.stateTableName);
  return {
    config,
    hostedZoneId,
    primaryHealthCheckId,
    standbyHealthCheckId,
    alarmName,
    slackSecretArn,
    recordName: 'www.shop.example.test.',
    apiRecordName: 'api.shop.example.test.',
  };
};

export interface LocalControlPlane extends LocalHarness {
  readonly topology: SampleTopology;
  /** A fresh control plane (one Reporter) per "invocation", on shared real SDK clients. */
  controlPlane(): ControlPlane;
}

/** The sample topology on the emulator, with the harness every capability's tests use. */
export const startLocalControlPlane = async (
  endpoint: string,
  options: Partial<TopologyOptions> & { readonly maxAttempts?: number } = {},
): Promise<LocalControlPlane> => {
  const harness = await startHarness(endpoint, options.maxAttempts);
  const topology = await provisionSampleTopology(harness.clients, {
    slackWebhookUrl: harness.sink.webhookUrl,
    ...options,
  });
  return { ...harness, topology, controlPlane: harnessControlPlane(harness, topology.config) };
};
