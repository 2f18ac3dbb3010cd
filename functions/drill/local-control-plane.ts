import type { Clock } from '../core/clock';
import type { Log } from '../core/log';

/** A clock the harness moves by hand; sleeps return at once (moto has nothing to wait for). */
export const manualClock = (
  start = new Date(),
): Clock & { advance(ms: number): void; set(d: Date): void } => {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    sleep: async () => undefined,
    advance: (ms) => {
      now += ms;
    },
    set: (d) => {
      now = d.getTime();
    },
  };
};

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly extra: Record<string, unknown>[];
}

export const recordingLog = (): Log & { readonly lines: LogLine[] } => {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (message: string, ...extra: Record<string, unknown>[]) => {
      lines.push({ level, message, extra });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
};
