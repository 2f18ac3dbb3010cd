#!/usr/bin/env node
// Creates ./.venv with the pinned local AWS emulator (moto server), and for the tests cfn-lint too.
//
//   node functions/drill/install-emulator.js drill   requirements-drill.txt (npm run drill)
//   node functions/drill/install-emulator.js dev     requirements-dev.txt, which includes the drill's
//                                                    (npm test)
//
// Idempotent: a stamp in .venv records the requirement files installed; nothing runs while they
// match. Each step prints what it does and how long it took. Installs with uv (a fast installer
// from PyPI, fetched by the system's pip into .venv/uv) and falls back to pip when uv cannot be had.
// UNDERSTUDY_PYTHON_INSTALLER=pip forces pip.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const venv = join(root, '.venv');
const stamp = join(venv, '.understudy-requirements');
const python = join(venv, 'bin', 'python');
const venvUv = join(venv, 'bin', 'uv');
const bootstrapUv = join(venv, 'uv', 'bin', 'uv');

const SETS = {
  drill: ['requirements-drill.txt'],
  dev: ['requirements-drill.txt', 'requirements-dev.txt'],
};
const set = process.argv[2] ?? 'drill';
if (!Object.hasOwn(SETS, set)) {
  console.error(`emulator install: unknown set "${set}" (known: ${Object.keys(SETS).join(', ')})`);
  process.exit(2);
}
const files = SETS[set];
/** The file whose `pip install -r` covers the whole set (requirements-dev.txt includes the drill's). */
const target = join(root, files.at(-1));
const wanted = Object.fromEntries(files.map((f) => [f, readFileSync(join(root, f), 'utf8')]));

const readStamp = () => {
  try {
    const parsed = JSON.parse(readFileSync(stamp, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {}; // absent, or the single-file stamp of older versions: install again
  }
};

const installed = readStamp();
if (existsSync(python) && files.every((f) => installed[f] === wanted[f])) process.exit(0);

const started = performance.now();
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const say = (text) => process.stderr.write(`emulator install: ${text}\n`);

/** Runs one visible step; its own output (uv's, pip's) goes to the terminal as it comes. */
const step = (title, command, args, { optional = false } = {}) => {
  say(`${title} ...`);
  const t0 = performance.now();
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: root });
  const took = seconds(performance.now() - t0);
  if (result.status === 0) {
    say(`✓ ${title} (${took})`);
    return true;
  }
  const why = result.error ? result.error.message : `exit ${result.status ?? result.signal}`;
  if (optional) {
    say(`✗ ${title} (${took}): ${why}`);
    return false;
  }
  say(`✗ ${title} failed (${took}): "${command} ${args.join(' ')}": ${why}`);
  process.exit(1);
};

const works = (command, args) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;

const systemPython = ['python3', 'python'].find((p) => works(p, ['--version']));
if (!systemPython) {
  say('Python 3 with pip is needed for the local AWS emulator (moto); install it and run again.');
  process.exit(1);
}
say(`installing ${files.join(' + ')} into .venv (first run only; later runs skip this)`);
// Without pip: ensurepip alone takes 5 to 20 s, and uv needs no pip in the venv.
if (!existsSync(python)) {
  step(`create .venv (${systemPython} -m venv --without-pip)`, systemPython, [
    '-m',
    'venv',
    '--without-pip',
    venv,
  ]);
}

const pip = [
  '-m',
  'pip',
  'install',
  '--disable-pip-version-check',
  '--no-input',
  '--root-user-action=ignore',
];
const findUv = () => {
  if (process.env.UNDERSTUDY_PYTHON_INSTALLER === 'pip') return undefined;
  for (const candidate of [bootstrapUv, venvUv]) if (existsSync(candidate)) return candidate;
  if (works('uv', ['--version'])) return 'uv';
  // uv from PyPI, put into .venv/uv by the system's pip (the venv itself has no pip).
  const ok =
    works(systemPython, ['-m', 'pip', '--version']) &&
    step(
      'get uv, a fast Python package installer (pip install --target .venv/uv uv)',
      systemPython,
      [...pip, '--quiet', '--target', join(venv, 'uv'), 'uv'],
      { optional: true },
    );
  return ok && existsSync(bootstrapUv) ? bootstrapUv : undefined;
};
const uv = findUv();

if (uv) {
  step(`install ${files.at(-1)} with uv`, uv, ['pip', 'install', '--python', python, '-r', target]);
} else {
  say('uv is not available: installing with pip, which takes a few minutes');
  if (!existsSync(join(venv, 'bin', 'pip')))
    step('add pip to .venv (ensurepip)', python, ['-m', 'ensurepip']);
  // A current pip and botocore: old ones break CloudWatch and EventBridge calls from today's SDK.
  step('upgrade pip', python, [...pip, '--quiet', '--upgrade', 'pip']);
  step(`install ${files.at(-1)} with pip`, python, [...pip, '--progress-bar', 'on', '-r', target]);
}
writeFileSync(stamp, `${JSON.stringify({ ...installed, ...wanted }, null, 2)}\n`);
say(`✓ done in ${seconds(performance.now() - started)}`);
