import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { type LocalControlPlane, startLocalControlPlane } from '../../functions/capabilities/dns/local';
import type { ServiceConfig } from '../../functions/config/schema';
import { localLambdaContext as lambdaContext } from '../../functions/drill/lambda-context';
import {
  alarmStateChangeEvent,
  answerFor,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  supplyHealthCheckStatus,
} from '../../functions/drill/local-aws';
import { reconcileService } from '../../functions/engine/engine';
import { createAlarmHandler } from '../../functions/handlers/alarm';
import type { AlarmOutcome } from '../../functions/trigger/handle-alarm';

const endpoint = inject('motoEndpoint');
const ITEM_LIMIT = 400 * 1024;

let local: LocalControlPlane;
let failing: Set<string>;

beforeEach(async () => {
  await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  local = await startLocalControlPlane(endpoint);
  failing = new Set();
  supplyHealthCheckStatus(local.clients.route53, failing);
  const cp = local.controlPlane();
  await reconcileService(cp, cp.config.services[0] as ServiceConfig);
  await cp.reporter.flush();
});

afterEach(async () => {
  await local?.stop();
});

describe('a forged alarm event with a 1 MiB state reason, against the local DynamoDB', () => {
  it('still fails the service over, and every item written stays far below 400 KB', async () => {
    // Prepare: CloudWatch caps a reason at 1,023 characters; this event did not come from CloudWatch
    failing.add(local.topology.primaryHealthCheckId);
    const event = alarmStateChangeEvent({
      alarmName: local.topology.alarmName,
      account: LOCAL_ACCOUNT,
      region: LOCAL_REGION,
      value: 'ALARM',
      previousValue: 'OK',
      reason: `Threshold Crossed: ${'x'.repeat(1024 * 1024)}`,
      at: local.clock.now(),
    });

    // Act
    const cp = local.controlPlane();
    const outcomes = (await createAlarmHandler(() => cp)(event, lambdaContext)) as AlarmOutcome[];
    await cp.reporter.flush();

    // Assess: the failover happened ...
    expect(outcomes).toMatchObject([{ kind: 'transitioned', epoch: 1, changed: ['dns'] }]);
    expect(
      await answerFor(
        local.clients.route53,
        local.topology.hostedZoneId,
        local.topology.recordName,
        'A',
        failing,
      ),
    ).toEqual(['198.51.100.10']);
    const { desired } = await cp.store.readService('shop');
    expect(desired.reason).toContain('truncated from');
    // ... and no item in the table comes near DynamoDB's limit
    const items = await local.clients.dynamodb.send(
      new ScanCommand({ TableName: local.topology.config.controlPlane.stateTableName }),
    );
    expect(items.Items?.length).toBeGreaterThan(2);
    for (const item of items.Items ?? []) {
      expect(Buffer.byteLength(JSON.stringify(item))).toBeLessThan(ITEM_LIMIT / 10);
    }
    // Slack heard it, bounded
    expect(local.sink.messages.length).toBeGreaterThan(0);
    for (const m of local.sink.messages) expect(JSON.stringify(m.body).length).toBeLessThan(10_000);
  });
});
