import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { loadConfigFile } from '../config/load';
import { type Config, ConfigError, capabilitiesOf } from '../config/schema';
import type { Log } from '../core/log';
import { CLI_NAME } from '../core/operator-command';
import type { ControlPlane } from '../engine/engine';
import { createClientKit } from '../runtime/client-kit';
import { createControlPlane } from '../runtime/control-plane';
import { ROUTE53_SHARES } from '../runtime/route53-shares';
import { type Command, changesThings, type GlobalOptions, parseCommand } from './args';
import { awsReadinessPlane, type ReadinessPlaneFactory, runCheck } from './check';
import {
  type ChangePreview,
  type CommandResult,
  type Confirm,
  type ConfirmVerdict,
  checkCommand,
  runCommand,
} from './commands';
import { explainError } from './errors';
import { type CallerIdentity, stsCallerIdentity } from './identity';
import { noProgress, type Progress, spinnerProgress } from './progress';

/** Builds the control plane a command runs against: real AWS clients by default, fakes in tests. */
export type ControlPlaneFactory = (
  config: Config,
  context: { readonly region: string; readonly log: Log },
) => ControlPlane;

/** Everything `main` touches outside its arguments, each with a default; tests pass their own. */
export interface CliIo {
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
  readonly controlPlane?: ControlPlaneFactory;
  /** `check`: the readiness plane (default: real AWS clients, functions/cli/check.ts). */
  readonly readinessPlane?: ReadinessPlaneFactory;
  readonly loadConfig?: (file: string) => Promise<Config>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly userName?: () => string;
  /** Who the credentials are (default: STS GetCallerIdentity in the control plane's Region). */
  readonly callerIdentity?: (region: string) => Promise<CallerIdentity>;
  /** Whether a person can answer a prompt (default: stdin is a TTY). */
  readonly stdinIsTTY?: boolean;
  /** Asks one question and returns the answer (default: a readline prompt on stderr). */
  readonly ask?: (question: string) => Promise<string>;
  /** The spinner for waits (default: on stderr when it is a terminal). */
  readonly progress?: Progress;
  /** `status --watch`: how to wait between prints, and when to stop (default: Ctrl-C). */
  readonly watch?: {
    readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
    /** Stop after this many prints (tests); default: until the signal aborts. */
    readonly iterations?: number;
    readonly signal?: AbortSignal;
  };
}

/**
 * A CLI run fails fast: an operator at a terminal is better served by a clear error in seconds than
 * by the SDK's patient retries (the scheduled reconciler is the one that retries).
 */
const CLI_MAX_ATTEMPTS = 2;

export const awsControlPlane: ControlPlaneFactory = (config, { region, log }) =>
  createControlPlane({
    config,
    // The CLI's share of the account's Route 53 rate (functions/runtime/route53-shares.ts).
    clients: createClientKit({
      region,
      maxAttempts: CLI_MAX_ATTEMPTS,
      route53PerSecond: ROUTE53_SHARES.cli.perSecond,
    }),
    log,
  });

/** The example config the repository ships; only `validate` reads it without being told to. */
const EXAMPLE_CONFIG_FILE = 'understudy.config.ts';

/**
 * The CLI's logger. --verbose: every entry as a JSON line on stderr. Otherwise only warnings and
 * errors, one short line each, and each distinct message once (a missing Slack secret is one line,
 * not one per report).
 */
export const cliLog = (write: (text: string) => void, verbose: boolean): Log => {
  const seen = new Set<string>();
  const entry =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, ...extra: Record<string, unknown>[]) => {
      const fields: Record<string, unknown> = Object.assign({}, ...extra);
      if (verbose) {
        write(`${safeJson({ level, time: new Date().toISOString(), message, ...fields })}\n`);
        return;
      }
      if (level !== 'warn' && level !== 'error') return;
      const why = typeof fields.error === 'string' ? `: ${fields.error}` : '';
      const line = `${CLI_NAME}: ${level === 'warn' ? 'warning' : 'error'}: ${message}${why}`;
      if (seen.has(line)) return;
      seen.add(line);
      write(`${line}\n`);
    };
  return { debug: entry('debug'), info: entry('info'), warn: entry('warn'), error: entry('error') };
};

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value, (_key, v: unknown) =>
      v instanceof Error ? { name: v.name, message: v.message } : v,
    );
  } catch {
    return JSON.stringify({ message: String(value) });
  }
};

/** Who the operator is: --as, else $USER, else the OS account. */
export const operatorName = (
  as: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  userName: () => string,
): string => {
  if (as) return as;
  const fromEnv = env.USER?.trim();
  if (fromEnv) return fromEnv;
  try {
    return userName() || 'unknown';
  } catch {
    return 'unknown';
  }
};

/**
 * The config file a command uses: --config, else $UNDERSTUDY_CONFIG (as for cdk). Nothing else: the
 * repository's example has placeholder ids and must never meet a real account because someone forgot
 * a flag. (Not even with a loopback AWS_ENDPOINT_URL: such an endpoint may be a proxy to real AWS.)
 * `validate` touches no AWS, so it may check the example.
 */
export const configFileFor = (
  command: Command,
  options: GlobalOptions,
  env: Readonly<Record<string, string | undefined>>,
): { readonly file: string } | { readonly error: string } => {
  const file = options.configFile ?? (env.UNDERSTUDY_CONFIG || undefined);
  if (file !== undefined) return { file };
  if (command.name === 'validate') return { file: EXAMPLE_CONFIG_FILE };
  return {
    error:
      'no config given: pass --config <file> or set UNDERSTUDY_CONFIG (as for cdk deploy). ' +
      `The repository's ${EXAMPLE_CONFIG_FILE} is an example with placeholder ids and is never used against AWS by default.`,
  };
};

/** The lines shown before anything changes: where, who, what. */
export const contextLines = (
  identity: CallerIdentity,
  config: Config,
  region: string,
  preview: Pick<ChangePreview, 'service' | 'headline'>,
): string[] => {
  const rows: [string, string][] = [
    ['AWS account', `${identity.account} (${identity.arn})`],
    ['Region', region],
    ['stack', config.controlPlane.stackName],
    ['state table', config.controlPlane.stateTableName],
    [
      'service',
      `${preview.service.name} (mode ${preview.service.mode}; ${capabilitiesOf(preview.service).join(', ')})`,
    ],
    ['action', preview.headline],
  ];
  return rows.map(([k, v]) => `  ${k.padEnd(12)} ${v}`);
};

const defaultAsk = (question: string): Promise<string> =>
  new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
    // Ctrl-D or Ctrl-C at the prompt: no answer, nothing changes.
    rl.on('close', () => {
      if (!answered) resolve('');
    });
  });

/** Runs the CLI; returns the process exit code (0 done, 1 not done, 2 usage or config error). */
export const main = async (argv: readonly string[], io: CliIo = {}): Promise<number> => {
  const stdout = io.stdout ?? ((text: string) => void process.stdout.write(text));
  const stderr = io.stderr ?? ((text: string) => void process.stderr.write(text));
  const env = io.env ?? process.env;
  const printJson = (value: unknown) => stdout(`${JSON.stringify(value, null, 2)}\n`);

  const parsed = parseCommand(argv);
  if (parsed.kind === 'help') {
    stdout(parsed.text);
    return 0;
  }
  if (parsed.kind === 'usage') {
    stderr(`${CLI_NAME}: ${parsed.message}\nRun '${CLI_NAME} --help' for usage.\n`);
    if (parsed.json) printJson({ error: { kind: 'usage', message: parsed.message }, exitCode: 2 });
    return 2;
  }
  const { command, options } = parsed;
  const usageError = (kind: 'usage' | 'config', message: string) => {
    stderr(`${CLI_NAME}: ${message}\n`);
    if (options.json) printJson({ command: commandLabel(command), error: { kind, message }, exitCode: 2 });
    return 2;
  };

  const source = configFileFor(command, options, env);
  if ('error' in source) return usageError('config', source.error);
  let config: Config;
  try {
    config = await (io.loadConfig ?? loadConfigFile)(source.file);
  } catch (error) {
    if (error instanceof ConfigError) return usageError('config', error.message);
    throw error;
  }
  if (command.name === 'validate') return validated(config, source.file, options, stdout, printJson);
  const invalid = checkCommand(config, command);
  if (invalid !== undefined) return usageError('usage', invalid);

  const region = options.region ?? config.controlPlane.region;
  const progress = options.json || options.verbose ? noProgress : (io.progress ?? spinnerProgress());
  const explain = (error: unknown) => {
    progress.stop();
    const { message, hint } = explainError(error, { ...config.controlPlane, region });
    const text = `${commandLabel(command)} failed: ${message}`;
    stderr(`${CLI_NAME}: ${text}\n${hint ? `${CLI_NAME}: what to do: ${hint}\n` : ''}`);
    if (options.json) {
      printJson({ command: commandLabel(command), error: { kind: 'aws', message: text, hint }, exitCode: 1 });
    }
    return 1;
  };

  // Before anything changes: whose credentials are these? Wrong account: stop, touching nothing else.
  let identity: CallerIdentity | undefined;
  if (changesThings(command)) {
    try {
      identity = await (io.callerIdentity ?? stsCallerIdentity)(region);
    } catch (error) {
      return explain(error);
    }
    if (identity.account !== config.controlPlane.account) {
      return usageError(
        'config',
        `your AWS credentials are for account ${identity.account} (${identity.arn}), but the config's control ` +
          `plane is in account ${config.controlPlane.account}: check AWS_PROFILE and --config. Nothing was changed.`,
      );
    }
  }

  const log = cliLog(stderr, options.verbose);
  const cp = (io.controlPlane ?? awsControlPlane)(config, { region, log });
  if (command.name === 'status' && command.watch) {
    return watchStatus(cp, command, options, io, { stdout, explain, operator: operatorFor(command, io) });
  }

  let context: string[] = [];
  const confirm: Confirm = async (preview) => {
    progress.stop();
    context = identity ? contextLines(identity, config, region, preview) : [];
    const shown = [
      `${preview.command} ${preview.service.name}:`,
      ...context,
      'plan:',
      ...preview.steps.map((s) => `  ${s}`),
      ...(preview.blocked
        ? ['  (a capability would refuse or could not be observed: the intent is recorded and waits)']
        : []),
    ];
    const verdict = await askToConfirm(command, preview, { ...io, stdout, stderr }, options, shown);
    if (verdict.go) progress.start(`${preview.command} ${preview.service.name}: acting`);
    return verdict;
  };

  let result: CommandResult;
  const plane =
    command.name === 'check'
      ? (io.readinessPlane ?? awsReadinessPlane)(config, { region, log, env })
      : undefined;
  try {
    progress.start(`${commandLabel(command)}: reading the current state`);
    result =
      command.name === 'check' && plane
        ? await runCheck(plane, command)
        : await runCommand(cp, command, operatorFor(command, io), confirm);
  } catch (error) {
    return explain(error);
  } finally {
    progress.stop();
    // Audit entries and Slack messages run beside the work; none may be lost when the process exits.
    await cp.reporter.flush();
    await plane?.reporter.flush();
  }
  if (options.json) {
    printJson({
      ...result.json,
      ...(identity && { context: { ...identity, region } }),
      exitCode: result.exitCode,
    });
  } else stdout(`${result.lines.join('\n')}\n`);
  return result.exitCode;
};

/**
 * Shows what is about to change and asks for the service's name. --yes: shown (text mode) and not
 * asked. No terminal and no --yes: refused, nothing changed.
 */
const askToConfirm = async (
  command: Command,
  preview: ChangePreview,
  io: CliIo & { stdout: (t: string) => void; stderr: (t: string) => void },
  options: GlobalOptions,
  shown: readonly string[],
): Promise<ConfirmVerdict> => {
  const yes = changesThings(command) && command.yes;
  // With --json, stdout carries one JSON document; what a person must read goes to stderr.
  const show = options.json ? io.stderr : io.stdout;
  if (yes) {
    if (!options.json) show(`${shown.join('\n')}\n`);
    return { go: true };
  }
  if (!(io.stdinIsTTY ?? process.stdin.isTTY === true)) {
    return {
      go: false,
      exitCode: 2,
      reason:
        `${preview.command} changes AWS and asks for confirmation, but stdin is not a terminal: ` +
        'pass --yes to confirm without a prompt (automation). Nothing was changed.',
    };
  }
  show(`${shown.join('\n')}\n`);
  const answer = (
    await (io.ask ?? defaultAsk)(`Type the service name (${preview.service.name}) to go ahead: `)
  ).trim();
  if (answer === preview.service.name) return { go: true };
  return {
    go: false,
    exitCode: 1,
    reason: `cancelled: ${answer === '' ? 'no answer' : `"${answer}" is not "${preview.service.name}"`}. Nothing was changed.`,
  };
};

const commandLabel = (command: Command): string =>
  command.name === 'module-command' ? command.verb : command.name;

const validated = (
  config: Config,
  file: string,
  options: GlobalOptions,
  stdout: (text: string) => void,
  printJson: (value: unknown) => void,
): number => {
  const services = config.services.map((s) => ({
    name: s.name,
    mode: s.mode,
    capabilities: capabilitiesOf(s),
  }));
  if (options.json) {
    printJson({ command: 'validate', file, valid: true, services, exitCode: 0 });
  } else {
    stdout(
      `${file}: valid. Control plane in ${config.controlPlane.account} ${config.controlPlane.region}, ` +
        `stack ${config.controlPlane.stackName}; ${services.length} service(s):\n` +
        services.map((s) => `  ${s.name} (mode ${s.mode}): ${s.capabilities.join(', ')}\n`).join(''),
    );
  }
  return 0;
};

const watchStatus = async (
  cp: ControlPlane,
  command: Extract<Command, { name: 'status' }>,
  options: GlobalOptions,
  io: CliIo,
  out: { stdout: (text: string) => void; explain: (error: unknown) => number; operator: string },
): Promise<number> => {
  const abort = new AbortController();
  const signal = io.watch?.signal ?? abort.signal;
  const onInterrupt = () => abort.abort();
  if (io.watch?.signal === undefined) process.once('SIGINT', onInterrupt);
  const sleep = io.watch?.sleep ?? sleepUnlessAborted;
  let exitCode: number = 0;
  try {
    for (let i = 0; io.watch?.iterations === undefined || i < io.watch.iterations; i++) {
      if (signal.aborted) break;
      if (i > 0) await sleep(command.intervalSeconds * 1000, signal);
      if (signal.aborted) break;
      let result: CommandResult;
      try {
        result = await runCommand(cp, command, out.operator);
      } catch (error) {
        exitCode = out.explain(error);
        continue; // keep watching: the next print may succeed (a throttle, a network blip)
      }
      exitCode = result.exitCode;
      if (options.json) out.stdout(`${JSON.stringify({ ...result.json, at: new Date().toISOString() })}\n`);
      else {
        out.stdout(
          `── ${new Date().toISOString()} (every ${command.intervalSeconds} s; Ctrl-C to stop)\n` +
            `${result.lines.join('\n')}\n`,
        );
      }
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  return exitCode;
};

const sleepUnlessAborted = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

const operatorFor = (command: Command, io: CliIo): string =>
  operatorName(
    'as' in command ? command.as : undefined,
    io.env ?? process.env,
    io.userName ?? defaultUserName,
  );

const defaultUserName = () => userInfo().username;
