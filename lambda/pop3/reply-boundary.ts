import type { ByteChannel } from './byte-channel';
import { Pop3Error, Pop3ErrorCode } from './errors';
import type { StatusLine } from './response';

/**
 * Proving an ambiguous message end.
 *
 * A server that splits lines on CRLF only does not stuff a "." that follows a bare LF, so a
 * message line "." after a bare LF reaches us as "\n.\r\n": a terminator to the decoder
 * (see dot-decoder.ts). Comparing with the LIST size catches the truncation only when LIST
 * is exact or too high; servers that estimate sizes (Microsoft 365) or count LF line ends
 * (mbox) announce less than they send, so a message cut at such a "." may already hold
 * the octets LIST announced. Accepting it would store a truncated message and read its rest
 * as the next replies.
 *
 * So an ambiguous end is accepted only once the byte stream is proven to be at a reply
 * boundary, deterministically (no waiting for silence):
 *
 * - bytes already follow the terminator: a command sent after this one must be awaiting its
 *   reply, and those bytes must start a status line ("+OK" or "-ERR"). With no command in
 *   flight, nothing may follow a reply at all: they are the rest of the message.
 * - nothing follows yet, a later command is in flight (pipelining): its reply comes next,
 *   so its first bytes must start a status line (waited for within the idle timeout).
 * - nothing follows, nothing is in flight: the client sends NOOP (ahead of every queued
 *   command) and its reply must be a "+OK" status line, which is consumed here. If the
 *   message went on, the server sends its rest before it reads the NOOP.
 *
 * Anything else means the message continues: MESSAGE_INCOMPLETE, and the session must end
 * (the rest of the message is still on the wire).
 *
 * Cost: the check runs only for ambiguous ends that reached their LIST size. Pipelined, the
 * next reply is usually buffered or in flight already, so it costs nothing; a lock-step
 * session (no PIPELINING), or the last message of a pipelined batch, pays one NOOP round
 * trip per such message. A server that sends every line with a bare LF but terminates with
 * ".\r\n" ends every message ambiguously: in lock-step it pays that round trip per message
 * (a server that ends with ".\n" splits and stuffs at LF: unambiguous, no check).
 *
 * Limit: a message whose hidden rest itself begins with a status line ("x\n.\r\n+OK ...")
 * still passes when that rest arrives only after the check started; the LIST size check and
 * the session's protocol checks on the replies behind it are what remains against that.
 */

/** What the session lends a message stream to run the check (see Pop3Client#stream). */
export interface BoundaryProbe {
  /** True when a command sent after this reply's command still awaits its reply (pipelining). */
  laterReplyDue(): boolean;
  /** Writes NOOP at once, ahead of every queued command; false when the connection takes no more writes. */
  sendNoop(): boolean;
  /** Reads the NOOP's status line (scrubbed and traced like any reply). */
  readNoopReply(): Promise<StatusLine>;
}

/** The ambiguous end to prove, as shown in errors. */
export interface AmbiguousEnd {
  /** The command, as shown in errors (`RETR 3`). */
  readonly command: string;
  /** Message octets received (after unstuffing). */
  readonly received: number;
  /** The size LIST announced, when known. */
  readonly expected: number | undefined;
}

/** How the bytes after the terminator begin. */
type ReplyStart = 'ok' | 'err' | 'other';

const STATUS_KEYWORDS = [
  { keyword: Buffer.from('+OK', 'latin1'), start: 'ok' },
  { keyword: Buffer.from('-ERR', 'latin1'), start: 'err' },
] as const;
/** Octets that decide whether bytes start a status line: the longest keyword ("-ERR") and the byte after it. */
const STATUS_START_OCTETS = 5;

/**
 * Resolves once the stream is proven to be at a reply boundary after the ambiguous end;
 * rejects with MESSAGE_INCOMPLETE when the message continues, CONNECTION_CLOSED when the
 * server closed before that was known, or the channel's failure (idle timeout, abort).
 * The caller must end the session on any rejection: the stream may be out of sync.
 */
export async function confirmReplyBoundary(channel: ByteChannel, probe: BoundaryProbe, end: AmbiguousEnd): Promise<void> {
  const bytesFollow = channel.buffered().some((chunk) => chunk.length > 0);
  const laterReply = probe.laterReplyDue();
  if (bytesFollow && !laterReply) throw continues(end, 'bytes follow it although no command awaits a reply');
  if (bytesFollow || laterReply) {
    const start = await peekReplyStart(channel);
    if (start === null) throw closedFirst(end);
    if (start === 'other') throw continues(end, 'what follows it is not the status line of the next reply');
    return;
  }
  if (!probe.sendNoop()) throw closedFirst(end);
  const start = await peekReplyStart(channel);
  if (start === null) throw closedFirst(end);
  if (start !== 'ok') throw continues(end, 'the reply to the NOOP sent to check it is not "+OK"');
  await probe.readNoopReply();
}

/**
 * How the next bytes on the channel begin, read only as far as that is known and put back
 * unconsumed; null when the server closed the connection first.
 */
async function peekReplyStart(channel: ByteChannel): Promise<ReplyStart | null> {
  const taken: Buffer[] = [];
  try {
    for (;;) {
      const start = classifyReplyStart(headOf(taken));
      if (start) return start;
      const chunk = await channel.read();
      if (chunk === null) return null;
      taken.push(chunk);
    }
  } finally {
    channel.unshift(Buffer.concat(taken));
  }
}

/**
 * Whether `head` (the first bytes) starts a status line, or undefined while too few bytes
 * are known. Keywords are case-insensitive, and an ASCII letter or digit right after one
 * makes another word ("+OKAY"), as parseStatusLine (response.ts) decides.
 */
export function classifyReplyStart(head: Buffer): ReplyStart | undefined {
  for (const { keyword, start } of STATUS_KEYWORDS) {
    const n = Math.min(head.length, keyword.length);
    if (!upper(head.subarray(0, n)).equals(keyword.subarray(0, n))) continue;
    if (head.length <= keyword.length) return undefined;
    return isWordByte(head[keyword.length]!) ? 'other' : start;
  }
  return 'other';
}

/** The first STATUS_START_OCTETS octets of `chunks`, without copying whole chunks. */
function headOf(chunks: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  let octets = 0;
  for (const chunk of chunks) {
    if (octets >= STATUS_START_OCTETS) break;
    const part = chunk.subarray(0, STATUS_START_OCTETS - octets);
    parts.push(part);
    octets += part.length;
  }
  return Buffer.concat(parts);
}

function upper(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1').toUpperCase(), 'latin1');
}

function isWordByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

function continues(end: AmbiguousEnd, why: string): Pop3Error {
  const message =
    `${end.command}: the message ended after ${end.received} octets${end.expected === undefined ? '' : ` (LIST announced ${end.expected})`} at a terminator ` +
    `that follows a bare LF, and ${why}; a server that does not stuff dots after bare LF sends a message line "." just ` +
    'like that, so the rest of the message is taken to follow: the connection is closed';
  return new Pop3Error(Pop3ErrorCode.MESSAGE_INCOMPLETE, message, { command: end.command });
}

function closedFirst(end: AmbiguousEnd): Pop3Error {
  const message =
    `${end.command}: the server closed the connection after ${end.received} octets of the message, at a terminator ` +
    'that follows a bare LF, before it could be told from a message line "."';
  return new Pop3Error(Pop3ErrorCode.CONNECTION_CLOSED, message, { command: end.command });
}
