/**
 * The Lambda bundle of the fetch-mailbox handler: a directory, `index.mjs` and the chunks it
 * imports. Its sizes: what a cold start loads (the entry and its static imports; the figure
 * the target is on) and all the chunks (the deployment package: the lazy ones load only in
 * runs that need them, S3 in a run that stores, EventBridge and postal-mime in one that
 * publishes...). And the cold module load: a fresh `node` process that imports the entry,
 * minus a fresh `node -e 0` (Node's own start-up), medians over interleaved runs, with the
 * spread of the paired differences: timings on a shared machine are noisy. Loading the
 * entry evaluates every module a cold start has (the handler builds its clients on the
 * first event), which is what Lambda's init pays before the handler runs.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { handlerEsbuildOptions } from '../lib/bundling';
import { bundleLambdaHandler } from './build';
import { QUICK, execMeasured, freshDir, log, median } from './common';

/** At least this many runs of each process for the cold-load median (not in a quick run): one run varies by tens of ms here. */
const MIN_COLD_LOAD_RUNS = 31;

export interface BundleResult {
  /** What a cold start loads: `index.mjs` and the chunks it imports statically. */
  readonly bytes: number;
  /** The same, each file gzipped. */
  readonly gzipBytes: number;
  /** Every file of the directory, lazy chunks included: the deployment package. */
  readonly totalBytes: number;
  /** Files a cold start loads / files in the directory. */
  readonly initialFiles: number;
  readonly files: number;
  readonly builtBy: string;
  /** Median wall time of `node -e 0`. */
  readonly nodeMs: number;
  /** Median wall time of a fresh node importing the bundle. */
  readonly importMs: number;
  /** importMs - nodeMs. */
  readonly loadMs: number;
  /** Quartiles of the paired differences (import run minus the `node -e 0` run before it): the spread of loadMs. */
  readonly loadQuartilesMs: readonly [number, number];
  /** The same difference in CPU time (user + sys). */
  readonly loadCpuMs: number;
  readonly runs: number;
  /** The DynamoDB client alone (see DYNAMODB_ONLY_ENTRY), built the same way: bytes and cold module load. */
  readonly dynamoOnlyBytes: number;
  readonly dynamoOnlyLoadMs: number;
}

/**
 * The DynamoDB SDK client and the commands a run sends (lease, state, registry), with the SDK
 * core under them: what a cold start would load if the worker sent its DynamoDB requests
 * through the SDK (it sends them directly: lambda/state/direct-dynamodb.ts). Shown beside
 * the handler's figures for scale.
 */
const DYNAMODB_ONLY_ENTRY =
  "export { DynamoDBClient, BatchGetItemCommand, BatchWriteItemCommand, DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';\n";

/** DYNAMODB_ONLY_ENTRY bundled with the handler's esbuild settings: its entry file, and the bytes a cold start loads (the entry and its static imports). */
async function bundleDynamoOnly(dir: string): Promise<{ file: string; bytes: number }> {
  const entry = join(dir, 'dynamo-only.mjs');
  await writeFile(entry, DYNAMODB_ONLY_ENTRY);
  const out = join(dir, 'dynamo-only');
  // The entry lies in the scratch directory: the SDK resolves from this repository.
  const { metafile } = await build({ ...handlerEsbuildOptions(out, entry), nodePaths: [resolve(import.meta.dirname, '..', 'node_modules')], metafile: true });
  const outputs = metafile.outputs;
  const first = Object.keys(outputs).find((path) => path.endsWith('/index.mjs'))!;
  const loaded = new Set<string>();
  for (const stack = [first]; stack.length > 0; ) {
    const path = stack.pop()!;
    if (loaded.has(path)) continue;
    loaded.add(path);
    for (const i of outputs[path]!.imports) if (i.kind === 'import-statement' && outputs[i.path]) stack.push(i.path);
  }
  return { file: join(out, 'index.mjs'), bytes: [...loaded].reduce((sum, path) => sum + outputs[path]!.bytes, 0) };
}

export async function runBundle(scratch: string, requestedRuns: number): Promise<BundleResult> {
  const runs = QUICK ? requestedRuns : Math.max(requestedRuns, MIN_COLD_LOAD_RUNS);
  const dir = await freshDir(scratch, 'lambda-bundle');
  const bundle = await bundleLambdaHandler(dir);
  const gzip = await Promise.all(bundle.initialFiles.map(async (name) => gzipSync(await readFile(join(dirname(bundle.file), name)), { level: 9 }).length));
  // An ES module that imports the bundle and exits: the same loader path as Lambda's runtime.
  const importer = join(dir, 'load-bundle.mjs');
  await writeFile(importer, `await import(${JSON.stringify(pathToFileURL(bundle.file).href)});\n`);
  const dynamoOnly = await bundleDynamoOnly(dir);
  const dynamoImporter = join(dir, 'load-dynamo-only.mjs');
  await writeFile(dynamoImporter, `await import(${JSON.stringify(pathToFileURL(dynamoOnly.file).href)});\n`);
  const env = { ...process.env, NODE_OPTIONS: '', AWS_REGION: 'us-east-1' };
  const bare: { ms: number; cpu: number }[] = [];
  const load: { ms: number; cpu: number }[] = [];
  const dynamoLoad: number[] = [];
  // One untimed round: the page cache holds node and the bundle for every timed round.
  await execMeasured(process.execPath, [importer], { env, scratch: dir });
  for (let i = 0; i < runs; i++) {
    const a = await execMeasured(process.execPath, ['-e', '0'], { env, scratch: dir });
    const b = await execMeasured(process.execPath, [importer], { env, scratch: dir });
    if (b.code !== 0) throw new Error(`importing the bundle failed:\n${b.stderr}`);
    const c = await execMeasured(process.execPath, [dynamoImporter], { env, scratch: dir });
    if (c.code !== 0) throw new Error(`importing the DynamoDB client alone failed:\n${c.stderr}`);
    bare.push({ ms: a.ms, cpu: a.cpuMs ?? Number.NaN });
    load.push({ ms: b.ms, cpu: b.cpuMs ?? Number.NaN });
    dynamoLoad.push(c.ms);
  }
  const nodeMs = median(bare.map((x) => x.ms));
  const importMs = median(load.map((x) => x.ms));
  const paired = load.map((x, i) => x.ms - bare[i]!.ms);
  const result: BundleResult = {
    bytes: bundle.bytes,
    gzipBytes: gzip.reduce((sum, n) => sum + n, 0),
    totalBytes: bundle.totalBytes,
    initialFiles: bundle.initialFiles.length,
    files: bundle.initialFiles.length + bundle.lazyFiles.length,
    builtBy: bundle.builtBy,
    nodeMs,
    importMs,
    loadMs: importMs - nodeMs,
    loadQuartilesMs: [quantile(paired, 0.25), quantile(paired, 0.75)],
    loadCpuMs: median(load.map((x) => x.cpu)) - median(bare.map((x) => x.cpu)),
    runs,
    dynamoOnlyBytes: dynamoOnly.bytes,
    dynamoOnlyLoadMs: median(dynamoLoad) - nodeMs,
  };
  log(`bundle ${(bundle.bytes / 1024).toFixed(0)} KiB at a cold start (${(bundle.totalBytes / 1024).toFixed(0)} KiB with the lazy chunks), module load ${result.loadMs.toFixed(0)} ms`);
  return result;
}

/** The q-quantile (0..1) of xs, the nearest rank. */
function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
}

/** "411 KiB at a cold start (3 files; 132 KiB gzipped), 800 KiB with the lazy chunks (17 files)". */
export function bundleSizeText(b: BundleResult): string {
  return (
    `${(b.bytes / 1024).toFixed(0)} KiB at a cold start (${b.initialFiles} file${b.initialFiles === 1 ? '' : 's'}; ${(b.gzipBytes / 1024).toFixed(0)} KiB gzipped), ` +
    `${(b.totalBytes / 1024).toFixed(0)} KiB with the lazy chunks (${b.files} files)`
  );
}
