import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Clock } from '../core/clock';
import type { Log } from '../core/log';
import type { ControlPlane } from '../engine/engine';
import { createControlPlane } from '../runtime/control-plane';
import type { AwsClients } from './local-aws';
import {
  localAwsClients,
  provisionSampleTopology,
  type SampleTopology,
  type TopologyOptions,
} from './local-aws';
import { type SlackSink, startSlackSink } from './slack-sink';

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

export interface LocalControlPlane {
  readonly clients: AwsClients & { readonly cloudwatch: CloudWatchClient };
  readonly topology: SampleTopology;
  readonly sink: SlackSink;
  readonly clock: ReturnType<typeof manualClock>;
  readonly log: ReturnType<typeof recordingLog>;
  /** A fresh control plane (one Reporter) per "invocation", on shared real SDK clients. */
  controlPlane(): ControlPlane;
  stop(): Promise<void>;
}

/**
 * Real AWS SDK v3 clients pointed at the emulator through AWS_ENDPOINT_URL, the sample topology,
 * a local Slack sink, and the same createControlPlane the Lambdas use.
 */
export const startLocalControlPlane = async (
  endpoint: string,
  options: Partial<TopologyOptions> & { readonly maxAttempts?: number } = {},
): Promise<LocalControlPlane> => {
  const clients = localAwsClients(endpoint, options.maxAttempts);
  const sink = await startSlackSink();
  const topology = await provisionSampleTopology(clients, { slackWebhookUrl: sink.webhookUrl, ...options });
  const clock = manualClock();
  const log = recordingLog();
  return {
    clients,
    topology,
    sink,
    clock,
    log,
    controlPlane: () =>
      createControlPlane({
        config: topology.config,
        clients: clients.kit,
        log,
        clock,
        notifier: sink.notifier(topology.config, clients.secrets, log),
        changeVerify: { verifyAttempts: 5, verifyIntervalMs: 10 },
      }),
    stop: () => sink.stop(),
  };
};
