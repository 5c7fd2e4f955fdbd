/**
 * The mailboxes whose metrics also carry the `Mailbox` dimension, passed from the construct
 * (prop `detailedMetricsMailboxes`) to the worker as one environment variable.
 */
import { validId } from '../config/parse-mailbox';

/** Mailbox ids cannot contain it (`[A-Za-z0-9._-]`). */
const SEPARATOR = ',';
/**
 * Each listed mailbox adds about a dozen custom metrics (USD 0.30 each a month), and the
 * list must fit in Lambda's 4 KB of environment variables (ids are up to 64 characters).
 */
export const MAX_DETAILED_METRICS_MAILBOXES = 25;

/** The environment variable's value for `ids`. */
export function formatDetailedMetricsMailboxes(ids: readonly string[]): string {
  return ids.join(SEPARATOR);
}

/**
 * The ids in the environment variable's value. Entries that are not mailbox ids are
 * dropped: they can match no mailbox, and failing every run over them would be worse.
 */
export function parseDetailedMetricsMailboxes(value: string | undefined): ReadonlySet<string> {
  if (value === undefined) return new Set();
  const ids = value.split(SEPARATOR).map((id) => validId(id.trim()));
  return new Set(ids.filter((id): id is string => id !== undefined));
}
