/**
 * `npm run build` (run by `prepack`, so `npm pack` and `npm publish` always ship a fresh
 * build): the published package, in dist/. Why it is built this way: docs/package.md.
 *
 *   dist/lambda/<handler>/index.mjs   the Lambda handlers (with the chunks they import lazily),
 *                                     bundled once with the options the repository's synth
 *                                     bundles with (handlerEsbuildOptions, lib/bundling.ts)
 *   dist/<entry>.cjs / .mjs           the library: require() and import, dependencies external
 *   dist/types/.../*.d.cts, .d.mts   its types, as tsc declares them, for require and import
 *   dist/cli/mailfetch.mjs            the command, compiled, split at its lazy imports
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { HANDLERS, PROJECT_ROOT, handlerEsbuildOptions } from '../lib/bundling';

const DIST = join(PROJECT_ROOT, 'dist');
/** The oldest Node the library and the command run on (CI's); package.json asks for 22. */
const NODE_TARGET = 'node20';

/** Where tsc puts the declarations (tsconfig.build.json) before they are rewritten into dist/types. */
const EMITTED_DECLARATIONS = join(DIST, '.declarations');
const DECLARATIONS = join(DIST, 'types');

/** The library's entries: `.` and the documented subpaths (package.json `exports`, tsconfig.build.json). */
export const LIBRARY_ENTRIES = {
  index: 'lib/index.ts',
  config: 'lambda/api/config.ts',
  engine: 'lambda/api/engine.ts',
  pop3: 'lambda/api/pop3.ts',
} as const;

/**
 * CommonJS has no `import.meta`: lib/bundling.ts finds the package root (and the
 * pre-bundled handlers) from `import.meta.url`, which the CommonJS build derives from `__filename`.
 */
const CJS_IMPORT_META_URL = {
  define: { 'import.meta.url': '__mailfetchModuleUrl' },
  banner: { js: "const __mailfetchModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
};

const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: NODE_TARGET,
  // aws-cdk-lib and constructs are the app's (peer dependencies); the AWS SDK is a dependency.
  packages: 'external',
  logLevel: 'warning',
};

async function buildHandlers(): Promise<void> {
  for (const [name, source] of Object.entries(HANDLERS)) {
    await build(handlerEsbuildOptions(join(DIST, 'lambda', name), join(PROJECT_ROOT, source.entry)));
  }
}

async function buildLibrary(): Promise<void> {
  const entryPoints = Object.fromEntries(Object.entries(LIBRARY_ENTRIES).map(([name, path]) => [name, join(PROJECT_ROOT, path)]));
  await build({ ...COMMON, entryPoints, outdir: DIST, format: 'esm', outExtension: { '.js': '.mjs' } });
  await build({ ...COMMON, ...CJS_IMPORT_META_URL, entryPoints, outdir: DIST, format: 'cjs', outExtension: { '.js': '.cjs' } });
}

/**
 * The declarations tsc emits keep the sources' extensionless relative imports, which
 * `node16`/`nodenext` resolution (a `cdk init` app's) refuses. Each file reachable from an
 * entry is written twice: `.d.cts` importing `./x.cjs` (for `require`) and `.d.mts`
 * importing `./x.mjs` (for `import`). Files no entry reaches are left out.
 */
async function buildDeclarations(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', join(PROJECT_ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error('tsc could not emit the declarations');
  const pending = Object.values(LIBRARY_ENTRIES).map((path) => join(EMITTED_DECLARATIONS, path.replace(/\.ts$/, '.d.ts')));
  const done = new Set<string>();
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (done.has(file)) continue;
    done.add(file);
    const text = await readFile(file, 'utf8');
    const target = join(DECLARATIONS, relative(EMITTED_DECLARATIONS, file)).replace(/\.d\.ts$/, '');
    await mkdir(dirname(target), { recursive: true });
    for (const [ext, declarationExt] of [['cjs', 'd.cts'], ['mjs', 'd.mts']] as const) {
      const rewritten = text.replace(RELATIVE_SPECIFIER, (_all, lead: string, quote: string, specifier: string) => {
        const { path, base } = resolveDeclaration(file, specifier);
        pending.push(path);
        return `${lead}${quote}${base}.${ext}${quote}`;
      });
      await writeFile(`${target}.${declarationExt}`, rewritten);
    }
  }
  await rm(EMITTED_DECLARATIONS, { recursive: true, force: true });
}

/** `from './x'`, `import('../y')`: the relative module specifiers of a declaration file. */
const RELATIVE_SPECIFIER = /(\bfrom\s+|\bimport\s*\(\s*)(['"])(\.{1,2}\/[^'"]*)\2/g;

/** The declaration file a specifier names (a file, or a directory's index), and the specifier without extension. */
function resolveDeclaration(from: string, specifier: string): { path: string; base: string } {
  const target = resolve(dirname(from), specifier);
  if (existsSync(`${target}.d.ts`)) return { path: `${target}.d.ts`, base: specifier };
  if (existsSync(join(target, 'index.d.ts'))) return { path: join(target, 'index.d.ts'), base: `${specifier}/index` };
  throw new Error(`${relative(EMITTED_DECLARATIONS, from)}: cannot resolve ${specifier}`);
}

/** The command: ESM split at its dynamic imports, so `--help` loads none of the commands (or the AWS SDK). */
export async function buildCli(outdir: string = join(DIST, 'cli')): Promise<void> {
  await build({
    ...COMMON,
    entryPoints: { mailfetch: join(PROJECT_ROOT, 'bin/mailfetch-cli.ts') },
    outdir,
    format: 'esm',
    splitting: true,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    banner: { js: '#!/usr/bin/env node' },
  });
  await chmod(join(outdir, 'mailfetch.mjs'), 0o755);
}

async function main(): Promise<void> {
  const started = Date.now();
  await rm(DIST, { recursive: true, force: true });
  await mkdir(DIST, { recursive: true });
  await Promise.all([buildHandlers(), buildLibrary(), buildCli()]);
  await buildDeclarations();
  // stderr: `npm pack --json` prints its report on stdout, after this.
  process.stderr.write(`mailfetch: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

// Run as a script; imported (bench/cli-start.bench.ts), only the exports.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
