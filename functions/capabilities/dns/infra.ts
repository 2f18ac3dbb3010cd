import { Stack, Validations } from 'aws-cdk-lib';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { Config } from '../../config/schema';

/**
 * A record name as IAM's `route53:ChangeResourceRecordSetsNormalizedRecordNames` sees it: lowercase,
 * no trailing dot, and every character other than a-z, 0-9, '-', '_' and '.' as a three-digit octal
 * escape (so `*.example.com` is `\052.example.com`).
 */
export const normalizedRecordName = (name: string): string =>
  name
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/[^a-z0-9_.-]/g, (c) => `\\${(c.codePointAt(0) ?? 0).toString(8).padStart(3, '0')}`);

/** What the control plane may touch in one hosted zone. */
export interface ZoneScope {
  readonly hostedZoneId: string;
  readonly recordNames: readonly string[];
  readonly recordTypes: readonly string[];
}

/** The configured records grouped by hosted zone (services may share a zone), sorted for stable output. */
export const zoneScopesOf = (config: Config): ZoneScope[] => {
  const zones = new Map<string, { names: Set<string>; types: Set<string> }>();
  for (const svc of config.services) {
    if (!svc.dns) continue;
    const zone = zones.get(svc.dns.hostedZoneId) ?? { names: new Set(), types: new Set() };
    for (const record of svc.dns.records) {
      zone.names.add(normalizedRecordName(record.name));
      zone.types.add(record.type);
    }
    zones.set(svc.dns.hostedZoneId, zone);
  }
  return [...zones.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([hostedZoneId, zone]) => ({
      hostedZoneId,
      recordNames: [...zone.names].sort(),
      recordTypes: [...zone.types].sort(),
    }));
};

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

export interface DnsFailoverProps {
  readonly config: Config;
}

/**
 * The DNS capability's permissions, and nothing else. A function may UPSERT only the configured
 * record names and types, only in the configured zones: it can move traffic between the
 * configured primary and standby, but never delete a record or touch any other name.
 *
 * This construct deliberately creates no record sets: the reconciler writes them itself from the
 * config, so CloudFormation never owns them and a later `cdk deploy` cannot undo a failover.
 */
export class DnsFailover extends Construct {
  readonly zones: readonly ZoneScope[];
  readonly healthCheckIds: readonly string[];

  constructor(scope: Construct, id: string, props: DnsFailoverProps) {
    super(scope, id);
    this.zones = zoneScopesOf(props.config);
    this.healthCheckIds = healthCheckIdsOf(props.config);
  }

  /** Grants the read, change and verify calls of functions/capabilities/dns/route53.ts. */
  grantFailover(fn: IFunction): void {
    if (this.zones.length === 0) return;
    const partition = Stack.of(this).partition;
    const zoneArn = (zoneId: string) => `arn:${partition}:route53:::hostedzone/${zoneId}`;

    for (const zone of this.zones) {
      Grant.addToPrincipal({
        grantee: fn,
        actions: ['route53:ChangeResourceRecordSets'],
        resourceArns: [zoneArn(zone.hostedZoneId)],
        conditions: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': zone.recordNames,
            'route53:ChangeResourceRecordSetsRecordTypes': zone.recordTypes,
            'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          },
        },
      });
    }
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['route53:ListResourceRecordSets'],
      resourceArns: this.zones.map((zone) => zoneArn(zone.hostedZoneId)),
    });
    if (this.healthCheckIds.length > 0) {
      Grant.addToPrincipal({
        grantee: fn,
        actions: ['route53:GetHealthCheckStatus'],
        resourceArns: this.healthCheckIds.map((id) => `arn:${partition}:route53:::healthcheck/${id}`),
      });
    }
    // A change id is only known after ChangeResourceRecordSets returns, so no narrower ARN exists.
    const changes = `arn:${partition}:route53:::change/*`;
    Grant.addToPrincipal({ grantee: fn, actions: ['route53:GetChange'], resourceArns: [changes] });
    if (fn.role) {
      Validations.of(fn.role).acknowledge({
        // cdk-nag names the finding after the unresolved ARN, partition included.
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]',
        reason:
          'route53:GetChange verifies our own change batches; a change id exists only after ChangeResourceRecordSets returns, so change/* is the narrowest resource IAM can express.',
      });
    }
  }
}
