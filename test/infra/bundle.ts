/**
 * Bundles the fetch handler exactly as the `MailFetcher` construct does (the options come
 * from `lib/bundling.ts`), for end-to-end tests that load the deployable artefact:
 *
 *   const { file } = await bundleHandler(dir);
 *   const { handler } = await import(pathToFileURL(file).href);
 */
import { mkdir, stat } from 'node:fs/promises';
import { build } from 'esbuild';
import { fetchEsbuildOptions } from '../../lib/bundling';

export interface HandlerBundle {
  /** Absolute path of `index.mjs`. */
  readonly file: string;
  readonly sizeBytes: number;
  /** The input files esbuild put in the bundle (relative to the working directory). */
  readonly inputs: readonly string[];
}

export async function bundleHandler(outDir: string): Promise<HandlerBundle> {
  await mkdir(outDir, { recursive: true });
  const options = fetchEsbuildOptions(outDir);
  const { metafile } = await build({ ...options, metafile: true });
  const { size } = await stat(options.outfile);
  const inputs = Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs));
  return { file: options.outfile, sizeBytes: size, inputs };
}
