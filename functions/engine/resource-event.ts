import type { CapabilityName } from '../config/schema';
import { type CapabilityReport, type ControlPlane, reconcileService } from './engine';

/**
 * An AWS resource event (an RDS event, an EC2 state change) woke one capability: classify it with the
 * capability's own rules, then take the next step of that capability for each service it concerns.
 * An event only wakes the reconciler early (the schedule would run within a minute anyway), so it
 * never changes intent; an event that does not validate or concerns nothing is logged and ignored.
 */
export const handleResourceEvent = async (
  cp: ControlPlane,
  capability: CapabilityName,
  raw: unknown,
): Promise<CapabilityReport[]> => {
  const events = cp.modules.find((m) => m.name === capability)?.events;
  if (!events) {
    cp.log.warn('event ignored', { reason: `capability "${capability}" takes no resource events` });
    return [];
  }
  const verdict = events.classify(raw, cp.config, cp.clock.now());
  if (verdict.kind === 'ignore') {
    cp.log.info('event ignored', { reason: verdict.reason, capability });
    return [];
  }
  cp.log.info(`${capability} event: reconciling`, { reason: verdict.reason });
  const reports: CapabilityReport[] = [];
  for (const service of verdict.services) {
    reports.push(...(await reconcileService(cp, service, [capability])));
  }
  return reports;
};
