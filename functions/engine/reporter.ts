import type { Log } from '../core/log';
import type { Notifier } from '../notify/slack';
import type { AuditEntry, StateStore } from '../state/store';

/**
 * Records every decision in the audit log and tells Slack, off the critical path: reports run in
 * parallel with the actions, and the handler awaits `flush()` before it returns. Never throws.
 * Audit entries are written as a group commit: an entry reported while no write is in flight leaves
 * at once; entries reported meanwhile leave together when it returns (in as few requests as the
 * store allows: DynamoDB's BatchWriteItem takes 25).
 * So one alarm's entries cost what they did, and a worker moving 50 services writes its audit in a
 * few requests instead of a few hundred.
 */
export class Reporter {
  private readonly inflight: Promise<void>[] = [];
  private readonly unwritten: AuditEntry[] = [];
  private writing: Promise<void> | undefined;
  /** Everything reported, in order: the CLI and the drill print it as a timeline. */
  readonly reported: AuditEntry[] = [];

  constructor(
    private readonly store: Pick<StateStore, 'appendAudits'>,
    private readonly notifier: Notifier,
    private readonly log: Log,
  ) {}

  report(entry: AuditEntry, options: { notify?: boolean } = {}): void {
    this.reported.push(entry);
    this.log.info(entry.message, { audit: entry });
    this.unwritten.push(entry);
    this.writing ??= this.writeAudit();
    if (options.notify !== false) {
      // Guarded even against a notifier that throws synchronously or rejects: reporting never fails a step.
      const sent = Promise.resolve()
        .then(() => this.notifier.notify(entry))
        .catch((error: unknown) => {
          this.log.warn('notification failed; carrying on', { error: String(error), kind: entry.kind });
        });
      this.inflight.push(sent);
    }
  }

  async flush(): Promise<void> {
    while (this.inflight.length > 0 || this.writing) {
      await Promise.allSettled([...this.inflight.splice(0), this.writing]);
    }
  }

  /** Writes what is unwritten until nothing is left, one group at a time. */
  private async writeAudit(): Promise<void> {
    // Entries reported in the same turn (a transition's decision and its first actions) go together.
    await Promise.resolve();
    while (this.unwritten.length > 0) {
      const entries = this.unwritten.splice(0);
      let failed: readonly { entry: AuditEntry; error: unknown }[];
      try {
        failed = await this.store.appendAudits(entries);
      } catch (error) {
        failed = entries.map((entry) => ({ entry, error }));
      }
      for (const { entry, error } of failed) {
        this.log.error('audit write failed', { error: String(error), entry });
      }
    }
    this.writing = undefined;
  }
}
