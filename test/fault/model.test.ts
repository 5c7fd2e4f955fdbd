/**
 * Model-based randomized invariant test: the real fetch worker (runMailbox through the
 * worker bench) against the fake POP3 server's server-semantics profiles (Gmail, shared
 * and recycled UIDLs, flaky UIDL, bare LF, estimated sizes, slow QUIT, EXPIRE 0 and
 * combinations),
 * s3rver and DynamoDB Local. Each seeded sequence delivers mail, lets another client
 * delete or hide some, advances the clock and runs the worker with faults (S3/DynamoDB
 * requests failing before or after taking effect, connections cut at a command or mid-
 * message, crashes, QUIT answers lost); then clean runs must finish the job. After every
 * step and at every QUIT the invariants of model/invariants.ts must hold: no message
 * lost, none stored twice, nothing stored but exact messages, state agreeing with the
 * bucket, and at the end every message stored or knowingly skipped.
 *
 * A failing sequence is shrunk (model/shrink.ts) and printed with its seed, the shrunk
 * steps and a replay command.
 *
 * Size: small by default (part of `npm test`: fixed seeds); `npm run test:fault` runs
 * thousands of sequences from a random base seed (scripts/fault-run.mjs).
 *   MODEL_SEED=<n>          replay one sequence (printed on failure); shrinks it if it fails
 *   MODEL_CASE='<json>'     run a printed shrunk case as is
 *   MODEL_SEQUENCES=<n>     sequences (default 40)
 *   MODEL_BUDGET_MS=<n>     no sequence starts after this (default 45 s)
 *   MODEL_BASE_SEED=<n>     seeds of the sequences derive from it (default 1)
 *   MODEL_CONCURRENCY=<n>   sequences at a time (default 8)
 *   MODEL_SHRINK_MS=<n>     time for shrinking a failure (default 240 s)
 *   MODEL_VERBOSE=1         one line per sequence
 *   MODEL_KEEP_GOING=1      do not stop at the first failure: list every failing seed (the first is shrunk)
 *   MODEL_KNOWN_ISSUES=fail the known worker bugs of model/known-issues.ts fail the test too
 *                           (by default they are counted and named, not failed: they await fixes)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakeEventBridge, type FakeEventBridge } from '../fixtures/fake-eventbridge';
import { failureReport, knownIssueSeeds, parseCase, runCampaign, totals } from './model/campaign';
import { describeConfig } from './model/format';
import { FOUND_CASES } from './model/found-cases';
import { generateSequence } from './model/generate';
import { knownIssuesTolerated } from './model/known-issues';
import { runSequence, type ModelWorld, type SequenceOutcome } from './model/sequence-runner';

const int = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return v;
};
const SEED = process.env.MODEL_SEED ? int('MODEL_SEED', 0) : undefined;
const CASE = process.env.MODEL_CASE || undefined;
const SEQUENCES = int('MODEL_SEQUENCES', 40);
const BUDGET_MS = int('MODEL_BUDGET_MS', 45_000);
const BASE_SEED = int('MODEL_BASE_SEED', 1);
const CONCURRENCY = int('MODEL_CONCURRENCY', 8);
const SHRINK = { attempts: 400, ms: int('MODEL_SHRINK_MS', 240_000) };
const VERBOSE = process.env.MODEL_VERBOSE === '1';
const KEEP_GOING = process.env.MODEL_KEEP_GOING === '1';
const RUN = { tolerateKnownIssues: knownIssuesTolerated() };
/** The campaign's budget, plus the sequences still running then, plus shrinking a failure. */
const TEST_TIMEOUT_MS = BUDGET_MS + SHRINK.ms + 120_000;

function line(o: SequenceOutcome, index?: number): string {
  const s = o.stats;
  const tag = o.violations.length ? `FAILED [${o.violations[0]!.invariant}]` : o.tolerated.length ? `known bug(s) ${[...new Set(o.tolerated.map((t) => t.knownIssue))].join(',')}` : 'ok';
  return `[model] ${index !== undefined ? `#${index} ` : ''}seed=${o.sequence.config.seed} ${tag} ${describeConfig(o.sequence.config)}: steps=${s.steps} runs=${s.runs} crashes=${s.crashes} faults=${JSON.stringify(s.faults)} delivered=${s.delivered} stored=${s.stored} (${o.durationMs} ms)`;
}

describe('model-based invariant test: no message lost or duplicated, on every modelled server semantics', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let bus: FakeEventBridge;
  beforeAll(async () => {
    [s3, dynamo, bus] = await Promise.all([startS3rver(), startDynamoDbLocal(), startFakeEventBridge()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([s3?.stop(), dynamo?.stop(), bus?.close()]);
  });

  const replaying = SEED !== undefined || CASE !== undefined;
  const title = replaying
    ? `replays ${CASE !== undefined ? 'the printed case (MODEL_CASE)' : `sequence ${SEED} (MODEL_SEED)`}: every invariant holds`
    : `${SEQUENCES} seeded sequences of mail, other clients, clock and faulty worker runs keep every invariant`;

  it(title, () => (replaying ? replay({ s3, dynamo, bus }) : campaign({ s3, dynamo, bus })), TEST_TIMEOUT_MS);

  for (const found of replaying ? [] : FOUND_CASES) {
    it(`keeps every invariant where a campaign once found ${found.found}`, async () => {
      const outcome = await runSequence({ s3, dynamo, bus }, parseCase(found.json), RUN);
      if (outcome.violations.length > 0) expect.fail(await failureReport({ s3, dynamo, bus }, outcome, { attempts: 0, ms: 0 }, 'a found case', RUN));
    }, 120_000);
  }
});

async function campaign(world: ModelWorld): Promise<void> {
  const c = await runCampaign(world, {
    baseSeed: BASE_SEED,
    sequences: SEQUENCES,
    budgetMs: BUDGET_MS,
    concurrency: CONCURRENCY,
    keepGoing: KEEP_GOING,
    run: RUN,
    ...(VERBOSE ? { onOutcome: (o: SequenceOutcome, i: number) => console.log(line(o, i)) } : {}),
  });
  console.log([...knownIssueSeeds(c.outcomes), totals(c.outcomes, { baseSeed: BASE_SEED, durationMs: c.durationMs, stoppedByBudget: c.stoppedByBudget, excluded: c.excluded })].join('\n'));
  const [first, ...others] = c.failures;
  if (first) {
    const report = await failureReport(world, first.outcome, SHRINK, `sequence ${first.index} of base seed ${BASE_SEED}`, RUN);
    const more = others.map((f) => {
      const v = f.outcome.violations[0]!;
      return `  also failed: seed=${f.outcome.sequence.config.seed} [${v.invariant}] ${describeConfig(f.outcome.sequence.config)}: ${v.detail.slice(0, 300)}`;
    });
    expect.fail([report, ...more].join('\n'));
  }
  expect(c.outcomes.length).toBeGreaterThan(0);
}

async function replay(world: ModelWorld): Promise<void> {
  const sequence = CASE !== undefined ? parseCase(CASE) : generateSequence(SEED!);
  const outcome = await runSequence(world, sequence, RUN);
  console.log([line(outcome), ...outcome.trace.map((t) => `  ${t}`), ...outcome.tolerated.map((t) => `  known worker bug ${t.knownIssue} [${t.invariant}] at ${t.at}: ${t.detail}`)].join('\n'));
  if (outcome.violations.length > 0) {
    // A printed case is already shrunk; a seed is shrunk again.
    expect.fail(await failureReport(world, outcome, CASE !== undefined ? { attempts: 0, ms: 0 } : SHRINK, CASE !== undefined ? 'MODEL_CASE' : '', RUN));
  }
}
