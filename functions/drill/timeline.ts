import { isInteractive, type Progress, spinnerProgress } from '../cli/progress';
import type { SlackSink } from './slack-sink';

/** One line of the drill's timeline. */
export interface DrillStep {
  readonly scenario: string;
  readonly name: string;
  /** When the step started (milliseconds since 1970): where its bar begins in the drill's report. */
  readonly startedAt: number;
  readonly ms: number;
  readonly ok: boolean;
  readonly detail: string;
}

export type StepResult = { readonly ok: boolean; readonly detail: string };

/** What a scenario gets: the emulator's endpoint and the timeline to record its steps on. */
export interface DrillContext {
  readonly endpoint: string;
  step(name: string, run: () => Promise<StepResult>): Promise<boolean>;
  /** The Slack messages a scenario's sink received, for the timeline's closing list. */
  slack(sink: SlackSink): void;
}

/** A capability's drill: provisions its own topology on a freshly reset emulator, then runs its steps. */
export interface DrillScenario {
  readonly name: string;
  run(context: DrillContext): Promise<void>;
}

/** What a scenario's local topology offers the timeline: its Slack sink, and a way to stop it. */
export interface DrillTopology {
  readonly sink: SlackSink;
  stop(): Promise<void>;
}

/**
 * A scenario on its own local topology: the first step provisions it (nothing else runs if that
 * fails), `steps` run on it, its Slack messages join the timeline, and it is stopped whatever happened.
 */
export const drillOnTopology = async <T extends DrillTopology>(
  context: DrillContext,
  provisionStep: string,
  provision: () => Promise<{ readonly local: T; readonly detail: string }>,
  steps: (local: T) => Promise<void>,
): Promise<void> => {
  // Set inside the step's callback, so held in an object the finally clause can see.
  const held: { local?: T } = {};
  try {
    await context.step(provisionStep, async () => {
      const { local, detail } = await provision();
      held.local = local;
      return { ok: true, detail };
    });
    if (held.local === undefined) return;
    await steps(held.local);
    context.slack(held.local.sink);
  } finally {
    await held.local?.stop();
  }
};

/** A scenario that is all one local topology's: provisioned from the emulator's endpoint, then its steps. */
export const drillScenario = <T extends DrillTopology>(
  name: string,
  provisionStep: string,
  provision: (endpoint: string) => Promise<{ readonly local: T; readonly detail: string }>,
  steps: (local: T, context: DrillContext) => Promise<void>,
): DrillScenario => ({
  name,
  run: (context) =>
    drillOnTopology(
      context,
      provisionStep,
      () => provision(context.endpoint),
      (local) => steps(local, context),
    ),
});

/** The Lambda context for invoking handlers in-process. */
export { localLambdaContext as drillLambdaContext } from './lambda-context';

/** Words of `text` in lines of at most `width` columns; a word longer than that keeps its own line whole. */
export const wrapWords = (text: string, width: number): string[] => {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  return lines.length === 0 && line === '' ? [''] : [...lines, ...(line === '' ? [] : [line])];
};

/** `text` cut to at most `max` characters at a word boundary, with … when anything was cut. */
export const truncateWords = (text: string, max: number): string => {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()} …`;
};

/** The step name's column; longer names wrap inside it, so the times and details stay aligned. */
export const NAME_WIDTH = 62;
const TIME_WIDTH = 9;

/**
 * One step as printed: mark, name (wrapped in its column), time, detail. With a `width` (a terminal's)
 * the detail wraps at word boundaries under its own column; without one (a log) it stays on one line.
 */
export const formatStep = (
  step: Pick<DrillStep, 'ok' | 'name' | 'ms' | 'detail'>,
  width?: number,
): string[] => {
  const names = wrapWords(step.name, NAME_WIDTH);
  const detailColumn = 2 + NAME_WIDTH + 1 + TIME_WIDTH + 2;
  const details =
    width === undefined || width - detailColumn < 30
      ? [step.detail]
      : step.detail.split('\n').flatMap((line) => wrapWords(line, width - detailColumn));
  const time = `${step.ms} ms`.padStart(TIME_WIDTH);
  const rows = Math.max(names.length, details.length);
  return Array.from({ length: rows }, (_, i) =>
    `${i === 0 ? (step.ok ? '✓' : '✗') : ' '} ${(names[i] ?? '').padEnd(NAME_WIDTH)} ${i === 0 ? time : ' '.repeat(TIME_WIDTH)}  ${details[i] ?? ''}`.trimEnd(),
  );
};

export interface TimelineOptions {
  /** Where lines go (default: stdout). */
  readonly write?: (line: string) => void;
  /** A spinner with the elapsed time while a step runs (default: only on an interactive stdout). */
  readonly progress?: Progress;
  /** Columns to wrap details at (default: the terminal's; none when stdout is not a terminal). */
  readonly width?: number | undefined;
}

/** Records and prints each step as it completes; a step that throws fails the drill. */
export class DrillTimeline {
  readonly steps: DrillStep[] = [];
  private readonly started = Date.now();
  private readonly messages: { scenario: string; at: Date; text: string }[] = [];
  private readonly write: (line: string) => void;
  private readonly progress: Progress;
  private readonly width: number | undefined;

  constructor(options: TimelineOptions = {}) {
    const interactive = isInteractive(process.stdout);
    this.write = options.write ?? ((line) => console.log(line));
    this.progress = options.progress ?? spinnerProgress(process.stdout, interactive);
    this.width = 'width' in options ? options.width : interactive ? process.stdout.columns : undefined;
  }

  context(scenario: string, endpoint: string): DrillContext {
    return {
      endpoint,
      step: (name, run) => this.step(scenario, name, run),
      slack: (sink) => {
        for (const m of sink.messages) this.messages.push({ scenario, at: m.at, text: m.body.text ?? '' });
      },
    };
  }

  async step(scenario: string, name: string, run: () => Promise<StepResult>): Promise<boolean> {
    const t0 = performance.now();
    const startedAt = Date.now();
    let result: StepResult;
    this.progress.start(truncateWords(name, NAME_WIDTH));
    try {
      result = await run();
    } catch (error) {
      result = { ok: false, detail: `threw ${(error as Error).stack ?? String(error)}` };
    } finally {
      this.progress.stop();
    }
    const ms = Math.round(performance.now() - t0);
    this.steps.push({ scenario, name, startedAt, ms, ...result });
    for (const line of formatStep({ name, ms, ...result }, this.width)) this.write(line);
    return result.ok;
  }

  printSlack(): void {
    this.write(`\nSlack messages received by the local webhook (${this.messages.length}):`);
    for (const m of this.messages) {
      const offset = ((m.at.getTime() - this.started) / 1000).toFixed(2);
      const [headline = '', ...rest] = m.text.split('\n');
      const text = rest.length > 0 ? `${headline} …` : headline;
      this.write(`  +${offset.padStart(6)} s  [${m.scenario}] ${truncateWords(text, 140)}`);
    }
  }

  get ok(): boolean {
    return this.steps.length > 0 && this.steps.every((s) => s.ok);
  }
}
