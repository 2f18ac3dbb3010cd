import { Stack, Validations } from 'aws-cdk-lib';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { compactPatterns, isPattern } from './limits';

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

/** Record names of one hosted zone a capability may write, and their types. */
export interface RecordScope {
  readonly hostedZoneId: string;
  readonly recordNames: readonly string[];
  readonly recordTypes: readonly string[];
}

/**
 * Grants a function UPSERT of exactly these names and types in these zones (never DELETE, never
 * another name), the zone reads, and GetChange to verify its own change batches. A zone with more
 * names than a grant lists (infra/limits.ts) is granted the names' shared endings instead
 * (`*.svc-0001.example.com`): still only UPSERT, only these types, only in this zone.
 */
export const grantRecordUpserts = (fn: IFunction, zones: readonly RecordScope[]): void => {
  if (zones.length === 0) return;
  const partition = Stack.of(fn).partition;
  const zoneArn = (zoneId: string) => `arn:${partition}:route53:::hostedzone/${zoneId}`;
  for (const zone of zones) {
    const names = compactPatterns(zone.recordNames, { from: 'end' });
    const exact = {
      'route53:ChangeResourceRecordSetsRecordTypes': [...zone.recordTypes],
      'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
    };
    const namesKey = 'route53:ChangeResourceRecordSetsNormalizedRecordNames';
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['route53:ChangeResourceRecordSets'],
      resourceArns: [zoneArn(zone.hostedZoneId)],
      conditions: names.some(isPattern)
        ? { 'ForAllValues:StringLike': { [namesKey]: names }, 'ForAllValues:StringEquals': exact }
        : { 'ForAllValues:StringEquals': { [namesKey]: names, ...exact } },
    });
  }
  Grant.addToPrincipal({
    grantee: fn,
    actions: ['route53:ListResourceRecordSets'],
    resourceArns: zones.map((zone) => zoneArn(zone.hostedZoneId)),
  });
  // A change id is only known after ChangeResourceRecordSets returns, so no narrower ARN exists.
  Grant.addToPrincipal({
    grantee: fn,
    actions: ['route53:GetChange'],
    resourceArns: [`arn:${partition}:route53:::change/*`],
  });
  if (fn.role) {
    Validations.of(fn.role).acknowledge({
      // cdk-nag names the finding after the unresolved ARN, partition included.
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]',
      reason:
        'route53:GetChange verifies our own change batches; a change id exists only after ChangeResourceRecordSets returns, so change/* is the narrowest resource IAM can express.',
    });
  }
};

/** Groups record names by zone, sorted so the template is stable. */
export const recordScopes = (
  records: readonly { readonly hostedZoneId: string; readonly name: string; readonly type: string }[],
): RecordScope[] => {
  const zones = new Map<string, { names: Set<string>; types: Set<string> }>();
  for (const record of records) {
    const zone = zones.get(record.hostedZoneId) ?? { names: new Set(), types: new Set() };
    zone.names.add(normalizedRecordName(record.name));
    zone.types.add(record.type);
    zones.set(record.hostedZoneId, zone);
  }
  return [...zones.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([hostedZoneId, zone]) => ({
      hostedZoneId,
      recordNames: [...zone.names].sort(),
      recordTypes: [...zone.types].sort(),
    }));
};
