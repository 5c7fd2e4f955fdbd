/**
 * bench/listing.bench.ts (a 1,000,000-entry UIDL + LIST through the real client) as a
 * step of `npm run bench`: bundled as the Lambda code is (esbuild, no TypeScript loader in
 * the process: tsx alone adds ~40 MB of RSS) and run as its own command, so its peak RSS is
 * that of a fresh process running what production runs, not the bench runner's (it reads
 * its own VmHWM: getrusage's maxRSS would carry the runner's peak into the child). Its measurement stays in that file; this only reads the JSON line it prints.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bundleScript } from './build';
import { exec, median } from './common';
import type { ListingFigures } from './listing.bench';

const ROOT = resolve(import.meta.dirname, '..');
const LISTING_BENCH = join(ROOT, 'bench', 'listing.bench.ts');
/** A million entries take ~3 s of CPU on the bench machine; ten minutes means stuck. */
const LISTING_TIMEOUT_MS = 10 * 60_000;

export type { ListingFigures } from './listing.bench';

/** Runs per measurement: a garbage collection that comes late can add tens of MB to one run's peak. */
const LISTING_RUNS = 3;

/** The medians of LISTING_RUNS fresh processes, each figure on its own; `peakRssMbRuns` has every run's peak. */
export async function runListing(entries: number): Promise<ListingFigures & { readonly peakRssMbRuns: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'mailfetch-listing-'));
  try {
    const script = await bundleScript(LISTING_BENCH, dir);
    const runs: ListingFigures[] = [];
    for (let i = 0; i < LISTING_RUNS; i++) runs.push(await runBundled(script, entries));
    const mid = (pick: (f: ListingFigures) => number): number => median(runs.map(pick));
    return {
      entries,
      cpuMs: mid((f) => f.cpuMs),
      wallMs: mid((f) => f.wallMs),
      peakRssMb: mid((f) => f.peakRssMb),
      baselineRssMb: mid((f) => f.baselineRssMb),
      peakRssMbRuns: runs.map((f) => f.peakRssMb),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runBundled(script: string, entries: number): Promise<ListingFigures> {
  const r = await exec(process.execPath, [script, String(entries)], { cwd: ROOT, timeoutMs: LISTING_TIMEOUT_MS });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) {
    throw new Error(`bench/listing.bench.ts ${entries} failed with ${r.code ?? r.signal}:\n${r.stderr.trim().slice(-2000)}`);
  }
  return JSON.parse(line) as ListingFigures;
}
