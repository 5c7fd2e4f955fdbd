/**
 * How a run summary is shown: one JSON line (--json) or a few lines of text.
 *
 * The JSON line starts with the fields scripts rely on, in this order:
 * mailbox, listed, new, fetched, bytes, skipped, deleted, duplicates, complete, errors;
 * more fields follow them (status, mode, backlog, invalidUids, expired, sessions, durationMs,
 * skippedMessages, interrupted, eventsPublished/eventsFailed (0 without --event-bus), warnings
 * and loginDelay when there are, heldBy when busy, and messageLocation when the caller knows
 * where the messages are: the directory of the mailbox's .eml files with --local, an s3://
 * URL otherwise).
 */
import type { RunSummary } from '../sync/run-summary';
import { formatBytes, formatDuration, plural, printable } from './format';
import type { RunMode } from './run-fetch';

export function summaryJsonLine(summary: RunSummary, mode: RunMode, messageLocation?: string): string {
  return JSON.stringify({
    mailbox: summary.mailbox,
    listed: summary.listed,
    new: summary.new,
    fetched: summary.fetched,
    bytes: summary.bytes,
    skipped: summary.skipped,
    deleted: summary.deleted,
    duplicates: summary.duplicates,
    complete: summary.complete,
    errors: summary.errors,
    status: summary.status,
    mode,
    backlog: summary.backlog,
    invalidUids: summary.invalidUids,
    expired: summary.expired,
    sessions: summary.sessions,
    durationMs: summary.durationMs,
    skippedMessages: summary.skippedMessages,
    interrupted: summary.interrupted === true,
    eventsPublished: summary.eventsPublished,
    eventsFailed: summary.eventsFailed,
    ...(summary.warnings ? { warnings: summary.warnings } : {}),
    ...(summary.loginDelay ? { loginDelay: summary.loginDelay } : {}),
    ...(summary.heldBy ? { heldBy: summary.heldBy } : {}),
    ...(messageLocation === undefined ? {} : { messageLocation }),
  });
}

/**
 * ```
 * support: ok, complete (1.2 s)
 *   listed 12, new 3, fetched 3 (18.4 KiB), skipped 0, deleted 0, duplicates 0
 *   messages in /home/me/.mailfetch/messages/support/
 * ```
 * The last line only in fetch mode, when `messageLocation` is given.
 */
export function summaryText(summary: RunSummary, mode: RunMode, indent = '', messageLocation?: string): string {
  const lines = [`${indent}${summary.mailbox}: ${headline(summary)} (${formatDuration(summary.durationMs)})`];
  const counts = [
    `listed ${summary.listed}`,
    `new ${summary.new}`,
    mode === 'baseline' ? `recorded as seen ${summary.new - summary.backlog}` : `fetched ${summary.fetched} (${formatBytes(summary.bytes)})`,
    `skipped ${summary.skipped}`,
    `deleted ${summary.deleted}`,
    `duplicates ${summary.duplicates}`,
  ];
  lines.push(`${indent}  ${counts.join(', ')}`);
  if (mode === 'fetch' && messageLocation !== undefined) lines.push(`${indent}  messages in ${messageLocation}`);
  if (summary.invalidUids > 0) lines.push(`${indent}  ${plural(summary.invalidUids, 'message')} with an unusable UIDL (not tracked)`);
  if (summary.backlog > 0) lines.push(`${indent}  ${summary.backlog} new left for the next run`);
  if (summary.eventsPublished + summary.eventsFailed > 0) lines.push(`${indent}  ${eventsLine(summary)}`);
  for (const s of summary.skippedMessages) {
    lines.push(`${indent}  skipped message ${printable(s.uid || '(no UIDL)')} (#${s.number}, ${formatBytes(s.size)}): ${s.reason}, left on the server`);
  }
  for (const w of summary.warnings ?? []) lines.push(`${indent}  warning ${w.code}: ${printable(w.message)}`);
  if (summary.loginDelay) lines.push(`${indent}  the server asks for ${formatDuration(summary.loginDelay.seconds * 1000)} between logins (LOGIN-DELAY): scheduled runs wait until ${summary.loginDelay.nextLoginAt}`);
  for (const error of summary.errors) {
    lines.push(`${indent}  error ${error.code}${error.uid === undefined ? '' : ` (message ${printable(error.uid)})`}: ${printable(error.message)}`);
  }
  return `${lines.join('\n')}\n`;
}

function eventsLine(summary: RunSummary): string {
  const kept = summary.eventsFailed > 0 ? `; ${summary.eventsFailed} not taken by EventBridge, kept for the next run` : '';
  return `${plural(summary.eventsPublished, 'Mail Stored event')} published${kept}`;
}

function headline(summary: RunSummary): string {
  if (summary.status === 'busy') return busy(summary);
  if (summary.status === 'error') return `FAILED (${plural(summary.errors.length, 'error')})`;
  const state = summary.complete ? 'complete' : 'incomplete, the next run continues';
  const errors = summary.errors.length > 0 ? `${plural(summary.errors.length, 'error')}, ` : '';
  if (summary.interrupted) return `interrupted, ${errors}${summary.complete ? 'but complete' : 'the next run continues'}`;
  return errors ? `done with ${errors}${state}` : `ok, ${state}`;
}

function busy(summary: RunSummary): string {
  const held = summary.heldBy;
  if (held === undefined) return 'busy: another run holds this mailbox (its lease expires by itself)';
  return `busy: held by ${printable(held.holder ?? `run ${held.owner}`)} until ${held.until}`;
}
