/**
 * Reads one HTTP/1.1 response from a byte stream, as the direct requests need it: the
 * status, whether the connection may carry the next request, and the first bytes of the
 * body (an error's XML, a DynamoDB answer). Interim 1xx responses are skipped; the body is framed by
 * Content-Length, chunked transfer coding, or the end of the connection. What it cannot
 * read is an error: the caller sends the request through the SDK instead.
 */

/** A response head (status line and header fields) longer than this is refused. */
export const MAX_RESPONSE_HEAD_OCTETS = 16 * 1024;
/** A chunk-size line longer than this is refused (hex digits and extensions). */
const MAX_CHUNK_LINE_OCTETS = 1024;

export interface Http1Response {
  readonly statusCode: number;
  /** The first `maxBodyOctets` of the body. */
  readonly body: Buffer;
  /** The body was longer than `maxBodyOctets`: `body` is only its start. */
  readonly truncated: boolean;
  /** False when the server closes the connection after it (or it was framed by the close). */
  readonly keepAlive: boolean;
}

export class Http1ProtocolError extends Error {
  override readonly name = 'Http1ProtocolError';
}

type Framing = { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };
type State = 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'done';

const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');

export class Http1ResponseParser {
  private pending: Buffer = Buffer.alloc(0);
  private state: State = 'head';
  private framing: Framing = { kind: 'close' };
  private statusCode = 0;
  private keepAlive = true;
  private chunkLeft = 0;
  private readonly kept: Buffer[] = [];
  private keptOctets = 0;
  private truncated = false;

  constructor(private readonly maxBodyOctets: number) {}

  /** Whether any byte of a response arrived. */
  get started(): boolean {
    return this.statusCode !== 0 || this.pending.length > 0;
  }

  /**
   * Feeds received bytes; returns the response once it is complete. Bytes after it are an
   * error (this client never pipelines, so nothing may follow).
   * @throws Http1ProtocolError
   */
  feed(chunk: Buffer): Http1Response | undefined {
    if (this.state === 'done') throw new Http1ProtocolError('bytes after the response');
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (!this.finished && this.step());
    if (!this.finished) return undefined;
    if (this.pending.length > 0) throw new Http1ProtocolError('bytes after the response');
    return this.response();
  }

  /** The connection ended: the response, if the close was its framing; else an error. */
  end(): Http1Response {
    if (this.state === 'body' && this.framing.kind === 'close') {
      this.state = 'done';
      return this.response();
    }
    throw new Http1ProtocolError(this.started ? 'the connection closed within the response' : 'the connection closed before a response');
  }

  private get finished(): boolean {
    return this.state === 'done';
  }

  private response(): Http1Response {
    return { statusCode: this.statusCode, body: Buffer.concat(this.kept), truncated: this.truncated, keepAlive: this.keepAlive && this.framing.kind !== 'close' };
  }

  /** One step of the state machine; false when it needs more bytes. */
  private step(): boolean {
    switch (this.state) {
      case 'head':
        return this.readHead();
      case 'body':
        return this.readBody();
      case 'chunk-size':
        return this.readChunkSize();
      case 'chunk-data':
        return this.readChunkData();
      case 'chunk-end':
        return this.expectCrlf('chunk-size');
      case 'trailers':
        return this.readTrailers();
      default:
        return false;
    }
  }

  /**
   * The bytes before `delimiter` as latin1 text, consumed with it; undefined while it has not
   * arrived. More than `maxOctets` without it is a protocol error naming `what`.
   */
  private take(delimiter: Buffer, maxOctets: number, what: string): string | undefined {
    const end = this.pending.indexOf(delimiter);
    if (end < 0) {
      if (this.pending.length > maxOctets) throw new Http1ProtocolError(`${what} is too long`);
      return undefined;
    }
    const text = this.pending.subarray(0, end).toString('latin1');
    this.pending = this.pending.subarray(end + delimiter.length);
    return text;
  }

  private readHead(): boolean {
    const head = this.take(CRLF_CRLF, MAX_RESPONSE_HEAD_OCTETS, 'the response head');
    if (head === undefined) return false;
    const lines = head.split('\r\n');
    const status = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0] ?? '');
    if (!status) throw new Http1ProtocolError('not an HTTP/1.x status line');
    const code = Number(status[2]);
    // 1xx answers are interim: the final response follows.
    if (code < 200) return true;
    this.statusCode = code;
    const fields = headerFields(lines.slice(1));
    const connection = (fields.get('connection') ?? '').toLowerCase();
    this.keepAlive = status[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    this.framing = framingOf(code, fields);
    if (this.framing.kind === 'chunked') this.state = 'chunk-size';
    else this.state = this.framing.kind === 'length' && this.framing.left === 0 ? 'done' : 'body';
    return true;
  }

  private readBody(): boolean {
    if (this.framing.kind === 'length') {
      const take = Math.min(this.framing.left, this.pending.length);
      this.keep(this.pending.subarray(0, take));
      this.pending = this.pending.subarray(take);
      this.framing.left -= take;
      if (this.framing.left === 0) this.state = 'done';
      return this.state === 'done';
    }
    this.keep(this.pending);
    this.pending = Buffer.alloc(0);
    return false;
  }

  private readChunkSize(): boolean {
    const line = this.take(CRLF, MAX_CHUNK_LINE_OCTETS, 'a chunk-size line');
    if (line === undefined) return false;
    const size = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;.*)?$/.exec(line);
    if (!size) throw new Http1ProtocolError('a malformed chunk-size line');
    this.chunkLeft = parseInt(size[1]!, 16);
    this.state = this.chunkLeft === 0 ? 'trailers' : 'chunk-data';
    return true;
  }

  private readChunkData(): boolean {
    const take = Math.min(this.chunkLeft, this.pending.length);
    this.keep(this.pending.subarray(0, take));
    this.pending = this.pending.subarray(take);
    this.chunkLeft -= take;
    if (this.chunkLeft > 0) return false;
    this.state = 'chunk-end';
    return true;
  }

  private expectCrlf(next: State): boolean {
    if (this.pending.length < CRLF.length) return false;
    if (!this.pending.subarray(0, CRLF.length).equals(CRLF)) throw new Http1ProtocolError('a chunk does not end with CRLF');
    this.pending = this.pending.subarray(CRLF.length);
    this.state = next;
    return true;
  }

  private readTrailers(): boolean {
    // The trailer section ends with an empty line; an empty section is that line alone.
    if (this.pending.subarray(0, CRLF.length).equals(CRLF)) {
      this.pending = this.pending.subarray(CRLF.length);
      this.state = 'done';
      return true;
    }
    if (this.take(CRLF_CRLF, MAX_RESPONSE_HEAD_OCTETS, 'the trailer section') === undefined) return false;
    this.state = 'done';
    return true;
  }

  private keep(bytes: Buffer): void {
    const room = this.maxBodyOctets - this.keptOctets;
    if (bytes.length > room) this.truncated = true;
    if (room <= 0 || bytes.length === 0) return;
    const part = bytes.length > room ? bytes.subarray(0, room) : bytes;
    // A copy: the received chunk may be large, and only this piece is wanted.
    this.kept.push(Buffer.from(part));
    this.keptOctets += part.length;
  }
}

/** Header fields by lower-cased name; a repeated field's values joined with ", ". */
function headerFields(lines: readonly string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0 || /^[ \t]/.test(line)) throw new Http1ProtocolError('a malformed header field');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const known = fields.get(name);
    fields.set(name, known === undefined ? value : `${known}, ${value}`);
  }
  return fields;
}

/** RFC 9112 section 6.3: how the body of a response to a PUT is delimited. */
function framingOf(statusCode: number, fields: Map<string, string>): Framing {
  if (statusCode === 204 || statusCode === 304) return { kind: 'length', left: 0 };
  const coding = fields.get('transfer-encoding');
  if (coding !== undefined) {
    if (!/(?:^|,)\s*chunked\s*$/i.test(coding)) return { kind: 'close' };
    return { kind: 'chunked' };
  }
  const length = fields.get('content-length');
  if (length === undefined) return { kind: 'close' };
  // Repeated identical values ("10, 10") are allowed; differing ones are not.
  const values = new Set(length.split(',').map((v) => v.trim()));
  const only = values.size === 1 ? [...values][0]! : '';
  if (!/^\d{1,15}$/.test(only)) throw new Http1ProtocolError('an invalid Content-Length');
  return { kind: 'length', left: Number(only) };
}
