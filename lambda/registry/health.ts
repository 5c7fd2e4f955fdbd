/**
 * From a run summary to the health the registry keeps, and how troubled a mailbox is
 * (the order of `mailfetch mailboxes status`, worst first).
 */
import type { RunSummary } from '../sync/run-summary';
import type { RegisteredMailbox, RunAction, RunOutcome } from './mailbox-registry';

/** Error messages are cut to this many characters in the item: health stays a small write. */
export const MAX_HEALTH_ERROR_MESSAGE_CHARS = 500;

/** `busy` when another run held the lease; `error` when the run failed or reported any error. */
export function runOutcome(summary: RunSummary, action: RunAction, at: Date = new Date()): RunOutcome {
  const failed = summary.status === 'error' || summary.errors.length > 0;
  const status = summary.status === 'busy' ? 'busy' : failed ? 'error' : 'ok';
  const first = summary.errors[0];
  return {
    action,
    status,
    at: at.toISOString(),
    backlog: summary.backlog,
    durationMs: summary.durationMs,
    ...(summary.loginDelay ? { loginDelay: summary.loginDelay } : {}),
    ...(status === 'error' && first !== undefined
      ? { error: { code: first.code, message: first.message.slice(0, MAX_HEALTH_ERROR_MESSAGE_CHARS) } }
      : {}),
  };
}

/** How a mailbox is doing, worst first: the order of TROUBLE_ORDER. */
export type Trouble = 'failing' | 'never-succeeded' | 'backlog' | 'ok' | 'disabled';
const TROUBLE_ORDER: readonly Trouble[] = ['failing', 'never-succeeded', 'backlog', 'ok', 'disabled'];

export function troubleOf(mailbox: RegisteredMailbox): Trouble {
  const h = mailbox.health;
  if (!mailbox.enabled) return 'disabled';
  if (h.consecutiveFailures > 0) return 'failing';
  if (h.lastSuccessAt === undefined) return 'never-succeeded';
  if ((h.backlog ?? 0) > 0) return 'backlog';
  return 'ok';
}

/**
 * Worst first: by trouble; then more consecutive failures, a larger backlog, an older last
 * success (never is oldest); then by id, so the order is stable.
 */
export function compareByTrouble(a: RegisteredMailbox, b: RegisteredMailbox): number {
  return (
    TROUBLE_ORDER.indexOf(troubleOf(a)) - TROUBLE_ORDER.indexOf(troubleOf(b)) ||
    b.health.consecutiveFailures - a.health.consecutiveFailures ||
    (b.health.backlog ?? 0) - (a.health.backlog ?? 0) ||
    (a.health.lastSuccessAt ?? '').localeCompare(b.health.lastSuccessAt ?? '') ||
    a.config.id.localeCompare(b.config.id)
  );
}
