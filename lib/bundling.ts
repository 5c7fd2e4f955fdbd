/**
 * How the fetch handler is bundled, in one place: the construct's `NodejsFunction` and the
 * test helper `test/infra/bundle.ts` (which calls esbuild's API directly) both derive their
 * options from `FETCH_BUNDLE`, so the bundle the end-to-end tests load is the one deployed.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Type imports only: the test helper loads this file without paying for aws-cdk-lib.
import type { BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';
import { DISPATCH_HANDLER_ENTRY, FETCH_HANDLER_ENTRY, SEED_HANDLER_ENTRY } from '../lambda/env';

/** The repository root: `lib/..`. The handler entry and the lock file are found from here. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Absolute path of the handler's TypeScript entry. */
export const FETCH_HANDLER_ENTRY_PATH = join(PROJECT_ROOT, FETCH_HANDLER_ENTRY);

/** Absolute path of the registry seeding handler's TypeScript entry (bundled with the same options). */
export const SEED_HANDLER_ENTRY_PATH = join(PROJECT_ROOT, SEED_HANDLER_ENTRY);

/** Absolute path of the dispatcher's TypeScript entry (bundled with the same options). */
export const DISPATCH_HANDLER_ENTRY_PATH = join(PROJECT_ROOT, DISPATCH_HANDLER_ENTRY);

/** The lock file NodejsFunction needs to find the project root (no Docker, no install step). */
export const DEPS_LOCK_FILE_PATH = join(PROJECT_ROOT, 'package-lock.json');

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
  sourceMap: true,
  /** Stack traces are mapped to file and line; the sources themselves need not ship. */
  sourcesContent: false,
  /** Class names survive minification: error names in logs stay readable. */
  keepNames: true,
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
    sourcesContent: FETCH_BUNDLE.sourcesContent,
    keepNames: FETCH_BUNDLE.keepNames,
    mainFields: [...FETCH_BUNDLE.mainFields],
    banner: FETCH_BUNDLE.banner,
    externalModules: [...FETCH_BUNDLE.externalModules],
    bundleAwsSDK: true,
    forceDockerBundling: false,
  };
}

/** The esbuild options for the same bundle, for esbuild's `build()` API (the test helper). */
export function fetchEsbuildOptions(outDir: string): BuildOptions & { outfile: string } {
  return {
    entryPoints: [FETCH_HANDLER_ENTRY_PATH],
    outfile: join(outDir, FETCH_BUNDLE.outFile),
    bundle: true,
    platform: 'node',
    target: FETCH_BUNDLE.target,
    format: FETCH_BUNDLE.format,
    minify: FETCH_BUNDLE.minify,
    sourcemap: FETCH_BUNDLE.sourceMap,
    sourcesContent: FETCH_BUNDLE.sourcesContent,
    keepNames: FETCH_BUNDLE.keepNames,
    mainFields: [...FETCH_BUNDLE.mainFields],
    banner: { js: FETCH_BUNDLE.banner },
    external: [...FETCH_BUNDLE.externalModules],
    logLevel: 'warning',
  };
}
