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

/** What an operator sets up before protecting a name: the zone, a check per site, the primary's alarm. */
export interface SiteChecks {
  readonly hostedZoneId: string;
  readonly primaryHealthCheckId: string;
  readonly standbyHealthCheckId: string;
  readonly alarmName: string;
}

export interface SampleTopology extends SiteChecks {
  readonly config: Config;
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

/** A hosted zone, a health check per site and the alarm on the primary's check, as an operator sets them up. */
export const provisionSiteChecks = async (
  clients: Pick<AwsClients, 'route53' | 'cloudwatch'>,
  site: {
    readonly zoneName: string;
    readonly primaryIp: string;
    readonly standbyIp: string;
    readonly alarmName: string;
    readonly alarmDescription?: string;
  },
): Promise<SiteChecks> => {
  const zone = await clients.route53.send(
    new CreateHostedZoneCommand({
      Name: site.zoneName,
      CallerReference: `zone-${Date.now()}-${Math.random()}`,
    }),
  );
  const hostedZoneId = (zone.HostedZone?.Id ?? '').replace('/hostedzone/', '');
  const primaryHealthCheckId = await createHealthCheck(clients.route53, site.primaryIp, 'primary');
  const standbyHealthCheckId = await createHealthCheck(clients.route53, site.standbyIp, 'standby');
  await clients.cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: site.alarmName,
      AlarmDescription: site.alarmDescription,
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
  return { hostedZoneId, primaryHealthCheckId, standbyHealthCheckId, alarmName: site.alarmName };
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
  const site = await provisionSiteChecks(clients, {
    zoneName: 'shop.example.test',
    primaryIp: '192.0.2.10',
    standbyIp: '198.51.100.10',
    alarmName: 'shop-primary-unhealthy',
    alarmDescription: 'The primary site of the shop fails its Route 53 health check',
  });
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
        alarms: [{ name: site.alarmName, capabilities: ['dns'] }],
        dns: {
          hostedZoneId: site.hostedZoneId,
          records: [
            {
              name: 'www.shop.example.test',
              type: 'A',
              routing: 'weighted',
              ttl: 60,
              primary: { values: ['192.0.2.10'], healthCheckId: site.primaryHealthCheckId },
              standby: { values: ['198.51.100.10'], healthCheckId: site.standbyHealthCheckId },
            },
            {
              name: 'api.shop.example.test',
              type: 'CNAME',
              routing: 'swap',
              ttl: 30,
              primary: { values: ['api-primary.shop.example.test'] },
              standby: {
                values: ['api-standby.shop.example.test'],
                healthCheckId: site.standbyHealthCheckId,
              },
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
    ...site,
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
