import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Config, ConfigError, parseConfig } from './schema';

/** The config file used when none is named: the repository's own example. */
export const DEFAULT_CONFIG_FILE = 'understudy.config.ts';

/** Loads a config module (default export) and validates it; errors name the file and the field. */
export const loadConfigFile = async (file: string = DEFAULT_CONFIG_FILE): Promise<Config> => {
  const path = resolve(file);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new ConfigError(`Cannot load config file ${path}: ${(error as Error).message}`, [], {
      cause: error,
    });
  }
  if (module.default === undefined) {
    throw new ConfigError(`Config file ${path} has no default export`, ['(default export): missing']);
  }
  return parseConfig(module.default, path);
};
