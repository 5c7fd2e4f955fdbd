import type { ByteChannel } from './byte-channel';
import { MAX_CAPA_LINES, MAX_CAPA_OCTETS, MAX_LISTING_ENTRIES, MAX_LISTING_OCTETS } from './constants';
import { Pop3Error, Pop3ErrorCode } from './errors';
import { readLine } from './line-reader';

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
const LINE_END_OCTETS = 2;

/**
 * Reads the lines of a multi-line reply after its +OK, up to the terminating ".", with the
 * leading stuffed dot removed. Every line is bounded by `maxLineOctets`, the whole reply
 * by `bounds`: memory stays bounded whatever the server sends.
 */
export async function readMultilineReply(channel: ByteChannel, maxLineOctets: number, bounds: ReplyBounds, command: string): Promise<Buffer[]> {
  const lines: Buffer[] = [];
  let octets = 0;
  for (;;) {
    const l = await readLine(channel, maxLineOctets);
    if (l.length === 1 && l[0] === DOT) return lines;
    octets += l.length + LINE_END_OCTETS;
    if (lines.length >= bounds.maxLines) throw tooLarge(command, `more than ${bounds.maxLines} lines`);
    if (octets > bounds.maxOctets) throw tooLarge(command, `more than ${bounds.maxOctets} octets`);
    lines.push(l[0] === DOT ? l.subarray(1) : l);
  }
}

function tooLarge(command: string, what: string): Pop3Error {
  return new Pop3Error(Pop3ErrorCode.REPLY_TOO_LARGE, `${command}: the reply has ${what}; refused as hostile or broken`, { command });
}
