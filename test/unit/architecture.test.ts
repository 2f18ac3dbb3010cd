import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CAPABILITY_MODULES } from '../../functions/capabilities/registry';

/**
 * The capability module rule: a capability is its folder (functions/capabilities/<name>/) plus one
 * line in each registry. Nothing else in the product (functions/, infra/, bin/) may name it: not by
 * import path, not as a string, a property or an object key. Comments may.
 */
const root = resolve(import.meta.dirname, '..', '..');
const REGISTRIES = [
  'functions/capabilities/registry.ts',
  'infra/capabilities.ts',
  'functions/drill/scenarios.ts',
];

const sourceFiles = (dir: string): string[] =>
  readdirSync(join(root, dir)).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(entry) ? [path] : [];
  });

/** The code without its comments (strings kept), so prose may mention a capability. */
const withoutComments = (code: string): string => {
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < code.length; i++) {
    const c = code[i] as string;
    const next = code[i + 1];
    if (quote) {
      out += c;
      if (c === '\\') {
        out += next ?? '';
        i++;
      } else if (c === quote) quote = undefined;
    } else if (c === '/' && next === '/') {
      while (i < code.length && code[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && next === '*') {
      const end = code.indexOf('*/', i + 2);
      i = end < 0 ? code.length : end + 1;
    } else {
      if (c === "'" || c === '"' || c === '`') quote = c;
      out += c;
    }
  }
  return out;
};

/** Every way code can name a capability: a path segment, a string, a property, a key. */
const namings = (code: string, name: string): string[] => {
  const n = name.replace(/[-]/g, '\\-');
  const patterns = [
    new RegExp(`capabilities/${n}(/|['"\`])`, 'g'),
    new RegExp(`(['"\`])${n}\\1`, 'g'),
    new RegExp(`\\?*\\.${n}\\b(?![-/.(])`, 'g'),
    new RegExp(`[{,\\s]${n}\\??:`, 'g'),
  ];
  const stripped = withoutComments(code);
  return patterns.flatMap((p) => [...stripped.matchAll(p)].map((m) => m[0].trim()));
};

const names = CAPABILITY_MODULES.map((m) => m.name);
const product = ['functions', 'infra', 'bin'].flatMap(sourceFiles);

describe('capability modules', () => {
  it('finds every capability folder in the registry, and the registry in the folders', () => {
    const folders = readdirSync(join(root, 'functions', 'capabilities')).filter((f) =>
      statSync(join(root, 'functions', 'capabilities', f)).isDirectory(),
    );
    expect(folders.sort()).toEqual([...names].sort());
    expect(product.length).toBeGreaterThan(50);
  });

  it.each(names)('names "%s" only in its own folder and the registries', (name) => {
    const outside = product.filter(
      (file) => !file.startsWith(`functions/capabilities/${name}/`) && !REGISTRIES.includes(file),
    );
    const found = outside.flatMap((file) =>
      namings(readFileSync(join(root, file), 'utf8'), name).map((hit) => `${relative('.', file)}: ${hit}`),
    );
    expect(found).toEqual([]);
  });

  it('would notice a capability named outside its folder', () => {
    expect(namings("import { x } from '../capabilities/dns/planner';", 'dns')).toHaveLength(1);
    expect(namings("const c = ['dns'];", 'dns')).toEqual(["'dns'"]);
    expect(namings('if (svc.compute) go();', 'compute')).toEqual(['.compute']);
    expect(namings('const o = { mail: section };', 'mail')).toEqual(['mail:']);
    expect(namings('// the dns capability: svc.dns\nconst x = 1;', 'dns')).toEqual([]);
    expect(namings("const u = 'https://x/y'; // 'dns'", 'dns')).toEqual([]);
  });
});
