import { MAX_UID_OCTETS, RFC_MAX_UID_OCTETS } from './constants';
import { Pop3Error, Pop3ErrorCode, sanitizeServerText } from './errors';

/** One line of a UIDL listing. `uid` holds only bytes 0x21..0x7E, so it is plain ASCII. */
export interface UidlEntry {
  readonly number: number;
  readonly uid: string;
}

/** A UIDL entry that was rejected as unsafe, with the reason. */
export interface InvalidUidlEntry {
  readonly number: number;
  readonly reason: string;
}

export interface UidlListing {
  /** Valid entries in server order, including every occurrence of a duplicated uid. */
  readonly entries: readonly UidlEntry[];
  /** uid -> message numbers, for every uid listed more than once (never merged silently). */
  readonly duplicates: ReadonlyMap<string, readonly number[]>;
  /** Entries whose uid failed validation; the messages exist but cannot be tracked safely. */
  readonly invalid: readonly InvalidUidlEntry[];
  /** Entries longer than RFC 1939's 70 characters (accepted; real servers send them). */
  readonly overlong: number;
}

export interface ListEntry {
  readonly number: number;
  /** Size in octets as announced by the server: a hint, never used to frame data. */
  readonly size: number;
}

// RFC 1939 separates the fields by one space; servers in the wild use several, or tabs.
// The id is everything after the number (trimmed of blanks): an id with inner blanks is
// then caught by validation and set aside, instead of failing the whole listing. "Blank" is
// space and tab only: JavaScript's \s also matches VT, FF and 0xA0 (NBSP in latin1), and an
// id that began or ended with one of those failed the whole listing. A line with a number
// and no id at all ("2") parses with an empty id, which validation sets aside the same way.
const FIELDS = /^[ \t]*(\d{1,10})(?:[ \t]+([^ \t](?:.*[^ \t])?))?[ \t]*$/s;
const SIZE_FIELDS = /^[ \t]*(\d{1,10})[ \t]+(\d{1,15})(?:[ \t].*)?$/;

/** Validates a unique-id: 1..MAX_UID_OCTETS bytes, each 0x21..0x7E (RFC 1939 section 7). */
export function uidProblem(uid: Buffer): string | undefined {
  if (uid.length === 0) return 'empty unique-id';
  if (uid.length > MAX_UID_OCTETS) return `unique-id longer than ${MAX_UID_OCTETS} octets`;
  for (let i = 0; i < uid.length; i++) {
    const b = uid[i]!;
    if (b < 0x21 || b > 0x7e) return `unique-id holds byte 0x${b.toString(16).padStart(2, '0')} outside 0x21..0x7E`;
  }
  return undefined;
}

/**
 * How a server line may be shown: the session's scrubber removes secrets from it (see
 * secret-scrubber.ts) and returns the same Buffer when it held none. The default shows
 * lines as they are.
 */
export type ShowLine = (line: Buffer) => Buffer;
const asIs: ShowLine = (line) => line;

/**
 * Parses `n uid` (one UIDL line, multi-line listing or the single-message reply text). The
 * uid is empty when the line has none; {@link uidProblem} reports that.
 */
export function parseUidlLine(line: Buffer, show: ShowLine = asIs): { number: number; uid: Buffer } {
  const m = FIELDS.exec(line.toString('latin1'));
  if (!m) throw malformed('UIDL', show(line));
  return { number: toMessageNumber(m[1]!, 'UIDL', show(line)), uid: Buffer.from(m[2] ?? '', 'latin1') };
}

/** Parses `n size`. Lines are parsed as sent (a numeric secret must not break a size); errors show them through `show`. */
export function parseListLine(line: Buffer, show: ShowLine = asIs): ListEntry {
  const m = SIZE_FIELDS.exec(line.toString('latin1'));
  if (!m) throw malformed('LIST', show(line));
  return { number: toMessageNumber(m[1]!, 'LIST', show(line)), size: Number(m[2]) };
}

/**
 * Builds a listing: keeps server order, reports duplicates and invalid uids separately.
 * Lines are parsed as the server sent them; a uid that `show` would alter holds a secret of
 * the session and is set aside (never stored, logged or used as a key), errors show lines
 * through `show`.
 */
export function buildUidlListing(lines: readonly Buffer[], show: ShowLine = asIs): UidlListing {
  const entries: UidlEntry[] = [];
  const invalid: InvalidUidlEntry[] = [];
  const seen = new Map<string, number[]>();
  const numbers = new Set<number>();
  let overlong = 0;
  for (const line of lines) {
    const { number, uid } = parseUidlLine(line, show);
    if (numbers.has(number)) throw malformed('UIDL', show(line), `message number ${number} listed twice`);
    numbers.add(number);
    const problem = uidProblem(uid) ?? (show(uid) === uid ? undefined : 'unique-id holds a credential of this session');
    if (problem) {
      invalid.push({ number, reason: problem });
      continue;
    }
    if (uid.length > RFC_MAX_UID_OCTETS) overlong++;
    const id = uid.toString('latin1');
    entries.push({ number, uid: id });
    const list = seen.get(id);
    if (list) list.push(number);
    else seen.set(id, [number]);
  }
  const duplicates = new Map<string, number[]>();
  for (const [id, nums] of seen) if (nums.length > 1) duplicates.set(id, nums);
  return { entries, duplicates, invalid, overlong };
}

function toMessageNumber(digits: string, verb: string, line: Buffer): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n) || n < 1) throw malformed(verb, line, 'message number out of range');
  return n;
}

function malformed(verb: string, line: Buffer, why = 'malformed line'): Pop3Error {
  return new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, `${verb} listing: ${why}: "${sanitizeServerText(line, 80)}"`, { command: verb });
}
