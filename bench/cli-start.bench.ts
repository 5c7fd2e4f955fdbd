/**
 * The command's start: `mailfetch --help` compiled (as the package ships it, built by
 * scripts/build.ts) and from the TypeScript sources through tsx (the repository's
 * bin/mailfetch.js, what the package ran before it was compiled), each against a fresh
 * `node -e 0`: medians over interleaved runs, reported as ratios and differences.
 */
import { join } from 'node:path';
import { buildCli } from '../scripts/build';
import { execMeasured, freshDir, log, median } from './common';

export interface CliStartResult {
  /** Median wall time of `node -e 0`. */
  readonly nodeMs: number;
  /** Median wall time of the compiled `mailfetch --help`. */
  readonly compiledMs: number;
  /** Median wall time of `mailfetch --help` from the sources through tsx. */
  readonly sourcesMs: number;
  readonly runs: number;
}

export async function runCliStart(scratch: string, root: string, runs: number): Promise<CliStartResult> {
  const dir = await freshDir(scratch, 'cli');
  await buildCli(dir);
  const commands: Record<keyof Omit<CliStartResult, 'runs'>, string[]> = {
    nodeMs: ['-e', '0'],
    compiledMs: [join(dir, 'mailfetch.mjs'), '--help'],
    sourcesMs: [join(root, 'bin', 'mailfetch.js'), '--help'],
  };
  const times: Record<string, number[]> = { nodeMs: [], compiledMs: [], sourcesMs: [] };
  // One untimed round: the page cache holds node, the command and tsx for every timed round.
  for (const args of Object.values(commands)) await execMeasured(process.execPath, args, { scratch: dir });
  for (let i = 0; i < runs; i++) {
    for (const [name, args] of Object.entries(commands)) {
      const run = await execMeasured(process.execPath, args, { scratch: dir });
      if (run.code !== 0) throw new Error(`node ${args.join(' ')} failed:\n${run.stderr}`);
      times[name]?.push(run.ms);
    }
  }
  const result: CliStartResult = {
    nodeMs: median(times.nodeMs ?? []),
    compiledMs: median(times.compiledMs ?? []),
    sourcesMs: median(times.sourcesMs ?? []),
    runs,
  };
  log(`mailfetch --help: compiled ${result.compiledMs.toFixed(0)} ms, sources ${result.sourcesMs.toFixed(0)} ms, node -e 0 ${result.nodeMs.toFixed(0)} ms`);
  return result;
}
