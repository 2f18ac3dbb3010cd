import type { ResourceRecordSet, Route53Client } from '@aws-sdk/client-route-53';
import type { ClientKit } from './client-kit';
import type { ListedRecordSet, RunScope, WrittenChange, ZoneRecords } from './run-scope';

/** The most ListResourceRecordSets returns in one page. */
export const ZONE_PAGE_SIZE = 300;

/** A record name as we compare names: lowercase, one trailing dot, Route 53's octal escapes undone. */
export const canonicalName = (name: string): string => {
  const unescaped = name.replace(/\\(\d{3})/g, (_m, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
  return (unescaped.endsWith('.') ? unescaped : `${unescaped}.`).toLowerCase();
};

/** What names one record set in a zone: its name, type and set identifier (weighted, failover). */
const recordSetKey = (set: ListedRecordSet) =>
  `${canonicalName(set.Name ?? '')} ${set.Type ?? ''} ${set.SetIdentifier ?? ''}`;

/** A zone's record sets after an accepted batch: each change's set deleted, or put in its place. */
export const withChanges = (
  sets: readonly ListedRecordSet[],
  changes: readonly WrittenChange[],
): ListedRecordSet[] => {
  const after = new Map(sets.map((set) => [recordSetKey(set), set] as const));
  for (const { Action, ResourceRecordSet: set } of changes) {
    if (set === undefined) continue;
    if (Action === 'DELETE') after.delete(recordSetKey(set));
    else after.set(recordSetKey(set), set);
  }
  return [...after.values()];
};

/**
 * A run's zone reader. The Route 53 client is asked for (and its code loaded) only when a zone is
 * first read, so a function that never reads records never loads Route 53.
 */
let route53Sdk: Promise<typeof import('@aws-sdk/client-route-53')> | undefined;
/**
 * Route 53's SDK module, imported once per container: a resolved import then costs a microtask, not
 * a module-cache lookup per zone read (and the model walk stays deterministic).
 */
export const loadRoute53Sdk = () => {
  route53Sdk ??= import('@aws-sdk/client-route-53');
  return route53Sdk;
};

export const zoneRecordsReader = (route53: () => Promise<Route53Client>): ZoneRecords => {
  const zones = new Map<string, Promise<readonly ListedRecordSet[]>>();

  const readZone = async (hostedZoneId: string): Promise<readonly ResourceRecordSet[]> => {
    const [client, { ListResourceRecordSetsCommand }] = await Promise.all([route53(), loadRoute53Sdk()]);
    const sets: ResourceRecordSet[] = [];
    let start: { name?: string; type?: string; identifier?: string } = {};
    for (;;) {
      const page = await client.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: hostedZoneId,
          MaxItems: ZONE_PAGE_SIZE,
          ...(start.name !== undefined && { StartRecordName: start.name }),
          ...(start.type !== undefined && { StartRecordType: start.type as never }),
          ...(start.identifier !== undefined && { StartRecordIdentifier: start.identifier }),
        }),
      );
      sets.push(...(page.ResourceRecordSets ?? []));
      if (!page.IsTruncated || page.NextRecordName === undefined) return sets;
      start = { name: page.NextRecordName, type: page.NextRecordType, identifier: page.NextRecordIdentifier };
    }
  };

  const recordSets = (hostedZoneId: string) => {
    let read = zones.get(hostedZoneId);
    if (!read) {
      read = readZone(hostedZoneId);
      // A failed read is tried again by the next caller, not remembered.
      read.catch(() => {
        if (zones.get(hostedZoneId) === read) zones.delete(hostedZoneId);
      });
      zones.set(hostedZoneId, read);
    }
    return read;
  };

  return {
    recordSets,
    async find(hostedZoneId, name, type) {
      const wanted = canonicalName(name);
      return (await recordSets(hostedZoneId)).filter(
        (set) => set.Type === type && canonicalName(set.Name ?? '') === wanted,
      );
    },
    written(hostedZoneId, changes) {
      const read = zones.get(hostedZoneId);
      if (read === undefined) return;
      const patched = read.then((sets) => withChanges(sets, changes));
      patched.catch(() => {
        if (zones.get(hostedZoneId) === patched) zones.delete(hostedZoneId);
      });
      zones.set(hostedZoneId, patched);
    },
    forget(hostedZoneId) {
      zones.delete(hostedZoneId);
    },
  };
};

/** A new run's scope on a container's clients (functions/runtime/run-scope.ts). */
export const newRunScope = (clients: ClientKit): RunScope => {
  const values = new Map<string, unknown>();
  return {
    zoneRecords: zoneRecordsReader(async () => clients.client((await loadRoute53Sdk()).Route53Client)),
    shared<T>(key: string, create: () => T): T {
      if (!values.has(key)) values.set(key, create());
      return values.get(key) as T;
    },
  };
};
