import { MAX_UID_OCTETS, RFC_MAX_UID_OCTETS } from './constants';
import { Pop3Error, Pop3ErrorCode, sanitizeServerText } from './errors';
import { IdIndex } from './id-index';
import { NumberColumn } from './number-column';

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

/**
 * A UIDL listing. Entries are held compactly (their ids as bytes, see IdIndex): read them
 * with `length`, `numberAt` and `uidAt`, which make a string only for the entry asked for.
 */
export interface UidlListing {
  /** Valid entries, in server order, including every occurrence of a duplicated uid. */
  readonly length: number;
  /** The message number of valid entry `i` (0-based, server order). */
  numberAt(i: number): number;
  /** The uid of valid entry `i` (made on first use and kept: entries not read cost no string). */
  uidAt(i: number): string;
  /**
   * Every valid entry as an object, in server order: made on first use and kept (a million
   * entries make a million objects; the sync reads entries with numberAt/uidAt instead).
   */
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

/** Reasons an id is set aside for, besides its bytes (see uidRangeProblem). */
const SECRET_REASON = 'unique-id holds a credential of this session';

const isBlank = (b: number | undefined): boolean => b === SPACE || b === TAB;
const isDigit = (b: number | undefined): boolean => b !== undefined && b >= DIGIT_0 && b <= DIGIT_9;

/** The first byte at or after `i` (before `end`) that is not a blank. */
function skipBlanks(line: Buffer, i: number, end: number): number {
  while (i < end && isBlank(line[i])) i++;
  return i;
}

/** The end of a run of 1..`maxDigits` digits at `i` (before `limit`), or -1 when there is none or it is longer. */
function digitsEnd(line: Buffer, i: number, limit: number, maxDigits: number): number {
  let end = i;
  while (end < limit && isDigit(line[end])) {
    if (end - i === maxDigits) return -1;
    end++;
  }
  return end === i ? -1 : end;
}

/** The value of the digits `line[i, end)` (at most 15: exact as a double). */
function digitsValue(line: Buffer, i: number, end: number): number {
  let value = 0;
  for (; i < end; i++) value = value * 10 + (line[i]! - DIGIT_0);
  return value;
}

/** Where a UIDL line's fields are: reused from line to line, so a listing allocates nothing per line. */
interface UidlFields {
  number: number;
  /** The id is [uidStart, uidEnd) of the scanned bytes. */
  uidStart: number;
  uidEnd: number;
}

/** Scans the line `bytes[start, end)` into `out`: listings are parsed in the received chunk, without a Buffer per line. */
function scanUidlLine(bytes: Buffer, start: number, end: number, show: ShowLine, out: UidlFields): void {
  const numberStart = skipBlanks(bytes, start, end);
  const numberEnd = digitsEnd(bytes, numberStart, end, MAX_NUMBER_DIGITS);
  // After the number: a blank or the end of the line ("12abc" and 11 digits are malformed).
  if (numberEnd === -1 || (numberEnd < end && !isBlank(bytes[numberEnd]))) throw malformed('UIDL', show(bytes.subarray(start, end)));
  out.number = toMessageNumber(digitsValue(bytes, numberStart, numberEnd), 'UIDL', bytes, start, end, show);
  const uidStart = skipBlanks(bytes, numberEnd, end);
  let uidEnd = end;
  while (uidEnd > uidStart && isBlank(bytes[uidEnd - 1])) uidEnd--;
  out.uidStart = uidStart;
  out.uidEnd = uidEnd;
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

/** Whether the id `bytes[start, end)` holds a secret of the session. */
export type HoldsSecret = (bytes: Buffer, start: number, end: number) => boolean;

/**
 * Parses `n uid` (one UIDL line, multi-line listing or the single-message reply text). The
 * uid is empty when the line has none; {@link uidProblem} reports that.
 */
export function parseUidlLine(line: Buffer, show: ShowLine = asIs): { number: number; uid: Buffer } {
  const f: UidlFields = { number: 0, uidStart: 0, uidEnd: 0 };
  scanUidlLine(line, 0, line.length, show, f);
  return { number: f.number, uid: Buffer.from(line.subarray(f.uidStart, f.uidEnd)) };
}

/**
 * Parses `n size` in `line[start, end)`. Lines are parsed as sent (a numeric secret must not
 * break a size); errors show them through `show`. The fields are written to `into` when
 * given (a listing reuses one object for all its lines).
 */
export function parseListLine(line: Buffer, show: ShowLine = asIs, start = 0, end = line.length, into: { number: number; size: number } = { number: 0, size: 0 }): ListEntry {
  const numberStart = skipBlanks(line, start, end);
  const numberEnd = digitsEnd(line, numberStart, end, MAX_NUMBER_DIGITS);
  const sizeStart = numberEnd === -1 ? -1 : skipBlanks(line, numberEnd, end);
  // "n size", then nothing or a blank and anything (RFC 2449 allows more fields).
  const sizeEnd = numberEnd === -1 || sizeStart === numberEnd ? -1 : digitsEnd(line, sizeStart, end, MAX_SIZE_DIGITS);
  if (sizeEnd === -1 || (sizeEnd < end && !isBlank(line[sizeEnd]))) throw malformed('LIST', show(line.subarray(start, end)));
  into.number = toMessageNumber(digitsValue(line, numberStart, numberEnd), 'LIST', line, start, end, show);
  into.size = digitsValue(line, sizeStart, sizeEnd);
  return into;
}

/**
 * Builds a UIDL listing line by line, as the reply arrives: keeps server order, reports
 * duplicates and invalid uids separately, never holds a line. Ids are kept as bytes in an
 * IdIndex (no string or object per entry; duplicates found by their bytes). Lines are
 * parsed as the server sent them; a uid that holds a secret of the session is set aside
 * (never stored, logged or used as a key); errors show lines through `show`.
 */
export class UidlListingBuilder {
  private readonly ids = new IdIndex();
  /** The message number of each valid entry. */
  private readonly numbers = new NumberColumn();
  private readonly invalid: InvalidUidlEntry[] = [];
  /** Numbers seen, kept only once a listing goes out of order (servers list 1..n ascending). */
  private numbersSeen: Set<number> | undefined;
  private highestNumber = 0;
  private overlong = 0;
  private readonly fields: UidlFields = { number: 0, uidStart: 0, uidEnd: 0 };
  private readonly holdsSecret: HoldsSecret | undefined;

  /**
   * @param show how a line may appear in an error
   * @param holdsSecret whether an id holds a secret of the session. @default what `show` would alter
   */
  constructor(
    private readonly show: ShowLine = asIs,
    holdsSecret?: HoldsSecret,
  ) {
    this.holdsSecret = holdsSecret ?? (show === asIs ? undefined : (bytes, start, end) => wouldAlter(show, bytes.subarray(start, end)));
  }

  /** The line `bytes[start, end)` (default: all of `bytes`). */
  add(bytes: Buffer, start = 0, end = bytes.length): void {
    const f = this.fields;
    scanUidlLine(bytes, start, end, this.show, f);
    const number = f.number;
    this.checkNumber(number, bytes, start, end);
    const problem = uidRangeProblem(bytes, f.uidStart, f.uidEnd) ?? (this.holdsSecret?.(bytes, f.uidStart, f.uidEnd) ? SECRET_REASON : undefined);
    if (problem !== undefined) {
      this.invalid.push({ number, reason: problem });
      return;
    }
    if (f.uidEnd - f.uidStart > RFC_MAX_UID_OCTETS) this.overlong++;
    this.ids.add(bytes, f.uidStart, f.uidEnd);
    this.numbers.push(number);
  }

  /** The listing; duplicates are found here, in one pass over the ids (in server order). */
  finish(): UidlListing {
    const repeated = new Map<string, number[]>();
    for (let i = 0; i < this.ids.length; i++) {
      const first = this.ids.firstOf(i);
      if (first === i) continue;
      // Duplicates are rare: only they get a string key.
      const uid = this.ids.stringAt(first);
      const numbers = repeated.get(uid);
      if (numbers) numbers.push(this.numbers.at(i));
      else repeated.set(uid, [this.numbers.at(first), this.numbers.at(i)]);
    }
    return new CompactUidlListing(this.ids, this.numbers, repeated, this.invalid, this.overlong);
  }

  private checkNumber(number: number, bytes: Buffer, start: number, end: number): void {
    if (number > this.highestNumber && this.numbersSeen === undefined) {
      this.highestNumber = number;
      return;
    }
    if (this.numbersSeen === undefined) {
      this.numbersSeen = new Set(this.invalid.map((e) => e.number));
      for (let i = 0; i < this.numbers.length; i++) this.numbersSeen.add(this.numbers.at(i));
    }
    if (this.numbersSeen.has(number)) throw malformed('UIDL', this.show(bytes.subarray(start, end)), `message number ${number} listed twice`);
    this.numbersSeen.add(number);
  }
}

/** A finished listing over the builder's arrays. */
class CompactUidlListing implements UidlListing {
  private materialised: UidlEntry[] | undefined;
  /** Uids made so far: a sync reads each uid more than once (keys, identities), one string serves all. */
  private uids: (string | undefined)[] | undefined;

  constructor(
    private readonly ids: IdIndex,
    private readonly numbers: NumberColumn,
    readonly duplicates: ReadonlyMap<string, readonly number[]>,
    readonly invalid: readonly InvalidUidlEntry[],
    readonly overlong: number,
  ) {}

  get length(): number {
    return this.ids.length;
  }

  numberAt(i: number): number {
    return this.numbers.at(this.checked(i));
  }

  uidAt(i: number): string {
    this.checked(i);
    this.uids ??= new Array<string | undefined>(this.length);
    return (this.uids[i] ??= this.ids.stringAt(i));
  }

  get entries(): readonly UidlEntry[] {
    this.materialised ??= Array.from({ length: this.length }, (_, i) => ({ number: this.numbers.at(i), uid: this.uidAt(i) }));
    return this.materialised;
  }

  private checked(i: number): number {
    if (!(i >= 0 && i < this.ids.length && Number.isInteger(i))) throw new RangeError(`listing entry ${i} out of range 0..${this.ids.length - 1}`);
    return i;
  }
}

/** A whole listing at once (see UidlListingBuilder). */
export function buildUidlListing(lines: readonly Buffer[], show: ShowLine = asIs): UidlListing {
  const builder = new UidlListingBuilder(show);
  for (const line of lines) builder.add(line);
  return builder.finish();
}

function wouldAlter(show: ShowLine, bytes: Buffer): boolean {
  return show(bytes) !== bytes;
}

function toMessageNumber(n: number, verb: string, bytes: Buffer, start: number, end: number, show: ShowLine): number {
  if (n < 1) throw malformed(verb, show(bytes.subarray(start, end)), 'message number out of range');
  return n;
}

function malformed(verb: string, line: Buffer, why = 'malformed line'): Pop3Error {
  return new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, `${verb} listing: ${why}: "${sanitizeServerText(line, 80)}"`, { command: verb });
}
