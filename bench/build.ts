/** esbuild bundles: the benchmark's client processes, and the Lambda handler. */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');

/** ESM output of CommonJS dependencies (the AWS SDK) needs a `require`. */
const CREATE_REQUIRE_BANNER = "import { createRequire as __mfCreateRequire } from 'node:module'; const require = __mfCreateRequire(import.meta.url);";

/** What every bench bundle shares: ESM for this Node, minified, the SDK's ESM entry points. */
export const BENCH_BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: `node${process.versions.node.split('.')[0]}`,
  format: 'esm',
  minify: true,
  mainFields: ['module', 'main'],
  banner: { js: CREATE_REQUIRE_BANNER },
  logLevel: 'error',
} as const satisfies BuildOptions;

/**
 * bench/client.ts bundled the way the Lambda bundle is built, but for this Node, and split
 * at its dynamic imports: the reference client never loads the engine, the engine never
 * loads the AWS SDK.
 */
export async function bundleClient(outDir: string): Promise<string> {
  const dir = join(outDir, 'client');
  await build({
    ...BENCH_BUNDLE_OPTIONS,
    entryPoints: { client: join(ROOT, 'bench', 'client.ts') },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    splitting: true,
  });
  return join(dir, 'client.mjs');
}

/** One bench script bundled alone (ESM, minified, for this Node), so it runs without a TypeScript loader. */
export async function bundleScript(entry: string, outDir: string): Promise<string> {
  const outfile = join(outDir, `${basename(entry, '.ts')}.mjs`);
  await build({ ...BENCH_BUNDLE_OPTIONS, entryPoints: [entry], outfile });
  return outfile;
}

export interface HandlerBundle {
  /** The bundle's entry file. */
  readonly file: string;
  /** What a cold start loads: the entry and the chunks it imports statically. */
  readonly bytes: number;
  /** Every file of the handler's directory, lazy chunks included. */
  readonly totalBytes: number;
  /** The files a cold start loads, then the lazy ones. */
  readonly initialFiles: readonly string[];
  readonly lazyFiles: readonly string[];
  /** Who built it: test/infra/bundle.ts (the CDK stack's settings) or bench's own esbuild call. */
  readonly builtBy: string;
}

/** What test/infra/bundle.ts's bundleHandler returns, as far as the bench reads it. */
interface HelperBundle {
  readonly file?: string;
  readonly dir?: string;
  readonly sizeBytes?: number;
  readonly totalBytes?: number;
  readonly files?: readonly { readonly name: string; readonly initial: boolean }[];
}

/**
 * The Lambda handler bundle. Uses test/infra/bundle.ts's bundleHandler(outDir) when it
 * exists (the settings the stack deploys); otherwise esbuild with the same settings:
 * platform node, target node22, ESM, minified, mainFields module/main, createRequire banner.
 */
export async function bundleLambdaHandler(outDir: string): Promise<HandlerBundle> {
  const helper = join(ROOT, 'test', 'infra', 'bundle.ts');
  if (existsSync(helper)) {
    const mod = (await import(pathToFileURL(helper).href)) as { bundleHandler?: (dir: string) => Promise<unknown> | unknown };
    if (typeof mod.bundleHandler === 'function') {
      const returned = await mod.bundleHandler(outDir);
      const file = (await entryFile(returned, outDir)) ?? undefined;
      if (file) return { ...(await figuresOf(file, returned as HelperBundle)), builtBy: 'test/infra/bundle.ts bundleHandler()' };
    }
  }
  const file = join(outDir, 'index.mjs');
  await build({
    entryPoints: [join(ROOT, 'lambda', 'handlers', 'fetch-mailbox.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    mainFields: ['module', 'main'],
    banner: { js: CREATE_REQUIRE_BANNER },
    logLevel: 'error',
  });
  const bytes = (await stat(file)).size;
  return { file, bytes, totalBytes: bytes, initialFiles: [basename(file)], lazyFiles: [], builtBy: 'bench/build.ts (esbuild: node22, esm, minify, mainFields module/main)' };
}

/** The helper's split figures when it gives them (a handler directory), else the entry file alone. */
async function figuresOf(file: string, returned: HelperBundle): Promise<Omit<HandlerBundle, 'builtBy'>> {
  const { sizeBytes, totalBytes, files } = returned;
  if (sizeBytes !== undefined && totalBytes !== undefined && files !== undefined) {
    const names = (initial: boolean): string[] => files.filter((f) => f.initial === initial).map((f) => f.name);
    return { file, bytes: sizeBytes, totalBytes, initialFiles: names(true), lazyFiles: names(false) };
  }
  const bytes = (await stat(file)).size;
  return { file, bytes, totalBytes: bytes, initialFiles: [basename(file)], lazyFiles: [] };
}

/** The bundle file bundleHandler produced: what it returned (path or {file|outfile|path}), else the largest .mjs/.js in outDir. */
async function entryFile(returned: unknown, outDir: string): Promise<string | undefined> {
  const candidates: unknown[] = [returned];
  if (returned && typeof returned === 'object') {
    const r = returned as Record<string, unknown>;
    candidates.push(r.file, r.outfile, r.path, r.entry, r.bundle);
  }
  for (const c of candidates) {
    if (typeof c === 'string' && /\.(mjs|cjs|js)$/.test(c) && existsSync(c)) return c;
  }
  let best: { file: string; size: number } | undefined;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (/\.(mjs|cjs|js)$/.test(entry.name)) {
        const size = (await stat(path)).size;
        if (!best || size > best.size) best = { file: path, size };
      }
    }
  };
  await walk(outDir);
  return best?.file;
}
