import type { Config, ServiceConfig } from '../../config/schema';
import type { DnsRecordConfig } from './config';

/**
 * The names of a service's DNS switch, derived from the config alone so the stack (which creates the
 * switch), the executor (which flips it) and the local harness agree without passing ids around.
 *
 * The switch of a service with `routing: 'switched'` records is one CloudWatch metric in the control
 * plane's Region: `PrimaryServes` in the stack's own namespace, dimension `Service`, published as
 * `2 x epoch + position` (position 1: the primary may serve, 0: the standby serves). A
 * standard-resolution alarm takes the minute's Maximum (the newest epoch wins, so a failover and a
 * failback published in the same minute end on the later one) and its parity, `m - 2 * FLOOR(m / 2)`,
 * ALARM below 1; missing data is ignored so the last position holds. A Route 53 CLOUDWATCH_METRIC
 * health check follows the alarm (insufficient data: last known status), and each switched record's
 * primary side combines it with the site's own health check in a CALCULATED health check (both
 * children healthy). Pure: no SDK import.
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

/** The switch value for a site in an epoch: `2 x epoch + 1` when the primary serves, `2 x epoch` when the standby does. */
export const switchValueFor = (site: 'primary' | 'standby', epoch: number): number =>
  2 * epoch + (site === 'primary' ? 1 : 0);

/** The position a published value says: its parity (1: primary). */
export const switchPositionOf = (value: number): 'primary' | 'standby' =>
  value - 2 * Math.floor(value / 2) >= 1 ? 'primary' : 'standby';

/** The alarm's metric math: the parity of the minute's Maximum. */
export const SWITCH_EXPRESSION = 'm - 2 * FLOOR(m / 2)';

/**
 * CloudFormation resources the stack spends on switches: per switched service an alarm and its
 * health check, plus one calculated check per primary-site check. A stack holds at most 500
 * resources; the switches may take this many, leaving the rest for the control plane itself.
 */
export const SWITCH_RESOURCE_BUDGET = 400;

export const switchResourcesOf = (service: ServiceConfig): number =>
  switchedRecordsOf(service).length === 0 ? 0 : 2 + switchedSiteChecksOf(service).length;

/** Config issues of switched records: their switches must fit the stack. */
export const switchConfigIssues = (config: Config): { path: (string | number)[]; message: string }[] => {
  const used = config.services.reduce((sum, svc) => sum + switchResourcesOf(svc), 0);
  if (used <= SWITCH_RESOURCE_BUDGET) return [];
  const first = config.services.findIndex((svc) => switchResourcesOf(svc) > 0);
  return [
    {
      path: ['services', Math.max(first, 0), 'dns', 'records'],
      message:
        `switched records need ${used} CloudFormation resources for their switches (an alarm and two health ` +
        `checks per service, one more per further primary health check), over the ${SWITCH_RESOURCE_BUDGET} a stack ` +
        "can spare (500 per stack): use routing 'weighted' for some services",
    },
  ];
};
