import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The design's first structural rule: planners decide, executors act. A planner (and everything it
 * imports, transitively) must not import the AWS SDK, not even its types, so it stays pure and
 * testable without clients. New capabilities' planners (functions/capabilities/<name>/planner.ts) are
 * picked up automatically.
 */
const root = resolve(import.meta.dirname, '..', '..');
const functions = join(root, 'functions');
const capabilities = join(functions, 'capabilities');

const planners = [
  ...readdirSync(capabilities, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    // Readiness assessments are pure too (functions/capabilities/<name>/readiness.ts): observe elsewhere.
    .flatMap((d) => [join(capabilities, d.name, 'planner.ts'), join(capabilities, d.name, 'readiness.ts')])
    .filter(existsSync),
  join(functions, 'readiness', 'finding.ts'),
  join(functions, 'state', 'intent.ts'),
  join(functions, 'trigger', 'alarm-event.ts'),
];

const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map(
    (m) => m[1] ?? '',
  );

const resolveLocal = (from: string, specifier: string): string | undefined =>
  [`${specifier}.ts`, join(specifier, 'index.ts')]
    .map((candidate) => resolve(dirname(from), candidate))
    .find(existsSync);

/** Every package imported by `file` and the local modules it reaches. */
const reachablePackages = (file: string, seen = new Set<string>()): Map<string, string> => {
  const packages = new Map<string, string>();
  if (seen.has(file)) return packages;
  seen.add(file);
  for (const specifier of importsOf(file)) {
    if (specifier.startsWith('.')) {
      const local = resolveLocal(file, specifier);
      if (local) for (const [pkg, via] of reachablePackages(local, seen)) packages.set(pkg, via);
    } else {
      packages.set(specifier, relative(root, file));
    }
  }
  return packages;
};

describe('planners are pure', () => {
  it('finds the planners to check', () => {
    expect(planners.map((p) => relative(root, p))).toContain('functions/capabilities/dns/planner.ts');
  });

  it.each(planners.map((p) => [relative(root, p), p]))('%s reaches no AWS SDK import', (_name, file) => {
    const sdk = [...reachablePackages(file)].filter(([pkg]) => /^@(aws-sdk|smithy)\//.test(pkg));
    expect(sdk.map(([pkg, via]) => `${pkg} (imported by ${via})`)).toEqual([]);
  });

  it('would notice one: the DNS executor does import the SDK', () => {
    const packages = reachablePackages(join(capabilities, 'dns', 'route53.ts'));
    expect([...packages.keys()]).toContain('@aws-sdk/client-route-53');
  });
});
