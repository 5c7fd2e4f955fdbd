/**
 * The message stream as every sink reads it: chunk by chunk, each hashed exactly once, and
 * remembering which side failed first: the source (the POP3 connection: SOURCE_FAILED) or
 * the sink's backend (a failure that made the sink stop the source, which then looks like
 * a source error but is not one).
 */
import type { Readable } from 'node:stream';
import { prematureClose } from '../errors';
import { sourceFailed, type StorageError } from './errors';
import { MessageDigest, type DigestResult } from './message-digest';
import type { StoredMessage } from './message-sink';

/**
 * A stream that can also hand its bytes to a consumer directly, past its buffer and events
 * (the POP3 engine's MessageStream does): see MessageStream#pullChunks.
 */
interface ChunkPuller {
  pullChunks(take: (chunk: Buffer) => boolean): Promise<boolean>;
}

function isChunkPuller(stream: Readable): stream is Readable & ChunkPuller {
  return typeof (stream as Partial<ChunkPuller>).pullChunks === 'function';
}

export class MessageSource {
  readonly digest = new MessageDigest();
  ended = false;
  sourceError: { readonly error: unknown } | undefined;
  backendError: { readonly error: unknown } | undefined;
  /** An 'error' the stream emitted without destroying itself (MessageStream always destroys). */
  private emittedError: { readonly error: unknown } | undefined;
  /** The wait of the reads that found nothing to read, over at the stream's next event. */
  private waiting: { readonly promise: Promise<void>; readonly resolve: () => void } | undefined;
  /** Listening to the stream's events: it is read the stream way (see listen). */
  private listening = false;
  private readonly onEvent = (): void => {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve();
  };

  /**
   * Reads the stream with read() and its events directly: an async iterator would add a
   * promise and a generator step per chunk, for every small message.
   */
  constructor(private readonly stream: Readable) {
    // At once: an 'error' nobody listens to would be thrown.
    stream.on('error', (error: unknown) => {
      this.emittedError ??= { error };
      this.onEvent();
    });
  }

  /** Before the first read the stream way: a 'readable' listener sets the stream reading. */
  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    for (const event of ['readable', 'end', 'close']) this.stream.on(event, this.onEvent);
  }

  /** The next chunk, or undefined at the end of the message. Rejects when the source fails. */
  async next(): Promise<Buffer | undefined> {
    let value: unknown;
    try {
      value = await this.read();
    } catch (err) {
      if (this.backendError === undefined) this.sourceError ??= { error: err };
      throw err;
    }
    if (value === null) {
      this.ended = true;
      return undefined;
    }
    const chunk = toBuffer(value);
    this.digest.update(chunk);
    return chunk;
  }

  /**
   * Hands each chunk, hashed, to `take` as it arrives, until `take` returns false or the
   * message ends. From the POP3 engine's stream, with one promise for the whole read instead
   * of several per chunk (a small message's head is read this way). Rejects as {@link next} does.
   */
  pull(take: (chunk: Buffer) => boolean): Promise<void> {
    const stream = this.stream;
    if (isChunkPuller(stream) && !this.listening && !this.ended && stream.readableLength === 0 && stream.readableFlowing !== true) return this.pullDirect(stream, take);
    return this.pullEach(take);
  }

  /** {@link pull} from any other stream: chunk by chunk through {@link next}. */
  private async pullEach(take: (chunk: Buffer) => boolean): Promise<void> {
    for (let chunk = await this.next(); chunk !== undefined; chunk = await this.next()) {
      if (!take(chunk)) return;
    }
  }

  /** {@link pull} from a stream that hands its chunks over itself. */
  private async pullDirect(stream: ChunkPuller, take: (chunk: Buffer) => boolean): Promise<void> {
    let takeFailed: { readonly error: unknown } | undefined;
    try {
      this.ended = await stream.pullChunks((chunk) => {
        try {
          this.digest.update(chunk);
          return take(chunk);
        } catch (error) {
          takeFailed = { error };
          throw error;
        }
      });
    } catch (err) {
      if (takeFailed?.error !== err && this.backendError === undefined) this.sourceError ??= { error: err };
      throw err;
    }
  }

  /** A chunk, null at the end; the stream's error, or a premature close, rejects. */
  private async read(): Promise<unknown> {
    this.listen();
    for (;;) {
      const value = this.readNow();
      if (value !== undefined) return value;
      await this.nextEvent();
    }
  }

  /** A chunk, null at the end, or undefined when the next event must be waited for; throws the stream's error. */
  private readNow(): unknown {
    const value: unknown = this.stream.destroyed ? null : this.stream.read();
    if (value !== null) return value;
    if (this.stream.readableEnded) return null;
    if (this.stream.errored) throw this.stream.errored;
    if (this.emittedError) throw this.emittedError.error;
    if (this.stream.destroyed) throw prematureClose();
    return undefined;
  }

  private nextEvent(): Promise<void> {
    if (this.waiting === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.waiting = { promise, resolve };
    }
    return this.waiting.promise;
  }

  /** Reads until more than `limitOctets - 1` bytes arrived or the stream ended. */
  async readUpTo(limitOctets: number): Promise<Buffer[]> {
    const chunks: Buffer[] = [];
    let octets = 0;
    while (octets < limitOctets) {
      const chunk = await this.next();
      if (chunk === undefined) break;
      chunks.push(chunk);
      octets += chunk.length;
    }
    return chunks;
  }

  /** The prefix (released chunk by chunk as it is consumed), then the rest of the source. */
  async *drain(prefix: Buffer[]): AsyncGenerator<Buffer> {
    for (let chunk = prefix.shift(); chunk !== undefined; chunk = prefix.shift()) yield chunk;
    for (let chunk = await this.next(); chunk !== undefined; chunk = await this.next()) yield chunk;
  }

  /** The backend failed first: stop the source, and do not blame it for the error that follows. */
  noteBackendFailure(error: unknown): void {
    if (this.sourceError === undefined) this.backendError ??= { error };
    this.destroy();
  }

  /** Stops the producer: a pending read rejects, the POP3 side sees its consumer gone. */
  destroy(): void {
    if (!this.ended) this.stream.destroy();
  }

  /**
   * SOURCE_FAILED when the source failed first (with the header fingerprint when the header
   * block had arrived whole), else undefined: then the backend's error is the one to report.
   */
  sourceFailure(): StorageError | undefined {
    if (this.sourceError === undefined) return undefined;
    const failed = sourceFailed(this.sourceError.error);
    const fingerprint = this.digest.headerFingerprintSoFar();
    if (fingerprint !== undefined) failed.headerFingerprint = fingerprint;
    return failed;
  }
}


function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  // A string chunk would need an encoding to become the message's bytes: refuse to guess.
  throw new TypeError(`message stream yielded ${typeof value}, expected bytes`);
}

/** What store() returns for the bytes the digest saw, stored under `key`. */
export function storedMessage(key: string, result: DigestResult): StoredMessage {
  return {
    key,
    size: result.size,
    sha256: result.sha256,
    headerFingerprint: result.headerFingerprint,
    ...(result.bodySha256 ? { bodySha256: result.bodySha256 } : {}),
    headerBlock: result.headerBlock,
  };
}
