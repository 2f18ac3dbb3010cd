import type { CapabilityModule } from '../../engine/module';
import { mailConfigIssues, mailSection } from './config';

/** Mail: SES as a backup MX that holds inbound mail while the primary is down and hands it back. */
export const mailModule: CapabilityModule<'mail', typeof mailSection> = {
  name: 'mail',
  summary: 'hold inbound mail at SES (backup MX) and hand it back to the primary, losing none',
  section: mailSection,
  configIssues: mailConfigIssues,
  // The stack writes the domain's MX record set (mxRecords "create"): Route 53 allows no MX beside a
  // CNAME of the same name, so another service's CNAME there must be refused, not fail the deploy.
  ownedNames: (mail) =>
    mail.mxRecords === 'create'
      ? [{ hostedZoneId: mail.hostedZoneId, name: mail.domain, type: 'MX', path: ['domain'] }]
      : [],
  // Holding mail moves no traffic and loses nothing: an OK hands it back at once (delivery still
  // waits for the primary to answer SMTP), and a sick primary is never sent mail because of a cooldown.
  alarms: { onOk: 'move-back', cooldownExempt: true },
  create: async (context) => (await import('./capability')).createMailCapability(context),
  readiness: async (context, service, input) =>
    (await import('./readiness-ses')).mailReadiness(context, service, input),
};
