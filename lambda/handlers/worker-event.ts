/**
 * The worker's event: a mailbox id (or a batch of ids) and an action, nothing else. The
 * configuration, host, TLS settings and credential references come from the registry
 * only: whoever may invoke the function must not be able to send a mailbox's secret
 * reference to a host of their choosing (the confused-deputy hole of issue 9). `reset`
 * is not an action: it stays a CLI operation under the operator's own credentials.
 *
 *   { "action": "fetch" | "baseline", "mailboxId": "support" }
 *   { "action": "fetch", "mailboxIds": ["support", "billing"] }
 *   { "action": "fetch", "mailboxIds": [...], "dueAt": "2026-11-05T12:00:17.000Z" }
 *
 * `dueAt` (from the dispatcher) is the slot the run serves: a mailbox whose last run ended
 * after it was served already (a duplicate or a catch-up) and is skipped.
 */
import { isObject } from '../config/json-object';
import { MAILBOX_KEYS, validId } from '../config/parse-mailbox';
import { MailfetchError } from '../errors';
import type { RunAction } from '../registry/mailbox-registry';

/** Mailboxes in one batch at most: they run one after the other within one invocation. */
export const MAX_BATCH_MAILBOXES = 50;

export const WorkerEventErrorCode = {
  /** Not the event's shape: a missing or invalid id, an unknown field or action. */
  INVALID_EVENT: 'INVALID_EVENT',
  /** The event carries configuration (host, TLS, credentials, a whole mailbox). */
  EVENT_CARRIES_CONFIG: 'EVENT_CARRIES_CONFIG',
  /** `reset` (or another operator action) through the worker. */
  ACTION_NOT_ALLOWED: 'ACTION_NOT_ALLOWED',
} as const;
export type WorkerEventErrorCode = (typeof WorkerEventErrorCode)[keyof typeof WorkerEventErrorCode];

/** A refused event: thrown, so Lambda's retries and the dead-letter queue see it. */
export class WorkerEventError extends MailfetchError<WorkerEventErrorCode> {
  override readonly name = 'WorkerEventError';

  constructor(code: WorkerEventErrorCode, message: string) {
    super(code, message, false);
  }
}

export interface WorkerEvent {
  readonly action: RunAction;
  readonly mailboxIds: readonly string[];
  /** True for `mailboxIds` (the result is an array), false for `mailboxId`. */
  readonly batch: boolean;
  /** The slot this run serves (epoch ms), when the dispatcher sent it. */
  readonly dueAtMs?: number;
}

const EVENT_KEYS: ReadonlySet<string> = new Set(['action', 'mailboxId', 'mailboxIds', 'dueAt']);
/** `2026-11-05T12:00:17.000Z`, as Date.toISOString writes it. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
/** Fields that would smuggle configuration in: every mailbox field, and the old `{ mailbox }` wrapper. */
const CONFIG_KEYS: ReadonlySet<string> = new Set<string>([...MAILBOX_KEYS, 'mailbox', 'mailboxes', 'config']);

/** @throws WorkerEventError naming what is wrong; nothing about the event is echoed but key names */
export function parseWorkerEvent(event: unknown): WorkerEvent {
  if (!isObject(event)) throw invalid('the event must be a JSON object { "action", "mailboxId" }');
  const keys = Object.keys(event);
  const smuggled = keys.filter((k) => CONFIG_KEYS.has(k));
  if (smuggled.length > 0) {
    throw new WorkerEventError(
      WorkerEventErrorCode.EVENT_CARRIES_CONFIG,
      `event refused: it carries ${smuggled.map((k) => `"${k}"`).join(', ')}; the worker takes only { "action", "mailboxId" } and reads host, TLS settings and credentials from the registry ('mailfetch mailboxes add' registers a mailbox)`,
    );
  }
  const unknown = keys.filter((k) => !EVENT_KEYS.has(k));
  if (unknown.length > 0) throw invalid(`unknown field${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => `"${k}"`).join(', ')}`);
  return { action: readAction(event.action), ...readIds(event), ...readDueAt(event.dueAt) };
}

function readDueAt(value: unknown): { dueAtMs?: number } {
  if (value === undefined) return {};
  const ms = typeof value === 'string' && ISO_UTC.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw invalid('"dueAt" must be an ISO-8601 UTC time such as "2026-11-05T12:00:17.000Z"');
  return { dueAtMs: ms };
}

function readAction(value: unknown): RunAction {
  if (value === undefined || value === 'fetch' || value === 'baseline') return value ?? 'fetch';
  if (value === 'reset') {
    throw new WorkerEventError(
      WorkerEventErrorCode.ACTION_NOT_ALLOWED,
      "event refused: reset is not a worker action; run 'mailfetch reset --mailbox ID --yes' with the operator's credentials",
    );
  }
  throw invalid('"action" must be "fetch" or "baseline"');
}

function readIds(event: Record<string, unknown>): { mailboxIds: string[]; batch: boolean } {
  const single = event.mailboxId;
  const many = event.mailboxIds;
  if ((single === undefined) === (many === undefined)) throw invalid('give exactly one of "mailboxId" (a string) and "mailboxIds" (an array)');
  if (single !== undefined) {
    if (validId(single) === undefined) throw invalid('"mailboxId" must be a mailbox id: 1 to 64 characters from A-Z a-z 0-9 . _ -');
    return { mailboxIds: [single as string], batch: false };
  }
  if (!Array.isArray(many) || many.length === 0 || many.length > MAX_BATCH_MAILBOXES) {
    throw invalid(`"mailboxIds" must be an array of 1 to ${MAX_BATCH_MAILBOXES} mailbox ids`);
  }
  const bad = many.findIndex((id) => validId(id) === undefined);
  if (bad >= 0) throw invalid(`"mailboxIds"[${bad}] must be a mailbox id: 1 to 64 characters from A-Z a-z 0-9 . _ -`);
  const ids = many as string[];
  if (new Set(ids).size !== ids.length) throw invalid('"mailboxIds" names a mailbox twice');
  return { mailboxIds: ids, batch: true };
}

function invalid(message: string): WorkerEventError {
  return new WorkerEventError(WorkerEventErrorCode.INVALID_EVENT, `event refused: ${message}`);
}
