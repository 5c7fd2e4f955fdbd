#!/usr/bin/env node
// The large sizes of the fault-injection and fuzz suites (npm test runs both at a small size).
//
//   node scripts/fault-run.mjs fault   # npm run test:fault: many seeded fault scenarios, <= ~10 min
//   node scripts/fault-run.mjs fuzz    # npm run test:fuzz: the fuzz properties with 20x the runs
//
// Both stop by themselves: scenarios stop starting once FAULT_BUDGET_MS is spent, and every
// property has a run count. Sizes can be overridden through the environment (FAULT_ROUNDS,
// FAULT_MESSAGES, FAULT_RUNS, FAULT_BUDGET_MS, FUZZ_RUNS); FAULT_SEED / FUZZ_SEED replay one
// failure. Ends with the plain `N passed, N failed, N skipped` line CI reads.
//
// The fault suite includes the model-based invariant test (test/fault/model.test.ts): here
// MODEL_SEQUENCES sequences from a random MODEL_BASE_SEED (printed in its closing line),
// MODEL_CONCURRENCY at a time, none started after MODEL_BUDGET_MS; MODEL_SEED replays one.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const suite = process.argv[2];
const SIZES = {
  // Three variants, each with this budget: 3 x 140 s of scenarios, plus start-up and the
  // last scenario's clean runs, stays under 10 minutes.
  // The model test runs beside them (vitest runs the files in parallel): 2,000 short
  // sequences take ~6-9 minutes on two cores shared with the scenarios; the budget bounds it.
  fault: {
    dir: 'test/fault',
    env: {
      FAULT_ROUNDS: '1000', FAULT_MESSAGES: '10', FAULT_RUNS: '8', FAULT_BUDGET_MS: '140000', FAULT_VERBOSE: '1',
      MODEL_SEQUENCES: '2000', MODEL_BUDGET_MS: '600000', MODEL_CONCURRENCY: '12', MODEL_LONG_CLOCK: '1', MODEL_BASE_SEED: String(Math.floor(Math.random() * 2 ** 32)),
    },
  },
  fuzz: { dir: 'test/fuzz', env: { FUZZ_RUNS: '20' } },
};
const size = SIZES[suite];
if (!size) {
  console.error('usage: node scripts/fault-run.mjs fault|fuzz [vitest args...]');
  process.exit(2);
}
const env = { ...process.env };
for (const [k, v] of Object.entries(size.env)) env[k] ??= v;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = spawnSync(process.execPath, [join(root, 'scripts/run-tests.mjs'), size.dir, '--testTimeout=900000', ...process.argv.slice(3)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
