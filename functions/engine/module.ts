import type * as z from 'zod';
import type { Config, ServiceConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Log } from '../core/log';
import type { Site, TransitionRequest } from '../core/types';
import type { CapabilityReadiness, ReadinessInput } from '../readiness/finding';
import type { ClientKit } from '../runtime/client-kit';
import type { RunScope } from '../runtime/run-scope';
import type { Capability } from './capability';

/**
 * The capability module contract: everything the shared code (config schema, runtime, stack, CLI,
 * trigger, drill) needs to know about one capability, declared in the capability's own folder.
 * Shared code loops over the registry (functions/capabilities/registry.ts) and never names a
 * capability; adding one is a folder plus a registry line.
 */
export interface CapabilityModule<Name extends string = string, Section extends z.ZodType = z.ZodType> {
  /** The config key of the capability's section, e.g. `dns`; also its name in the state table. */
  readonly name: Name;
  /** One line for help texts: what failing this capability over does. */
  readonly summary: string;
  /** The service's config section (zod); errors must name the field. */
  readonly section: Section;
  /** Checks across services (e.g. one owner per DNS name); paths are relative to the config root. */
  readonly configIssues?: (config: Config) => readonly ConfigIssue[];
  /** Route 53 names the capability writes: the config refuses two owners for one name. */
  readonly ownedNames?: (section: z.output<Section>) => readonly OwnedName[];
  /**
   * Services that write to one shared resource (DNS: a hosted zone) are queued together, so one
   * worker moves them at once and their writes can leave as one request (functions/engine/fan-out.ts).
   */
  readonly gathering?: Gathering<z.output<Section>>;
  /** Operator qualifiers of an intent (`understudy failover --accept-data-loss`). */
  readonly flags?: readonly OperatorFlag[];
  /** Extra operator commands (`understudy replace <service> <instance-id>...`). */
  readonly commands?: readonly OperatorCommand[];
  /** How the alarm trigger treats this capability; default: move on ALARM, hold on OK. */
  readonly alarms?: AlarmBehaviour;
  /** AWS resource events (EventBridge) that wake this capability's reconciler early. */
  readonly events?: ResourceEvents;
  /**
   * Builds the observe / plan / execute triple on the container's clients. Asynchronous so the
   * executor and its SDK clients are imported only by a function that reconciles this capability.
   */
  create(context: CapabilityContext): Promise<Capability>;
  /**
   * Would a failover (and a failback) of this capability work right now, and if not, why: reads
   * only, changes nothing (functions/readiness/). Loads its clients lazily, like `create`. Optional:
   * a capability without it is reported as not checked.
   */
  readiness?(
    context: CapabilityContext,
    service: ServiceConfig,
    input: ReadinessInput,
  ): Promise<CapabilityReadiness>;
}

/**
 * How a capability's writes to a shared resource gather: services with the same `key` go in one work
 * item until their `weight`s (what one service's move adds to the shared request) reach `capacity`
 * (what one request holds). In a Region-wide failure the shared request is what AWS rate-limits.
 */
export interface Gathering<Section> {
  key(section: Section): string;
  weight(section: Section): number;
  readonly capacity: number;
}

export interface ConfigIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export interface OwnedName {
  readonly hostedZoneId: string;
  readonly name: string;
  readonly type: string;
  /** Where in the service section it is configured, for the error message. */
  readonly path: readonly (string | number)[];
}

/** A boolean CLI flag that records an intent param, kept with the intent for every later run. */
export interface OperatorFlag {
  /** Without dashes, e.g. `accept-data-loss`. */
  readonly flag: string;
  /** The intent param it sets to true, e.g. `acceptDataLoss`. */
  readonly param: string;
  readonly help: string;
}

/** An operator command a capability adds, turned into a transition request. */
export interface OperatorCommand {
  readonly name: string;
  /** Usage of the positional arguments after the service, e.g. `<instance-id>...`. */
  readonly args: string;
  readonly help: string;
  /** Validates the positional arguments; returns the values or a usage message. */
  parseArgs(
    args: readonly string[],
  ):
    | { readonly ok: true; readonly values: readonly string[] }
    | { readonly ok: false; readonly message: string };
  /** Why the command cannot run for this service (e.g. no section), or undefined. */
  refuse?(service: ServiceConfig): string | undefined;
  /** The request the command makes; recorded as the operator's. */
  request(service: ServiceConfig, values: readonly string[], operator: string): TransitionRequest;
}

/** How an alarm's ALARM and OK move this capability. */
export interface AlarmBehaviour {
  /**
   * `move-back`: in auto mode an OK moves the capability back to the primary at once (mail: handing
   * held mail back moves no traffic). `hold` (default): an OK is recorded and failback waits.
   */
  readonly onOk?: 'hold' | 'move-back';
  /** Moving to the standby moves no traffic, so alarms may do it inside the cooldown window. */
  readonly cooldownExempt?: boolean;
  /**
   * An alarm with `scope: instance` (one server) amends the intent on the primary with the server to
   * replace, under `param`, instead of moving the service.
   */
  readonly perServer?: {
    readonly param: string;
    /** Whether the server is one of the service's; undefined when the config cannot tell (tags). */
    isServer(service: ServiceConfig, instanceId: string): boolean | undefined;
  };
}

/** A verdict on one raw resource event: which services' capability to reconcile now, or why not. */
export type ResourceEventVerdict =
  | { readonly kind: 'ignore'; readonly reason: string }
  | { readonly kind: 'reconcile'; readonly services: readonly ServiceConfig[]; readonly reason: string };

export interface ResourceEvents {
  /** The EventBridge pattern of the stack's rule (source and detail-type). */
  readonly pattern: { readonly source: readonly string[]; readonly detailType: readonly string[] };
  /** Validates and routes one event. Pure; never throws. */
  classify(raw: unknown, config: Config, now: Date): ResourceEventVerdict;
}

/** What a module's `create` gets: the container's clients and the invocation's clock and log. */
export interface CapabilityContext {
  readonly config: Config;
  readonly clients: ClientKit;
  readonly clock: Clock;
  readonly log: Log;
  readonly newId: () => string;
  /** How long one run waits for a Route 53 change to be INSYNC before leaving it to the next run. */
  readonly changeVerify: { readonly verifyAttempts: number; readonly verifyIntervalMs: number };
  /** Tuning a test or the drill passes to one capability, keyed by capability name. */
  readonly tuning?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The current run's shared reads (functions/runtime/run-scope.ts): Route 53 record sets read once
   * per hosted zone, shared by every service and capability. A function, because this context lives
   * as long as the container and a run as long as one invocation.
   */
  readonly run: () => RunScope;
}

/** The sides of a service, for readable loops. */
export const SITES: readonly Site[] = ['primary', 'standby'];
