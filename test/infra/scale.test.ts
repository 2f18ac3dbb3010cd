import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseIdentifiers } from '../../functions/capabilities/database/rds-event';
import { alarmRegionOf, type Config } from '../../functions/config/schema';
import type { ControlFunction } from '../../infra/control-function';
import {
  BUCKET_POLICY_BYTES,
  EVENT_PATTERN_CHARS,
  IAM_INLINE_POLICIES_PER_ROLE_CHARS,
  IAM_MANAGED_POLICIES_PER_ROLE,
  IAM_MANAGED_POLICY_CHARS,
  LAMBDA_RESOURCE_POLICY_BYTES,
  MAX_LISTED,
  RESOURCES_PER_STACK,
  RULES_PER_EVENT_BUS,
  TEMPLATE_BYTES,
} from '../../infra/limits';
import { normalizedRecordName } from '../../infra/route53-grants';
import { scaleConfig } from '../support/scale-config';
import { assetOf } from './assets';
import { type Synthesized, synthesize } from './synth';

/**
 * A Region fails and 1,000 services move: the project must still deploy. One synth of a generated
 * 1,000-service runbook (every capability; test/support/scale-config.ts), with bundling and cdk-nag,
 * exactly as `cdk synth` runs, and one of the same runbook cut to one service, compared.
 */
const SERVICES = 1000;

interface Resource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
}

const resourcesOf = (template: Record<string, unknown>): [string, Resource][] =>
  Object.entries(template.Resources as Record<string, Resource>);

/** IAM counts policy characters without whitespace. */
const iamChars = (document: unknown) => JSON.stringify(document).replace(/\s/g, '').length;

const refOf = (value: unknown): string | undefined => (value as { Ref?: string } | undefined)?.Ref;

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, string[]>>;
}

/** Every statement granted to a role, inline or managed. */
const statementsOfRole = (template: Record<string, unknown>, roleId: string): Statement[] =>
  resourcesOf(template)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
    .filter(([, r]) => ((r.Properties.Roles as unknown[]) ?? []).some((role) => refOf(role) === roleId))
    .flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);

/** A pattern as IAM's StringLike reads it. */
const matches = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  ).test(value);

describe(`cdk synth of ${SERVICES} services`, () => {
  let config: Config;
  let large: Synthesized;
  let small: Synthesized;

  // Each synth blocks the worker while it runs; a turn of the event loop between the steps lets the
  // worker answer vitest, which otherwise fails a busy run with `Timeout calling "onTaskUpdate"`.
  const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

  beforeAll(async () => {
    // Prepare
    config = scaleConfig({ services: SERVICES });
    await breathe();
    const one = scaleConfig({ services: 1 });

    // Act: with the cdk-nag gate, as `cdk synth`: an unacknowledged finding or an E2BIG would throw
    small = synthesize(one, { bundle: true });
    await breathe();
    large = synthesize(config, { bundle: true });
    await breathe();
  });
  afterAll(() => {
    large?.cleanup();
    small?.cleanup();
  });

  const functionsOf = (synth: Synthesized): [string, ControlFunction | undefined][] => [
    ['alarm', synth.stack.alarmTrigger?.handler],
    ['reconcile', synth.stack.reconciler.handler],
    ['dispatch', synth.stack.reconciler.dispatcher],
    ['rds-event', synth.stack.capabilities.get('database')?.engineFunctions[0]],
    ['ec2-event', synth.stack.capabilities.get('compute')?.engineFunctions[0]],
    ['mail-recorder', synth.stack.capabilities.get('mail')?.otherFunctions[0]],
  ];

  it('represents every capability', () => {
    // Assess
    expect([...large.stack.capabilities.keys()].sort()).toEqual(['compute', 'database', 'dns', 'mail']);
    expect(config.services).toHaveLength(SERVICES);
    expect(new Set(config.services.map((s) => s.dns?.hostedZoneId)).size).toBe(5);
  });

  it('passes cdk-nag: no failed plugin in the validation report', () => {
    // Act
    const file = join(large.assembly.directory, 'validation-report.json');
    const report = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { pluginReports: { conclusion: string }[] })
      : { pluginReports: [] };

    // Assess
    expect(report.pluginReports.filter((r) => r.conclusion !== 'success')).toEqual([]);
  });

  it('bundles the same code for every function as with one service; only the config file grows', () => {
    const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
    const smallFunctions = new Map(functionsOf(small));
    for (const [name, largeFn] of functionsOf(large)) {
      const smallFn = smallFunctions.get(name);
      // Act
      const largeAsset = assetOf(large, name, largeFn);
      const smallAsset = assetOf(small, name, smallFn);
      const code = (files: string[]) => files.map((f) => `${basename(f)} ${digest(f)}`).sort();
      const configOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Config;

      // Assess
      expect(code(largeAsset.code), name).toEqual(code(smallAsset.code));
      expect(configOf(largeAsset.dir).services, name).toHaveLength(SERVICES);
      expect(configOf(smallAsset.dir).services, name).toHaveLength(1);
    }
  });

  it('stays within CloudFormation limits: resources per stack and template size', () => {
    for (const template of [large.templateJson, ...large.forwarders.map((f) => f.templateJson)]) {
      // Assess
      expect(resourcesOf(template).length).toBeLessThanOrEqual(RESOURCES_PER_STACK);
      expect(JSON.stringify(template).length).toBeLessThanOrEqual(TEMPLATE_BYTES);
    }
  });

  it('keeps every event pattern within EventBridge limits and still matches exactly the configured alarms and databases', () => {
    const rules = (template: Record<string, unknown>) =>
      resourcesOf(template)
        .filter(([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern !== undefined)
        .map(
          ([, r]) =>
            r.Properties.EventPattern as Record<string, unknown> & { detail?: Record<string, string[]> },
        );
    const matched = (patterns: ReturnType<typeof rules>, field: string) =>
      patterns.flatMap((p) => p.detail?.[field] ?? []).sort();

    for (const template of [large.templateJson, ...large.forwarders.map((f) => f.templateJson)]) {
      // Act
      const patterns = rules(template);

      // Assess
      expect(patterns.length).toBeLessThanOrEqual(RULES_PER_EVENT_BUS);
      for (const pattern of patterns)
        expect(JSON.stringify(pattern).length).toBeLessThanOrEqual(EVENT_PATTERN_CHARS);
    }
    const alarms = (region: string) =>
      [
        ...new Set(
          config.services.flatMap((s) =>
            s.alarms.filter((a) => alarmRegionOf(config, a) === region).map((a) => a.name),
          ),
        ),
      ].sort();
    // The control plane's rules match every configured alarm (forwarded ones arrive on its bus too).
    expect(matched(rules(large.templateJson), 'alarmName')).toEqual(
      [...new Set(config.services.flatMap((s) => s.alarms.map((a) => a.name)))].sort(),
    );
    for (const forwarder of large.forwarders) {
      expect(matched(rules(forwarder.templateJson), 'alarmName')).toEqual(alarms(forwarder.stack.region));
    }
    expect(matched(rules(large.templateJson), 'SourceIdentifier')).toEqual(
      [
        ...new Set(config.services.flatMap((s) => (s.database ? databaseIdentifiers(s.database) : []))),
      ].sort(),
    );
  });

  it('keeps every role within IAM limits: inline policies, managed policy size and count', () => {
    const template = large.templateJson;
    const policies = resourcesOf(template).filter(
      ([, r]) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy',
    );
    const roles = resourcesOf(template)
      .filter(([, r]) => r.Type === 'AWS::IAM::Role')
      .map(([id]) => id);
    expect(roles.length).toBeGreaterThanOrEqual(5);
    for (const role of roles) {
      // Act
      const attached = policies.filter(([, r]) =>
        ((r.Properties.Roles as unknown[]) ?? []).some((ref) => refOf(ref) === role),
      );
      const inline = attached.filter(([, r]) => r.Type === 'AWS::IAM::Policy');
      const managed = attached.filter(([, r]) => r.Type === 'AWS::IAM::ManagedPolicy');

      // Assess
      const inlineChars = inline.reduce((sum, [, r]) => sum + iamChars(r.Properties.PolicyDocument), 0);
      expect(inlineChars, `${role} inline policies`).toBeLessThanOrEqual(IAM_INLINE_POLICIES_PER_ROLE_CHARS);
      expect(managed.length, `${role} managed policies`).toBeLessThanOrEqual(IAM_MANAGED_POLICIES_PER_ROLE);
      for (const [id, r] of managed) {
        expect(iamChars(r.Properties.PolicyDocument), id).toBeLessThanOrEqual(IAM_MANAGED_POLICY_CHARS);
      }
    }
  });

  it('still lets the reconciler UPSERT every configured name, only UPSERT, only in the configured zones', () => {
    // Prepare
    const roleId = large.stack.getLogicalId(
      large.stack.reconciler.handler.role?.node.defaultChild as CfnElement,
    );
    const changes = statementsOfRole(large.templateJson, roleId).filter((s) =>
      [s.Action].flat().includes('route53:ChangeResourceRecordSets'),
    );

    // Act: the names each zone's statements allow (DNS records and database endpoints grant their own)
    const byZone = new Map<string, string[]>();
    for (const change of changes) {
      const conditions = Object.values(change.Condition ?? {}).reduce((all, c) => Object.assign(all, c), {});
      expect(conditions['route53:ChangeResourceRecordSetsActions']).toEqual(['UPSERT']);
      expect(
        conditions['route53:ChangeResourceRecordSetsRecordTypes']?.every((t) => ['A', 'CNAME'].includes(t)),
      ).toBe(true);
      const names = conditions['route53:ChangeResourceRecordSetsNormalizedRecordNames'] ?? [];
      expect(names.length).toBeLessThanOrEqual(MAX_LISTED);
      const zone = /hostedzone\/([A-Z0-9]+)/.exec(JSON.stringify(change.Resource))?.[1] ?? '?';
      byZone.set(zone, [...(byZone.get(zone) ?? []), ...names]);
    }

    // Assess: only the configured zones, and every configured name in them
    const zones = new Set(config.services.map((s) => s.dns?.hostedZoneId));
    expect([...byZone.keys()].sort()).toEqual([...zones].sort());
    for (const [zone, patterns] of byZone) {
      const configured = config.services.flatMap((s) => [
        ...(s.dns?.hostedZoneId === zone ? (s.dns?.records.map((r) => r.name) ?? []) : []),
        ...(s.database && s.database.endpoint.hostedZoneId === zone ? [s.database.endpoint.name] : []),
      ]);
      expect(configured.length).toBeGreaterThan(0);
      const missed = configured.map(normalizedRecordName).filter((n) => !patterns.some((p) => matches(p, n)));
      expect({ zone, missed }).toEqual({ zone, missed: [] });
    }
  });

  it('keeps resource policies within their limits: each function, and the held-mail bucket', () => {
    // Prepare: a Lambda permission statement (principal, function ARN, source ARN) is under 400 bytes
    const permissionBytes = 400;
    const permissions = new Map<string, number>();
    for (const [, r] of resourcesOf(large.templateJson)) {
      if (r.Type !== 'AWS::Lambda::Permission') continue;
      const fn = JSON.stringify(r.Properties.FunctionName);
      permissions.set(fn, (permissions.get(fn) ?? 0) + 1);
    }
    const bucketPolicies = resourcesOf(large.templateJson).filter(
      ([, r]) => r.Type === 'AWS::S3::BucketPolicy',
    );

    // Assess
    expect(permissions.size).toBeGreaterThan(0);
    for (const [fn, count] of permissions) {
      expect(count * permissionBytes, fn).toBeLessThanOrEqual(LAMBDA_RESOURCE_POLICY_BYTES);
    }
    for (const [id, r] of bucketPolicies) {
      expect(JSON.stringify(r.Properties.PolicyDocument).length, id).toBeLessThanOrEqual(BUCKET_POLICY_BYTES);
    }
  });
});
