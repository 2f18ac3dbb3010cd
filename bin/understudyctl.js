#!/usr/bin/env node
// The operator CLI: `npx --no-install understudyctl --help`. tsx lets it run the TypeScript sources
// (and load a TypeScript config file) without a build step.
import { register } from 'tsx/esm/api';

// The AWS SDK warns on Node 20 that its support ends in 2027. The operator can do nothing about it
// mid-incident (the Lambdas run Node 22), so keep it off the screen. Set before the SDK loads.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();

const { main } = await import('../functions/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
