/**
 * How long a command takes from spawn to exit, the median of several runs: the package test
 * prints the installed command's start next to bare node's. Never asserted: the figures
 * belong to the benchmarks (bench/cli-start.bench.ts).
 */
import { spawnSync } from 'node:child_process';

/** Runs per measurement: enough for a stable median on a shared machine, still quick. */
export const DEFAULT_START_RUNS = 7;

/** Median wall time in ms of `command args` (stdout and stderr discarded). @throws when a run fails */
export function medianStartMs(command: string, args: readonly string[], runs = DEFAULT_START_RUNS): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(command, args, { stdio: 'ignore' });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}
