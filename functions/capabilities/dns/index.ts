import type { CapabilityModule } from '../../engine/module';
import { dnsSection } from './config';
import { switchConfigIssues } from './switch';

const MOVE_CHANGES = { weighted: 2, swap: 1, switched: 0 } as const;

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
  // A hosted zone's changes leave as one ChangeResourceRecordSets (Route 53 takes 100 changes a
  // request, ROUTE53_BATCH_LIMITS, and 5 requests a second per account); a move writes a weighted
  // pair's two record sets, a swapped record's one, and a switched record's none (a switch moves it).
  gathering: {
    key: (dns) => dns.hostedZoneId,
    weight: (dns) => dns.records.reduce((sum, r) => sum + MOVE_CHANGES[r.routing], 0),
    capacity: 100,
  },
  // Loaded on first use: a function that never reconciles DNS never loads Route 53's executor.
  create: async (context) => (await import('./route53')).createDnsCapability(context),
  readiness: async (context, service, input) =>
    (await import('./route53')).dnsReadiness(context, service, input),
};
