/**
 * The header block of a message (RFC 5322 section 2.1): captured while the bytes stream
 * past, fingerprinted, and mined for the few fields that go into S3 object metadata.
 * Only header values are ever decoded; the message bytes themselves are never touched.
 */
import { hash } from 'node:crypto';

/**
 * Stop capturing after this many octets. RFC 5322 sets no limit on the header block;
 * 64 KiB holds any sane one (long Received chains included) and bounds memory against
 * a "header" that never ends.
 */
export const MAX_HEADER_CAPTURE_OCTETS = 64 * 1024;
/** Longest value of one header field in object metadata (after percent-encoding). */
export const MAX_HEADER_VALUE_CHARS = 256;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Captures the header block from a message streamed in chunks of any size: the bytes up to
 * (not including) the first empty line, so the block keeps the last header line's line end.
 * An empty line is LF or CRLF right after a line end (or at the very start); it is found
 * across chunk boundaries. Capture stops at {@link MAX_HEADER_CAPTURE_OCTETS}.
 */
export class HeaderCapture {
  private readonly parts: Buffer[] = [];
  /** Octets scanned (and kept) so far. */
  private capturedOctets = 0;
  /** Length of the header block once its empty line was found. */
  private headerOctets: number | undefined;
  private atLineStart = true;
  /** The previous byte was a CR that started a line: a following LF makes the empty line. */
  private crAtLineStart = false;

  /** True once the empty line was found or the capture limit was reached; later chunks are ignored. */
  get done(): boolean {
    return this.headerOctets !== undefined || this.capturedOctets >= MAX_HEADER_CAPTURE_OCTETS;
  }

  /** True when the empty line that ends the header block was seen. */
  get complete(): boolean {
    return this.headerOctets !== undefined;
  }

  /** Offset of the body (just past the empty line) once the capture is complete. */
  get bodyOffset(): number | undefined {
    return this.headerOctets === undefined ? undefined : this.capturedOctets;
  }

  update(chunk: Uint8Array): void {
    if (this.done) return;
    const scan = chunk.subarray(0, MAX_HEADER_CAPTURE_OCTETS - this.capturedOctets);
    const emptyLineAt = this.findEmptyLine(scan);
    const keep = emptyLineAt === undefined ? scan : scan.subarray(0, emptyLineAt + 1);
    // A copy: producers may reuse their buffers, and the capture outlives the chunk.
    this.parts.push(Buffer.from(keep));
    if (emptyLineAt !== undefined) {
      const crBefore = this.crAtLineStart ? 1 : 0;
      this.headerOctets = this.capturedOctets + emptyLineAt - crBefore;
    }
    this.capturedOctets += keep.length;
  }

  /** The header block captured so far (the whole capture if no empty line was seen). */
  headerBlock(): Buffer {
    const all = Buffer.concat(this.parts);
    return all.subarray(0, this.headerOctets ?? all.length);
  }

  /**
   * Index in `scan` of the LF that ends the empty line, or undefined. Leaves
   * `crAtLineStart` describing the byte before that LF.
   */
  private findEmptyLine(scan: Uint8Array): number | undefined {
    for (let i = 0; i < scan.length; i++) {
      const byte = scan[i];
      if (this.crAtLineStart) {
        if (byte === LF) return i;
        // The CR was the first content byte of a line: "\r\r\n" or "\rX" is no empty line.
        this.crAtLineStart = false;
        this.atLineStart = false;
      } else if (this.atLineStart) {
        if (byte === LF) return i;
        if (byte === CR) this.crAtLineStart = true;
        else this.atLineStart = false;
      } else if (byte === LF) {
        this.atLineStart = true;
      }
    }
    return undefined;
  }
}

/** The header block of a complete message (or of TOP output, or of a header block itself). */
export function captureHeaderBlock(message: Uint8Array): Buffer {
  const capture = new HeaderCapture();
  capture.update(message);
  return capture.headerBlock();
}

/**
 * Header fields that POP3 servers add or rewrite on their own after delivery (mbox read
 * flags, GNU mailutils' X-UIDL and EXPIRE stamp, Content-Length of mbox stores...). They
 * are left out of the fingerprint: a message must keep its fingerprint while it stays on
 * the server, or it would look like another message (a recycled UIDL) and be fetched twice.
 */
const SERVER_MAINTAINED_FIELDS: ReadonlySet<string> = new Set([
  'status',
  'x-status',
  'x-uidl',
  'x-uid',
  'x-keywords',
  'x-mozilla-status',
  'x-mozilla-status2',
  'x-mozilla-keys',
  'x-expire-timestamp',
  'x-imap',
  'x-imapbase',
  'content-length',
  'lines',
]);

/**
 * SHA-256 (hex) of a header block, normalised so that the same message gives the same value
 * from `TOP n 0` output (headers plus the empty line) and from the header block captured from
 * RETR: the block is re-captured (idempotent on a block, cuts TOP output and whole messages),
 * CRLF becomes LF, fields the server maintains itself are dropped, and trailing whitespace
 * of the block is removed.
 */
export function headerFingerprint(headerBlock: Uint8Array): string {
  return capturedBlockFingerprint(captureHeaderBlock(headerBlock));
}

/**
 * {@link headerFingerprint} of a block captured by {@link HeaderCapture} (re-capturing it
 * would change nothing). One scan over the block: fields end at a LF that no blank follows,
 * and only the fields the server maintains are cut out.
 */
export function capturedBlockFingerprint(block: Buffer): string {
  // latin1 maps every byte to one char and back: a byte-exact view of the block.
  const latin1 = block.toString('latin1');
  const text = latin1.includes('\r\n') ? latin1.replace(/\r\n/g, '\n') : latin1;
  // Start and end of each field kept; the text itself stands when none is dropped (the usual case).
  const kept: number[] = [];
  let dropped = false;
  for (let start = 0; ; ) {
    const end = fieldEnd(text, start);
    if (serverMaintained(text, start, end)) dropped = true;
    else kept.push(start, end);
    if (end === text.length) break;
    start = end + 1;
  }
  let normalised = text;
  if (dropped) {
    const fields: string[] = [];
    for (let i = 0; i < kept.length; i += 2) fields.push(text.slice(kept[i], kept[i + 1]));
    normalised = fields.join('\n');
  }
  return hash('sha256', Buffer.from(withoutTrailingWhitespace(normalised), 'latin1'), 'hex');
}

/** `text` without the spaces, tabs, CRs and LFs at its end. */
function withoutTrailingWhitespace(text: string): string {
  let end = text.length;
  for (let c = text.charCodeAt(end - 1); c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a; c = text.charCodeAt(--end - 1));
  return end === text.length ? text : text.slice(0, end);
}

/** Where the field starting at `start` ends: the first LF that no blank follows (a field's continuation lines start with one), or the end. */
function fieldEnd(text: string, start: number): number {
  for (let lf = text.indexOf('\n', start); lf !== -1; lf = text.indexOf('\n', lf + 1)) {
    // Checked, not read past the end: that read would throw away the JIT's code for this
    // function (the block's last LF ends every header block).
    if (lf + 1 >= text.length) return lf;
    const next = text.charCodeAt(lf + 1);
    if (next !== 0x20 && next !== 0x09) return lf;
  }
  return text.length;
}

/** Whether the field in text[start, end) is one the server maintains: its name is what comes before its first colon. */
function serverMaintained(text: string, start: number, end: number): boolean {
  const colon = text.indexOf(':', start);
  if (colon === -1 || colon >= end) return false;
  return SERVER_MAINTAINED_FIELDS.has(text.slice(start, colon).trim().toLowerCase());
}

/** Header fields copied into object metadata: ASCII-safe, percent-encoded, truncated. */
export interface HeaderFields {
  messageId?: string;
  date?: string;
  from?: string;
  subject?: string;
}

/** A Map, not an object: a field named `constructor` or `__proto__` must find nothing. */
const FIELD_NAMES: ReadonlyMap<string, keyof HeaderFields> = new Map([
  ['message-id', 'messageId'],
  ['date', 'date'],
  ['from', 'from'],
  ['subject', 'subject'],
]);

/**
 * The Message-ID, Date, From and Subject of a header block: first occurrence, unfolded
 * (RFC 5322 section 2.2.3), RFC 2047 encoded-words decoded for utf-8, iso-8859-1 and us-ascii
 * (others are left as they are), then made safe for S3 metadata with {@link toMetadataValue}.
 * Absent fields are absent from the result.
 */
export function extractHeaderFields(headerBlock: Uint8Array): HeaderFields {
  const fields: HeaderFields = {};
  const text = asBuffer(headerBlock).toString('latin1');
  let found = 0;
  // The wanted field being unfolded, and its raw value so far.
  let key: keyof HeaderFields | undefined;
  let raw = '';
  const finish = (): void => {
    if (key === undefined) return;
    const value = toMetadataValue(decodeEncodedWords(decodeRawValue(raw)), MAX_HEADER_VALUE_CHARS);
    // An empty first occurrence leaves room for a later one.
    if (value !== '') {
      fields[key] = value;
      found++;
    }
    key = undefined;
  };
  for (let start = 0; found < WANTED_FIELDS; ) {
    const lf = text.indexOf('\n', start);
    const end = lf === -1 ? text.length : lf;
    // Lines end at LF or CRLF; a CR elsewhere is part of the line.
    const lineEnd = lf !== -1 && lf > start && text.charCodeAt(lf - 1) === 0x0d ? lf - 1 : end;
    const first = text.charCodeAt(start);
    if (start < lineEnd && (first === 0x20 || first === 0x09)) {
      // Unfolding removes the line break only; the leading blank stays (RFC 5322 2.2.3).
      if (key !== undefined) raw += text.slice(start, lineEnd);
    } else {
      finish();
      const field = fieldLine(text, start, lineEnd);
      const wanted = field && FIELD_NAMES.get(text.slice(start, field.nameEnd).toLowerCase());
      if (field && wanted !== undefined && fields[wanted] === undefined) {
        key = wanted;
        raw = text.slice(field.valueStart, lineEnd);
      }
    }
    if (lf === -1) break;
    start = lf + 1;
  }
  finish();
  return fields;
}

const WANTED_FIELDS = FIELD_NAMES.size;

/**
 * A field's first line: a name of printable US-ASCII but ':', then (obsolete syntax) blanks,
 * then a colon. Undefined for a line that is none.
 */
function fieldLine(text: string, start: number, lineEnd: number): { nameEnd: number; valueStart: number } | undefined {
  let i = start;
  for (let c = text.charCodeAt(i); i < lineEnd && c >= 0x21 && c <= 0x7e && c !== 0x3a; c = text.charCodeAt(++i));
  if (i === start) return undefined;
  let colon = i;
  while (colon < lineEnd && (text.charCodeAt(colon) === 0x20 || text.charCodeAt(colon) === 0x09)) colon++;
  return colon < lineEnd && text.charCodeAt(colon) === 0x3a ? { nameEnd: i, valueStart: colon + 1 } : undefined;
}

/** A Buffer view of the same bytes (Buffer.from(Uint8Array) would copy them). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Only 7-bit bytes: the same text in UTF-8 and Latin-1, no decoder needed. */
// eslint-disable-next-line no-control-regex -- a byte range, not a typo
const SEVEN_BIT = /^[\x00-\x7f]*$/;

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Raw 8-bit header bytes: UTF-8 when they are valid UTF-8 (RFC 6532), else Latin-1. */
function decodeRawValue(latin1: string): string {
  if (SEVEN_BIT.test(latin1)) return latin1;
  const bytes = Buffer.from(latin1, 'latin1');
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return latin1;
  }
}

/** `=?charset?B|Q?text?=`; RFC 2047 forbids blanks and '?' inside an encoded-word. */
const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
const CHARSET_DECODERS: Readonly<Record<string, (bytes: Buffer) => string>> = {
  'utf-8': (bytes) => bytes.toString('utf8'),
  utf8: (bytes) => bytes.toString('utf8'),
  'iso-8859-1': (bytes) => bytes.toString('latin1'),
  latin1: (bytes) => bytes.toString('latin1'),
  'us-ascii': (bytes) => bytes.toString('latin1'),
  ascii: (bytes) => bytes.toString('latin1'),
};

interface EncodedWord {
  readonly start: number;
  readonly end: number;
  readonly charset: string;
  readonly bytes: Buffer;
}

/**
 * Decodes RFC 2047 encoded-words. Blanks between adjacent encoded-words are dropped
 * (RFC 2047 section 6.2), and adjacent words in one charset are decoded together, so a
 * multi-byte character split across two words survives. Words in other charsets stay raw.
 */
export function decodeEncodedWords(value: string): string {
  if (!value.includes('=?')) return value;
  const words = [...value.matchAll(ENCODED_WORD)].flatMap((m): EncodedWord[] => {
    const charset = m[1]!.toLowerCase().replace(/\*.*$/, ''); // RFC 2231 language suffix
    if (CHARSET_DECODERS[charset] === undefined) return [];
    const bytes = m[2]!.toUpperCase() === 'B' ? Buffer.from(m[3]!, 'base64') : decodeQ(m[3]!);
    return [{ start: m.index, end: m.index + m[0].length, charset, bytes }];
  });
  let out = '';
  let position = 0;
  for (let i = 0; i < words.length; ) {
    out += value.slice(position, words[i]!.start);
    let j = i;
    const run: Buffer[] = [words[i]!.bytes];
    while (j + 1 < words.length && continuesRun(value, words[j]!, words[j + 1]!)) run.push(words[++j]!.bytes);
    out += CHARSET_DECODERS[words[i]!.charset]!(Buffer.concat(run));
    position = words[j]!.end;
    i = j + 1;
  }
  return out + value.slice(position);
}

function continuesRun(value: string, previous: EncodedWord, next: EncodedWord): boolean {
  return next.charset === previous.charset && /^[ \t]*$/.test(value.slice(previous.end, next.start));
}

/** RFC 2047 "Q": '_' is a space, =XX a byte, anything else itself. */
function decodeQ(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const hex = text.slice(i + 1, i + 3);
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(ch === '_' ? 0x20 : ch.charCodeAt(0) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** `text` without the spaces and tabs at its ends (the rest of toMetadataValue's cleaning does nothing else to those). */
function withoutOuterBlanks(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Printable ASCII but '%': once without its outer blanks, what toMetadataValue returns as it is. */
const METADATA_SAFE = /^[\x20-\x24\x26-\x7e]*$/;

/**
 * Makes text safe for an S3 metadata value (an HTTP header): tabs become spaces, other
 * control characters are removed, '%' and every non-ASCII character are percent-encoded
 * as UTF-8 (so `decodeURIComponent` gives the text back), surrounding spaces are trimmed
 * (HTTP would drop them), and the result is cut to `maxChars` without splitting an escape.
 */
export function toMetadataValue(text: string, maxChars: number): string {
  // The usual value (printable ASCII without '%' between the blanks a header puts around it, short) is safe as it is.
  const inner = withoutOuterBlanks(text);
  if (inner.length <= maxChars && METADATA_SAFE.test(inner)) return inner;
  const clean = text
    .replace(/\t/g, ' ')
    .replace(/\p{Cc}/gu, '')
    .replace(/\p{Cs}/gu, '\ufffd')
    .replace(/^ +| +$/g, '');
  let out = '';
  for (const char of clean) {
    const piece = /^[\x20-\x24\x26-\x7e]$/.test(char) ? char : encodeURIComponent(char);
    if (out.length + piece.length > maxChars) break;
    out += piece;
  }
  return out.replace(/ +$/, '');
}
