import type { CapabilityModule } from '../../engine/module';
import { dnsSection } from './config';
import { switchConfigIssues } from './switch';

/** DNS: Route 53 records moved from the primary to the standby (weighted pairs or plain swaps). */
export const dnsModule: CapabilityModule<'dns', typeof dnsSection> = {
  name: 'dns',
  summary: 'reroute Route 53 records to the standby',
  section: dnsSection,
  configIssues: switchConfigIssues,
  ownedNames: (dns) =>
    dns.records.map((record, j) => ({
      hostedZoneId: dns.hostedZoneId,
      name: record.name,
      type: record.type,
      path: ['records', j, 'name'],
    })),
  // Loaded on first use: a function that never reconciles DNS never loads Route 53's executor.
  create: async (context) => (await import('./route53')).createDnsCapability(context),
  readiness: async (context, service, input) =>
    (await import('./route53')).dnsReadiness(context, service, input),
};
