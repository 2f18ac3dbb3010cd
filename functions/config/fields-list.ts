import type * as z from 'zod';
import { arrayElement, objectShape } from './issues';

/**
 * Every field path of a config schema, dotted, with `[]` for a list of objects:
 * `controlPlane.region`, `services[]`, `services[].dns.records[].primary.healthCheckId`. A list of
 * plain values (e.g. `targetGroupArns`) is one field. Used to check the README's field reference.
 */
export const fieldPaths = (schema: z.ZodType, prefix = ''): string[] => {
  const shape = objectShape(schema);
  if (!shape) return [];
  return Object.entries(shape).flatMap(([key, field]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const element = arrayElement(field);
    if (element && objectShape(element)) return [`${path}[]`, ...fieldPaths(element, `${path}[]`)];
    return objectShape(field) ? [path, ...fieldPaths(field, path)] : [path];
  });
};
