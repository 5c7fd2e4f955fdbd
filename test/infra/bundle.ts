/**
 * Bundles a handler exactly as the `MailFetcher` construct does (the options come from
 * `handlerEsbuildOptions` in lib/bundling.ts), for end-to-end tests that load the
 * deployable artefact, and for the bench's figures:
 *
 *   const { file } = await bundleHandler(dir);
 *   const { handler } = await import(pathToFileURL(file).href);
 */
import { mkdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { FETCH_BUNDLE, FETCH_HANDLER_ENTRY_PATH, handlerEsbuildOptions } from '../../lib/bundling';

export interface HandlerBundle {
  /** Absolute path of `index.mjs`. */
  readonly file: string;
  /** The directory Lambda gets: `index.mjs` and its chunks. */
  readonly dir: string;
  /** What a cold start loads: `index.mjs` and the chunks it imports statically, in bytes. */
  readonly sizeBytes: number;
  /** Every file of the directory, lazy chunks included, in bytes. */
  readonly totalBytes: number;
  /** The file names of the directory, with their sizes and whether a cold start loads them. */
  readonly files: readonly BundleFile[];
  /** The input files esbuild put in the bundle, any chunk (relative to the working directory). */
  readonly inputs: readonly string[];
  /** The input files of the chunks a cold start loads. */
  readonly initialInputs: readonly string[];
}

export interface BundleFile {
  readonly name: string;
  readonly bytes: number;
  /** Loaded by the cold start (the entry and its static imports), not by a dynamic `import()`. */
  readonly initial: boolean;
}

/** @param entryPath the handler's TypeScript entry. @default the fetch handler */
export async function bundleHandler(outDir: string, entryPath: string = FETCH_HANDLER_ENTRY_PATH): Promise<HandlerBundle> {
  await mkdir(outDir, { recursive: true });
  const { metafile } = await build({ ...handlerEsbuildOptions(outDir, entryPath), metafile: true });
  const outputs = new Map(Object.entries(metafile.outputs).map(([path, output]) => [resolve(path), output]));
  const file = join(outDir, FETCH_BUNDLE.outFile);
  const initial = staticClosure(resolve(file), outputs);
  const files = [...outputs].map(([path, output]) => ({ name: relative(outDir, path), bytes: output.bytes, initial: initial.has(path) }));
  const sum = (list: readonly BundleFile[]): number => list.reduce((total, f) => total + f.bytes, 0);
  return {
    file,
    dir: outDir,
    sizeBytes: sum(files.filter((f) => f.initial)),
    totalBytes: sum(files),
    files: files.sort((a, b) => Number(b.initial) - Number(a.initial) || b.bytes - a.bytes),
    inputs: [...outputs.values()].flatMap((output) => Object.keys(output.inputs)),
    initialInputs: [...initial].flatMap((path) => Object.keys(outputs.get(path)!.inputs)),
  };
}

/** The entry and every output it imports statically, transitively: what loads before the handler runs. */
function staticClosure(entry: string, outputs: ReadonlyMap<string, Metafile['outputs'][string]>): Set<string> {
  const seen = new Set<string>();
  const pending = [entry];
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (seen.has(path)) continue;
    seen.add(path);
    for (const imported of outputs.get(path)?.imports ?? []) {
      if (imported.kind === 'import-statement' && !imported.external) pending.push(resolve(imported.path));
    }
  }
  return seen;
}
