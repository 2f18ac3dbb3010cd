import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * What keeps a 1,000-service stack deployable: the documented size limits it must stay under, and
 * the two ways we stay under them. Lists of names or ARNs in a grant are collapsed to shared
 * prefixes (or suffixes) once they are long; values an EventBridge rule matches are split across
 * several rules, so matching stays exact. test/infra/scale.test.ts checks the limits at 1,000.
 */

/** IAM: the inline policies of one role together, in characters (whitespace not counted). */
export const IAM_INLINE_POLICIES_PER_ROLE_CHARS = 10_240;
/** IAM: one customer managed policy, in characters (whitespace not counted). */
export const IAM_MANAGED_POLICY_CHARS = 6_144;
/** IAM: managed policies attached to one role (default quota). */
export const IAM_MANAGED_POLICIES_PER_ROLE = 10;
/** EventBridge: one rule's event pattern, in characters (default quota). */
export const EVENT_PATTERN_CHARS = 2_048;
/** EventBridge: rules per event bus (default quota). */
export const RULES_PER_EVENT_BUS = 300;
/** Lambda: a function's resource-based policy, in bytes. */
export const LAMBDA_RESOURCE_POLICY_BYTES = 20_480;
/** S3: a bucket policy, in bytes. */
export const BUCKET_POLICY_BYTES = 20_480;
/** CloudFormation: resources per stack, and a template uploaded through S3, in bytes. */
export const RESOURCES_PER_STACK = 500;
export const TEMPLATE_BYTES = 1_000_000;

/**
 * How many names or ARNs one list of a grant holds before it is collapsed: enough that a runbook of
 * a few services is granted exactly what it names, few enough that every capability's grants of a
 * 1,000-service runbook fit one role's inline policy.
 */
export const MAX_LISTED = 10;

const commonPrefix = (a: string, b: string): string => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
};

const reverse = (s: string) => [...s].reverse().join('');

/**
 * At most `max` IAM patterns (with `*`) that match every one of `values`: the values themselves when
 * there are no more than `max`; otherwise the sorted values are cut into `max` runs where neighbours
 * share the least, and each run of two or more becomes its shared prefix followed by `*` (or, `from:
 * 'end'`, `*` followed by its shared suffix: DNS names share their ends). The patterns may match
 * more than the values, never less; the caller acknowledges the wildcard.
 */
export const compactPatterns = (
  values: Iterable<string>,
  options: { readonly max?: number; readonly from?: 'start' | 'end' } = {},
): string[] => {
  const max = Math.max(1, options.max ?? MAX_LISTED);
  const fromEnd = options.from === 'end';
  const keys = [...new Set(values)].map((v) => (fromEnd ? reverse(v) : v)).sort();
  if (keys.length <= max) return keys.map((k) => (fromEnd ? reverse(k) : k)).sort();
  // Cut where adjacent values share the shortest prefix (earliest first on ties).
  const cuts = keys
    .slice(1)
    .map((key, i) => ({ at: i + 1, shared: commonPrefix(keys[i] as string, key).length }))
    .sort((a, b) => a.shared - b.shared || a.at - b.at)
    .slice(0, max - 1)
    .map((c) => c.at)
    .sort((a, b) => a - b);
  const patterns = new Set<string>();
  let start = 0;
  for (const end of [...cuts, keys.length]) {
    const first = keys[start] as string;
    const last = keys[end - 1] as string;
    const pattern = start === end - 1 ? first : `${commonPrefix(first, last)}*`;
    patterns.add(fromEnd ? reverse(pattern) : pattern);
    start = end;
  }
  // A pattern another one already covers adds nothing.
  const covers = (wide: string, narrow: string) =>
    wide !== narrow &&
    (fromEnd
      ? wide.startsWith('*') && narrow.endsWith(wide.slice(1))
      : wide.endsWith('*') && narrow.startsWith(wide.slice(0, -1)));
  return [...patterns].filter((p) => ![...patterns].some((q) => covers(q, p))).sort();
};

/** True when an IAM value holds a wildcard (and needs StringLike / ArnLike, and an acknowledgement). */
export const isPattern = (value: string): boolean => value.includes('*');

/**
 * Splits the values one field of an event pattern must match into groups, each small enough that
 * `pattern(group)` stays within EventBridge's limit (with room to spare for CloudFormation's own
 * rendering); one rule per group keeps matching exact.
 */
export const splitForEventPatterns = (
  values: readonly string[],
  pattern: (group: readonly string[]) => unknown,
  limit: number = EVENT_PATTERN_CHARS - 148,
): string[][] => {
  const size = (group: readonly string[]) => JSON.stringify(pattern(group)).length;
  const groups: string[][] = [];
  let current: string[] = [];
  for (const value of values) {
    if (current.length > 0 && size([...current, value]) > limit) {
      groups.push(current);
      current = [];
    }
    current.push(value);
    if (size(current) > limit)
      throw new Error(`"${value}" alone makes an event pattern over ${limit} characters`);
  }
  if (current.length > 0 || groups.length === 0) groups.push(current);
  return groups;
};

/** A construct id for the n-th (0-based) of several alike: the first keeps the plain id. */
export const nthId = (id: string, n: number): string => (n === 0 ? id : `${id}${n + 1}`);

/**
 * An ARN as cdk-nag names it in a finding: unresolved parts as `<AWS::Partition>` or
 * `<LogicalId.Attribute>`.
 */
export const nagName = (scope: IConstruct, arn: string): string => {
  if (!Token.isUnresolved(arn)) return arn;
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    if (typeof value !== 'object' || value === null) return String(value);
    const v = value as Record<string, unknown>;
    if ('Ref' in v) return `<${String(v.Ref)}>`;
    if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in v) {
      const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(separator);
    }
    return JSON.stringify(value);
  };
  return render(Stack.of(scope).resolve(arn));
};

/**
 * Acknowledges cdk-nag's IAM5 finding for each collapsed (wildcard) resource granted to a role, with
 * the reason the caller gives. Exact resources need none.
 */
export const acknowledgeCollapsed = (
  role: IConstruct | undefined,
  resources: readonly string[],
  reason: string,
): void => {
  if (!role) return;
  for (const resource of resources.filter(isPattern)) {
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagName(role, resource)}]`,
      reason,
    });
  }
};
