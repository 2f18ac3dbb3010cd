import { Stack, Validations } from 'aws-cdk-lib';
import { CfnAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnHealthCheck } from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';
import type { CapabilityInfra } from '../../../infra/capability-infra';
import { acknowledgeCollapsed, MAX_LISTED } from '../../../infra/limits';
import { grantRecordUpserts, type RecordScope, recordScopes } from '../../../infra/route53-grants';
import type { Config, ServiceConfig } from '../../config/schema';
import {
  SWITCH_DIMENSION,
  SWITCH_EXPRESSION,
  SWITCH_METRIC,
  SWITCH_TAG,
  switchAlarmName,
  switchedRecordsOf,
  switchedSiteChecksOf,
  switchNamespace,
  switchTagValue,
} from './switch';

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

/** One service's switch, as the stack creates it. */
export interface DnsSwitchResources {
  readonly service: string;
  readonly alarm: CfnAlarm;
  /** The CLOUDWATCH_METRIC health check that follows the alarm. */
  readonly switchCheck: CfnHealthCheck;
  /** One CALCULATED check per primary-site check of the service's switched records: site AND switch. */
  readonly calculated: readonly CfnHealthCheck[];
}

/**
 * The switch of one service with switched records (functions/capabilities/dns/switch.ts): the alarm
 * on the metric the control plane publishes, the Route 53 health check that follows the alarm, and
 * the calculated checks its records carry. Construct ids come from the service name and the site
 * check, not from positions in the config, so reordering services never replaces a health check a
 * record points at.
 *
 * - Alarm: the parity of the minute's `Maximum` of `PrimaryServes` (`2 x epoch + position`: the newest
 *   epoch wins), standard resolution, ALARM below 1; missing data is ignored, so the alarm keeps the
 *   last position the control plane published for as long as it publishes nothing (it publishes only
 *   to move the switch).
 * - Switch check: insufficient data (no datapoint yet, or the alarm cannot be evaluated) keeps the
 *   last known status, healthy for a new check: the primary may serve until told otherwise.
 * - Calculated: healthy only if both children are (threshold 2 of 2).
 */
const deploySwitch = (scope: Construct, config: Config, service: ServiceConfig): DnsSwitchResources => {
  const alarmName = switchAlarmName(config, service);
  const tags = [{ key: SWITCH_TAG, value: switchTagValue(config, service) }];
  const alarm = new CfnAlarm(scope, `DnsSwitchAlarm-${service.name}`, {
    alarmName,
    alarmDescription:
      `understudy's DNS switch of ${service.name}: ALARM while the standby serves (the parity of the newest PrimaryServes is 0). ` +
      'Published by the control plane only to move it; missing data keeps the last position. Not an incident alarm.',
    metrics: [
      {
        id: 'm',
        metricStat: {
          metric: {
            namespace: switchNamespace(config),
            metricName: SWITCH_METRIC,
            dimensions: [{ name: SWITCH_DIMENSION, value: service.name }],
          },
          period: 60,
          // 2 x epoch + position: the newest epoch of the minute wins.
          stat: 'Maximum',
        },
        returnData: false,
      },
      {
        id: 'position',
        expression: SWITCH_EXPRESSION,
        label: '1: primary serves, 0: standby serves',
        returnData: true,
      },
    ],
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    threshold: 1,
    comparisonOperator: 'LessThanThreshold',
    treatMissingData: 'ignore',
    actionsEnabled: false,
  });
  const switchCheck = new CfnHealthCheck(scope, `DnsSwitchCheck-${service.name}`, {
    healthCheckConfig: {
      type: 'CLOUDWATCH_METRIC',
      alarmIdentifier: { name: alarmName, region: Stack.of(scope).region },
      insufficientDataHealthStatus: 'LastKnownStatus',
    },
    healthCheckTags: [...tags, { key: 'Name', value: `${alarmName}` }],
  });
  switchCheck.addResourceDependency(alarm);
  const calculated = switchedSiteChecksOf(service).map(
    (site) =>
      new CfnHealthCheck(scope, `DnsSwitchCalculated-${service.name}-${site}`, {
        healthCheckConfig: {
          type: 'CALCULATED',
          childHealthChecks: [site, switchCheck.attrHealthCheckId],
          healthThreshold: 2,
        },
        healthCheckTags: [...tags, { key: 'Name', value: `${service.name}: ${site} AND ${alarmName}` }],
      }),
  );
  return { service: service.name, alarm, switchCheck, calculated };
};

/** The services whose switches the stack creates: those with at least one switched record. */
export const switchedServicesOf = (config: Config): ServiceConfig[] =>
  config.services.filter((svc) => switchedRecordsOf(svc).length > 0);

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
  deploy: (scope, { config }) => {
    const zones = zoneScopesOf(config);
    const healthCheckIds = healthCheckIdsOf(config);
    const switched = switchedServicesOf(config);
    for (const service of switched) deploySwitch(scope, config, service);
    return {
      engineFunctions: [],
      otherFunctions: [],
      /** The reads of DNS readiness (functions/capabilities/dns/readiness.ts): health checks only. */
      grantReadiness: (fn: IFunction) => grantHealthReads(fn, healthCheckIds),
      /** The read, change and verify calls of functions/capabilities/dns/route53.ts and health.ts. */
      grantReconcile: (fn: IFunction) => {
        grantRecordUpserts(fn, zones);
        if (switched.length > 0) grantSwitches(fn, config, switched);
        grantHealthReads(fn, healthCheckIds);
      },
    };
  },
};

/** Reading the configured health checks: their metric first (us-east-1), each one directly if stale. */
const grantHealthReads = (fn: IFunction, healthCheckIds: readonly string[]): void => {
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
};

/**
 * What flipping and reading the switches takes: PutMetricData only into the switch's own namespace
 * (IAM's `cloudwatch:namespace` condition; PutMetricData has no resource-level permission), the
 * switch alarms' state, and finding the calculated checks by their tag (ListHealthChecks has no
 * resource-level permission either; tags are read for health checks only).
 */
const grantSwitches = (fn: IFunction, config: Config, switched: readonly ServiceConfig[]): void => {
  const stack = Stack.of(fn);
  Grant.addToPrincipal({
    grantee: fn,
    actions: ['cloudwatch:PutMetricData'],
    resourceArns: ['*'],
    conditions: { StringEquals: { 'cloudwatch:namespace': switchNamespace(config) } },
  });
  const names = switched.map((svc) => switchAlarmName(config, svc));
  const alarmArns = (names.length > MAX_LISTED ? [`${config.controlPlane.stackName}-switch-*`] : names).map(
    (name) => `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${name}`,
  );
  Grant.addToPrincipal({ grantee: fn, actions: ['cloudwatch:DescribeAlarms'], resourceArns: alarmArns });
  acknowledgeCollapsed(
    fn.role,
    alarmArns,
    'DescribeAlarms reads the state of the DNS switch alarms; beyond a listed few, their shared name prefix (the stack name) bounds them.',
  );
  Grant.addToPrincipal({ grantee: fn, actions: ['route53:ListHealthChecks'], resourceArns: ['*'] });
  const healthChecks = `arn:${stack.partition}:route53:::healthcheck/*`;
  Grant.addToPrincipal({
    grantee: fn,
    actions: ['route53:ListTagsForResources'],
    resourceArns: [healthChecks],
  });
  if (fn.role) {
    Validations.of(fn.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::healthcheck/*]',
      reason:
        'ListTagsForResources only reads tags, to find the calculated switch health checks the stack created (their ids exist only after deploy); health check ids are random, so no narrower ARN exists.',
    });
  }
};
