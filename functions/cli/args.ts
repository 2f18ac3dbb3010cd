import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE } from '../config/load';
import { CAPABILITIES, type CapabilityName } from '../config/schema';
import type { IntentParams, Site } from '../core/types';

/** Options every command takes. */
export interface GlobalOptions {
  readonly configFile: string;
  /** Overrides the config's controlPlane.region. */
  readonly region: string | undefined;
  readonly json: boolean;
  readonly verbose: boolean;
}

export type Command =
  | { readonly name: 'status'; readonly service: string | undefined; readonly audit: number }
  | {
      readonly name: 'plan';
      readonly service: string;
      /** Undefined: the opposite of where the chosen capabilities are now. */
      readonly to: Site | undefined;
      /** Undefined: every capability the service configures. */
      readonly capabilities: readonly CapabilityName[] | undefined;
      readonly as: string | undefined;
      /** Operator qualifiers recorded with the intent (e.g. acceptDataLoss); undefined when none given. */
      readonly params?: IntentParams | undefined;
    }
  | {
      readonly name: 'failover' | 'failback';
      readonly service: string;
      readonly capabilities: readonly CapabilityName[] | undefined;
      readonly as: string | undefined;
      readonly params?: IntentParams | undefined;
    }
  | {
      /** Replace these failed servers with spares, 1:1: what a per-server alarm does in auto mode. */
      readonly name: 'replace';
      readonly service: string;
      readonly instanceIds: readonly string[];
      readonly as: string | undefined;
    }
  | { readonly name: 'reconcile'; readonly service: string | undefined };

export type CommandName = Command['name'];

export type ParsedArgs =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly command: Command; readonly options: GlobalOptions }
  | { readonly kind: 'usage'; readonly message: string; readonly json: boolean };

export const HELP = `understudy: operator CLI for the understudy failover control plane

Usage:
  understudy status [service] [--audit N]
      Desired state (mode, epoch, who asked and why) and each capability's desired site and
      last recorded status. --audit N also prints the newest N audit entries per service.
  understudy plan <service> [--to standby|primary] [--capability dns]...
      Dry run: the desired-state write a transition would make and every AWS call it would
      make, with reasons. --to defaults to the opposite of where the capabilities are now
      (standby if any is on the primary). Changes nothing.
  understudy failover <service> [--capability dns]... [--as name] [--accept-data-loss] [--allow-delayed-replica]
  understudy failback <service> [--capability dns]... [--as name] [--accept-data-loss] [--allow-delayed-replica]
  understudy replace <service> <instance-id>... [--as name]
      Replaces these failed servers with spares, 1:1, as a per-server alarm does in auto mode (in
      approve mode this is the approval). The failed servers leave only once their spares are
      healthy, and are quarantined by tag, never terminated. Undone by failback.
      Records the operator's intent (target standby / primary) and takes the first steps; in
      approve mode this is the approval. Operators may act inside the cooldown window; alarms
      may not. A service in dry-run mode refuses and prints the plan instead. Running it again
      when the desired state is already there takes the next reconcile step and reports where
      things stand.
  understudy reconcile [service]
      One reconcile pass, as the scheduled Lambda runs it (dry-run services are only planned).

Options:
  --config <file>     config module to load (default: ${DEFAULT_CONFIG_FILE})
  --region <region>   Region of the control plane's state table (default: controlPlane.region)
  --capability <cap>  limit to these capabilities (repeat, or comma-separate); known: ${CAPABILITIES.join(', ')}
  --as <name>         operator name recorded as operator:<name> (default: $USER)
  --accept-data-loss  database: promote even if the replica's lag is over maxReplicaLagSeconds or
                      unknown (the writes it has not received are lost); kept with the intent
  --allow-delayed-replica
                      database: promote a replica configured as delayedReplica (never done
                      automatically); kept with the intent
  --json              print one JSON document on stdout instead of text
  --verbose           log every step as JSON lines on stderr
  -h, --help          show this help

AWS credentials and endpoints come from the SDK's standard configuration
(AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, ...).

Exit codes:
  0  done. status: the state was read. plan: a plan was made and nothing in it would be
     refused. failover, failback, reconcile: every capability concerned is converged.
  1  not done. failover/failback refused (dry-run mode, cooldown), or any capability refused
     (a safety check), failed, was superseded, or is still waiting (the scheduled reconciler
     carries on every minute: watch with 'understudy status'); plan: a capability would be
     refused or could not be observed; any command: AWS could not be reached.
  2  usage or config error.
`;

const OPTIONS = {
  config: { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  audit: { type: 'string' },
  to: { type: 'string' },
  capability: { type: 'string', multiple: true },
  as: { type: 'string' },
  'accept-data-loss': { type: 'boolean' },
  'allow-delayed-replica': { type: 'boolean' },
} as const;

type OptionName = keyof typeof OPTIONS;

const GLOBAL_OPTIONS: readonly OptionName[] = ['config', 'region', 'json', 'verbose', 'help'];

/** Which options each command takes besides the global ones. */
const COMMANDS: Record<CommandName, { readonly options: readonly OptionName[] }> = {
  status: { options: ['audit'] },
  plan: { options: ['to', 'capability', 'as', 'accept-data-loss', 'allow-delayed-replica'] },
  failover: { options: ['capability', 'as', 'accept-data-loss', 'allow-delayed-replica'] },
  failback: { options: ['capability', 'as', 'accept-data-loss', 'allow-delayed-replica'] },
  replace: { options: ['as'] },
  reconcile: { options: [] },
};

const isCommandName = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

const isCapability = (name: string): name is CapabilityName =>
  (CAPABILITIES as readonly string[]).includes(name);

class UsageError extends Error {
  override readonly name = 'UsageError';
}

const parseCapabilities = (values: readonly string[] | undefined): CapabilityName[] | undefined => {
  if (values === undefined) return undefined;
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  const result: CapabilityName[] = [];
  for (const name of names) {
    if (!isCapability(name)) {
      throw new UsageError(`unknown capability "${name}" (known: ${CAPABILITIES.join(', ')})`);
    }
    if (!result.includes(name)) result.push(name);
  }
  return result;
};

const parseSite = (value: string | undefined): Site | undefined => {
  if (value === undefined || value === 'standby' || value === 'primary') return value;
  throw new UsageError(`--to must be standby or primary, not "${value}"`);
};

const parseAudit = (value: string | undefined): number => {
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) {
    throw new UsageError(`--audit must be a whole number from 1 to 1000, not "${value}"`);
  }
  return Number(value);
};

const parseOperator = (value: string | undefined): string | undefined => {
  if (value === undefined) return undefined;
  if (!/^[\w.@+-]{1,64}$/.test(value)) {
    throw new UsageError(`--as must be 1 to 64 letters, digits or . _ @ + -, not "${value}"`);
  }
  return value;
};

/** Parses argv (without node and the script) into a typed command, a help request or a usage error. Pure. */
export const parseCommand = (argv: readonly string[]): ParsedArgs => {
  const json = argv.includes('--json');
  try {
    let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      // node:util's messages are clear ("Unknown option '--foo'"); drop its hints about '--'.
      throw new UsageError((error as Error).message.split('. To specify')[0] ?? String(error));
    }
    const { values, positionals } = parsed;
    if (values.help) return { kind: 'help' };
    const [name, service, ...extra] = positionals;
    if (name === undefined) throw new UsageError('no command given');
    if (!isCommandName(name)) {
      throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
    }
    const spec = COMMANDS[name];
    if (extra.length > 0 && name !== 'replace') {
      throw new UsageError(`${name}: unexpected argument "${extra[0]}"`);
    }
    for (const option of Object.keys(values) as OptionName[]) {
      if (!GLOBAL_OPTIONS.includes(option) && !spec.options.includes(option)) {
        throw new UsageError(`${name} takes no --${option} option`);
      }
    }
    const options: GlobalOptions = {
      configFile: values.config ?? DEFAULT_CONFIG_FILE,
      region: values.region,
      json: values.json ?? false,
      verbose: values.verbose ?? false,
    };
    if (options.region !== undefined && options.region.length === 0) {
      throw new UsageError('--region must not be empty');
    }
    return { kind: 'run', options, command: buildCommand(name, service, values, extra) };
  } catch (error) {
    if (error instanceof UsageError) return { kind: 'usage', message: error.message, json };
    throw error;
  }
};

const requireService = (name: CommandName, service: string | undefined): string => {
  if (service === undefined)
    throw new UsageError(`${name}: which service? usage: understudy ${name} <service>`);
  return service;
};

const buildCommand = (
  name: CommandName,
  service: string | undefined,
  values: {
    audit?: string;
    to?: string;
    capability?: string[];
    as?: string;
    'accept-data-loss'?: boolean;
    'allow-delayed-replica'?: boolean;
  },
  instanceIds: readonly string[] = [],
): Command => {
  const params = intentParams(values);
  switch (name) {
    case 'status':
      return { name, service, audit: parseAudit(values.audit) };
    case 'reconcile':
      return { name, service };
    case 'plan':
      return {
        name,
        service: requireService(name, service),
        to: parseSite(values.to),
        capabilities: parseCapabilities(values.capability),
        as: parseOperator(values.as),
        ...(params && { params }),
      };
    case 'failover':
    case 'failback':
      return {
        name,
        service: requireService(name, service),
        capabilities: parseCapabilities(values.capability),
        as: parseOperator(values.as),
        ...(params && { params }),
      };
    case 'replace':
      return {
        name,
        service: requireService(name, service),
        instanceIds: parseInstanceIds(instanceIds),
        as: parseOperator(values.as),
      };
  }
};

const parseInstanceIds = (ids: readonly string[]): string[] => {
  if (ids.length === 0)
    throw new UsageError('replace: which servers? usage: understudy replace <service> <instance-id>...');
  const bad = ids.find((id) => !/^i-[0-9a-f]{8,17}$/.test(id));
  if (bad !== undefined)
    throw new UsageError(`replace: "${bad}" is not an EC2 instance id such as i-0123456789abcdef0`);
  return [...new Set(ids)];
};

/** The database capability's operator overrides, as intent params (functions/capabilities/database/config.ts). */
const intentParams = (values: {
  'accept-data-loss'?: boolean;
  'allow-delayed-replica'?: boolean;
}): IntentParams | undefined => {
  const params: Record<string, boolean> = {};
  if (values['accept-data-loss']) params.acceptDataLoss = true;
  if (values['allow-delayed-replica']) params.allowDelayedReplica = true;
  return Object.keys(params).length > 0 ? params : undefined;
};
