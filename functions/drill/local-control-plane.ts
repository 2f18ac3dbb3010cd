import type { Config } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Log } from '../core/log';
import type { ControlPlane } from '../engine/engine';
import { createAlarmHandler } from '../handlers/alarm';
import { type ControlPlaneOptions, createControlPlane } from '../runtime/control-plane';
import type { AlarmOutcome } from '../trigger/handle-alarm';
import { localLambdaContext } from './lambda-context';
import { type AwsClients, localAwsClients, setAlarmAndBuildEvent } from './local-aws';
import { type SlackSink, startSlackSink } from './slack-sink';

let followRealTime = false;

/**
 * From now on, harness clocks created in this process run with real time (plus what the harness
 * advances them by) instead of standing still: the drill does this so that its transitions' measured
 * recovery is the real in-process time. Tests keep clocks that move only when told to.
 */
export const harnessClocksFollowRealTime = (): void => {
  followRealTime = true;
};

/** A clock the harness moves by hand; sleeps return at once (moto has nothing to wait for). */
export const manualClock = (
  start = new Date(),
): Clock & { advance(ms: number): void; set(d: Date): void } => {
  let now = start.getTime();
  const follow = followRealTime;
  const origin = Date.now();
  return {
    now: () => new Date(follow ? now + (Date.now() - origin) : now),
    sleep: async () => undefined,
    advance: (ms) => {
      now += ms;
    },
    set: (d) => {
      now = d.getTime() - (follow ? Date.now() - origin : 0);
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

/**
 * What every capability's local harness has: real SDK clients pointed at the emulator, a local Slack
 * sink, a clock moved by hand and a recording log.
 */
export interface LocalHarness {
  readonly clients: AwsClients;
  readonly sink: SlackSink;
  readonly clock: ReturnType<typeof manualClock>;
  readonly log: ReturnType<typeof recordingLog>;
  stop(): Promise<void>;
}

export const startHarness = async (endpoint: string, maxAttempts?: number): Promise<LocalHarness> => {
  const clients = localAwsClients(endpoint, maxAttempts);
  const sink = await startSlackSink();
  return { clients, sink, clock: manualClock(), log: recordingLog(), stop: () => sink.stop() };
};

/**
 * A fresh control plane (one Reporter) per "invocation", on the harness's clients, built by the same
 * createControlPlane the Lambdas use. Route 53 changes are verified briefly: moto is INSYNC at once.
 */
export const harnessControlPlane =
  (harness: LocalHarness, config: Config, tuning?: ControlPlaneOptions['tuning']) => (): ControlPlane =>
    createControlPlane({
      config,
      clients: harness.clients.kit,
      log: harness.log,
      clock: harness.clock,
      notifier: harness.sink.notifier(config, harness.clients.kit, harness.log),
      changeVerify: { verifyAttempts: 5, verifyIntervalMs: 10 },
      tuning,
    });

/**
 * The alarm path as AWS runs it, in-process: `set` changes an alarm's state in the emulator and hands
 * the EventBridge event of that change to the alarm function; `deliver` hands it an event (again).
 */
export const alarmPath = (cloudwatch: AwsClients['cloudwatch'], controlPlane: () => ControlPlane) => {
  const invoke = createAlarmHandler(controlPlane);
  const deliver = async (event: unknown) => (await invoke(event, localLambdaContext)) as AlarmOutcome[];
  return {
    deliver,
    async set(alarmName: string, value: 'ALARM' | 'OK', reason: string, at?: Date) {
      const event = await setAlarmAndBuildEvent(cloudwatch, alarmName, value, reason, at);
      return { event, outcomes: await deliver(event) };
    },
  };
};
