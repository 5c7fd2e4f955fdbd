/**
 * How the Lambda handlers are bundled, in one place: the constructs' local bundling at
 * synth time (run from the sources), the package build (`scripts/build.ts`, which bundles
 * them once into `dist/lambda/<name>/`) and the test helper `test/infra/bundle.ts` all take
 * their options from `handlerEsbuildOptions`, so the bundle the tests load is the one
 * deployed. A handler is a directory: `index.mjs` and the chunks it imports lazily.
 */
import { createRequire } from 'node:module';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Type imports only: the test helper loads this file without paying for aws-cdk-lib.
import type { BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions, buildSync } from 'esbuild';
import {
  DISPATCH_HANDLER_ENTRY,
  DISPATCH_HANDLER_EXPORT,
  FETCH_HANDLER_ENTRY,
  FETCH_HANDLER_EXPORT,
  SEED_HANDLER_ENTRY,
  SEED_HANDLER_EXPORT,
} from '../lambda/env';

/**
 * This module's own file. In the published package it is the compiled library
 * (`dist/index.cjs`, whose `import.meta.url` the build defines), one directory below the
 * package root just as `lib/bundling.ts` is below the repository root.
 */
const THIS_FILE = fileURLToPath(import.meta.url);

/** The repository (or installed package) root: `lib/..` or `dist/..`. */
export const PROJECT_ROOT = join(dirname(THIS_FILE), '..');

/**
 * Running from the TypeScript sources (the repository: tests, `npm run synth`) the handlers
 * are bundled at synth time; running from the compiled package they were bundled when the
 * package was built. Decided by what is running, not by whether `dist/` exists: a stale
 * build in a working copy must never be deployed instead of the sources.
 */
export const FROM_SOURCES = extname(THIS_FILE) === '.ts';

/** Where the package build puts the pre-bundled handlers: `dist/lambda/<name>/` (`index.mjs` and its chunks). */
export const PREBUILT_HANDLERS_DIR = join(PROJECT_ROOT, 'dist', 'lambda');

/** Absolute path of the handler's TypeScript entry. */
export const FETCH_HANDLER_ENTRY_PATH = join(PROJECT_ROOT, FETCH_HANDLER_ENTRY);

/** The lock file NodejsFunction needs to find the project root (the example pipeline's function). */
export const DEPS_LOCK_FILE_PATH = join(PROJECT_ROOT, 'package-lock.json');

/** One Lambda handler: its TypeScript entry (relative to the root) and exported function. */
export interface HandlerSource {
  readonly entry: string;
  readonly export: string;
}

/** Every handler the constructs deploy, by the name of its pre-bundled directory. */
export const HANDLERS = {
  fetch: { entry: FETCH_HANDLER_ENTRY, export: FETCH_HANDLER_EXPORT },
  dispatch: { entry: DISPATCH_HANDLER_ENTRY, export: DISPATCH_HANDLER_EXPORT },
  seed: { entry: SEED_HANDLER_ENTRY, export: SEED_HANDLER_EXPORT },
} as const satisfies Record<string, HandlerSource>;

export type HandlerName = keyof typeof HANDLERS;

/** Lambda runtime of the fetch function (`Runtime.NODEJS_22_X`); the esbuild target follows it. */
export const FETCH_RUNTIME_NAME = 'nodejs22.x';

/**
 * ESM output has no `require`; bundled CommonJS dependencies still call it for Node
 * built-ins. The alias avoids clashing with a bundled module's own `createRequire` import.
 */
const CREATE_REQUIRE_BANNER =
  "import { createRequire as __mailfetchCreateRequire } from 'node:module'; const require = __mailfetchCreateRequire(import.meta.url);";

/** The bundle, described once. */
export const FETCH_BUNDLE = {
  /** The Lambda runtime's Node (`nodejs22.x` -> `node22`); a test checks it. */
  target: 'node22',
  format: 'esm',
  /** The entry file of a handler's directory; the Lambda handler is `index.<export>`. */
  outFile: 'index.mjs',
  /**
   * The lazy parts of a handler (imported at their first use: the S3 adapter, EventBridge,
   * postal-mime, KMS, Secrets Manager, SQS) and the code they share, beside the entry.
   */
  chunkNames: 'chunk-[hash]',
  minify: true,
  /**
   * No source map: with `--enable-source-maps` Node parses it on every cold start, and it
   * doubled each asset (a 0.76 MB handler shipped 1.2 MB of map). Errors carry codes and
   * names, which is what the logs and alarms key on.
   */
  sourceMap: false,
  /**
   * Minified classes and functions keep no `name` (keeping them costs ~6 % of what a cold
   * start loads and of its load time). Nothing logged changes: an error's `name` comes from
   * the instance (ours set it, the SDK's carry the service's error code), never from its
   * class, and stack traces show source names either way. The only `constructor.name`
   * reads in the bundle are the SDK's `NoOpLogger` checks, which pick console.warn for a
   * hint on paths our clients never take (an error whose message cannot be written, S3
   * `bucketEndpoint`) or a misconfiguration of the function (an invalid AWS_SDK_UA_APP_ID,
   * whose warning would then be dropped).
   */
  keepNames: false,
  /** Lambda's credentials come from the environment: the SDK's full chain stays out (see the module). */
  alias: { '@aws-sdk/credential-provider-node': join(PROJECT_ROOT, 'lambda', 'credentials', 'lambda-environment-credentials.ts') },
  /** ESM entry points of the AWS SDK tree-shake far better (~735 KB -> ~484 KB). */
  mainFields: ['module', 'main'],
  banner: CREATE_REQUIRE_BANNER,
  /**
   * Nothing external: the AWS SDK is bundled at the version the tests ran against, not the
   * one the Lambda runtime happens to ship.
   */
  externalModules: [] as string[],
} as const;

/** Bundle size budget (the limit) of a handler's whole directory: checked by the bundling test. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

/** What every bundle of ours shares, however it is laid out. */
function commonEsbuildOptions(): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    target: FETCH_BUNDLE.target,
    format: FETCH_BUNDLE.format,
    minify: FETCH_BUNDLE.minify,
    sourcemap: FETCH_BUNDLE.sourceMap,
    keepNames: FETCH_BUNDLE.keepNames,
    mainFields: [...FETCH_BUNDLE.mainFields],
    banner: { js: FETCH_BUNDLE.banner },
    external: [...FETCH_BUNDLE.externalModules],
    alias: { ...FETCH_BUNDLE.alias },
    logLevel: 'warning',
  };
}

/**
 * The esbuild options of a handler's directory: `index.mjs`, split at its dynamic imports
 * into chunks beside it, so a cold start parses only what every run needs. The one source
 * of the handler bundles: the constructs' local bundling (lib/handler-function.ts), the
 * package build (scripts/build.ts) and the test helper (test/infra/bundle.ts) all use it.
 * @param entryPath the handler's TypeScript entry. @default the fetch handler
 */
export function handlerEsbuildOptions(outDir: string, entryPath: string = FETCH_HANDLER_ENTRY_PATH): BuildOptions & { outdir: string } {
  return {
    ...commonEsbuildOptions(),
    entryPoints: { [basename(FETCH_BUNDLE.outFile, '.mjs')]: entryPath },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: FETCH_BUNDLE.chunkNames,
  };
}

/**
 * Bundles a handler into `outDir` and waits: CDK's local bundling (`tryBundle`) is
 * synchronous. esbuild is loaded here, at synth time from the sources only: an app using
 * the compiled package never reaches this (it deploys the pre-built directories) and does
 * not have esbuild.
 */
export function bundleHandlerSync(outDir: string, entryPath: string): void {
  const esbuild = createRequire(import.meta.url)('esbuild') as { buildSync: typeof buildSync };
  esbuild.buildSync(handlerEsbuildOptions(outDir, entryPath));
}

/**
 * `NodejsFunction` bundling options, for a handler that is one file (the example pipeline's:
 * no dynamic imports to split at). Local esbuild; Docker is never used.
 */
export function fetchBundlingOptions(): BundlingOptions {
  return {
    target: FETCH_BUNDLE.target,
    format: FETCH_BUNDLE.format as OutputFormat,
    minify: FETCH_BUNDLE.minify,
    sourceMap: FETCH_BUNDLE.sourceMap,
    keepNames: FETCH_BUNDLE.keepNames,
    mainFields: [...FETCH_BUNDLE.mainFields],
    banner: FETCH_BUNDLE.banner,
    externalModules: [...FETCH_BUNDLE.externalModules],
    esbuildArgs: { '--alias': Object.entries(FETCH_BUNDLE.alias).map(([from, to]) => `${from}=${to}`) },
    bundleAwsSDK: true,
    forceDockerBundling: false,
  };
}

/**
 * The same options for a handler that is one file, for esbuild's `build()` API (the
 * example pipeline's end-to-end test).
 */
export function fetchEsbuildOptions(outDir: string, entryPath: string = FETCH_HANDLER_ENTRY_PATH): BuildOptions & { outfile: string } {
  return { ...commonEsbuildOptions(), entryPoints: [entryPath], outfile: join(outDir, FETCH_BUNDLE.outFile) };
}
