#!/usr/bin/env node
// The operator CLI: `npx understudy --help`. tsx lets it run the TypeScript sources (and load a
// TypeScript config file) without a build step.
import { register } from 'tsx/esm/api';

register();

const { main } = await import('../functions/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
