import type { SlackSink } from './slack-sink';

/** One line of the drill's timeline. */
export interface DrillStep {
  readonly scenario: string;
  readonly name: string;
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

/** The Lambda context for invoking handlers in-process. */
export { localLambdaContext as drillLambdaContext } from './lambda-context';

/** Records and prints each step as it completes; a step that throws fails the drill. */
export class DrillTimeline {
  readonly steps: DrillStep[] = [];
  private readonly started = Date.now();
  private readonly messages: { scenario: string; at: Date; text: string }[] = [];

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
    let result: StepResult;
    try {
      result = await run();
    } catch (error) {
      result = { ok: false, detail: `threw ${(error as Error).stack ?? String(error)}` };
    }
    const ms = Math.round(performance.now() - t0);
    this.steps.push({ scenario, name, ms, ...result });
    console.log(`${result.ok ? '✓' : '✗'} ${name.padEnd(62)} ${String(ms).padStart(6)} ms  ${result.detail}`);
    return result.ok;
  }

  printSlack(): void {
    console.log(`\nSlack messages received by the local webhook (${this.messages.length}):`);
    for (const m of this.messages) {
      const offset = ((m.at.getTime() - this.started) / 1000).toFixed(2);
      const [headline = '', ...rest] = m.text.split('\n');
      console.log(
        `  +${offset.padStart(6)} s  [${m.scenario}] ${headline.slice(0, 140)}${rest.length > 0 ? ' …' : ''}`,
      );
    }
  }

  get ok(): boolean {
    return this.steps.length > 0 && this.steps.every((s) => s.ok);
  }
}
