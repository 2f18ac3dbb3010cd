import type { Log } from '../core/log';
import type { Notifier } from '../notify/slack';
import type { AuditEntry, StateStore } from '../state/store';

/**
 * Records every decision in the audit log and tells Slack, off the critical path: reports run in
 * parallel with the actions, and the handler awaits `flush()` before it returns. Never throws.
 */
export class Reporter {
  private readonly inflight: Promise<void>[] = [];
  /** Everything reported, in order: the CLI and the drill print it as a timeline. */
  readonly reported: AuditEntry[] = [];

  constructor(
    private readonly store: Pick<StateStore, 'appendAudit'>,
    private readonly notifier: Notifier,
    private readonly log: Log,
  ) {}

  report(entry: AuditEntry, options: { notify?: boolean } = {}): void {
    this.reported.push(entry);
    this.log.info(entry.message, { audit: entry });
    const audit = this.store.appendAudit(entry).catch((error: unknown) => {
      this.log.error('audit write failed', { error: String(error), entry });
    });
    this.inflight.push(audit);
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
    while (this.inflight.length > 0) {
      await Promise.allSettled(this.inflight.splice(0));
    }
  }
}
