import { userInfo } from 'node:os';
import { loadConfigFile } from '../config/load';
import { type Config, ConfigError } from '../config/schema';
import type { Log } from '../core/log';
import type { ControlPlane } from '../engine/engine';
import { createClientKit } from '../runtime/client-kit';
import { createControlPlane } from '../runtime/control-plane';
import { type Command, HELP, parseCommand } from './args';
import { type CommandResult, checkCommand, runCommand } from './commands';

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
  readonly loadConfig?: (file: string) => Promise<Config>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly userName?: () => string;
}

/**
 * A CLI run fails fast: an operator at a terminal is better served by a clear error in seconds than
 * by the SDK's patient retries (the scheduled reconciler is the one that retries).
 */
const CLI_MAX_ATTEMPTS = 2;

export const awsControlPlane: ControlPlaneFactory = (config, { region, log }) =>
  createControlPlane({ config, clients: createClientKit({ region, maxAttempts: CLI_MAX_ATTEMPTS }), log });

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
      const line = `understudy: ${level === 'warn' ? 'warning' : 'error'}: ${message}${why}`;
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

const firstLine = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unknown error';

/** Runs the CLI; returns the process exit code (0 done, 1 not done, 2 usage or config error). */
export const main = async (argv: readonly string[], io: CliIo = {}): Promise<number> => {
  const stdout = io.stdout ?? ((text: string) => void process.stdout.write(text));
  const stderr = io.stderr ?? ((text: string) => void process.stderr.write(text));
  const printJson = (value: unknown) => stdout(`${JSON.stringify(value, null, 2)}\n`);

  const parsed = parseCommand(argv);
  if (parsed.kind === 'help') {
    stdout(HELP);
    return 0;
  }
  if (parsed.kind === 'usage') {
    stderr(`understudy: ${parsed.message}\nRun 'understudy --help' for usage.\n`);
    if (parsed.json) printJson({ error: { kind: 'usage', message: parsed.message }, exitCode: 2 });
    return 2;
  }
  const { command, options } = parsed;
  const usageError = (kind: 'usage' | 'config', message: string) => {
    stderr(`understudy: ${message}\n`);
    if (options.json) printJson({ error: { kind, message }, exitCode: 2 });
    return 2;
  };

  let config: Config;
  try {
    config = await (io.loadConfig ?? loadConfigFile)(options.configFile);
  } catch (error) {
    if (error instanceof ConfigError) return usageError('config', error.message);
    throw error;
  }
  const invalid = checkCommand(config, command);
  if (invalid !== undefined) return usageError('usage', invalid);

  const log = cliLog(stderr, options.verbose);
  const region = options.region ?? config.controlPlane.region;
  const cp = (io.controlPlane ?? awsControlPlane)(config, { region, log });
  let result: CommandResult;
  try {
    result = await runCommand(cp, command, operatorFor(command, io));
  } catch (error) {
    const message = `${command.name} failed: ${firstLine(error)}`;
    stderr(`understudy: ${message}\n`);
    if (options.json) printJson({ command: command.name, error: { kind: 'aws', message }, exitCode: 1 });
    return 1;
  } finally {
    // Audit entries and Slack messages run beside the work; none may be lost when the process exits.
    await cp.reporter.flush();
  }
  if (options.json) printJson({ ...result.json, exitCode: result.exitCode });
  else stdout(`${result.lines.join('\n')}\n`);
  return result.exitCode;
};

const operatorFor = (command: Command, io: CliIo): string =>
  operatorName(
    'as' in command ? command.as : undefined,
    io.env ?? process.env,
    io.userName ?? defaultUserName,
  );

const defaultUserName = () => userInfo().username;
