/**
 * Where a message's output goes: everything under `<prefix><mailbox>/<eventId>/`, so one
 * message's output is one "folder", a redelivered event (same eventId) writes the very same
 * keys, and two messages never share one.
 *
 *   parsed/<mailbox>/<eventId>/attachments/001-<safe filename>
 *   parsed/<mailbox>/<eventId>/attachments/002-<safe filename>
 *   parsed/<mailbox>/<eventId>/summary.json      (written last: present = complete)
 */
import { safeFilename } from './safe-filename';

export const DEFAULT_OUTPUT_PREFIX = 'parsed/';
export const SUMMARY_FILE = 'summary.json';
export const ATTACHMENTS_FOLDER = 'attachments/';
/** Digits of the attachment index: listings sort in message order (MAX_ATTACHMENTS fits). */
const INDEX_DIGITS = 3;

/** The folder of one message's output. `mailbox` and `eventId` are checked key segments (mail-stored-event.ts). */
export function outputFolder(prefix: string, mailbox: string, eventId: string): string {
  return `${prefix}${mailbox}/${eventId}/`;
}

export function summaryKey(folder: string): string {
  return `${folder}${SUMMARY_FILE}`;
}

/** The key of attachment `index` (from 1): the index keeps two attachments of the same name apart. */
export function attachmentKey(folder: string, index: number, filename: string | null): string {
  return `${folder}${ATTACHMENTS_FOLDER}${String(index).padStart(INDEX_DIGITS, '0')}-${safeFilename(filename)}`;
}

/**
 * Problems of an output prefix: it must end in `/` and be a plain relative path.
 * @returns empty when the prefix is usable
 */
export function outputPrefixProblems(prefix: string): string[] {
  const problems: string[] = [];
  if (!prefix.endsWith('/') || prefix.startsWith('/')) problems.push(`output prefix ${JSON.stringify(prefix)} must end with "/" and not start with it`);
  if (prefix.split('/').some((segment) => segment === '.' || segment === '..') || /\/\//.test(prefix)) {
    problems.push(`output prefix ${JSON.stringify(prefix)} must not hold ".", ".." or empty segments`);
  }
  return problems;
}
