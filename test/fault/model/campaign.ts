/**
 * Many sequences: seeds derived from one base seed, several sequences at a time (they
 * wait on sockets far more than on the CPU), no new one started past the time budget or
 * after a failure. Totals for the closing report line; the failure report with its
 * shrunk, replayable case.
 */
import { Prng } from '../prng';
import { describeConfig, describeStep, duration } from './format';
import { generateSequence } from './generate';
import { excludedBy } from './known-issues';
import { CLEAN_RUNS, runSequence, type ModelWorld, type RunOptions, type SequenceOutcome } from './sequence-runner';
import { shrink, type ShrinkBudget } from './shrink';
import type { Sequence } from './types';

export const REPLAY_TEST = 'test/fault/model.test.ts';

export interface CampaignOptions {
  readonly baseSeed: number;
  readonly sequences: number;
  readonly budgetMs: number;
  readonly concurrency: number;
  readonly run: RunOptions;
  /** Go on after a failure (to survey every kind of failure at once); default: stop starting sequences. */
  readonly keepGoing?: boolean;
  /** Called with each finished sequence (verbose progress). */
  readonly onOutcome?: (o: SequenceOutcome, index: number) => void;
}

export interface Campaign {
  readonly outcomes: SequenceOutcome[];
  /** Sequences not run: their combination is left out while a known issue is open (by issue). */
  readonly excluded: Record<string, number>;
  readonly failures: { index: number; outcome: SequenceOutcome }[];
  readonly stoppedByBudget: boolean;
  readonly durationMs: number;
}

export function sequenceSeed(baseSeed: number, index: number): number {
  return new Prng(baseSeed).fork(`model-sequence/${index}`).seed;
}

export async function runCampaign(world: ModelWorld, o: CampaignOptions): Promise<Campaign> {
  const started = Date.now();
  const outcomes: SequenceOutcome[] = [];
  const failures: Campaign['failures'] = [];
  const excluded: Record<string, number> = {};
  let next = 0;
  let begun = 0;
  let stoppedByBudget = false;
  const lane = async (): Promise<void> => {
    while (begun < o.sequences && (o.keepGoing || failures.length === 0)) {
      if (Date.now() - started >= o.budgetMs) {
        stoppedByBudget = true;
        return;
      }
      const index = next++;
      const sequence = generateSequence(sequenceSeed(o.baseSeed, index));
      const issue = o.run.tolerateKnownIssues ? excludedBy(sequence.config) : undefined;
      if (issue !== undefined) {
        excluded[issue] = (excluded[issue] ?? 0) + 1;
        continue;
      }
      begun++;
      const outcome = await runSequence(world, sequence, o.run);
      outcomes.push(outcome);
      o.onOutcome?.(outcome, index);
      if (outcome.violations.length > 0) failures.push({ index, outcome });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, lane));
  return { outcomes, excluded, failures, stoppedByBudget, durationMs: Date.now() - started };
}

/** Shrinks a failure and writes the report: seed, shrunk steps, violation, trace, replay commands. */
export async function failureReport(world: ModelWorld, failing: SequenceOutcome, budget: ShrinkBudget, context: string, run: RunOptions): Promise<string> {
  const shrunk = await shrink(failing, (s) => runSequence(world, s, run), budget);
  const strict = run.tolerateKnownIssues ? '' : 'MODEL_KNOWN_ISSUES=fail ';
  const seq = shrunk.sequence;
  const seed = seq.config.seed;
  const lines = [
    `model-based invariant test FAILED: seed=${seed}${context ? ` (${context})` : ''}`,
    `  server: ${describeConfig(seq.config)}`,
    budget.attempts === 0
      ? `  steps (as given, not shrunk):`
      : `  shrunk from ${failing.sequence.steps.length} to ${seq.steps.length} step(s) in ${shrunk.attempts} replay(s)${shrunk.complete ? '' : ' (budget ran out: not minimal)'}:`,
    ...seq.steps.map((s, i) => `    ${i + 1}. ${describeStep(s)}`),
    `    then clean runs until one finds nothing to do (at most ${CLEAN_RUNS}, +3 per message that may be refused as incomplete, +1 per message on the server; no faults, flaky UIDL off, clock +26h each)`,
    '  violation(s):',
    ...shrunk.outcome.violations.slice(0, 8).map((v) => `    [${v.invariant}] at ${v.at}: ${v.detail}`),
    '  what happened (shrunk case):',
    ...shrunk.outcome.trace.map((t) => `    ${t}`),
    `  replay (regenerates and shrinks again): ${strict}MODEL_SEED=${seed} npx vitest run ${REPLAY_TEST}`,
    `  replay the shrunk case as is:           ${strict}MODEL_CASE='${JSON.stringify(seq)}' npx vitest run ${REPLAY_TEST}`,
  ];
  return lines.join('\n');
}

/** Seeds of sequences that hit each known worker bug (a few per bug), for the report. */
export function knownIssueSeeds(outcomes: readonly SequenceOutcome[], perIssue = 3): string[] {
  const seeds = new Map<string, number[]>();
  for (const o of outcomes) {
    for (const id of new Set(o.tolerated.map((t) => t.knownIssue!))) {
      const list = seeds.get(id) ?? [];
      if (list.length < perIssue) list.push(o.sequence.config.seed);
      seeds.set(id, list);
    }
  }
  return [...seeds].map(([id, list]) => `[model] known worker bug ${id}: e.g. MODEL_KNOWN_ISSUES=fail MODEL_SEED=${list[0]} (also seeds ${list.slice(1).join(', ') || '-'})`);
}

/** The closing report line. */
export function totals(outcomes: readonly SequenceOutcome[], extra: { baseSeed?: number; durationMs: number; stoppedByBudget?: boolean; excluded?: Record<string, number> }): string {
  const sum = (f: (o: SequenceOutcome) => number): number => outcomes.reduce((n, o) => n + f(o), 0);
  const faults: Record<string, number> = {};
  const servers: Record<string, number> = {};
  const known: Record<string, number> = {};
  for (const o of outcomes) {
    for (const id of new Set(o.tolerated.map((t) => t.knownIssue!))) known[id] = (known[id] ?? 0) + 1;
    for (const [k, v] of Object.entries(o.stats.faults)) faults[k] = (faults[k] ?? 0) + v;
    const name = o.sequence.config.profiles.join('+') || 'plain';
    servers[name] = (servers[name] ?? 0) + 1;
  }
  const sorted = (r: Record<string, number>): string => Object.entries(r).sort(([, a], [, b]) => b - a).map(([k, v]) => `${k}=${v}`).join(' ');
  return [
    `[model] ${outcomes.length} sequences${extra.baseSeed !== undefined ? ` (base seed ${extra.baseSeed})` : ''}${extra.stoppedByBudget ? ' (time budget reached)' : ''}`,
    `steps=${sum((o) => o.stats.steps)} runs=${sum((o) => o.stats.runs)} (clean ${sum((o) => o.stats.cleanRuns)}, busy ${sum((o) => o.stats.busy)})`,
    `crashes=${sum((o) => o.stats.crashes)} faults fired=${sum((o) => Object.values(o.stats.faults).reduce((a, b) => a + b, 0))} {${sorted(faults)}}`,
    `messages: delivered=${sum((o) => o.stats.delivered)} stored=${sum((o) => o.stats.stored)} skipped=${sum((o) => o.stats.skipped)} deleted-by-worker=${sum((o) => o.stats.deletedByUs)} hidden-by-gmail=${sum((o) => o.stats.hiddenByGmail)} taken-by-other-client=${sum((o) => o.stats.takenByOtherClient)}`,
    `servers {${sorted(servers)}}`,
    `known worker bugs (sequences) {${sorted(known)}}${extra.excluded && Object.keys(extra.excluded).length ? ` excluded (sequences not run) {${sorted(extra.excluded)}}` : ''}`,
    `violations=${sum((o) => o.violations.length)} duration=${duration(Math.round(extra.durationMs / 100) * 100)}`,
  ].join(' | ');
}

export function parseCase(json: string): Sequence {
  const parsed = JSON.parse(json) as Sequence;
  if (!parsed?.config || !Array.isArray(parsed.steps)) throw new Error('MODEL_CASE must be the JSON {"config":...,"steps":[...]} a failure report printed');
  return parsed;
}
