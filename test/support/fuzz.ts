/**
 * Shared pieces of the event fuzz tests (test/unit/fuzz-*.test.ts): arbitrary inputs, mutations of a
 * valid event, a capability that records every call, and a breather that lets the test worker's
 * event loop run during long property runs (vitest talks to its workers over that loop; a worker
 * that never yields is reported as timing out even when every test passed).
 */
import fc from 'fast-check';
import type { CapabilityName, Config, ServiceConfig } from '../../functions/config/schema';
import type { Site } from '../../functions/core/types';
import type {
  ActionResult,
  Capability,
  CapabilityPlan,
  PlannedAction,
} from '../../functions/engine/capability';
import type { ControlPlane } from '../../functions/engine/engine';
import { FakeClock, RecordingNotifier, testControlPlane } from '../unit/fixtures';

export { breather } from './breather';

/** Text that has broken parsers before: line breaks, brackets, control characters, prototype keys, huge. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\r\n',
    'a\r\nRCPT TO:<evil@evil.test>',
    '<>',
    '\u0000',
    '\u2028',
    '__proto__',
    'constructor',
    'toString',
    'NaN',
    '-1',
    '1e309',
    '2026-02-30T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '0000-01-01T00:00:00Z',
    'arn:aws:rds:eu-west-1:111111111111:db:shop-db',
    '🔥'.repeat(50),
  ),
  fc.integer({ min: 1_000, max: 20_000 }).map((n) => 'x'.repeat(n)),
);

/** Any value at all: JSON, non-JSON (boxed values, null-prototype objects, Maps, dates), nasty text. */
export const anyInput: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  fc.anything({
    withBoxedValues: true,
    withNullPrototype: true,
    withMap: true,
    withSet: true,
    withDate: true,
    withBigInt: true,
    withSparseArray: true,
    withTypedArray: true,
  }),
  nastyString,
);

type Path = readonly (string | number)[];

/** Every path into a JSON-like value, the root excluded. */
export const pathsOf = (value: unknown, prefix: Path = []): Path[] => {
  if (value === null || typeof value !== 'object') return [];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return entries.flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])]);
};

const parentOf = (root: unknown, path: Path): Record<string | number, unknown> | undefined => {
  let node = root as Record<string | number, unknown> | undefined;
  for (const key of path.slice(0, -1)) {
    node = node?.[key] as Record<string | number, unknown> | undefined;
    if (node === null || typeof node !== 'object') return undefined;
  }
  return node;
};

/** A change to one place of an event: delete it, replace it, or add a sibling. */
export type Mutation =
  | { readonly op: 'delete'; readonly path: Path }
  | { readonly op: 'set'; readonly path: Path; readonly value: unknown }
  | { readonly op: 'add'; readonly path: Path; readonly key: string; readonly value: unknown };

/**
 * Sets an own property, as JSON.parse makes one: a key such as `__proto__` is data, not the
 * prototype; and each value is a copy, so a value the generator hands out twice (a shared `{}`)
 * cannot end up inside itself.
 */
const setOwn = (target: object, key: string | number, value: unknown) =>
  Object.defineProperty(target, key, {
    value: structuredClone(value),
    enumerable: true,
    writable: true,
    configurable: true,
  });

export const applyMutations = <T>(valid: T, mutations: readonly Mutation[]): T => {
  const copy = structuredClone(valid);
  for (const m of mutations) {
    const parent = parentOf(copy, m.path);
    const key = m.path.at(-1);
    if (!parent || key === undefined) continue;
    if (m.op === 'delete') {
      if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
      else delete parent[key];
    } else if (m.op === 'set') setOwn(parent, key, m.value);
    else {
      const target = parent[key];
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
        setOwn(target, m.key, m.value);
      }
    }
  }
  return copy;
};

/** Replacement values: same-looking, wrong-typed, empty, nasty. */
const replacement: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, 0, -1, true, [], {}, Number.NaN),
);

/** One to three random mutations of `valid` (any path, any operation): may or may not stay valid. */
export const mutationsOf = (valid: unknown): fc.Arbitrary<Mutation[]> => {
  const paths = pathsOf(valid);
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ op: fc.constant('delete' as const), path: fc.constantFrom(...paths) }),
    fc.record({ op: fc.constant('set' as const), path: fc.constantFrom(...paths), value: replacement }),
    fc.record({
      op: fc.constant('add' as const),
      path: fc.constantFrom(...paths),
      key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'prototype')),
      value: replacement,
    }),
  );
  return fc.array(mutation, { minLength: 1, maxLength: 3 });
};

/** Counts of everything a capability was asked to do: reads (observe), plans and writes (execute). */
export interface CallCounts {
  observe: number;
  plan: number;
  execute: number;
}

/**
 * A capability that records every call and has one action to take per run: on valid input the
 * counts show the engine reached AWS; on invalid input they must stay at zero.
 */
export const recordingCapability = (name: CapabilityName, counts: CallCounts): Capability => {
  let acted = false;
  return {
    name,
    async observe(_service: ServiceConfig, _target: Site) {
      counts.observe++;
      return {};
    },
    plan(): CapabilityPlan {
      counts.plan++;
      if (acted) return { kind: 'converged', detail: 'done' };
      return {
        kind: 'act',
        detail: 'one step',
        actions: [
          { capability: name, api: `fuzz:${name}`, reason: 'fuzz', params: {} } satisfies PlannedAction,
        ],
      };
    },
    async execute(): Promise<ActionResult> {
      counts.execute++;
      acted = true;
      return { verified: true, detail: 'done' };
    },
  };
};

/** What one fuzzed event did to a control plane. */
export interface FuzzEffects {
  /** Capability observe + plan + execute calls: the AWS reads and writes the input led to. */
  readonly calls: number;
  /** Desired-state, status and audit writes. */
  readonly writes: number;
  readonly notified: number;
}

/** Runs `act` on a fresh fake control plane whose every capability records its calls. */
export const withRecordingControlPlane = async <R>(
  config: Config,
  now: Date,
  act: (cp: ControlPlane) => Promise<R>,
): Promise<{ readonly result: R } & FuzzEffects> => {
  const counts: CallCounts = { observe: 0, plan: 0, execute: 0 };
  const capabilities = new Map<CapabilityName, Capability>();
  const notifier = new RecordingNotifier();
  const base = testControlPlane({ config, notifier, clock: new FakeClock(now.toISOString()) });
  const cp: ControlPlane = {
    ...base,
    capability: async (name: CapabilityName) => {
      const existing = capabilities.get(name) ?? recordingCapability(name, counts);
      capabilities.set(name, existing);
      return existing;
    },
  };
  const result = await act(cp);
  await cp.reporter.flush();
  const store = base.fakeStore;
  return {
    result,
    calls: counts.observe + counts.plan + counts.execute,
    writes:
      store.intentWrites() +
      store.count('writeStatus') +
      store.count('appendAudit') +
      store.count('acquireLease') +
      store.count('markLeaseWanted') +
      store.count('claimNotice'),
    notified: notifier.sent.length,
  };
};

export const setAt = (path: readonly (string | number)[], value: unknown): Mutation => ({
  op: 'set',
  path,
  value,
});
export const deleteAt = (path: readonly (string | number)[]): Mutation => ({ op: 'delete', path });
/** EventBridge's envelope time: second precision, Z. */
export const envelopeTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Times every event source must refuse: older than `maxAgeSeconds`, more than 5 minutes ahead, or not a time. */
export const untimely = (now: Date, maxAgeSeconds: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.integer({ min: maxAgeSeconds + 1, max: 10 ** 8 }).map((s) => envelopeTime(now.getTime() - s * 1000)),
    fc.integer({ min: 301, max: 10 ** 8 }).map((s) => envelopeTime(now.getTime() + s * 1000)),
    fc.string(),
  );
