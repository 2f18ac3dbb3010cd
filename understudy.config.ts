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
      alarms: [
        { name: 'shop-primary-unhealthy', capabilities: ['dns', 'compute'] },
        { name: 'shop-db-primary-unavailable', capabilities: ['database'] },
        // One web server failing its status checks: replace it with one spare, 1:1.
        { name: 'shop-web-status-check-failed', capabilities: ['compute'], scope: 'instance' },
      ],
      dns: {
        hostedZoneId: 'Z0EXAMPLE0SHOP',
        records: [
          {
            name: 'www.shop.example.com',
            type: 'A',
            // 'switched' instead: the same pair written once, failed over by a CloudWatch switch with no
            // Route 53 API call (the stack then creates the switch; README: Switched records).
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
      database: {
        kind: 'rds-replica',
        primaryInstanceId: 'shop-db',
        primaryRegion: 'eu-west-1',
        replicaInstanceId: 'shop-db-standby',
        replicaRegion: 'eu-west-2',
        endpoint: { hostedZoneId: 'Z0EXAMPLE0INTERNAL', name: 'db.shop.internal', ttl: 30 },
        maxReplicaLagSeconds: 30,
        fenceOldPrimary: 'quarantine-security-group',
        quarantineSecurityGroupId: 'sg-0123456789abcdef0',
        replicaLagAlarm: true,
      },
      compute: {
        targetGroupArns: [
          'arn:aws:elasticloadbalancing:eu-west-2:111111111111:targetgroup/shop-web/0123456789abcdef',
        ],
        port: 8080,
        primaries: { tag: { key: 'understudy:role', value: 'primary' } },
        standbys: { tag: { key: 'understudy:role', value: 'standby' } },
        minHealthyTargets: 2,
        stopStandbysOnFailback: true,
      },
    },
    {
      name: 'shop-mail',
      description: 'Inbound mail for shop.example.com: SES holds it while the primary mail server is down',
      mode: 'auto',
      alarms: [{ name: 'shop-mail-primary-unreachable', capabilities: ['mail'] }],
      mail: {
        domain: 'shop.example.com',
        hostedZoneId: 'Z0EXAMPLE0SHOP',
        primary: { host: 'mx1.shop.example.com', port: 25, tls: 'starttls' },
        retentionDays: 7,
      },
    },
  ],
});
