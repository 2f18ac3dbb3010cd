import { CommanderError, Option, Command as Program } from 'commander';
import { CAPABILITY_MODULES } from '../capabilities/registry';
import type { CapabilityName } from '../config/schema';
import { CLI_NAME } from '../core/operator-command';
import type { IntentParams, Site } from '../core/types';
import type { CapabilityModule, OperatorCommand } from '../engine/module';

/** Options every command takes. */
export interface GlobalOptions {
  /** --config; undefined when not given (main falls back to UNDERSTUDY_CONFIG, never silently to the example). */
  readonly configFile: string | undefined;
  /** Overrides the config's controlPlane.region. */
  readonly region: string | undefined;
  readonly json: boolean;
  readonly verbose: boolean;
}

export type Command =
  | {
      readonly name: 'status';
      readonly service: string | undefined;
      readonly audit: number;
      /** Re-print every `intervalSeconds` until interrupted. */
      readonly watch: boolean;
      readonly intervalSeconds: number;
    }
  | {
      readonly name: 'plan';
      readonly service: string;
      /** Undefined: the opposite of where the chosen capabilities are now. */
      readonly to: Site | undefined;
      /** Undefined: every capability the service configures. */
      readonly capabilities: readonly CapabilityName[] | undefined;
      readonly as: string | undefined;
      /** Operator qualifiers recorded with the intent (the modules' flags); undefined when none given. */
      readonly params?: IntentParams | undefined;
    }
  | {
      readonly name: 'failover' | 'failback';
      readonly service: string;
      readonly capabilities: readonly CapabilityName[] | undefined;
      readonly as: string | undefined;
      readonly params?: IntentParams | undefined;
      /** Skip the confirmation prompt (automation). */
      readonly yes: boolean;
    }
  | {
      /** A command a capability module adds (its `commands`), e.g. a per-server swap. */
      readonly name: 'module-command';
      readonly capability: CapabilityName;
      /** The module command's name, as typed. */
      readonly verb: string;
      readonly service: string;
      /** The positional arguments after the service, as the module's parseArgs returned them. */
      readonly values: readonly string[];
      readonly as: string | undefined;
      readonly yes: boolean;
    }
  | { readonly name: 'reconcile'; readonly service: string | undefined }
  /** Readiness: would a failover and a failback of each capability work now (functions/readiness/). */
  | { readonly name: 'check'; readonly service: string | undefined }
  | {
      /** A transition's execution report (HTML and JSON), written locally from the audit log. */
      readonly name: 'report';
      readonly service: string;
      /** Undefined: the latest transition. */
      readonly epoch: number | undefined;
      /** The directory to write into (default: the current one). */
      readonly out: string | undefined;
    }
  | { readonly name: 'validate' };

export type CommandName = Command['name'];

export type ParsedArgs =
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'run'; readonly command: Command; readonly options: GlobalOptions }
  | { readonly kind: 'usage'; readonly message: string; readonly json: boolean };

/** The exit codes, the same for every command. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  done. status, validate: the state was read / the config is valid. check: every capability is
     ready to fail over and back (skipped checks are listed). report: the transition's report was
     written. plan: a plan was made and nothing in it would be refused. failover, failback, reconcile and module commands: every
     capability concerned is converged.
  1  not done. Refused (dry-run mode, cooldown, a safety check), cancelled at the prompt, failed,
     superseded, or still waiting (the scheduled reconciler carries on every minute: watch with
     '${CLI_NAME} status --watch'); plan: a capability would be refused or could not be observed;
     report: no such transition in the audit log; check: some capability is not ready (one line
     each says why); any command: AWS could not be reached.
  2  usage or config error: a bad argument, an invalid config, no --config, credentials for
     another account than the config's, or a command that changes things run without a terminal
     and without --yes.

The config comes from --config, else $UNDERSTUDY_CONFIG (the variable cdk reads too). AWS
credentials and endpoints come from the SDK's standard configuration (AWS_PROFILE, AWS_REGION,
AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, ...).
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const WHOLE = /^\d+$/;
const HELP_WIDTH = 100;

const parseAudit = (value: string | undefined): number => {
  if (value === undefined) return 0;
  if (!WHOLE.test(value) || Number(value) < 1 || Number(value) > 1000) {
    throw new UsageError(`--audit must be a whole number from 1 to 1000, not "${value}"`);
  }
  return Number(value);
};

const parseInterval = (value: string | undefined): number => {
  if (value === undefined) return 5;
  if (!WHOLE.test(value) || Number(value) < 1 || Number(value) > 3600) {
    throw new UsageError(`--interval must be a whole number of seconds from 1 to 3600, not "${value}"`);
  }
  return Number(value);
};

const parseSite = (value: string | undefined): Site | undefined => {
  if (value === undefined || value === 'standby' || value === 'primary') return value;
  throw new UsageError(`--to must be standby or primary, not "${value}"`);
};

const parseOperator = (value: string | undefined): string | undefined => {
  if (value === undefined) return undefined;
  if (!/^[\w.@+-]{1,64}$/.test(value)) {
    throw new UsageError(`--as must be 1 to 64 letters, digits or . _ @ + -, not "${value}"`);
  }
  return value;
};

const parseCapabilities = (
  values: readonly string[] | undefined,
  known: readonly string[],
): CapabilityName[] | undefined => {
  if (values === undefined) return undefined;
  const result: CapabilityName[] = [];
  for (const name of values.flatMap((v) => v.split(',')).map((v) => v.trim())) {
    if (!known.includes(name)) {
      throw new UsageError(`unknown capability "${name}" (known: ${known.join(', ')})`);
    }
    if (!result.includes(name as CapabilityName)) result.push(name as CapabilityName);
  }
  return result;
};

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

type Done = (command: Command, options: GlobalOptions) => void;

/** The commander program for these modules; `done` receives the parsed command. Builds no state elsewhere. */
const buildProgram = (modules: readonly CapabilityModule[], done: Done, output: Output): Program => {
  const known = modules.map((m) => m.name);
  const program = new Program(CLI_NAME)
    .description('Operator CLI for the understudy failover control plane.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => output.out.push(text),
      writeErr: (text) => output.err.push(text),
      // A fixed width: the same help on every terminal, and in tests.
      getOutHelpWidth: () => HELP_WIDTH,
      getErrHelpWidth: () => HELP_WIDTH,
    })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .helpCommand(false)
    .option('--config <file>', 'config module to load (default: $UNDERSTUDY_CONFIG)')
    .option('--region <region>', "Region of the control plane's state table (default: controlPlane.region)")
    .option('--json', 'print one JSON document on stdout instead of text')
    .option('--verbose', 'log every step as JSON lines on stderr')
    .addHelpText('after', EXIT_CODES_HELP);

  const globals = (command: Program): GlobalOptions => {
    const o = command.optsWithGlobals<{
      config?: string;
      region?: string;
      json?: boolean;
      verbose?: boolean;
    }>();
    if (o.region !== undefined && o.region.length === 0) throw new UsageError('--region must not be empty');
    return { configFile: o.config, region: o.region, json: o.json === true, verbose: o.verbose === true };
  };

  /** The modules' operator flags, as boolean options recorded with the intent. */
  const flagOptions = modules.flatMap((m) =>
    (m.flags ?? []).map((flag) => ({ flag, option: new Option(`--${flag.flag}`, flag.help) })),
  );
  const params = (command: Program): IntentParams | undefined => {
    const opts = command.opts<Record<string, unknown>>();
    const set = flagOptions.filter(({ option }) => opts[option.attributeName()] === true);
    return set.length > 0 ? Object.fromEntries(set.map(({ flag }) => [flag.param, true])) : undefined;
  };
  const capabilityOption = () =>
    new Option(
      '--capability <name>',
      `limit to these capabilities (repeat, or comma-separate); known: ${known.join(', ')}`,
    ).argParser(collect);
  const asOption = () =>
    new Option('--as <name>', 'operator name recorded as operator:<name> (default: $USER)');
  const yesOption = () =>
    new Option(
      '-y, --yes',
      'do not ask: skip the confirmation prompt (for automation; needed without a terminal)',
    );

  program
    .command('status')
    .summary('desired state and last status of each service')
    .description(
      "Desired state (mode, epoch, who asked and why) and each capability's desired site and last recorded status.",
    )
    .argument('[service]', 'one service (default: all)')
    .option('--audit <n>', 'also print the newest N audit entries per service')
    .option('--watch', 'print the status again every --interval seconds until Ctrl-C')
    .option('--interval <seconds>', 'seconds between two prints with --watch (default: 5)')
    .action(
      (service: string | undefined, opts: { audit?: string; watch?: boolean; interval?: string }, cmd) => {
        if (opts.interval !== undefined && opts.watch !== true)
          throw new UsageError('--interval needs --watch');
        done(
          {
            name: 'status',
            service,
            audit: parseAudit(opts.audit),
            watch: opts.watch === true,
            intervalSeconds: parseInterval(opts.interval),
          },
          globals(cmd),
        );
      },
    );

  const plan = program
    .command('plan')
    .summary('dry run: what a failover or failback would do; changes nothing')
    .description(
      'Dry run: the desired-state write a transition would make and every AWS call it would make, with reasons. Changes nothing.',
    )
    .argument('<service>', 'the service to plan for')
    .option('--to <site>', 'standby or primary (default: the opposite of where the capabilities are now)')
    .addOption(capabilityOption())
    .addOption(asOption());
  for (const { option } of flagOptions) plan.addOption(option);
  plan.action((service: string, opts: { to?: string; capability?: string[]; as?: string }, cmd: Program) => {
    const flags = params(cmd);
    done(
      {
        name: 'plan',
        service,
        to: parseSite(opts.to),
        capabilities: parseCapabilities(opts.capability, known),
        as: parseOperator(opts.as),
        ...(flags && { params: flags }),
      },
      globals(cmd),
    );
  });

  for (const [name, target] of [
    ['failover', 'the standby'],
    ['failback', 'the primary'],
  ] as const) {
    const command = program
      .command(name)
      .summary(`move a service to ${target}, after you confirm`)
      .description(
        `Moves the service's capabilities to ${target}: shows the account, Region, stack and plan, asks you to type ` +
          'the service name, then records the intent and takes the first steps. Operators may act inside the ' +
          'cooldown window; alarms may not. A dry-run service only prints the plan.',
      )
      .argument('<service>', `the service to move to ${target}`)
      .addOption(capabilityOption())
      .addOption(asOption());
    for (const { flag } of flagOptions) command.addOption(new Option(`--${flag.flag}`, flag.help));
    command.addOption(yesOption());
    command.action(
      (service: string, opts: { capability?: string[]; as?: string; yes?: boolean }, cmd: Program) => {
        const flags = params(cmd);
        done(
          {
            name,
            service,
            capabilities: parseCapabilities(opts.capability, known),
            as: parseOperator(opts.as),
            ...(flags && { params: flags }),
            yes: opts.yes === true,
          },
          globals(cmd),
        );
      },
    );
  }

  for (const module of modules) {
    for (const extra of module.commands ?? [])
      addModuleCommand(program, module, extra, done, globals, {
        asOption,
        yesOption,
      });
  }

  program
    .command('reconcile')
    .summary('one reconcile pass, as the scheduled Lambda runs it')
    .description('One reconcile pass, as the scheduled Lambda runs it (dry-run services are only planned).')
    .argument('[service]', 'one service (default: all)')
    .action((service: string | undefined, _opts: unknown, cmd: Program) => {
      done({ name: 'reconcile', service }, globals(cmd));
    });

  program
    .command('check')
    .summary('readiness: would a failover and a failback work right now; touches no resource')
    .description(
      "Readiness, as the scheduled readiness function checks it: each capability's standby (health checks, " +
        'replica and lag, spares and target groups, SES identity and rules), the Slack secret, and whether the ' +
        "acting functions' roles allow the calls a move makes (iam:SimulatePrincipalPolicy, for the roles in " +
        '$UNDERSTUDY_ACTING_ROLE_ARNS). Prints one line per check that is not ready, and why; records the verdicts ' +
        'and posts a change to Slack, as the schedule does; touches no protected resource.',
    )
    .argument('[service]', 'one service (default: all)')
    .action((service: string | undefined, _opts: unknown, cmd: Program) => {
      done({ name: 'check', service }, globals(cmd));
    });

  program
    .command('report')
    .summary("a transition's execution report: timeline, recovery time against the RTO, decisions")
    .description(
      "Writes a transition's execution report, built from the audit log: an HTML page (the timeline as a chart, " +
        'recovery time against the RTO, every decision with its reason, who asked and who approved) and the same ' +
        'data as JSON. Reads only.',
    )
    .argument('<service>', 'the service')
    .argument('[epoch]', 'the transition (default: the latest one in the audit log)')
    .option('--out <dir>', 'directory to write the two files into (default: the current directory)')
    .action((service: string, epoch: string | undefined, opts: { out?: string }, cmd: Program) => {
      if (epoch !== undefined && (!WHOLE.test(epoch) || Number(epoch) < 1)) {
        throw new UsageError(`epoch must be a whole number from 1, not "${epoch}"`);
      }
      done(
        { name: 'report', service, epoch: epoch === undefined ? undefined : Number(epoch), out: opts.out },
        globals(cmd),
      );
    });

  program
    .command('validate')
    .summary('check the config offline; every error names the service and field')
    .description(
      'Checks the whole config offline (no AWS, no synth): every error names the service and the field.',
    )
    .action((_opts: unknown, cmd: Program) => {
      done({ name: 'validate' }, globals(cmd));
    });

  return program;
};

const addModuleCommand = (
  program: Program,
  module: CapabilityModule,
  extra: OperatorCommand,
  done: Done,
  globals: (command: Program) => GlobalOptions,
  options: { asOption: () => Option; yesOption: () => Option },
) => {
  const argName = extra.args.replace(/[<>[\].]/g, '') || 'args';
  program
    .command(extra.name)
    .usage(`[options] <service> ${extra.args}`)
    .summary(`${module.name}: ${firstSentence(extra.help)}, after you confirm`)
    .description(`${extra.help} Asks for confirmation like failover.`)
    .argument('<service>', 'the service')
    .argument(`[${argName}...]`, 'what the command acts on (see above)')
    .addOption(options.asOption())
    .addOption(options.yesOption())
    .action((service: string, args: string[], opts: { as?: string; yes?: boolean }, cmd: Program) => {
      const parsed = extra.parseArgs(args);
      if (!parsed.ok) throw new UsageError(parsed.message);
      done(
        {
          name: 'module-command',
          capability: module.name as CapabilityName,
          verb: extra.name,
          service,
          values: parsed.values,
          as: parseOperator(opts.as),
          yes: opts.yes === true,
        },
        globals(cmd),
      );
    });
};

const firstSentence = (text: string): string => {
  const sentence = text.split(/[.(]/)[0]?.trim() ?? text;
  return sentence.charAt(0).toLowerCase() + sentence.slice(1);
};

interface Output {
  readonly out: string[];
  readonly err: string[];
}

/** commander's message without its "error: " prefix. */
const commanderMessage = (error: CommanderError): string => error.message.replace(/^error: /, '').trim();

/**
 * Parses argv (without node and the script) into a typed command, a help text or a usage error.
 * Pure: builds a fresh commander program per call, writes nothing and never exits the process.
 */
export const parseCommand = (
  argv: readonly string[],
  modules: readonly CapabilityModule[] = CAPABILITY_MODULES,
): ParsedArgs => {
  const json = argv.includes('--json');
  const output: Output = { out: [], err: [] };
  let parsed: { command: Command; options: GlobalOptions } | undefined;
  const program = buildProgram(
    modules,
    (command, options) => {
      parsed = { command, options };
    },
    output,
  );
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof UsageError) return { kind: 'usage', message: error.message, json };
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === 'commander.helpDisplayed') return { kind: 'help', text: output.out.join('') };
    // No command at all: commander would print the whole help as an error.
    if (error.code === 'commander.help') return { kind: 'usage', message: 'no command given', json };
    const first = argv.find((a) => !a.startsWith('-'));
    const known = program.commands.some((c) => c.name() === first);
    return { kind: 'usage', message: `${known ? `${first}: ` : ''}${commanderMessage(error)}`, json };
  }
  return parsed ? { kind: 'run', ...parsed } : { kind: 'usage', message: 'no command given', json };
};

/** The top-level help text (what `--help` prints). */
export const helpText = (modules: readonly CapabilityModule[] = CAPABILITY_MODULES): string => {
  const parsed = parseCommand(['--help'], modules);
  return parsed.kind === 'help' ? parsed.text : '';
};

/** The commands that change AWS or the desired state, and so ask for confirmation first. */
export const changesThings = (command: Command): command is Extract<Command, { yes: boolean }> =>
  'yes' in command;
