import type * as z from 'zod';

/**
 * Turns zod's issues into messages an operator can act on, the same at `cdk synth`, in the CLI and at
 * Lambda cold start (parseConfig uses it):
 *
 * - paths name things by their name: `services[shop].dns.records[www.shop.example].primary.healthCheckId`
 *   (an array entry with a unique string `name` is shown by it, any other by its index);
 * - an unknown key says which known key was probably meant (closest by edit distance);
 * - limits are stated as limits: "must be at most 40 characters (it has 45)", not a pattern error;
 * - a missing field says it is required; a wrong enum value lists the allowed ones.
 *
 * Messages the schema writes itself (a field's own wording, cross-field rules) are kept as they are.
 */

type Issue = z.core.$ZodIssue;
type Key = PropertyKey;

const child = (node: unknown, key: Key): unknown =>
  node !== null && typeof node === 'object' ? (node as Record<Key, unknown>)[key] : undefined;

/** The display name of an array entry: its `name` when that is a string unique in the array. */
const entryName = (array: unknown, index: number): string | undefined => {
  if (!Array.isArray(array)) return undefined;
  const name = child(array[index], 'name');
  if (typeof name !== 'string' || name.length === 0) return undefined;
  return array.filter((e) => child(e, 'name') === name).length === 1 ? name : undefined;
};

/** `services[shop].dns.records[www.shop.example].primary`; the top level is `(top level)`. */
export const formatPath = (path: readonly Key[], input: unknown): string => {
  let out = '';
  let node = input;
  for (const key of path) {
    if (typeof key === 'number') {
      out += `[${entryName(node, key) ?? key}]`;
    } else {
      out += out === '' ? String(key) : `.${String(key)}`;
    }
    node = child(node, key);
  }
  return out === '' ? '(top level)' : out;
};

// --- the schema's shape, for suggestions and for the README's field list --------------------------

interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly element?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly shape?: Record<string, z.ZodType>;
  readonly getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional']);

/** The schema under optional/default/transform wrappers, and every option of a union. */
export const unwrap = (schema: z.ZodType): z.ZodType[] => {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type) && def.innerType) return unwrap(def.innerType);
  if (def.type === 'pipe' && def.in) return unwrap(def.in);
  if (def.type === 'lazy' && def.getter) return unwrap(def.getter());
  if (def.type === 'union' && def.options) return def.options.flatMap(unwrap);
  return [schema];
};

/** The fields of an object schema (of every option, for a union), or undefined if it is not an object. */
export const objectShape = (schema: z.ZodType): Record<string, z.ZodType> | undefined => {
  const objects = unwrap(schema)
    .map(defOf)
    .filter((d) => d.type === 'object' && d.shape);
  if (objects.length === 0) return undefined;
  return Object.assign({}, ...objects.map((d) => d.shape));
};

/** The element schema of an array schema, or undefined. */
export const arrayElement = (schema: z.ZodType): z.ZodType | undefined => {
  const arrays = unwrap(schema)
    .map(defOf)
    .filter((d) => d.type === 'array' && d.element);
  return arrays[0]?.element;
};

/** The schemas at a path of the input (several where a union allows several). */
const schemasAt = (schema: z.ZodType, path: readonly Key[]): z.ZodType[] => {
  let current: z.ZodType[] = [schema];
  for (const key of path) {
    current = current.flatMap((s) => {
      if (typeof key === 'number') {
        const element = arrayElement(s);
        return element ? [element] : [];
      }
      const field = objectShape(s)?.[String(key)];
      return field ? [field] : [];
    });
  }
  return current;
};

/** The keys an object at `path` may have. */
export const knownKeysAt = (schema: z.ZodType, path: readonly Key[]): string[] => [
  ...new Set(schemasAt(schema, path).flatMap((s) => Object.keys(objectShape(s) ?? {}))),
];

/** Edit distance (Levenshtein), case-insensitive. */
export const editDistance = (a: string, b: string): number => {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (x[i - 1] === y[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[y.length] ?? 0;
};

/** The known key closest to `key`, if it is close enough to be a typo of it. */
export const closestKey = (key: string, known: readonly string[]): string | undefined => {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(key, name);
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(2, Math.floor(Math.max(key.length, best.name.length) / 3));
  return best.distance <= allowed ? best.name : undefined;
};

// --- messages -------------------------------------------------------------------------------------

/** zod's own default wording, which we replace; a schema's own message never starts like this. */
const ZOD_DEFAULT =
  /^(Invalid input|Too big|Too small|Invalid option|Invalid discriminator value|Invalid element)/;

const quote = (value: unknown) => (typeof value === 'string' ? `"${value}"` : String(value));

const describe = (value: unknown): string => {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') {
    return value.length > 40
      ? `${quote(`${value.slice(0, 40)}…`)}, ${value.length} characters`
      : quote(value);
  }
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
};

const EXPECTED: Record<string, string> = {
  string: 'text',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
};

const sizeOf = (value: unknown): number | undefined =>
  typeof value === 'string' || Array.isArray(value) ? value.length : undefined;

const limit = (issue: Extract<Issue, { code: 'too_big' | 'too_small' }>, value: unknown): string => {
  const most = issue.code === 'too_big';
  const bound = Number(
    most ? (issue as { maximum: unknown }).maximum : (issue as { minimum: unknown }).minimum,
  );
  const inclusive = issue.inclusive !== false;
  const size = sizeOf(value);
  switch (issue.origin) {
    case 'string':
      if (!most && bound === 1) return 'must not be empty';
      return `must be at ${most ? 'most' : 'least'} ${bound} character${bound === 1 ? '' : 's'} long (it has ${size ?? '?'})`;
    case 'array':
    case 'set':
      if (!most && bound === 1) return 'must list at least one entry';
      return `must list at ${most ? 'most' : 'least'} ${bound} entr${bound === 1 ? 'y' : 'ies'} (it has ${size ?? '?'})`;
    default:
      if (inclusive) return `must be at ${most ? 'most' : 'least'} ${bound} (it is ${quote(value)})`;
      return `must be ${most ? 'less' : 'more'} than ${bound} (it is ${quote(value)})`;
  }
};

/** One issue's message (without its path): the schema's own words, or ours for zod's defaults. */
const messageFor = (issue: Issue, value: unknown): string => {
  const own = !ZOD_DEFAULT.test(issue.message);
  switch (issue.code) {
    case 'invalid_type':
      if (own) return issue.message;
      if (value === undefined)
        return `is required (${EXPECTED[issue.expected] ?? issue.expected}, none given)`;
      return `must be ${EXPECTED[issue.expected] ?? issue.expected}, not ${typeof value === 'string' ? 'the text ' : ''}${describe(value)}`;
    case 'too_big':
    case 'too_small':
      return own ? issue.message : limit(issue, value);
    case 'invalid_value':
      if (own) return issue.message;
      return issue.values.length === 1
        ? `must be ${quote(issue.values[0])} (it is ${quote(value)})`
        : `must be one of ${issue.values.map(quote).join(', ')} (it is ${quote(value)})`;
    case 'invalid_union': {
      const options = (issue as { options?: readonly unknown[] }).options;
      if (options && options.length > 0) {
        return value === undefined
          ? `is required: one of ${options.map(quote).join(', ')}`
          : `must be one of ${options.map(quote).join(', ')} (it is ${quote(value)})`;
      }
      return own ? issue.message : 'does not match any of the allowed shapes';
    }
    case 'invalid_format':
      if (issue.format === 'regex' && issue.message.startsWith('Invalid string')) {
        return `must match the pattern ${issue.pattern ?? '(see the README)'} (it is ${describe(value)})`;
      }
      return issue.message;
    default:
      return issue.message;
  }
};

const valueAt = (input: unknown, path: readonly Key[]): unknown =>
  path.reduce<unknown>((node, key) => child(node, key), input);

/** The nearest enclosing object (above `path`) that does know `key`: a field put one level too deep. */
const ancestorWith = (schema: z.ZodType, path: readonly Key[], key: string): readonly Key[] | undefined => {
  for (let end = path.length - 1; end >= 0; end--) {
    const ancestor = path.slice(0, end);
    if (knownKeysAt(schema, ancestor).includes(key)) return ancestor;
  }
  return undefined;
};

/** Every issue as `path: message`, in zod's order; unknown keys give one line each. */
export const formatIssues = (issues: readonly Issue[], input: unknown, schema: z.ZodType): string[] =>
  issues.flatMap((issue) => {
    const path = issue.path as readonly Key[];
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, path);
      return issue.keys.map((key) => {
        const guess = closestKey(key, known);
        const home = guess ? undefined : ancestorWith(schema, path, key);
        const hint = guess
          ? `did you mean "${guess}"?`
          : home
            ? `it belongs in ${formatPath(home, input)}, not here`
            : `known keys: ${known.join(', ')}`;
        return `${formatPath([...path, key], input)}: unknown key (${hint})`;
      });
    }
    return [`${formatPath(path, input)}: ${messageFor(issue, valueAt(input, path))}`];
  });
