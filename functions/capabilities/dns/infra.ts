import { Stack } from 'aws-cdk-lib';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { CapabilityInfra } from '../../../infra/capability-infra';
import { acknowledgeCollapsed, MAX_LISTED } from '../../../infra/limits';
import { grantRecordUpserts, type RecordScope, recordScopes } from '../../../infra/route53-grants';
import type { Config } from '../../config/schema';

/** The configured records grouped by hosted zone (services may share a zone), sorted for stable output. */
export const zoneScopesOf = (config: Config): RecordScope[] =>
  recordScopes(
    config.services.flatMap(
      (svc) =>
        svc.dns?.records.map((record) => ({
          hostedZoneId: svc.dns?.hostedZoneId ?? '',
          name: record.name,
          type: record.type,
        })) ?? [],
    ),
  );

/** Every Route 53 health check the DNS capability reads before it moves traffic. */
export const healthCheckIdsOf = (config: Config): string[] =>
  [
    ...new Set(
      config.services.flatMap(
        (svc) =>
          svc.dns?.records.flatMap((record) =>
            [record.primary.healthCheckId, record.standby.healthCheckId].filter(
              (id): id is string => id !== undefined,
            ),
          ) ?? [],
      ),
    ),
  ].sort();

/**
 * The DNS capability's permissions, and nothing else. A function may UPSERT only the configured
 * record names and types, only in the configured zones: it can move traffic between the
 * configured primary and standby, but never delete a record or touch any other name.
 *
 * It deliberately creates no record sets: the reconciler writes them itself from the config, so
 * CloudFormation never owns them and a later `cdk deploy` cannot undo a failover.
 */
export const dnsInfra: CapabilityInfra = {
  name: 'dns',
  deploy: (_scope, { config }) => {
    const zones = zoneScopesOf(config);
    const healthCheckIds = healthCheckIdsOf(config);
    return {
      engineFunctions: [],
      otherFunctions: [],
      /** The read, change and verify calls of functions/capabilities/dns/route53.ts and health.ts. */
      grantReconcile: (fn: IFunction) => {
        grantRecordUpserts(fn, zones);
        if (healthCheckIds.length === 0) return;
        const partition = Stack.of(fn).partition;
        // Health check ids are random: beyond a short list no shared prefix narrows them.
        const ids = healthCheckIds.length > MAX_LISTED ? ['*'] : healthCheckIds;
        const resourceArns = ids.map((id) => `arn:${partition}:route53:::healthcheck/${id}`);
        Grant.addToPrincipal({ grantee: fn, actions: ['route53:GetHealthCheckStatus'], resourceArns });
        // Health is read in batches from the HealthCheckStatus metric (in us-east-1) first;
        // GetMetricData supports no resource-level permissions.
        Grant.addToPrincipal({ grantee: fn, actions: ['cloudwatch:GetMetricData'], resourceArns: ['*'] });
        acknowledgeCollapsed(
          fn.role,
          resourceArns,
          'GetHealthCheckStatus only reads; with more configured health checks than a grant lists, their random ids share no prefix, so every health check of the account may be read.',
        );
      },
    };
  },
};
