/**
 * The Lambda bundle: its size (and gzip size), and the cold module-load time: a fresh
 * `node` process that imports the bundle, minus a fresh `node -e 0` (Node's own start-up),
 * medians over interleaved runs. Loading the bundle evaluates every module (the handler
 * builds its clients lazily, on the first event), which is what a cold start pays before
 * the handler runs.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundleLambdaHandler } from './build';
import { execMeasured, freshDir, log, median } from './common';

export interface BundleResult {
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly builtBy: string;
  /** Median wall time of `node -e 0`. */
  readonly nodeMs: number;
  /** Median wall time of a fresh node importing the bundle. */
  readonly importMs: number;
  /** importMs - nodeMs. */
  readonly loadMs: number;
  /** The same difference in CPU time (user + sys). */
  readonly loadCpuMs: number;
  readonly runs: number;
}

export async function runBundle(scratch: string, runs: number): Promise<BundleResult> {
  const dir = await freshDir(scratch, 'lambda-bundle');
  const bundle = await bundleLambdaHandler(dir);
  const gzipBytes = gzipSync(await readFile(bundle.file), { level: 9 }).length;
  // An ES module that imports the bundle and exits: the same loader path as Lambda's runtime.
  const importer = join(dir, 'load-bundle.mjs');
  await writeFile(importer, `await import(${JSON.stringify(pathToFileURL(bundle.file).href)});\n`);
  const env = { ...process.env, NODE_OPTIONS: '', AWS_REGION: 'us-east-1' };
  const bare: { ms: number; cpu: number }[] = [];
  const load: { ms: number; cpu: number }[] = [];
  // One untimed round: the page cache holds node and the bundle for every timed round.
  await execMeasured(process.execPath, [importer], { env, scratch: dir });
  for (let i = 0; i < runs; i++) {
    const a = await execMeasured(process.execPath, ['-e', '0'], { env, scratch: dir });
    const b = await execMeasured(process.execPath, [importer], { env, scratch: dir });
    if (b.code !== 0) throw new Error(`importing the bundle failed:\n${b.stderr}`);
    bare.push({ ms: a.ms, cpu: a.cpuMs ?? Number.NaN });
    load.push({ ms: b.ms, cpu: b.cpuMs ?? Number.NaN });
  }
  const nodeMs = median(bare.map((x) => x.ms));
  const importMs = median(load.map((x) => x.ms));
  const result: BundleResult = {
    bytes: bundle.bytes,
    gzipBytes,
    builtBy: bundle.builtBy,
    nodeMs,
    importMs,
    loadMs: importMs - nodeMs,
    loadCpuMs: median(load.map((x) => x.cpu)) - median(bare.map((x) => x.cpu)),
    runs,
  };
  log(`bundle ${(bundle.bytes / 1024).toFixed(0)} KiB, module load ${result.loadMs.toFixed(0)} ms`);
  return result;
}
