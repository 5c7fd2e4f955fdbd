import { INCOMPLETE_TOLERANCE_OCTETS, INCOMPLETE_TOLERANCE_RATIO } from './constants';
import { Pop3Error, Pop3ErrorCode } from './errors';

/** What is known about a message once its terminator was decoded. */
export interface MessageEnd {
  /** The command, as shown in errors (`RETR 3`). */
  readonly command: string;
  /** Message octets received (after unstuffing). */
  readonly received: number;
  /** The size LIST announced, when the caller gave it. */
  readonly expected: number | undefined;
  /** The terminator followed a bare LF (see DotDecoder#terminatorAmbiguous). */
  readonly ambiguous: boolean;
  /** Dots dropped as stuffing after a bare LF (see DotDecoder#dotsDroppedAfterBareLf). */
  readonly bareLfDots?: number;
  /** The terminator was ".\n" after a bare LF (see DotDecoder#lfTerminatorAfterBareLf). */
  readonly lfEndAfterBareLf?: boolean;
}

export interface Incomplete {
  readonly error: Pop3Error;
  /**
   * True when the byte stream is out of sync (the rest of the message may still be coming
   * and would be read as the next reply): the session must end.
   */
  readonly fatal: boolean;
}

/**
 * Decides whether a message that reached its terminator is whole. Silent truncation is
 * the failure that matters: a truncated message that ends normally gets stored.
 *
 * - An ambiguous terminator with fewer octets than LIST announced (or no LIST size to
 *   check against) is taken for a message line "." that the server did not stuff: fatal.
 *   With at least the LIST octets it is not decided here: LIST sizes may be estimates
 *   below the real size, so the stream must then be proven to be at a reply boundary
 *   ({@link endNeedsBoundaryProof}, reply-boundary.ts).
 * - An unambiguous terminator is sound framing; only a shortfall beyond the tolerance
 *   (INCOMPLETE_TOLERANCE_RATIO, INCOMPLETE_TOLERANCE_OCTETS) is reported, and the session
 *   stays usable.
 * - A dot dropped as stuffing after a bare LF (of "\n..": a single dot there is kept, see
 *   dot-decoder.ts), with fewer octets than LIST announced, was probably content (a
 *   CRLF-only server does not stuff there): not fatal, the framing is sound either way,
 *   but the message is not taken.
 * - More octets than announced is fine (LF-counting servers); maxOctets bounds that.
 */
export function checkCompleteness(end: MessageEnd): Incomplete | undefined {
  const { command, received, expected, ambiguous } = end;
  if (ambiguous && (expected === undefined || received < expected)) {
    const of = expected === undefined ? `${received} octets (no LIST size to check against)` : `${received} of the ${expected} octets LIST announced`;
    const message =
      `${command}: the message ended after ${of} at a terminator that follows a bare LF; a server ` +
      'that does not stuff dots after bare LF sends a message line "." just like that, so the rest of ' +
      'the message may still be coming: the connection is closed';
    return { error: new Pop3Error(Pop3ErrorCode.MESSAGE_INCOMPLETE, message, { command }), fatal: true };
  }
  if ((end.bareLfDots ?? 0) > 0 && (expected === undefined || received < expected)) {
    const of = expected === undefined ? `${received} octets (no LIST size to check against)` : `${received} of the ${expected} octets LIST announced`;
    const message =
      `${command}: ${end.bareLfDots} line(s) after a bare LF began with a dot, taken as stuffing, and the message has ${of}; ` +
      'a server that does not stuff dots after bare LF sent those dots as content';
    return { error: new Pop3Error(Pop3ErrorCode.MESSAGE_INCOMPLETE, message, { command }), fatal: false };
  }
  if (expected !== undefined && received < expected * INCOMPLETE_TOLERANCE_RATIO - INCOMPLETE_TOLERANCE_OCTETS) {
    const message =
      `${command}: the message ended after ${received} of the ${expected} octets LIST announced ` +
      `(fewer than ${INCOMPLETE_TOLERANCE_RATIO * 100}% minus ${INCOMPLETE_TOLERANCE_OCTETS} octets)`;
    return { error: new Pop3Error(Pop3ErrorCode.MESSAGE_INCOMPLETE, message, { command }), fatal: false };
  }
  return undefined;
}

/**
 * True for an end that {@link checkCompleteness} let pass but that is still ambiguous (the
 * LIST octets arrived): it is accepted only once confirmReplyBoundary (reply-boundary.ts)
 * proved that a reply, not the rest of the message, follows it.
 */
export function endNeedsBoundaryProof(end: MessageEnd): boolean {
  // ".\n" after a bare LF is proven whatever LIST said: an LF-splitting server may count
  // its LFs as CRLF in LIST, so fewer octets than announced is no sign of a cut there.
  return (end.ambiguous && end.expected !== undefined && end.received >= end.expected) || end.lfEndAfterBareLf === true;
}
