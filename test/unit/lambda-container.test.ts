import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../functions/config/schema';
import { localLambdaContext } from '../../functions/drill/lambda-context';
import { alarmEvent, exampleInput } from './fixtures';

// The config a bundle ships as config.json (test/infra/bundle.test.ts reads a real one); unbundled,
// this test hands the example config to the container the same way.
vi.mock('../../functions/runtime/bundled-config', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../functions/runtime/bundled-config')>()),
  bundledConfig: () => parseConfig(exampleInput()),
}));

/**
 * The container-scoped parts of a Lambda function: config, clients, capabilities and the Slack
 * secret cache live as long as the container; the control plane (its Reporter) is per invocation.
 * AWS is mocked here: this test counts calls, it proves nothing about AWS's behaviour.
 */
const secrets = mockClient(SecretsManagerClient);
const documents = mockClient(DynamoDBDocumentClient);
const posted: string[] = [];

beforeAll(() => {
  vi.stubEnv('AWS_REGION', 'eu-west-2');
  vi.stubEnv('SLACK_WEBHOOK_SECRET_ARN', 'arn:aws:secretsmanager:eu-west-2:111111111111:secret:slack-AbCdEf');
  secrets.on(GetSecretValueCommand).resolves({
    ARN: 'arn:aws:secretsmanager:eu-west-2:111111111111:secret:slack-AbCdEf',
    Name: 'slack',
    SecretString: 'https://hooks.slack.com/services/T000/B000/XXXX',
  });
  // "Held" is posted only while something is on the standby: the service failed over earlier.
  documents.on(QueryCommand).resolves({
    Items: [
      {
        pk: 'SERVICE#shop',
        sk: 'STATE',
        service: 'shop',
        epoch: 1,
        capabilities: { dns: { active: 'standby', epoch: 1, changedAt: '2026-01-01T00:00:00.000Z' } },
        requestedBy: 'alarm:shop-primary-unhealthy',
        requestedAt: '2026-01-01T00:00:00.000Z',
        reason: 'earlier failover',
      },
    ],
  });
  documents.on(GetCommand).resolves({});
  documents.on(PutCommand).resolves({});
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      posted.push(url);
      return new Response('ok');
    }),
  );
});

afterAll(() => {
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

describe('a Lambda container', () => {
  it('reads the Slack secret once across three invocations that each post to Slack', async () => {
    // Prepare: the alarm function as Lambda loads it (module state is the container)
    const { handler } = await import('../../functions/handlers/alarm');
    // Three state changes of the alarm (one "held" each: Slack hears once per state change).
    const held = (i: number) => alarmEvent({ state: 'OK', time: new Date(Date.now() - 60_000 + i * 1000) });

    // Act: three invocations of the same container, each posting a "held" message
    for (let i = 0; i < 3; i++) await handler(held(i), localLambdaContext);

    // Assess
    expect(posted).toHaveLength(3);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('reads the Slack secret once for messages posted side by side', async () => {
    // Prepare: one container's webhook source, no read made yet
    secrets.resetHistory();
    const { webhookFromSecret } = await import('../../functions/runtime/control-plane');
    const { createClientKit } = await import('../../functions/runtime/client-kit');
    const webhook = webhookFromSecret(createClientKit({ region: 'eu-west-2' }), 'slack');

    // Act: three messages at once (a decision, an action, a result of the same invocation)
    const urls = await Promise.all([webhook(), webhook(), webhook()]);

    // Assess
    expect(urls).toEqual(Array(3).fill('https://hooks.slack.com/services/T000/B000/XXXX'));
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });
});
