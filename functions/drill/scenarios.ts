import { computeDrill } from '../capabilities/compute/drill';
import { databaseDrill } from '../capabilities/database/drill';
import { dnsDrill } from '../capabilities/dns/drill';
import { mailDrill } from '../capabilities/mail/drill';
import type { CapabilityName } from '../config/schema';
import type { DrillScenario } from './timeline';

/**
 * The drill's registry: each capability module contributes its scenario from its own folder. Kept
 * apart from the runtime registry so the emulator harness is never bundled into a Lambda function;
 * the type makes a capability without a scenario fail to compile.
 */
export const DRILL_SCENARIOS: Readonly<Record<CapabilityName, DrillScenario>> = {
  dns: dnsDrill,
  database: databaseDrill,
  compute: computeDrill,
  mail: mailDrill,
};
