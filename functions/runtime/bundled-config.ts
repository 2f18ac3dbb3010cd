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

export const logger = new Logger({ serviceName: 'understudy' });

/** A config file as infra/bundling.ts writes it, validated again: errors name the file and the field. */
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
  return parseConfig(JSON.parse(text), `bundled understudy config ${path}`);
};

/**
 * The config this function's asset carries, validated again: every function reads it this way, once
 * per container, at its first invocation (not at module init, which must not grow with the number of
 * services). Every file of a bundle sits in the asset's root, so `./config.json` is beside it.
 */
export const bundledConfig = (): Config => readConfigFile(new URL(`./${CONFIG_FILE}`, import.meta.url));
