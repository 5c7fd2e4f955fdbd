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
// space and tab only (not VT, FF or 0xA0: an id that began or ended with one of those must
// not fail the whole listing). A line with a number and no id at all ("2") parses with an
// empty id, which validation sets aside the same way. Lines are scanned byte by byte: a
// listing of a million lines costs no regular expression and no string per line.
const SPACE = 0x20;
const TAB = 0x09;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MAX_NUMBER_DIGITS = 10;
const MAX_SIZE_DIGITS = 15;

const isBlank = (b: number | undefined): boolean => b === SPACE || b === TAB;
const isDigit = (b: number | undefined): boolean => b !== undefined && b >= DIGIT_0 && b <= DIGIT_9;

/** The first byte at or after `i` (before `end`) that is not a blank. */
function skipBlanks(line: Buffer, i: number, end: number): number {
  while (i < end && isBlank(line[i])) i++;
  return i;
}

/** A run of at most `maxDigits` digits at `i` (before `limit`), or undefined when there is none or it is longer. */
function digitsAt(line: Buffer, i: number, limit: number, maxDigits: number): { value: number; end: number } | undefined {
  let value = 0;
  let end = i;
  while (end < limit && isDigit(line[end])) {
    if (end - i === maxDigits) return undefined;
    value = value * 10 + (line[end]! - DIGIT_0);
    end++;
  }
  return end === i ? undefined : { value, end };
}

/** Where a UIDL line's fields are: its message number, and its id as [uidStart, uidEnd). */
interface UidlFields {
  readonly number: number;
  readonly uidStart: number;
  readonly uidEnd: number;
}

/** The line is `bytes[start, end)`: listings are parsed in the received chunk, without a Buffer per line. */
function uidlFields(bytes: Buffer, start: number, end: number, show: ShowLine): UidlFields {
  const number = digitsAt(bytes, skipBlanks(bytes, start, end), end, MAX_NUMBER_DIGITS);
  // After the number: a blank or the end of the line ("12abc" and 11 digits are malformed).
  if (number === undefined || (number.end < end && !isBlank(bytes[number.end]))) throw malformed('UIDL', show(bytes.subarray(start, end)));
  const uidStart = skipBlanks(bytes, number.end, end);
  let uidEnd = end;
  while (uidEnd > uidStart && isBlank(bytes[uidEnd - 1])) uidEnd--;
  return { number: toMessageNumber(number.value, 'UIDL', bytes.subarray(start, end), show), uidStart, uidEnd };
}

/** Validates a unique-id: 1..MAX_UID_OCTETS bytes, each 0x21..0x7E (RFC 1939 section 7). */
export function uidProblem(uid: Buffer): string | undefined {
  return uidRangeProblem(uid, 0, uid.length);
}

function uidRangeProblem(bytes: Buffer, start: number, end: number): string | undefined {
  if (end === start) return 'empty unique-id';
  if (end - start > MAX_UID_OCTETS) return `unique-id longer than ${MAX_UID_OCTETS} octets`;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
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
  const { number, uidStart, uidEnd } = uidlFields(line, 0, line.length, show);
  return { number, uid: Buffer.from(line.subarray(uidStart, uidEnd)) };
}

/**
 * Parses `n size` in `line[start, end)`. Lines are parsed as sent (a numeric secret must not
 * break a size); errors show them through `show`.
 */
export function parseListLine(line: Buffer, show: ShowLine = asIs, start = 0, end = line.length): ListEntry {
  const number = digitsAt(line, skipBlanks(line, start, end), end, MAX_NUMBER_DIGITS);
  const sizeStart = number === undefined ? -1 : skipBlanks(line, number.end, end);
  // "n size", then nothing or a blank and anything (RFC 2449 allows more fields).
  const size = number === undefined || sizeStart === number.end ? undefined : digitsAt(line, sizeStart, end, MAX_SIZE_DIGITS);
  if (number === undefined || size === undefined || (size.end < end && !isBlank(line[size.end]))) throw malformed('LIST', show(line.subarray(start, end)));
  return { number: toMessageNumber(number.value, 'LIST', line.subarray(start, end), show), size: size.value };
}

/**
 * Builds a UIDL listing line by line, as the reply arrives: keeps server order, reports
 * duplicates and invalid uids separately, never holds a line. Lines are parsed as the server
 * sent them; a uid that `show` would alter holds a secret of the session and is set aside
 * (never stored, logged or used as a key); errors show lines through `show`.
 */
export class UidlListingBuilder {
  private readonly entries: UidlEntry[] = [];
  private readonly invalid: InvalidUidlEntry[] = [];
  /** uid -> the first message number listing it. */
  private readonly firstNumber = new Map<string, number>();
  /** uid -> every number, for uids listed more than once only. */
  private readonly repeated = new Map<string, number[]>();
  /** Numbers seen, kept only once a listing goes out of order (servers list 1..n ascending). */
  private numbersSeen: Set<number> | undefined;
  private highestNumber = 0;
  private overlong = 0;

  /**
   * @param show how a line may appear in an error
   * @param holdsSecret whether an id holds a secret of the session. @default what `show` would alter
   */
  constructor(
    private readonly show: ShowLine = asIs,
    private readonly holdsSecret: (id: string) => boolean = (id) => {
      const bytes = Buffer.from(id, 'latin1');
      return show(bytes) !== bytes;
    },
  ) {}

  /** The line `bytes[start, end)` (default: all of `bytes`). */
  add(bytes: Buffer, start = 0, end = bytes.length): void {
    const { number, uidStart, uidEnd } = uidlFields(bytes, start, end, this.show);
    this.checkNumber(number, bytes, start, end);
    const problem = uidRangeProblem(bytes, uidStart, uidEnd);
    const id = problem === undefined ? bytes.toString('latin1', uidStart, uidEnd) : '';
    if (problem !== undefined || this.holdsSecret(id)) {
      this.invalid.push({ number, reason: problem ?? 'unique-id holds a credential of this session' });
      return;
    }
    if (uidEnd - uidStart > RFC_MAX_UID_OCTETS) this.overlong++;
    this.entries.push({ number, uid: id });
    const first = this.firstNumber.get(id);
    if (first === undefined) this.firstNumber.set(id, number);
    else {
      const numbers = this.repeated.get(id);
      if (numbers) numbers.push(number);
      else this.repeated.set(id, [first, number]);
    }
  }

  finish(): UidlListing {
    return { entries: this.entries, duplicates: this.repeated, invalid: this.invalid, overlong: this.overlong };
  }

  private checkNumber(number: number, bytes: Buffer, start: number, end: number): void {
    if (number > this.highestNumber && this.numbersSeen === undefined) {
      this.highestNumber = number;
      return;
    }
    if (this.numbersSeen === undefined) {
      this.numbersSeen = new Set([...this.entries.map((e) => e.number), ...this.invalid.map((e) => e.number)]);
    }
    if (this.numbersSeen.has(number)) throw malformed('UIDL', this.show(bytes.subarray(start, end)), `message number ${number} listed twice`);
    this.numbersSeen.add(number);
  }
}

/** A whole listing at once (see UidlListingBuilder). */
export function buildUidlListing(lines: readonly Buffer[], show: ShowLine = asIs): UidlListing {
  const builder = new UidlListingBuilder(show);
  for (const line of lines) builder.add(line);
  return builder.finish();
}

function toMessageNumber(n: number, verb: string, line: Buffer, show: ShowLine): number {
  if (n < 1) throw malformed(verb, show(line), 'message number out of range');
  return n;
}

function malformed(verb: string, line: Buffer, why = 'malformed line'): Pop3Error {
  return new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, `${verb} listing: ${why}: "${sanitizeServerText(line, 80)}"`, { command: verb });
}
