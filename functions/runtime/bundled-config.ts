import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { type Config, parseConfig } from '../config/schema';

/**
 * The validated config ships in each function's code asset as this file, beside the code
 * (infra/bundling.ts writes it at synth), so the deployed code and the deployed config always match,
 * no config lives in environment variables, and the code itself is the same for any number of
 * services.
 */
export const CONFIG_FILE = 'config.json';

/**
 * The seal beside it: the SHA-256 of the config file's bytes, written by synth once the config
 * validated. A function whose config carries an intact seal uses it as is: building the zod schemas
 * and parsing would cost every cold start a fifth again of its module init to re-check what synth
 * checked. Anything else (no seal, a file edited after synth) is validated in full, as before.
 */
export const CONFIG_SEAL_FILE = `${CONFIG_FILE}.sha256`;

export const logger = new Logger({ serviceName: 'understudy' });

/** The two files a function's asset carries: the validated config, and its seal. */
export const sealedConfigFiles = (config: Config): Record<string, string> => {
  const text = JSON.stringify(config);
  return { [CONFIG_FILE]: text, [CONFIG_SEAL_FILE]: sealOf(text) };
};

const sealOf = (text: string): string => createHash('sha256').update(text).digest('hex');

const readSeal = (url: URL): string | undefined => {
  try {
    return readFileSync(new URL(`${url.href}.sha256`), 'utf8').trim();
  } catch {
    return undefined;
  }
};

/**
 * A config file as infra/bundling.ts writes it: used as is when its seal is intact, else validated
 * again (errors name the file and the field).
 */
export const readConfigFile = (url: URL): Config => {
  const path = fileURLToPath(url);
  let text: string;
  try {
    text = readFileSync(url, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') {
      throw new Error(
        `this bundle carries no understudy config (no ${path}): build it with the understudy CDK stack`,
        { cause: error },
      );
    }
    throw error;
  }
  if (readSeal(url) === sealOf(text)) return JSON.parse(text) as Config;
  return parseConfig(JSON.parse(text), `bundled understudy config ${path}`);
};

/**
 * The config this function's asset carries, checked by its seal (or validated again): every
 * function reads it this way, once per container, at its first invocation (not at module init, which
 * must not grow with the number of services). Every file of a bundle sits in the asset's root, so `./config.json` is beside it.
 */
export const bundledConfig = (): Config => readConfigFile(new URL(`./${CONFIG_FILE}`, import.meta.url));
