import type { Config, ServiceConfig } from '../../config/schema';
import type { DnsRecordConfig } from './config';

/**
 * The names of a service's DNS switch, derived from the config alone so the stack (which creates the
 * switch), the executor (which flips it) and the local harness agree without passing ids around.
 *
 * The switch of a service with `routing: 'switched'` records is one CloudWatch metric in the control
 * plane's Region: `PrimaryServes` (1: the primary may serve, 0: the standby serves) in the stack's own
 * namespace, dimension `Service`. A standard-resolution alarm on it (ALARM below 1, missing data
 * ignored so the last position holds) is watched by a Route 53 CLOUDWATCH_METRIC health check
 * (insufficient data: last known status), which each switched record's primary side combines with the
 * site's own health check in a CALCULATED health check (both children healthy). Pure: no SDK import.
 */

export const SWITCH_METRIC = 'PrimaryServes';
export const SWITCH_DIMENSION = 'Service';
/** The tag the stack puts on a service's switch health checks, so the reconciler can find their ids. */
export const SWITCH_TAG = 'understudy:switch';

/** The switch metric's namespace: the stack's own, so IAM can limit PutMetricData to it. */
export const switchNamespace = (config: Pick<Config, 'controlPlane'>): string =>
  `Understudy/${config.controlPlane.stackName}/Switch`;

/** The alarm Route 53 watches: `<stackName>-switch-<service>`. */
export const switchAlarmName = (config: Pick<Config, 'controlPlane'>, service: Pick<ServiceConfig, 'name'>) =>
  `${config.controlPlane.stackName}-switch-${service.name}`;

/** The tag value on the service's switch health checks (metric and calculated). */
export const switchTagValue = (config: Pick<Config, 'controlPlane'>, service: Pick<ServiceConfig, 'name'>) =>
  `${config.controlPlane.stackName}/${service.name}`;

export type SwitchedRecordConfig = Extract<DnsRecordConfig, { routing: 'switched' }>;

export const isSwitched = (record: DnsRecordConfig): record is SwitchedRecordConfig =>
  record.routing === 'switched';

/** The service's switched records. */
export const switchedRecordsOf = (service: ServiceConfig): SwitchedRecordConfig[] =>
  (service.dns?.records ?? []).filter(isSwitched);

/** The primary-site health checks the service's calculated switch checks combine, sorted, once each. */
export const switchedSiteChecksOf = (service: ServiceConfig): string[] =>
  [
    ...new Set(
      switchedRecordsOf(service).flatMap((r) =>
        r.primary.healthCheckId === undefined ? [] : [r.primary.healthCheckId],
      ),
    ),
  ].sort();

/** The switch value for a site: 1 when the primary serves, 0 when the standby does. */
export const switchValueFor = (site: 'primary' | 'standby'): 0 | 1 => (site === 'primary' ? 1 : 0);
