/**
 * Shrinks a failing sequence by delta debugging (ddmin over its steps), then by dropping
 * single faults from its runs. A candidate counts as failing only if its first violation
 * is of the same invariant, so the shrunk case shows the original failure, not another.
 * Bounded by attempts and time: a partly shrunk case is still a reproducible case.
 */
import type { SequenceOutcome } from './sequence-runner';
import type { Sequence, Step } from './types';

export interface ShrinkBudget {
  readonly attempts: number;
  readonly ms: number;
}

export interface ShrinkResult {
  readonly sequence: Sequence;
  readonly outcome: SequenceOutcome;
  readonly attempts: number;
  /** False when the budget ran out before a fixpoint. */
  readonly complete: boolean;
}

export async function shrink(failing: SequenceOutcome, replay: (s: Sequence) => Promise<SequenceOutcome>, budget: ShrinkBudget): Promise<ShrinkResult> {
  const target = failing.violations[0]!.invariant;
  const until = Date.now() + budget.ms;
  let best = failing;
  let attempts = 0;
  const exhausted = (): boolean => attempts >= budget.attempts || Date.now() >= until;
  const tryCandidate = async (steps: readonly Step[]): Promise<boolean> => {
    attempts++;
    const outcome = await replay({ config: best.sequence.config, steps });
    if (outcome.violations[0]?.invariant !== target) return false;
    best = outcome;
    return true;
  };

  for (let changed = true; changed && !exhausted(); ) {
    changed = false;
    // ddmin: remove chunks, finer and finer.
    for (let n = 2; best.sequence.steps.length >= 2 && !exhausted(); ) {
      const steps = best.sequence.steps;
      const size = Math.ceil(steps.length / n);
      let reduced = false;
      for (let i = 0; i * size < steps.length && !exhausted(); i++) {
        const complement = [...steps.slice(0, i * size), ...steps.slice((i + 1) * size)];
        if (complement.length > 0 && (await tryCandidate(complement))) {
          reduced = changed = true;
          n = Math.max(n - 1, 2);
          break;
        }
      }
      if (reduced) continue;
      if (n >= steps.length) break;
      n = Math.min(n * 2, steps.length);
    }
    // Drop single faults of runs.
    for (let i = 0; i < best.sequence.steps.length && !exhausted(); i++) {
      const step = best.sequence.steps[i]!;
      if (step.kind !== 'run') continue;
      for (let f = step.faults.length - 1; f >= 0 && !exhausted(); f--) {
        const steps = [...best.sequence.steps];
        const current = steps[i] as Extract<Step, { kind: 'run' }>;
        steps[i] = { ...current, faults: current.faults.filter((_, k) => k !== f) };
        if (await tryCandidate(steps)) changed = true;
      }
    }
  }
  return { sequence: best.sequence, outcome: best, attempts, complete: !exhausted() };
}
