/**
 * What one run (one invocation, one CLI command) shares among its services and capabilities: reads
 * that cost per hosted zone or per batch instead of per record. A new scope per run, so nothing read
 * in one run is believed in the next. Types only: engine code and planners may name them without
 * reaching the AWS SDK (functions/runtime/zone-records.ts implements them).
 */

/** A record set as Route 53 lists it: the fields the control plane reads. */
export interface ListedRecordSet {
  readonly Name?: string | undefined;
  readonly Type?: string | undefined;
  readonly SetIdentifier?: string | undefined;
  readonly Weight?: number | undefined;
  readonly TTL?: number | undefined;
  readonly ResourceRecords?: readonly { readonly Value?: string | undefined }[] | undefined;
  readonly AliasTarget?:
    | {
        readonly DNSName?: string | undefined;
        readonly HostedZoneId?: string | undefined;
        readonly EvaluateTargetHealth?: boolean | undefined;
      }
    | undefined;
  readonly HealthCheckId?: string | undefined;
}

/**
 * One run's view of Route 53 record sets: each hosted zone is read once, every page of it, and that
 * read is shared by every service and capability whose records live in the zone. An idle run then
 * costs one ListResourceRecordSets per zone and page, not one per record: Route 53 allows 5 requests
 * per second per account, for everyone in it.
 */
export interface ZoneRecords {
  /** Every record set of the zone; the first caller of a run reads it, later ones share the read. */
  recordSets(hostedZoneId: string): Promise<readonly ListedRecordSet[]>;
  /** The record sets of one name and type (any letter case, trailing dot or not, `*` or `\052`). */
  find(hostedZoneId: string, name: string, type: string): Promise<ListedRecordSet[]>;
  /**
   * Records a change batch Route 53 accepted for the zone: the run's copy of the zone is patched with
   * it (a batch takes effect all or nothing when it is accepted; PENDING and INSYNC are about the name
   * servers), so later reads in the run see the write without listing the zone again. In a
   * Region-wide failover one re-read of the zone per moved service was most of a run's Route 53
   * requests. A zone this run has not read is left unread.
   */
  written(hostedZoneId: string, changes: readonly WrittenChange[]): void;
  /** Forgets a zone after a write whose outcome is unknown, so a later read lists it again. */
  forget(hostedZoneId: string): void;
}

/** One change of an accepted batch, as ChangeResourceRecordSets took it. */
export interface WrittenChange {
  readonly Action?: string | undefined;
  readonly ResourceRecordSet?: ListedRecordSet | undefined;
}

export interface RunScope {
  /** Route 53 record sets, read once per hosted zone and run. */
  readonly zoneRecords: ZoneRecords;
  /** One value per key for this run, created on first use (e.g. a capability's batched reader). */
  shared<T>(key: string, create: () => T): T;
}
