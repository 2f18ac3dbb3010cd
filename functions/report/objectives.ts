import { CAPABILITIES, type ServiceConfig } from '../config/schema';

/**
 * A service's recovery objectives: its `rtoMinutes`, and the `rpoSeconds` of every capability section
 * that declares one (the database's). Looped over the registry: no capability is named here.
 */
export const recoveryObjectives = (
  service: ServiceConfig,
): { readonly rtoMinutes?: number; readonly rpoSeconds?: Record<string, number> } => {
  const rpoSeconds: Record<string, number> = {};
  for (const name of CAPABILITIES) {
    const section = (service as Record<string, unknown>)[name];
    if (typeof section === 'object' && section !== null && 'rpoSeconds' in section) {
      const value = (section as { rpoSeconds?: unknown }).rpoSeconds;
      if (typeof value === 'number') rpoSeconds[name] = value;
    }
  }
  return {
    ...(service.rtoMinutes !== undefined && { rtoMinutes: service.rtoMinutes }),
    ...(Object.keys(rpoSeconds).length > 0 && { rpoSeconds }),
  };
};
