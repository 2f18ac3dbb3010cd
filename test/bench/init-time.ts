/**
 * Module init of each Lambda bundle, measured as Lambda pays it at a cold start: the CPU time of
 * loading the handler module (`await import(bundle)`, or `require` for a CommonJS bundle, as the
 * Node.js runtime does) in a fresh Node.js process, side by side with a reference bundle that holds
 * one bundled Route 53 client (`new Route53Client({})`) built with the same options: the median over
 * interleaved rounds of each function's time over the reference's loaded just before it. The budget
 * (npm run bench): each function <= 2.0x the reference.
 *
 * Run alone (`npx tsx test/bench/init-time.ts [runs]`) it compares the ways to build the functions
 * the choice in infra/bundling.ts was made from: SDK bundled or taken from the runtime, ESM or
 * CommonJS (require-style), one file or split into lazily loaded chunks, minified or not.
 *
 * The runtime-provided SDK: Lambda's Node.js runtime resolves `@aws-sdk/*` from its own
 * node_modules. Here a variant that leaves the SDK out finds it through a `node_modules/@aws-sdk`
 * symlink to this repository's copy, beside the bundle and nothing else, so it loads the same
 * package versions, unminified and file by file, as the runtime's copy would; the comparison is of
 * loading strategies, not of SDK versions. No bundle can reach anything else in this repository.
 */

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { lambdaBundling, REPO_ROOT } from '../../infra/bundling';

/** Every Lambda entry point of the stack (the resource-event entry serves each capability's events). */
export const FUNCTION_ENTRIES: Readonly<Record<string, string>> = {
  alarm: 'functions/handlers/alarm.ts',
  dispatch: 'functions/handlers/dispatch.ts',
  'reconcile-worker': 'functions/handlers/reconcile-worker.ts',
  'resource-event': 'functions/handlers/resource-event.ts',
  'mail-recorder': 'functions/capabilities/mail/recorder-handler.ts',
  readiness: 'functions/handlers/readiness.ts',
};

export const REFERENCE = 'reference: one bundled Route 53 client';
const REFERENCE_SOURCE = [
  "import { Route53Client } from '@aws-sdk/client-route-53';",
  'export const client = new Route53Client({});',
  '',
].join('\n');

/** The goal: each function's module init at most this many times the reference's. */
export const INIT_RATIO_BUDGET = 2.0;

export interface Variant {
  readonly name: string;
  readonly options: BuildOptions;
}

const RUNTIME_SDK = ['@aws-sdk/*'];

/** The production build (infra/bundling.ts), and the alternatives it was chosen among. */
export const VARIANTS: readonly Variant[] = [
  { name: 'ESM, SDK bundled, split into lazy chunks (production)', options: lambdaBundling() },
  {
    name: 'ESM, SDK bundled, split, not minified',
    options: { ...lambdaBundling(), minify: false },
  },
  {
    name: 'ESM, SDK bundled, split, minified with keepNames',
    options: { ...lambdaBundling(), keepNames: true },
  },
  { name: 'ESM, SDK bundled, one file', options: { ...lambdaBundling(), splitting: false } },
  {
    name: 'ESM, SDK from the runtime, one file (before)',
    options: { ...lambdaBundling(), splitting: false, external: RUNTIME_SDK },
  },
  {
    name: 'CommonJS (require-style), SDK bundled, one file',
    options: {
      ...lambdaBundling(),
      splitting: false,
      format: 'cjs',
      banner: {},
      outExtension: { '.js': '.cjs' },
    },
  },
  {
    name: 'CommonJS (require-style), SDK from the runtime, one file',
    options: {
      ...lambdaBundling(),
      splitting: false,
      format: 'cjs',
      banner: {},
      outExtension: { '.js': '.cjs' },
      external: RUNTIME_SDK,
    },
  },
];

export interface Bundle {
  readonly name: string;
  /** The handler module. */
  readonly file: string;
  /** Bytes of the handler module, and of every file of the bundle (chunks included, maps excluded). */
  readonly entryBytes: number;
  readonly totalBytes: number;
}

/**
 * Builds the reference and every function with one variant's options into `dir`, each in its own
 * folder beside a `node_modules/@aws-sdk` that stands in for the runtime's.
 */
export const buildBundles = async (
  variant: Variant,
  dir: string,
  entries: Readonly<Record<string, string>> = FUNCTION_ENTRIES,
): Promise<Bundle[]> => {
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules', '@aws-sdk'), join(dir, 'node_modules', '@aws-sdk'));
  const referenceEntry = join(dir, 'reference.ts');
  writeFileSync(referenceEntry, REFERENCE_SOURCE);
  const all: [string, string][] = [[REFERENCE, referenceEntry], ...Object.entries(entries)];
  const bundles: Bundle[] = [];
  for (const [index, [name, entry]] of all.entries()) {
    const outdir = join(dir, `f${index}`);
    // The reference always bundles its SDK: it is the one-client bundle the budget is relative to.
    const options = name === REFERENCE ? { ...variant.options, external: [] } : variant.options;
    await build({
      ...options,
      absWorkingDir: REPO_ROOT,
      entryPoints: [entry],
      outdir,
      write: true,
      logLevel: 'error',
      // A runtime-SDK bundle must resolve @aws-sdk/* from beside it, not from this repository.
      nodePaths: [],
    });
    const files = readdirSync(outdir).filter((f) => /\.(mjs|cjs|js)$/.test(f));
    const file = files.find((f) => f.startsWith('index.'));
    if (!file) throw new Error(`${name}: esbuild wrote no index file in ${outdir}`);
    bundles.push({
      name,
      file: join(outdir, file),
      entryBytes: statSync(join(outdir, file)).size,
      totalBytes: files.reduce((sum, f) => sum + statSync(join(outdir, f)).size, 0),
    });
  }
  return bundles;
};

export interface InitSample {
  /** CPU time (user + system) of loading the module, in milliseconds. */
  readonly cpuMs: number;
  /** Resident set size right after loading, in MiB. */
  readonly rssMiB: number;
  /**
   * Then loading every other chunk of the bundle too (what the function's first invocations may
   * load lazily, its clients' code but not their construction): CPU time from the start, and RSS.
   */
  readonly allCpuMs: number;
  readonly allRssMiB: number;
}

/** Loads one bundle in a fresh Node.js process, as the Lambda runtime would, and reports its cost. */
export const loadOnce = (file: string): InitSample => {
  const load = file.endsWith('.cjs')
    ? `(await import('node:module')).createRequire(import.meta.url)(${JSON.stringify(file)})`
    : `await import(${JSON.stringify(pathToFileURL(file).href)})`;
  const dir = JSON.stringify(join(file, '..'));
  const script = [
    "import { readdirSync } from 'node:fs';",
    "import { join } from 'node:path';",
    "import { pathToFileURL } from 'node:url';",
    'const t0 = process.cpuUsage();',
    `const m = ${load};`,
    'const u = process.cpuUsage(t0);',
    'const rss = process.memoryUsage().rss / 1048576;',
    "if (typeof m.handler !== 'function' && m.client === undefined) throw new Error('no handler');",
    `for (const f of readdirSync(${dir}).filter((f) => f.endsWith('.mjs'))) await import(pathToFileURL(join(${dir}, f)).href);`,
    'const all = process.cpuUsage(t0);',
    'console.log(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, rssMiB: rss, allCpuMs: (all.user + all.system) / 1000, allRssMiB: process.memoryUsage().rss / 1048576 }));',
  ].join('\n');
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: tmpdir(),
    timeout: 60_000,
    env: {
      PATH: process.env.PATH ?? '',
      AWS_REGION: 'eu-west-2',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
  if (result.status !== 0) {
    throw new Error(`loading ${file} failed: ${result.stderr.trim().split('\n').slice(0, 5).join(' | ')}`);
  }
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as InitSample;
};

export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export interface InitResult extends Bundle {
  readonly cpuMs: number;
  readonly rssMiB: number;
  /** With every chunk loaded too (informational: the cost split chunks defer to first use). */
  readonly allCpuMs: number;
  readonly allRssMiB: number;
  /** Median CPU time over the reference's median CPU time. */
  readonly ratio: number;
}

/**
 * Loads every bundle `runs` times, interleaved and side by side: each round loads the reference
 * right before each function, and a function's ratio is the median over rounds of its time over
 * that adjacent reference's, so a machine that gets busier or quieter during the run slows both
 * sides of each pair alike. Times reported are medians over all samples.
 */
export const measureInit = (bundles: readonly Bundle[], runs: number): InitResult[] => {
  const reference = bundles.find((b) => b.name === REFERENCE);
  if (!reference) throw new Error('no reference bundle');
  const samples = new Map<string, InitSample[]>(bundles.map((b) => [b.name, []]));
  const ratios = new Map<string, number[]>(bundles.map((b) => [b.name, []]));
  for (let run = 0; run < runs; run++) {
    for (const bundle of bundles) {
      if (bundle === reference) continue;
      const before = loadOnce(reference.file);
      const sample = loadOnce(bundle.file);
      samples.get(REFERENCE)?.push(before);
      samples.get(bundle.name)?.push(sample);
      ratios.get(bundle.name)?.push(sample.cpuMs / before.cpuMs);
    }
  }
  const of = (name: string, pick: (s: InitSample) => number) => median((samples.get(name) ?? []).map(pick));
  return bundles.map((bundle) => ({
    ...bundle,
    cpuMs: of(bundle.name, (s) => s.cpuMs),
    rssMiB: of(bundle.name, (s) => s.rssMiB),
    allCpuMs: of(bundle.name, (s) => s.allCpuMs),
    allRssMiB: of(bundle.name, (s) => s.allRssMiB),
    ratio: bundle === reference ? 1 : median(ratios.get(bundle.name) ?? []),
  }));
};

/** Builds one variant in a temporary directory, measures it and removes the directory. */
export const measureVariant = async (variant: Variant, runs: number): Promise<InitResult[]> => {
  const dir = mkdtempSync(join(tmpdir(), 'understudy-init-'));
  try {
    return measureInit(await buildBundles(variant, dir), runs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

const kB = (bytes: number) => `${(bytes / 1024).toFixed(0)} kB`;

export const formatResults = (results: readonly InitResult[]): string =>
  results
    .map(
      (r) =>
        `  ${r.name.padEnd(40)} ${`${r.cpuMs.toFixed(1)} ms`.padStart(10)} ${`${r.ratio.toFixed(2)}x`.padStart(7)} ` +
        `${`${r.rssMiB.toFixed(0)} MiB`.padStart(8)}  index ${kB(r.entryBytes)}, all files ${kB(r.totalBytes)}` +
        `; every chunk loaded: ${r.allCpuMs.toFixed(0)} ms, ${r.allRssMiB.toFixed(0)} MiB`,
    )
    .join('\n');

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(process.argv[2] ?? 7);
  console.log(
    `Module init, CPU time, median of ${runs} interleaved runs (ratio to the one-client reference):`,
  );
  for (const variant of VARIANTS) {
    console.log(`\n${variant.name}`);
    console.log(formatResults(await measureVariant(variant, runs)));
  }
}
