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
  /** Absolute path of `index.mjs` (its source map is beside it). */
  readonly file: string;
  readonly sizeBytes: number;
}

export async function bundleHandler(outDir: string): Promise<HandlerBundle> {
  await mkdir(outDir, { recursive: true });
  const options = fetchEsbuildOptions(outDir);
  await build(options);
  const { size } = await stat(options.outfile);
  return { file: options.outfile, sizeBytes: size };
}
