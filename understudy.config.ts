import { defineConfig } from './functions/config/schema';

/**
 * Example runbook: one protected web shop. Copy this file, put in your own ids, and
 * `cdk deploy` it into the standby Region. Every field is described in the README.
 */
export default defineConfig({
  controlPlane: {
    account: '111111111111',
    region: 'eu-west-2',
    stateTableName: 'understudy-state',
    maxEventAgeSeconds: 600,
    auditRetentionDays: 90,
    slackWebhookSecretName: 'understudy/slack-webhook',
  },
  services: [
    {
      name: 'shop',
      description: 'Web shop: primary in eu-west-1, warm standby in eu-west-2',
      mode: 'auto',
      cooldownMinutes: 30,
      alarms: [{ name: 'shop-primary-unhealthy', capabilities: ['dns'] }],
      dns: {
        hostedZoneId: 'Z0EXAMPLE0SHOP',
        records: [
          {
            name: 'www.shop.example.com',
            type: 'A',
            routing: 'weighted',
            ttl: 60,
            primary: { values: ['192.0.2.10'], healthCheckId: '11111111-1111-4111-8111-111111111111' },
            standby: { values: ['198.51.100.10'], healthCheckId: '22222222-2222-4222-8222-222222222222' },
          },
          {
            name: 'api.shop.example.com',
            type: 'CNAME',
            routing: 'swap',
            ttl: 30,
            primary: { values: ['api-primary.shop.example.com'] },
            standby: {
              values: ['api-standby.shop.example.com'],
              healthCheckId: '22222222-2222-4222-8222-222222222222',
            },
          },
        ],
      },
    },
  ],
});
