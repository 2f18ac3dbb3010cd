import type { Config, ServiceConfig } from '../../config/schema';
import type { Site } from '../../core/types';
import type * as R from '../../readiness/finding';
import { DIRECTION_TARGET, iamRecordName, notReady, ready } from '../../readiness/finding';
import type { HealthCheckVerdict } from './planner';
import { switchNamespace } from './switch';

/*
 * DNS readiness, pure: Route 53's health check verdicts -> would a failover and a failback work now.
 * A failover needs each record's standby side healthy, a failback its primary side; a record side
 * without a health check is not judged (its readiness is the other capabilities').
 */

/** The health check ids the readiness check reads: each record's side a move would go to. */
export const readinessHealthChecks = (service: ServiceConfig, active: Site): string[] => {
  const dns = service.dns;
  if (!dns) return [];
  const sides: Site[] = active === 'primary' ? ['standby', 'primary'] : ['primary'];
  return [
    ...new Set(
      dns.records.flatMap((r) => sides.flatMap((s) => (r[s].healthCheckId ? [r[s].healthCheckId] : []))),
    ),
  ];
};

export const assessDns = (
  service: ServiceConfig,
  health: Readonly<Record<string, HealthCheckVerdict>>,
  input: R.ReadinessInput,
  config?: Pick<Config, 'controlPlane'>,
): R.CapabilityReadiness => {
  const dns = service.dns;
  if (!dns) return { findings: [] };
  const findings: R.ReadinessFinding[] = [];
  const directions: R.ReadinessDirection[] =
    input.active === 'primary' ? ['failover', 'failback'] : ['failback'];
  if (input.active === 'standby') {
    findings.push(ready('failover', 'failed-over', 'the records point at the standby already'));
  }
  for (const direction of directions) {
    const side = DIRECTION_TARGET[direction];
    for (const record of dns.records) {
      const id = record[side].healthCheckId;
      if (!id) continue;
      const verdict = health[id];
      const check = `${side}-health ${record.name}`;
      findings.push(
        verdict?.healthy === true
          ? ready(direction, check, `${record.name} ${record.type}: the ${side}'s health check ${id} passes`)
          : notReady(
              direction,
              check,
              `${record.name} ${record.type}: the ${side}'s health check ${id} fails (${verdict?.detail ?? 'no verdict'})`,
            ),
      );
    }
  }
  return { findings, calls: dnsCalls(service, input, config) };
};

/** The calls a move would make, for the IAM check: the weight or value UPSERTs, or the switch. */
export const dnsCalls = (
  service: ServiceConfig,
  input: R.ReadinessInput,
  config?: Pick<Config, 'controlPlane'>,
): R.RequiredCall[] => {
  const dns = service.dns;
  if (!dns) return [];
  const calls: R.RequiredCall[] = [];
  for (const direction of ['failover', 'failback'] as const) {
    const edited = dns.records.filter((r) => r.routing !== 'switched');
    if (edited.length > 0) {
      calls.push({
        direction,
        action: 'route53:ChangeResourceRecordSets',
        resource: `arn:${input.partition}:route53:::hostedzone/${dns.hostedZoneId}`,
        context: {
          'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          'route53:ChangeResourceRecordSetsRecordTypes': [...new Set(edited.map((r) => r.type))],
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
            ...new Set(edited.map((r) => iamRecordName(r.name))),
          ],
        },
      });
    }
    if (config && dns.records.some((r) => r.routing === 'switched')) {
      calls.push({
        direction,
        action: 'cloudwatch:PutMetricData',
        resource: '*',
        context: { 'cloudwatch:namespace': switchNamespace(config) },
      });
    }
  }
  return calls;
};
