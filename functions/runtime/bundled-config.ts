import { Logger } from '@aws-lambda-powertools/logger';
import { type Config, parseConfig } from '../config/schema';

/**
 * The validated config is bundled into each function by esbuild (`define`) at synth time, so the
 * deployed code and the deployed config always match and no config lives in environment variables.
 */
declare const __UNDERSTUDY_CONFIG__: string | undefined;

export const logger = new Logger({ serviceName: 'understudy' });

/** The config esbuild bundled into this function, validated again: every function reads it this way. */
export const bundledConfig = (): Config => {
  if (typeof __UNDERSTUDY_CONFIG__ !== 'string') {
    throw new Error('this bundle carries no understudy config: build it with the understudy CDK stack');
  }
  return parseConfig(JSON.parse(__UNDERSTUDY_CONFIG__), 'bundled understudy config');
};
