import { describe, expect, it } from 'vitest';
import { closestKey, editDistance, formatPath, knownKeysAt } from '../../functions/config/issues';
import { ConfigError, configSchema, parseConfig } from '../../functions/config/schema';
import { fullExampleInput } from './fixtures';

// biome-ignore lint/suspicious/noExplicitAny: each case edits the example config freely, as a person would.
type Loose = Record<string, any>;

/** The issues parseConfig reports for the example config after one edit. */
const issuesAfter = (edit: (input: Loose) => void): readonly string[] => {
  const input = fullExampleInput() as unknown as Loose;
  edit(input);
  try {
    parseConfig(input, 'broken.config.ts');
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('the edit left the config valid');
};

/**
 * Ten broken configs and exactly what an operator reads for each (at cdk synth, in the CLI's
 * validate and at Lambda cold start alike). Services, records and alarms are named by their name.
 */
describe('config errors an operator can act on', () => {
  it.each<[string, (input: Loose) => void, readonly string[]]>([
    [
      'a service name over the length limit says the limit, not a pattern error',
      (i) => {
        i.services[0].name = 's'.repeat(45);
      },
      [`services[${'s'.repeat(45)}].name: must be at most 40 characters long (it has 45)`],
    ],
    [
      'a misspelt section key suggests the closest known key',
      (i) => {
        i.services[0].dns.recrods = i.services[0].dns.records;
        delete i.services[0].dns.records;
      },
      [
        'services[shop].dns.records: is required (a list, none given)',
        'services[shop].dns.recrods: unknown key (did you mean "records"?)',
      ],
    ],
    [
      'a misspelt control-plane key suggests the known one',
      (i) => {
        i.controlPlane.stateTable = 'shop-state';
      },
      ['controlPlane.stateTable: unknown key (did you mean "stateTableName"?)'],
    ],
    [
      'a weighted record without a standby health check names the record by its name',
      (i) => {
        delete i.services[0].dns.records[0].standby.healthCheckId;
      },
      [
        'services[shop].dns.records[www.shop.example.com].standby.healthCheckId: a weighted record needs a ' +
          'health check on both sides, or Route 53 cannot fail over without the control plane',
      ],
    ],
    [
      'an unknown database kind lists the kinds',
      (i) => {
        i.services[0].database.kind = 'rds';
      },
      [
        'services[shop].database.kind: must be one of "rds-replica", "aurora-cluster", "aurora-global" (it is "rds")',
      ],
    ],
    [
      'a missing required field says it is required',
      (i) => {
        delete i.services[1].mail.domain;
      },
      ['services[shop-mail].mail.domain: is required (text, none given)'],
    ],
    [
      'a number over its limit says the limit and the value',
      (i) => {
        i.services[0].cooldownMinutes = 20_000;
      },
      ['services[shop].cooldownMinutes: must be at most 10080 (it is 20000)'],
    ],
    [
      'a misspelt key in an alarm names the alarm and suggests the key',
      (i) => {
        i.services[0].alarms[0].capabilites = ['dns'];
      },
      [
        'services[shop].alarms[shop-primary-unhealthy].capabilites: unknown key (did you mean "capabilities"?)',
      ],
    ],
    [
      'a field one level too deep says where it belongs',
      (i) => {
        i.services[1].mail.primary.backupMxPriority = 30;
      },
      [
        'services[shop-mail].mail.primary.backupMxPriority: unknown key (it belongs in services[shop-mail].mail, not here)',
      ],
    ],
    [
      'a wrong type says what was given; duplicate names fall back to the index',
      (i) => {
        i.services[0].dns.records[1].ttl = '60';
        i.services[1].name = 'shop';
      },
      ['services[0].dns.records[api.shop.example.com].ttl: must be a number, not the text "60"'],
    ],
  ])('%s', (_title, edit, expected) => {
    expect(issuesAfter(edit)).toEqual(expected);
  });

  it('puts every issue in the ConfigError message, one per line, under the file name', () => {
    const input = fullExampleInput() as unknown as Loose;
    input.services[0].mode = 'automatic';
    input.controlPlane.account = '42';
    expect(() => parseConfig(input, 'broken.config.ts')).toThrow(
      'Invalid broken.config.ts:\n' +
        '  - controlPlane.account: must be a 12-digit AWS account id\n' +
        '  - services[shop].mode: must be one of "auto", "approve", "dry-run" (it is "automatic")',
    );
  });
});

describe('the pieces', () => {
  it('formatPath names array entries by a unique name, else by index', () => {
    const input = { services: [{ name: 'a', list: ['x'] }, { name: 'b' }, { name: 'b' }, {}] };
    expect(formatPath(['services', 0, 'list', 0], input)).toBe('services[a].list[0]');
    expect(formatPath(['services', 1, 'name'], input)).toBe('services[1].name');
    expect(formatPath(['services', 3], input)).toBe('services[3]');
    expect(formatPath([], input)).toBe('(top level)');
  });

  it('knownKeysAt walks objects, arrays, optionals and unions', () => {
    expect(knownKeysAt(configSchema, ['controlPlane'])).toContain('stateTableName');
    expect(knownKeysAt(configSchema, ['services', 0, 'dns', 'records', 0])).toEqual(
      expect.arrayContaining(['name', 'routing', 'setIdentifiers']),
    );
    // Every kind's fields, for a union.
    expect(knownKeysAt(configSchema, ['services', 0, 'database'])).toEqual(
      expect.arrayContaining(['replicaInstanceId', 'clusterId', 'globalClusterId']),
    );
  });

  it('suggests only a close key', () => {
    expect(editDistance('recrods', 'records')).toBe(2);
    expect(closestKey('Records', ['records', 'hostedZoneId'])).toBe('records');
    expect(closestKey('zone', ['records', 'hostedZoneId'])).toBeUndefined();
  });
});
