import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  ChangeResourceRecordSetsCommand,
  CreateHealthCheckCommand,
  CreateHostedZoneCommand,
} from '@aws-sdk/client-route-53';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { type Config, type ConfigInput, parseConfig } from '../../functions/config/schema';
import { localLambdaContext as lambdaContext } from '../../functions/drill/lambda-context';
import {
  countCalls,
  createSlackSecret,
  createStateTable,
  localControlPlaneInput,
} from '../../functions/drill/local-aws';
import {
  harnessControlPlane,
  type LocalHarness,
  startHarness,
} from '../../functions/drill/local-control-plane';
import { requestTransition } from '../../functions/engine/transition';
import { createReconcileHandler } from '../../functions/handlers/reconcile';

/**
 * Route 53 reads grow with hosted zones, not records: an idle scheduled run of several services in
 * one zone reads the zone once per page (ListResourceRecordSets, 300 record sets a page), whatever
 * the number of services, records and database endpoints in it. Against the local AWS (moto): its
 * paging follows the API's (MaxItems, NextRecordName).
 */
const endpoint = inject('motoEndpoint');
const SERVICES = 6;

let harness: LocalHarness;
let zoneId: string;
let config: Config;
let standbyCheck: string;

const healthCheck = async (ip: string) => {
  const out = await harness.clients.route53.send(
    new CreateHealthCheckCommand({
      CallerReference: `${ip}-${Date.now()}-${Math.random()}`,
      HealthCheckConfig: { Type: 'HTTPS', IPAddress: ip, Port: 443, ResourcePath: '/health' },
    }),
  );
  return out.HealthCheck?.Id ?? '';
};

const scheduledRun = () => createReconcileHandler(harnessControlPlane(harness, config))({}, lambdaContext);

beforeEach(async () => {
  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  harness = await startHarness(endpoint);
  const zone = await harness.clients.route53.send(
    new CreateHostedZoneCommand({ Name: 'zone.example.test', CallerReference: `zone-${Date.now()}` }),
  );
  zoneId = (zone.HostedZone?.Id ?? '').replace('/hostedzone/', '');
  const [primary, standby] = [await healthCheck('192.0.2.10'), await healthCheck('198.51.100.10')];
  standbyCheck = standby;
  const input: ConfigInput = {
    controlPlane: localControlPlaneInput(await createSlackSecret(harness.clients.secrets, harness.sink.url)),
    services: Array.from({ length: SERVICES }, (_, i) => ({
      name: `svc-${i}`,
      mode: 'auto' as const,
      dns: {
        hostedZoneId: zoneId,
        records: ['www', 'api'].map((label) => ({
          name: `${label}.svc-${i}.zone.example.test`,
          type: 'A' as const,
          routing: 'weighted' as const,
          primary: { values: ['192.0.2.10'], healthCheckId: primary },
          standby: { values: ['198.51.100.10'], healthCheckId: standby },
        })),
      },
    })),
  };
  config = parseConfig(input, 'zone reads test config');
  await createStateTable(harness.clients.dynamodb, config.controlPlane.stateTableName);
  // The first scheduled run creates every service's records from the config.
  await scheduledRun();
});

afterEach(async () => {
  await harness?.stop();
});

describe('Route 53 reads of a scheduled run', () => {
  it(`reads one zone once for ${SERVICES} services and ${SERVICES * 2} weighted records, and no health`, async () => {
    // Prepare
    const calls = countCalls(harness.clients.route53);

    // Act: an idle run (everything converged)
    await scheduledRun();

    // Assess
    expect(Object.fromEntries(calls)).toEqual({ ListResourceRecordSetsCommand: 1 });
  });

  it('reads every page of a zone once: zones x pages, nothing per record', async () => {
    // Prepare: 700 other record sets in the zone (someone else's names): 3 pages of 300
    await harness.clients.route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {
          Changes: Array.from({ length: 700 }, (_, i) => ({
            Action: 'CREATE' as const,
            ResourceRecordSet: {
              Name: `other-${String(i).padStart(3, '0')}.zone.example.test`,
              Type: 'TXT' as const,
              TTL: 300,
              ResourceRecords: [{ Value: '"x"' }],
            },
          })),
        },
      }),
    );
    const calls = countCalls(harness.clients.route53);

    // Act
    await scheduledRun();

    // Assess: 700 + 24 weighted sets + NS + SOA = 726 record sets
    expect(Object.fromEntries(calls)).toEqual({ ListResourceRecordSetsCommand: 3 });
  });
});

describe('health of a planned move', () => {
  it("comes from Route 53's HealthCheckStatus metric in one batch, not from a call per check", async () => {
    // Prepare: moto publishes no Route 53 metric, so the harness supplies the standby check's datapoint
    // in us-east-1, where AWS publishes it (moto accepts the AWS/ namespace, which AWS would refuse).
    const usEast1 = harness.clients.kit.client(CloudWatchClient, 'us-east-1');
    await usEast1.send(
      new PutMetricDataCommand({
        Namespace: 'AWS/Route53',
        MetricData: [
          {
            MetricName: 'HealthCheckStatus',
            Dimensions: [{ Name: 'HealthCheckId', Value: standbyCheck }],
            Value: 1,
            Timestamp: new Date(),
          },
        ],
      }),
    );
    const route53 = countCalls(harness.clients.route53);
    const cloudwatch = countCalls(usEast1);
    const cp = harnessControlPlane(harness, config)();
    const service = config.services[0];
    if (!service) throw new Error('no service');

    // Act: an operator moves one service to the standby
    const outcome = await requestTransition(cp, service, {
      service: service.name,
      capabilities: ['dns'],
      target: 'standby',
      requestedBy: 'operator:test',
      reason: 'drill',
      ignoreCooldown: false,
    });
    await cp.reporter.flush();

    // Assess
    expect(outcome).toMatchObject({ kind: 'transitioned' });
    expect(cloudwatch.get('GetMetricDataCommand')).toBe(1);
    expect(route53.get('GetHealthCheckStatusCommand') ?? 0).toBe(0);
    expect(route53.get('ListResourceRecordSetsCommand')).toBe(1);
    expect(route53.get('ChangeResourceRecordSetsCommand')).toBe(1);
  });
});
