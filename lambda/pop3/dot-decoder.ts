/**
 * Incremental decoder for the body of a POP3 multi-line reply (RFC 1939 section 3):
 * removes the byte-stuffed leading dot of every line that starts with ".", and stops at
 * the terminating line ".". It works on raw Buffers and keeps every other byte as the
 * server sent it (CRLF stays CRLF, 8-bit bytes stay untouched).
 *
 * Line ends: a line starts after LF, so servers that send bare LF are framed correctly
 * too (".\n" terminates, "\n.." is unstuffed); their LFs are passed through unchanged,
 * never rewritten to CRLF, so the stored message is exactly what the server sent.
 *
 * Stuffing after a bare LF: a server that stuffs at LF always doubles a line-initial dot,
 * so only "\n.." can be stuffing there. A single dot followed by anything else ("\n.b",
 * "\n.\rX") comes from a server that splits lines on CRLF only and sent its content as it
 * is: that dot is kept (Python's poplib likewise strips a dot only from ".."). "\n..b" is
 * still ambiguous (stuffed ".b", or unstuffed "..b"): its dot is dropped and counted, see
 * {@link dotsDroppedAfterBareLf}. After CRLF, RFC 1939's rule holds: any leading dot goes.
 *
 * Ambiguity: a server that splits lines on CRLF only does not stuff a dot that follows a
 * bare LF, so a message line "." after a bare LF reaches us as "\n.\r\n", exactly like a
 * terminator after a message that ends in a bare LF. The decoder still stops there (it
 * cannot know better) but reports it: {@link terminatorAmbiguous}. ".\n" after a bare LF
 * is the usual end of an LF-splitting server, and a content line "." of a CRLF-only one:
 * reported too ({@link lfTerminatorAfterBareLf}). Any terminator after CRLF is unambiguous.
 *
 * Speed: only lines that begin with "." need attention, so the decoder searches for the
 * two-byte sequence "\n." with Buffer#indexOf and hands out subarrays of the input
 * between those points: no per-line work, no copies of the message bytes.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.', 'latin1');
const CR_ONLY = Buffer.from('\r', 'latin1');
const DOT_ONLY = Buffer.from('.', 'latin1');
const DOT_CR = Buffer.from('.\r', 'latin1');

/** Where the previous chunk left the decoder. */
const State = {
  /** Inside a line. */
  MID_LINE: 0,
  /** At the start of a line (the previous byte was LF). */
  LINE_START: 1,
  /** Saw "." at a line start; the next byte decides: stuffed dot or terminator. */
  DOT: 2,
  /** Saw ".\r" at a line start; LF next means terminator, anything else a stuffed line. */
  DOT_CR: 3,
} as const;
type State = (typeof State)[keyof typeof State];

export interface DecodeResult {
  /** Decoded message bytes from this chunk (subarrays of the input; may be empty). */
  readonly output: Buffer[];
  /** True when the terminating "." line was seen in this chunk. */
  readonly done: boolean;
  /** Bytes after the terminator (the start of the next reply), when done. */
  readonly rest: Buffer | undefined;
}

export class DotDecoder {
  private state: State = State.LINE_START;
  private finished = false;
  private ambiguous = false;
  private bareLfDots = 0;
  private crlfEnd = false;
  private lfEndAfterBareLf = false;
  /** The last byte of the previous chunk (-1 before the first), to tell CRLF from a bare LF across chunks. */
  private lastByte = -1;
  /** Whether the LF that started the current line was bare (not after CR); false at the message start. */
  private bareLineStart = false;

  /** True once the terminator has been decoded. */
  get done(): boolean {
    return this.finished;
  }

  /**
   * True when the terminator was ".\r\n" right after a bare LF: it may be a line of the
   * message from a server that does not stuff dots after bare LF (see the file comment).
   */
  get terminatorAmbiguous(): boolean {
    return this.ambiguous;
  }

  /**
   * The message ended at ".\n" after a bare LF: the terminator of an LF-splitting server
   * (which would have stuffed a content dot there as "\n..\n"), or a content line "." of a
   * server that splits lines on CRLF only and stuffs nothing after a bare LF. Only what
   * follows tells them apart (see reply-boundary.ts).
   */
  get lfTerminatorAfterBareLf(): boolean {
    return this.lfEndAfterBareLf;
  }

  /**
   * Dots dropped as stuffing at lines that began after a bare LF ("\n.." only: a single
   * dot there is kept as content), counted only when the terminator was ".\r\n" (a server
   * that speaks CRLF; one that ends with ".\n" splits at LF and stuffs there). A server
   * that splits lines at CRLF only does not stuff after a bare LF, so for it such a dot
   * was message content ("..b" sent as it is).
   */
  get dotsDroppedAfterBareLf(): number {
    return this.crlfEnd ? this.bareLfDots : 0;
  }

  /** An independent copy in the same state (to look ahead in buffered data without consuming it). */
  clone(): DotDecoder {
    const copy = new DotDecoder();
    copy.state = this.state;
    copy.finished = this.finished;
    copy.ambiguous = this.ambiguous;
    copy.bareLfDots = this.bareLfDots;
    copy.crlfEnd = this.crlfEnd;
    copy.lfEndAfterBareLf = this.lfEndAfterBareLf;
    copy.lastByte = this.lastByte;
    copy.bareLineStart = this.bareLineStart;
    return copy;
  }

  /**
   * Decodes the next chunk. Subarrays in `output` share memory with `chunk`; the caller
   * must not reuse the chunk's memory while they are alive (socket chunks are never reused).
   */
  decode(chunk: Buffer): DecodeResult {
    if (this.finished) throw new Error('DotDecoder: decode() after the terminator');
    const result = this.decodeChunk(chunk);
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1]!;
    return result;
  }

  private decodeChunk(chunk: Buffer): DecodeResult {
    const output: Buffer[] = [];
    const len = chunk.length;
    if (len === 0) return { output, done: false, rest: undefined };

    let segStart = 0;
    let i = 0;
    // Resolve what the previous chunk left open at its end.
    switch (this.state) {
      case State.DOT_CR:
        if (chunk[0] === LF) return this.finish(output, chunk, 1);
        // ".\r" + other: a line whose content starts with a bare CR, after a stuffed dot
        // (or, after a bare LF, a line ".\rX" sent as it is: see keepsLineDot).
        output.push(this.bareLineStart ? DOT_CR : CR_ONLY);
        this.state = State.MID_LINE;
        break;
      case State.DOT: {
        const end = this.afterDot(chunk, 0);
        if (end === PENDING) return { output, done: false, rest: undefined };
        if (end >= 0) return this.finish(output, chunk, end);
        // The dot, held back at the end of the previous chunk, is content or stuffing; go on from 0.
        if (this.keepsLineDot(chunk[0]!)) output.push(DOT_ONLY);
        break;
      }
      case State.LINE_START:
        if (chunk[0] === DOT) {
          const end = this.afterDot(chunk, 1);
          if (end === PENDING) return { output, done: false, rest: undefined };
          if (end >= 0) return this.finish(output, chunk, end);
          if (!this.keepsLineDot(chunk[1]!)) segStart = 1; // drop the stuffed dot
          i = 1;
        } else {
          this.state = State.MID_LINE;
        }
        break;
      default:
        break;
    }

    for (;;) {
      const k = chunk.indexOf(LF_DOT, i);
      if (k === -1) {
        if (segStart < len) output.push(chunk.subarray(segStart, len));
        this.state = chunk[len - 1] === LF ? State.LINE_START : State.MID_LINE;
        if (this.state === State.LINE_START) this.bareLineStart = (len >= 2 ? chunk[len - 2] : this.lastByte) !== CR;
        return { output, done: false, rest: undefined };
      }
      const dot = k + 1;
      // Everything up to and including the LF is message data.
      if (segStart < dot) output.push(chunk.subarray(segStart, dot));
      this.bareLineStart = (k > 0 ? chunk[k - 1] : this.lastByte) !== CR;
      const end = this.afterDot(chunk, dot + 1);
      if (end === PENDING) return { output, done: false, rest: undefined };
      if (end >= 0) return this.finish(output, chunk, end);
      // Stuffed: the dot is dropped, the rest of the line kept (unless the dot is content).
      segStart = this.keepsLineDot(chunk[dot + 1]!) ? dot : dot + 1;
      i = dot + 1;
    }
  }

  /**
   * Whether the line-initial dot before `next` (a dot that does not end the message) is
   * content: after a bare LF, unless another dot follows (see the file comment). A dot
   * dropped after a bare LF is counted.
   */
  private keepsLineDot(next: number): boolean {
    if (!this.bareLineStart) return false;
    if (next !== DOT) return true;
    this.bareLfDots++;
    return false;
  }

  /**
   * Looks at the bytes after a line-initial dot starting at `pos`. Returns the offset just
   * past the terminator when the line is ".", STUFFED when it is a stuffed line, or
   * PENDING (with state saved) when the chunk ends before that is known.
   */
  private afterDot(chunk: Buffer, pos: number): number {
    if (pos >= chunk.length) {
      this.state = State.DOT;
      return PENDING;
    }
    const b = chunk[pos];
    if (b === LF) return pos + 1;
    if (b === CR) {
      if (pos + 1 >= chunk.length) {
        this.state = State.DOT_CR;
        return PENDING;
      }
      if (chunk[pos + 1] === LF) return pos + 2;
    }
    this.state = State.MID_LINE;
    return STUFFED;
  }

  /** `end` is just past the terminator; a ".\r\n" terminator after a bare LF is ambiguous. */
  private finish(output: Buffer[], chunk: Buffer, end: number): DecodeResult {
    this.finished = true;
    // end - 2 is CR for ".\r\n" within this chunk; a terminator completed by a chunk that
    // starts with its LF (state DOT_CR) was ".\r\n" as well.
    const crlfTerminator = end >= 2 ? chunk[end - 2] === CR : this.state === State.DOT_CR;
    this.ambiguous = crlfTerminator && this.bareLineStart;
    this.lfEndAfterBareLf = !crlfTerminator && this.bareLineStart;
    this.crlfEnd = crlfTerminator;
    return { output, done: true, rest: end < chunk.length ? chunk.subarray(end) : undefined };
  }
}

const PENDING = -1;
const STUFFED = -2;

/**
 * Byte-stuffs `message` for the wire and appends the terminator (what a server sends).
 * A message that does not end with a line end gets CRLF first, as servers do.
 * Used by tests, the fake server and benchmarks.
 */
export function encodeMultiline(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  if (message.length > 0 && message[0] === DOT) {
    parts.push(Buffer.from('.', 'latin1'));
  }
  for (;;) {
    const k = message.indexOf(LF_DOT, start);
    if (k === -1) break;
    parts.push(message.subarray(start, k + 1), Buffer.from('.', 'latin1'));
    start = k + 1;
  }
  parts.push(message.subarray(start));
  if (message.length > 0 && message[message.length - 1] !== LF) parts.push(Buffer.from('\r\n', 'latin1'));
  parts.push(Buffer.from('.\r\n', 'latin1'));
  return Buffer.concat(parts);
}
