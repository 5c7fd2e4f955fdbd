#!/usr/bin/env node
// Runs vitest and ends with the plain line `N passed, N failed, N skipped` that CI reads
// (vitest's own summary is not recognised by CI). Exit code is vitest's. Extra arguments go
// to vitest (e.g. `--config vitest.interop.config.ts`).
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'mailfetch-vitest-'));
const report = join(dir, 'report.json');
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync('npx', args, { stdio: 'inherit' });
let passed = 0, failed = 0, skipped = 0;
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests; failed = r.numFailedTests; skipped = r.numPendingTests + (r.numTodoTests ?? 0);
  // A suite that fails to load counts as a failure even though it ran no test.
  failed += r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
} catch {
  failed = Math.max(failed, 1);
}
rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
// .ci/run adds up several suites (unit, interop, fault) into one closing line.
if (process.env.MAILFETCH_TEST_TALLY) appendFileSync(process.env.MAILFETCH_TEST_TALLY, `${passed} ${failed} ${skipped}\n`);
process.exit(run.status ?? 1);
