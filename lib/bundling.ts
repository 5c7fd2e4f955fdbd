/**
 * How the Lambda handlers are bundled, in one place: the constructs' `NodejsFunction` (run
 * from the sources), the package build (`scripts/build.ts`, which bundles them once into
 * `dist/lambda/<name>/`) and the test helper `test/infra/bundle.ts` (esbuild's API) all
 * derive their options from `FETCH_BUNDLE`, so the bundle the tests load is the one deployed.
 */
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Type imports only: the test helper loads this file without paying for aws-cdk-lib.
import type { BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';
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

/** Where the package build puts the pre-bundled handlers: `dist/lambda/<name>/index.mjs`. */
export const PREBUILT_HANDLERS_DIR = join(PROJECT_ROOT, 'dist', 'lambda');

/** Absolute path of the handler's TypeScript entry. */
export const FETCH_HANDLER_ENTRY_PATH = join(PROJECT_ROOT, FETCH_HANDLER_ENTRY);

/** The lock file NodejsFunction needs to find the project root (no Docker, no install step). */
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
  /** What NodejsFunction derives from the runtime (`nodejs22.x` -> `node22`); a test checks it. */
  target: 'node22',
  format: 'esm',
  /** The output file name NodejsFunction uses for ESM; the Lambda handler is `index.<export>`. */
  outFile: 'index.mjs',
  minify: true,
  /**
   * No source map: with `--enable-source-maps` Node parses it on every cold start, and it
   * doubled each asset (a 0.76 MB handler shipped 1.2 MB of map). Errors carry codes and
   * names, which is what the logs and alarms key on.
   */
  sourceMap: false,
  /** Class names survive minification: error names in logs stay readable. */
  keepNames: true,
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

/** Bundle size budget (the limit): checked by the bundling test. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

/** `NodejsFunction` bundling options (local esbuild; Docker is never used). */
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
 * The esbuild options for the same bundle, for esbuild's `build()` API (the test helper,
 * the package build).
 * @param entryPath the handler's TypeScript entry. @default the fetch handler
 */
export function fetchEsbuildOptions(outDir: string, entryPath: string = FETCH_HANDLER_ENTRY_PATH): BuildOptions & { outfile: string } {
  return {
    entryPoints: [entryPath],
    outfile: join(outDir, FETCH_BUNDLE.outFile),
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
