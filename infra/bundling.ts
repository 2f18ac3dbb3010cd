import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, type BundlingOptions, DockerImage, type ILocalBundling } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import { type BuildOptions, buildSync } from 'esbuild';
import type { Config } from '../functions/config/schema';
import { sealedConfigFiles } from '../functions/runtime/bundled-config';

/** The repository root: bundling must not depend on the directory `cdk` was started from. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * How every control plane Lambda is built, in one place: the stack (through `functionCode`) and
 * `npm run bench` (through esbuild directly) build and measure the same bundle.
 */
const NODE_TARGET = 'node22';
const MAIN_FIELDS = ['module', 'main'];
/** esbuild emits ESM; some bundled dependencies still call `require`, which ESM does not define. */
const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/**
 * The esbuild options of a Lambda bundle, for esbuild's own API (entry point and output directory
 * left to the caller). Chosen by measuring module init, not bytes (test/bench/init-time.ts):
 *
 * - The AWS SDK v3 is bundled, not taken from the runtime: the runtime's copy is loaded file by file
 *   from disk and ESM hoists every import to the top, so a function loaded every client it might
 *   ever call before its first event.
 * - Code splitting: every `await import(...)` (a capability's executor and its clients, the Slack
 *   secret reader) becomes a chunk of its own that is read and compiled only when first used, so a
 *   function's init holds what each of its invocations needs and nothing else. In a single file,
 *   even code that never runs costs parse time.
 * - Chunks sit beside index.mjs (no subfolder), so every file of the asset finds the config file
 *   (functions/runtime/bundled-config.ts) at `./config.json`.
 */
export const lambdaBundling = (): BuildOptions => ({
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: NODE_TARGET,
  mainFields: MAIN_FIELDS,
  banner: { js: ESM_REQUIRE_BANNER },
  minify: true,
  sourcemap: true,
  // Stack traces need only the mappings; the sources would double the asset for nothing.
  sourcesContent: false,
  splitting: true,
  entryNames: 'index',
  chunkNames: '[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
});

/**
 * Builds one function into `outdir`: the code (config-independent: the same bytes for 1 service or
 * 1,000) and, when given, the validated config as `config.json` beside it, with its seal (see
 * functions/runtime/bundled-config.ts). The config is a file, not
 * an esbuild `define` or a command-line argument, so neither the build command nor the code grows
 * with the number of services.
 */
export const bundleFunction = (entry: string, outdir: string, config?: Config): void => {
  buildSync({ ...lambdaBundling(), absWorkingDir: REPO_ROOT, entryPoints: [entry], outdir });
  for (const [file, text] of Object.entries(config ? sealedConfigFiles(config) : {})) {
    writeFileSync(join(outdir, file), text);
  }
};

/**
 * Local bundling of one function. Its public fields are what CDK's asset cache keys on (within a
 * process, assets with equal options are bundled once): the entry and the config's hash, so two
 * functions, or one stack synthesized with two configs, never share a bundle.
 */
class EsbuildBundling implements BundlingOptions {
  /** Required by the type, never used: local bundling always succeeds or throws. */
  readonly image = DockerImage.fromRegistry('local-bundling-only');
  readonly local: ILocalBundling;
  readonly configSha256: string;

  constructor(
    readonly entry: string,
    config: Config,
  ) {
    this.configSha256 = createHash('sha256').update(JSON.stringify(config)).digest('hex');
    this.local = {
      tryBundle: (outputDir) => {
        bundleFunction(entry, outputDir, config);
        return true;
      },
    };
  }
}

/**
 * A function's code asset: bundled in-process by esbuild at synth (never Docker: `cdk synth` must work
 * offline, and NodejsFunction cannot emit split chunks). The asset hash is the output's, so a config
 * change deploys new code and the deployed code and config always match.
 */
export const functionCode = (entry: string, config: Config): Code =>
  Code.fromAsset(REPO_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: new EsbuildBundling(entry, config),
  });
