import { computeInfra } from '../functions/capabilities/compute/infra';
import { databaseInfra } from '../functions/capabilities/database/infra';
import { dnsInfra } from '../functions/capabilities/dns/infra';
import { mailInfra } from '../functions/capabilities/mail/infra';
import type { CapabilityName } from '../functions/config/schema';
import type { CapabilityInfra } from './capability-infra';

/**
 * The infrastructure side of the capability registry (functions/capabilities/registry.ts). Kept apart
 * so no CDK code is bundled into a Lambda function; the type makes a capability without an entry here
 * fail to compile.
 */
export const CAPABILITY_INFRA = {
  dns: dnsInfra,
  database: databaseInfra,
  compute: computeInfra,
  mail: mailInfra,
} satisfies Record<CapabilityName, CapabilityInfra>;
