import { App } from 'aws-cdk-lib';
import { DEFAULT_CONFIG_FILE, loadConfigFile } from '../functions/config/load';
import { ConfigError } from '../functions/config/schema';
import { buildApp } from '../infra/app';

/**
 * `cdk synth` / `cdk deploy` entry. The config file comes from `-c config=path`, then
 * $UNDERSTUDY_CONFIG, then understudy.config.ts. A bad config stops here with a message that
 * names the field, before anything is built.
 */
const app = new App();
const file = String(app.node.tryGetContext('config') ?? process.env.UNDERSTUDY_CONFIG ?? DEFAULT_CONFIG_FILE);

try {
  buildApp(await loadConfigFile(file), { app });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`understudy: ${error.message}\n`);
  process.exit(1);
}
