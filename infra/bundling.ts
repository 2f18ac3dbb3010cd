import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';
import type { Config } from '../functions/config/schema';

/**
 * How every control plane Lambda is built, in one place: the stack (through NodejsFunction) and
 * `npm run bench` (through esbuild directly) must measure and ship the same bundle.
 */
const NODE_TARGET = 'node22';
const MAIN_FIELDS = ['module', 'main'];
/** esbuild emits ESM; some bundled dependencies still call `require`, which ESM does not define. */
const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/**
 * The modular AWS SDK v3 clients come from the Lambda Node.js runtime, which ships them (no layer).
 * Bundling them too makes each function about 560 kB minified (@smithy/core alone is 130 kB),
 * far over the 250 kB budget that keeps cold starts short; we use only long-stable APIs of
 * Route 53, DynamoDB and Secrets Manager, so the runtime's newer copy is safe.
 */
const RUNTIME_PROVIDED = ['@aws-sdk/*'];

/** esbuild substitutes an expression: a JSON string literal whose value is the config JSON. */
const configDefine = (config: Config | undefined): Record<string, string> =>
  config ? { __UNDERSTUDY_CONFIG__: JSON.stringify(JSON.stringify(config)) } : {};

export interface LambdaBundlingOptions {
  /**
   * The validated config to bundle in (functions/runtime/lambda.ts reads it at cold start).
   * @default - none: the bundle refuses to start, which suits size measurements only
   */
  readonly config?: Config;
}

/** The esbuild options of a Lambda bundle, for esbuild's own API (entry point and output left to the caller). */
export const lambdaBundling = (options: LambdaBundlingOptions = {}): BuildOptions => ({
  platform: 'node',
  format: 'esm',
  target: NODE_TARGET,
  mainFields: MAIN_FIELDS,
  banner: { js: ESM_REQUIRE_BANNER },
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  external: RUNTIME_PROVIDED,
  define: configDefine(options.config),
});

/** The same build as NodejsFunction bundling options. */
export const cdkBundling = (options: LambdaBundlingOptions = {}): BundlingOptions => ({
  format: OutputFormat.ESM,
  target: NODE_TARGET,
  mainFields: MAIN_FIELDS,
  banner: ESM_REQUIRE_BANNER,
  minify: true,
  sourceMap: true,
  // Stack traces need only the mappings; the sources would double the asset for nothing.
  sourcesContent: false,
  externalModules: RUNTIME_PROVIDED,
  // esbuild from node_modules, never Docker: `cdk synth` must work offline.
  forceDockerBundling: false,
  define: configDefine(options.config),
});
