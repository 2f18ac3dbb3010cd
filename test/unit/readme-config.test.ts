import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CAPABILITY_MODULES } from '../../functions/capabilities/registry';
import { fieldPaths } from '../../functions/config/fields-list';
import { configSchema } from '../../functions/config/schema';

const README = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');

/**
 * The README's field reference: the table under "## Configuration reference" whose header starts
 * with `| Field |`; each row's first column is one backticked dotted path.
 */
const documentedFields = (markdown: string): string[] => {
  const section = markdown.split(/^## Configuration reference$/m)[1]?.split(/^## /m)[0] ?? '';
  const lines = section.split('\n');
  const header = lines.findIndex((l) => l.startsWith('| Field |'));
  if (header < 0) throw new Error('no "| Field |" table under "## Configuration reference"');
  const rows: string[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const first = line.split('|')[1]?.trim() ?? '';
    const match = /^`([^`]+)`$/.exec(first);
    if (!match?.[1]) throw new Error(`a row whose first column is not one backticked path: ${line}`);
    rows.push(match[1]);
  }
  return rows;
};

const schemaFields = fieldPaths(configSchema);
const readmeFields = documentedFields(readFileSync(README, 'utf8'));

/** Containers documented by their fields, never as a whole (a row for them would cover everything). */
const CONTAINERS = new Set([
  'controlPlane',
  'services[]',
  ...CAPABILITY_MODULES.map((m) => `services[].${m.name}`),
]);

const isUnder = (path: string, ancestor: string) =>
  path.startsWith(`${ancestor}.`) || path.startsWith(`${ancestor}[]`);

describe("the README's configuration reference matches the schema", () => {
  it('documents only fields the schema has, each once', () => {
    expect(readmeFields.filter((f) => !schemaFields.includes(f))).toEqual([]);
    expect(readmeFields.filter((f, i) => readmeFields.indexOf(f) !== i)).toEqual([]);
    expect(readmeFields.filter((f) => CONTAINERS.has(f))).toEqual([]);
  });

  it('documents every schema field, itself or as part of a documented object', () => {
    const undocumented = schemaFields.filter(
      (field) =>
        !readmeFields.includes(field) &&
        !readmeFields.some((doc) => isUnder(field, doc)) &&
        // A container or list is documented through its fields.
        !readmeFields.some((doc) => isUnder(doc, field)),
    );
    expect(undocumented).toEqual([]);
  });

  it('walks the real schema (sanity: fields of every capability are there)', () => {
    expect(schemaFields).toContain('services[].description');
    expect(schemaFields).toContain('services[].mail.backupMxPriority');
    expect(schemaFields).not.toContain('services[].mail.primary.backupMxPriority');
    expect(schemaFields).toContain('services[].database.region');
    for (const module of CAPABILITY_MODULES) {
      expect(schemaFields.some((f) => f.startsWith(`services[].${module.name}.`))).toBe(true);
    }
  });
});
