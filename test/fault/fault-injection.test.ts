/**
 * Fault injection end to end (see fault-scenario.ts): the worker ingests a Dovecot mailbox
 * into s3rver + DynamoDB Local while connections break, AWS requests fail and runs die,
 * and every message must end up in S3 exactly once, byte-identical, never deleted from the
 * server before it was stored and recorded.
 *
 * Size: small by default (part of `npm test`); `npm run test:fault` runs many more seeds.
 *   FAULT_SEED=<n>           replay one scenario (printed on failure)
 *   FAULT_ROUNDS=<n>         scenarios per variant (default 1)
 *   FAULT_MESSAGES=<n>       messages per mailbox (default 6)
 *   FAULT_RUNS=<n>           faulty runs per scenario (default 5)
 *   FAULT_BUDGET_MS=<n>      time budget per variant; no new scenario starts after it (default 30 s)
 *   FAULT_VERBOSE=1          print every scenario's report
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDovecot } from '../fixtures/dovecot';
import { describeReport, runScenario, startFaultWorld, type FaultWorld, type ScenarioConfig, type ScenarioReport } from './fault-scenario';
import { scenarioSeed } from './prng';

const int = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
};
const replaying = process.env.FAULT_SEED !== undefined && process.env.FAULT_SEED !== '';
const ROUNDS = replaying ? 1 : int('FAULT_ROUNDS', 1);
const MESSAGES = int('FAULT_MESSAGES', 6);
const FAULTY_RUNS = int('FAULT_RUNS', 5);
const BUDGET_MS = int('FAULT_BUDGET_MS', 30_000);
const VERBOSE = process.env.FAULT_VERBOSE === '1';
/** Clean runs allowed to finish the job once faults stop: one to fetch what is left, one to confirm. */
const CLEAN_RUNS = 4;
/** One scenario's own bound: its faulty runs stop early past it. */
const SCENARIO_BUDGET_MS = Math.max(20_000, Math.min(BUDGET_MS, 45_000));
/** Test timeout: the budget, plus the last scenario's clean runs and checks. */
const TEST_TIMEOUT_MS = BUDGET_MS + 150_000;

type Variant = Omit<ScenarioConfig, 'seed' | 'messages' | 'faultyRuns' | 'cleanRuns' | 'timeBudgetMs'> | ((seed: number) => Omit<ScenarioConfig, 'seed' | 'messages' | 'faultyRuns' | 'cleanRuns' | 'timeBudgetMs'>);

/** Runs scenarios of one variant with fresh seeds until ROUNDS are done or the budget is spent. */
/** The knobs a replay needs besides the seed (they shape the scenario too). */
const REPLAY_ENV = `FAULT_MESSAGES=${MESSAGES} FAULT_RUNS=${FAULTY_RUNS}`;

async function soak(world: () => FaultWorld, name: string, variant: Variant): Promise<void> {
  const until = Date.now() + BUDGET_MS;
  const reports: ScenarioReport[] = [];
  for (let round = 0; round < ROUNDS && (round === 0 || Date.now() < until); round++) {
    const seed = scenarioSeed();
    const shape = typeof variant === 'function' ? variant(seed) : variant;
    const config: ScenarioConfig = { seed, messages: MESSAGES, faultyRuns: FAULTY_RUNS, cleanRuns: CLEAN_RUNS, timeBudgetMs: SCENARIO_BUDGET_MS, ...shape };
    let report: ScenarioReport;
    try {
      report = await runScenario(world(), config);
    } catch (err) {
      throw new Error(`fault scenario "${name}" broke: seed=${seed}. Replay: FAULT_SEED=${seed} ${REPLAY_ENV} npx vitest run test/fault -t "${name}"`, { cause: err });
    }
    reports.push(report);
    const runs = report.runs.map((r) => `  run ${r.run}${r.faulty ? ` faulty aws=${r.awsFaultRate}` : ' clean'}${r.death ? ` DIED ${r.death}` : ''}: ${r.outcome} (${r.ms} ms) [${r.connections.join(' ')}]`);
    if (VERBOSE) console.log([`[fault] ${name}: ${describeReport(report)}`, ...runs].join('\n'));
    if (report.violations.length > 0) {
      expect.fail(
        [
          `fault scenario "${name}" failed: seed=${seed}. Replay: FAULT_SEED=${seed} ${REPLAY_ENV} npx vitest run test/fault -t "${name}"`,
          describeReport(report),
          'violations:',
          ...report.violations.map((v) => `  - ${v}`),
          'runs:',
          ...runs,
        ].join('\n'),
      );
    }
  }
  expect(reports.length).toBeGreaterThan(0);
  if (ROUNDS > 1) console.log(`[fault] ${name}: ${reports.length} scenario(s) passed, ${reports.reduce((n, r) => n + r.runs.length, 0)} runs, ${reports.reduce((n, r) => n + r.stats.deaths, 0)} deaths`);
}

describe.skipIf(!requireDovecot())('fault injection: the worker never loses or duplicates a message', () => {
  let world: FaultWorld;
  beforeAll(async () => {
    world = await startFaultWorld(3 * ROUNDS + 3);
  }, 120_000);
  afterAll(async () => {
    await world?.stop();
  });

  it(
    'in process over STLS: cut/stalled connections, S3 and DynamoDB failures, crashes at random steps, a multipart message, any retention',
    () => soak(() => world, 'in process over STLS', (seed) => ({ mode: 'in-process', tls: 'starttls', retention: (['keep', 'after-days', 'delete', 'delete'] as const)[seed % 4]!, big: true })),
    TEST_TIMEOUT_MS,
  );

  it(
    'in process in plain text: every DELE is checked against S3 and DynamoDB at the moment it reaches the server',
    () => soak(() => world, 'in process in plain text', { mode: 'in-process', tls: 'none', retention: 'delete', big: false }),
    TEST_TIMEOUT_MS,
  );

  it(
    'worker processes SIGKILLed at random points, with connection and AWS faults',
    () => soak(() => world, 'worker processes SIGKILLed', (seed) => ({ mode: 'child', tls: seed % 2 === 0 ? 'none' : 'starttls', retention: 'delete', big: seed % 3 === 0 })),
    TEST_TIMEOUT_MS,
  );
});
