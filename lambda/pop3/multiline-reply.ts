import type { ByteChannel } from './byte-channel';
import { MAX_CAPA_LINES, MAX_CAPA_OCTETS, MAX_LISTING_ENTRIES, MAX_LISTING_OCTETS } from './constants';
import { Pop3Error, Pop3ErrorCode } from './errors';

/** How large one multi-line reply may grow before it is refused (REPLY_TOO_LARGE). */
export interface ReplyBounds {
  readonly maxLines: number;
  /** Line octets plus two for each line end. */
  readonly maxOctets: number;
}

const CAPA_BOUNDS: ReplyBounds = { maxLines: MAX_CAPA_LINES, maxOctets: MAX_CAPA_OCTETS };

/**
 * Bounds by command: CAPA and a bare AUTH (the mechanism list) are short lists; UIDL, LIST
 * and any other multi-line command get the listing bounds.
 */
export function replyBoundsFor(command: string, maxListingOctets = MAX_LISTING_OCTETS): ReplyBounds {
  const words = command.trim().toUpperCase().split(/\s+/);
  if (words[0] === 'CAPA' || (words[0] === 'AUTH' && words.length === 1)) return CAPA_BOUNDS;
  return { maxLines: MAX_LISTING_ENTRIES, maxOctets: maxListingOctets };
}

const DOT = 0x2e;
const LF = 0x0a;
const CR = 0x0d;
const LINE_END_OCTETS = 2;

/**
 * Reads the lines of a multi-line reply after its +OK, up to the terminating ".", with the
 * leading stuffed dot removed, bounded per line by `maxLineOctets` and as a whole by
 * `bounds` (memory stays bounded whatever the server sends). Each received chunk is split
 * synchronously (one await per chunk, none per line), and `onLine` gets each line as the
 * range [start, end) of a buffer: the received chunk itself, or a line joined across chunks.
 * Neither changes afterwards, so `onLine` may keep a reference (a listing keeps its ids
 * where they were received). Should `onLine` throw, the rest of the reply is still read, so
 * the session stays in step with the server, and the first error is thrown at its end.
 */
export async function forEachReplyLine(
  channel: ByteChannel,
  maxLineOctets: number,
  bounds: ReplyBounds,
  command: string,
  onLine: (bytes: Buffer, start: number, end: number) => void,
): Promise<void> {
  const splitter = new LineSplitter(maxLineOctets);
  let lines = 0;
  let octets = 0;
  let failure: unknown;
  const deliver = (bytes: Buffer, start: number, end: number): boolean => {
    if (end - start === 1 && bytes[start] === DOT) return true;
    octets += end - start + LINE_END_OCTETS;
    if (lines >= bounds.maxLines) throw tooLarge(command, `more than ${bounds.maxLines} lines`);
    if (octets > bounds.maxOctets) throw tooLarge(command, `more than ${bounds.maxOctets} octets`);
    lines++;
    if (failure === undefined) {
      try {
        onLine(bytes, bytes[start] === DOT ? start + 1 : start, end);
      } catch (err) {
        failure = err;
      }
    }
    return false;
  };
  for (;;) {
    const chunk = await channel.read();
    if (chunk === null) throw new Pop3Error(Pop3ErrorCode.CONNECTION_CLOSED, 'the server closed the connection while a reply was pending');
    const rest = splitter.split(chunk, deliver);
    if (rest === undefined) continue;
    if (rest.length > 0) channel.unshift(rest);
    if (failure !== undefined) throw failure;
    return;
  }
}

/** Splits chunks into lines (CRLF or a bare LF), carrying a partial line over to the next chunk. */
class LineSplitter {
  private carry: Buffer[] = [];
  private carryOctets = 0;

  constructor(private readonly maxLineOctets: number) {}

  /**
   * Hands each complete line to `deliver` until it returns true (the reply's end).
   * @returns the bytes after that line, or undefined when the chunk did not hold it
   */
  split(chunk: Buffer, deliver: (bytes: Buffer, start: number, end: number) => boolean): Buffer | undefined {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        this.hold(chunk.subarray(start));
        return undefined;
      }
      const lineEnd = nl > start && chunk[nl - 1] === CR ? nl - 1 : nl;
      const done = this.carry.length === 0 ? this.deliverInPlace(chunk, start, lineEnd, nl, deliver) : this.deliverJoined(chunk.subarray(start, nl + 1), deliver);
      start = nl + 1;
      if (done) return chunk.subarray(start);
    }
  }

  private deliverInPlace(chunk: Buffer, start: number, lineEnd: number, nl: number, deliver: (bytes: Buffer, start: number, end: number) => boolean): boolean {
    if (nl + 1 - start > this.maxLineOctets) throw tooLong(this.maxLineOctets);
    return deliver(chunk, start, lineEnd);
  }

  /** A line begun in an earlier chunk: joined with what was carried over (CR and LF may sit in different chunks). */
  private deliverJoined(tail: Buffer, deliver: (bytes: Buffer, start: number, end: number) => boolean): boolean {
    const line = this.complete(tail);
    const end = line.length >= 2 && line[line.length - 2] === CR ? line.length - 2 : line.length - 1;
    return deliver(line, 0, end);
  }

  private hold(part: Buffer): void {
    if (part.length === 0) return;
    this.carryOctets += part.length;
    if (this.carryOctets > this.maxLineOctets) throw tooLong(this.maxLineOctets);
    this.carry.push(part);
  }

  /** The line whose end is `tail`, joined with what was carried over. */
  private complete(tail: Buffer): Buffer {
    if (this.carryOctets + tail.length > this.maxLineOctets) throw tooLong(this.maxLineOctets);
    const line = Buffer.concat([...this.carry, tail]);
    this.carry = [];
    this.carryOctets = 0;
    return line;
  }
}

function tooLong(maxOctets: number): Pop3Error {
  return new Pop3Error(Pop3ErrorCode.LINE_TOO_LONG, `the server sent a line longer than ${maxOctets} octets`);
}

function tooLarge(command: string, what: string): Pop3Error {
  return new Pop3Error(Pop3ErrorCode.REPLY_TOO_LARGE, `${command}: the reply has ${what}; refused as hostile or broken`, { command });
}
