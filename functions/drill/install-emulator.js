#!/usr/bin/env node
// Creates ./.venv with the pinned local AWS emulator (moto server) and cfn-lint from
// requirements-dev.txt. Idempotent: skips pip when the venv already matches the pins.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const venv = join(root, '.venv');
const requirements = join(root, 'requirements-dev.txt');
const stamp = join(venv, '.understudy-requirements');
const python = join(venv, 'bin', 'python');
const wanted = readFileSync(requirements, 'utf8');

const run = (command, args) => {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root });
  if (result.status !== 0) {
    console.error(
      `emulator install: "${command} ${args.join(' ')}" failed (exit ${result.status ?? result.signal})`,
    );
    process.exit(1);
  }
};

if (existsSync(stamp) && existsSync(python) && readFileSync(stamp, 'utf8') === wanted) process.exit(0);

const systemPython = ['python3', 'python'].find((p) => spawnSync(p, ['--version']).status === 0);
if (!systemPython) {
  console.error('emulator install: Python 3 with pip is needed for the local AWS emulator (moto).');
  process.exit(1);
}
console.error('Installing the local AWS emulator (moto server) and cfn-lint into .venv ...');
if (!existsSync(python)) run(systemPython, ['-m', 'venv', venv]);
// A current pip and botocore: old ones break CloudWatch and EventBridge calls from today's SDK.
run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--upgrade', 'pip']);
run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements]);
writeFileSync(stamp, wanted);
