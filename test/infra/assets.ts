import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import type { ControlFunction } from '../../infra/control-function';
import type { Synthesized } from './synth';

/** A function's code asset as `cdk synth` wrote it to the cloud assembly. */
export interface Asset {
  readonly name: string;
  readonly dir: string;
  /** The code files (index.mjs and its chunks). */
  readonly code: string[];
  readonly environment: Record<string, string>;
}

/** The function's code asset in the cloud assembly, from the template's asset metadata. */
export const assetOf = (synth: Synthesized, name: string, fn: ControlFunction | undefined): Asset => {
  if (!fn) throw new Error(`no ${name} function in the stack`);
  const logicalId = synth.stack.getLogicalId(fn.node.defaultChild as CfnElement);
  const resources = synth.templateJson.Resources as Record<
    string,
    {
      Metadata: Record<string, string>;
      Properties: { Environment?: { Variables?: Record<string, unknown> } };
    }
  >;
  const resource = resources[logicalId];
  const assetPath = resource?.Metadata['aws:asset:path'];
  if (!assetPath) throw new Error(`${name}: no asset path in the template metadata`);
  const dir = join(synth.assembly.directory, assetPath);
  return {
    name,
    dir,
    code: readdirSync(dir)
      .filter((f) => f.endsWith('.mjs'))
      .map((f) => join(dir, f)),
    // Only literal values: a reference (a secret's ARN) resolves at deploy time.
    environment: Object.fromEntries(
      Object.entries(resource.Properties.Environment?.Variables ?? {}).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      ),
    ),
  };
};

/**
 * The files a module loads before its handler can run: itself and, transitively, every chunk it
 * imports statically. A chunk reached only through `import(...)` loads on first use, not at init.
 */
export const loadedAtInit = (entry: string): string[] => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    // `import{a as b}from"./x.mjs"`, `import*as c from"./x.mjs"`, `import"./x.mjs"`; never `import(`.
    for (const [, chunk] of code.matchAll(
      /\bimport\s*(?:[{*\w][^"'()]*?from\s*)?["'](\.\/[^"']+\.mjs)["']/g,
    )) {
      visit(join(file, '..', chunk as string));
    }
  };
  visit(entry);
  return [...seen];
};
