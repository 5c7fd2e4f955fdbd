import { Readable } from 'node:stream';
import { prematureClose } from '../errors';
import type { ByteChannel } from './byte-channel';
import { MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS } from './constants';
import { DotDecoder } from './dot-decoder';
import { Pop3Error, Pop3ErrorCode } from './errors';
import { checkCompleteness, endNeedsBoundaryProof, type MessageEnd } from './message-completeness';
import { confirmReplyBoundary, type BoundaryProbe } from './reply-boundary';

export interface MessageStreamOptions {
  /** The command, as shown in errors (`RETR 3`). */
  readonly command: string;
  /** The message may not be larger than this (MESSAGE_TOO_LARGE). */
  readonly maxOctets: number;
  /** The size LIST announced, checked once the message ended (MESSAGE_INCOMPLETE). */
  readonly expectedOctets?: number | undefined;
  /** Discarding an unwanted rest reads at most this much, then the session ends instead. */
  readonly maxDrainOctets: number;
  /** ...and takes at most this long. */
  readonly drainTimeoutMs: number;
  /** Called once when the reply is fully consumed (or the channel is dead): the next reply may be read. */
  readonly onSettled: () => void;
  /** Ends the session: fails the channel with `err` (later commands see it) and closes the socket. */
  readonly failSession: (err: Pop3Error) => void;
  /** Proves an ambiguous end that reached its LIST size (see reply-boundary.ts). */
  readonly boundary: BoundaryProbe;
}

/**
 * The body of a RETR or TOP reply as a byte stream: exactly the message bytes, unstuffed,
 * without the terminator. Data is pulled from the socket only as fast as the consumer
 * reads, so memory stays flat whatever the message size.
 *
 * The stream ends only after the terminator was seen and the message is whole (see
 * message-completeness.ts; an ambiguous end must first be proven to be followed by a
 * reply, see reply-boundary.ts, which may send a NOOP); a connection that drops, stalls or
 * is aborted mid-message, or a message that is incomplete, makes it error instead, before
 * any 'end'. If the consumer destroys the stream early, or the message exceeds
 * `maxOctets`, the rest of the message is read and discarded, within bounds, so the
 * session stays usable for the next command.
 */
export class MessageStream extends Readable {
  /** Message octets delivered so far (after unstuffing). */
  octets = 0;
  /** The command whose reply this is (`RETR 3`). */
  readonly command: string;
  private readonly decoder = new DotDecoder();
  /** The check of an ambiguous end in progress, if any (it reads on the channel): reads must never overlap. */
  private pulling: Promise<void> | undefined;
  /** Inside {@link pump}: a _read() from a consumer called by push() only records the demand. */
  private pumping = false;
  /** Waiting for the channel to receive bytes (see ByteChannel#whenReadable). */
  private waitingForBytes = false;
  private readonly onReadable = (): void => {
    this.waitingForBytes = false;
    if (!this.destroyed) this.pump();
  };
  /** The consumer asked for data (via _read) that has not been pushed yet. */
  private wanted = false;
  private settled = false;
  /** Set when the message went over maxOctets: later failures of the session say so. */
  private tooLarge: Pop3Error | undefined;
  /** The consumer that takes the bytes directly (see pullChunks), while it does. */
  private taker: Taker | undefined;

  /** @param channel the session's byte channel, positioned after the +OK line */
  constructor(
    private readonly channel: ByteChannel,
    private readonly options: MessageStreamOptions,
  ) {
    super({ highWaterMark: MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS });
    this.command = options.command;
  }

  /**
   * Once the server closed its side: whether any byte follows this reply in what is still
   * buffered (a reply to a later command). Looks ahead on a copy of the decoder, consuming nothing.
   */
  bytesFollowReply(): boolean {
    const probe = this.decoder.clone();
    if (probe.done) return true;
    const chunks = this.channel.buffered();
    for (let i = 0; i < chunks.length; i++) {
      const { done, rest } = probe.decode(chunks[i]!);
      if (done) return (rest?.length ?? 0) > 0 || chunks.slice(i + 1).some((c) => c.length > 0);
    }
    return false;
  }

  /**
   * Hands the message's bytes to `take` as they are decoded, past the stream's buffer and
   * events (a consumer of a small message then spends one promise on it, not several per
   * chunk), until `take` returns false (resolves false) or the message ended whole (resolves
   * true). Rejects with the stream's error, as a read would, or with a premature close when
   * the stream is destroyed meanwhile. After a resolve, reading on the stream way continues
   * where `take` stopped (the rest of that chunk's pieces wait in the stream's buffer, so a
   * second pullChunks is refused then). `take` throwing rejects with its error; the piece it
   * threw on is gone, so the caller must then destroy the stream. Only for a stream nobody
   * has read the stream way (nothing buffered or asked for, not flowing).
   */
  pullChunks(take: (chunk: Buffer) => boolean): Promise<boolean> {
    if (this.destroyed) return Promise.reject(this.errored ?? prematureClose());
    const reading = this.wanted || this.waitingForBytes || this.pulling !== undefined || this.readableLength > 0 || this.readableFlowing === true;
    if (this.taker || reading || this.decoder.done) {
      return Promise.reject(new Error(`${this.command}: pullChunks on a stream that is read already`));
    }
    return new Promise<boolean>((resolve, reject) => {
      this.taker = { take, resolve, reject };
      this.wanted = true;
      if (!this.pulling && !this.pumping && !this.waitingForBytes) this.pump();
    });
  }

  override _read(): void {
    // Record the demand before anything else: a _read() that arrives while a wait is
    // finishing must not be lost, or the stream would wait forever for a push that never
    // comes (Node calls _read() again only after a push).
    this.wanted = true;
    if (!this.pulling && !this.pumping && !this.waitingForBytes) this.pump();
  }

  /**
   * Decodes and pushes while the consumer wants more. Chunks already received are taken
   * synchronously, and when none is, the channel calls back once one arrives: no promise
   * per chunk.
   */
  private pump(): void {
    this.pumping = true;
    try {
      while (this.wanted && !this.destroyed && !this.decoder.done) {
        const chunk = this.channel.readBuffered();
        if (chunk === undefined) return this.waitForBytes();
        this.wanted = false;
        const wait = this.consume(chunk);
        if (wait) return this.waitFor(wait);
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  /** Nothing is buffered: waits for bytes, or fails when none can come. */
  private waitForBytes(): void {
    if (this.channel.failed) throw this.channel.failed;
    if (this.channel.inputEnded) {
      throw new Pop3Error(Pop3ErrorCode.CONNECTION_CLOSED, `${this.command}: the server closed the connection after ${this.octets} octets of the message`, {
        command: this.command,
      });
    }
    this.waitingForBytes = true;
    this.channel.whenReadable(this.onReadable);
  }

  /** Pumps on once `wait` is over (or fails the stream with its error). */
  private waitFor(wait: Promise<void>): void {
    this.pulling = wait.then(
      () => {
        this.pulling = undefined;
        if (this.wanted && !this.destroyed && !this.decoder.done) this.pump();
      },
      (err: unknown) => {
        this.pulling = undefined;
        this.destroy(err as Error);
      },
    );
  }

  /**
   * Decodes one chunk and hands its message bytes on (see deliver): the pieces between
   * stuffed dots as they are, subarrays of the chunk, never copied.
   * @returns a promise when the end needs an asynchronous check (see finish)
   */
  private consume(chunk: Buffer): Promise<void> | undefined {
    const { output, done, rest } = this.decoder.decode(chunk);
    // Hand back the next reply's bytes first, whatever happens to this message.
    if (rest) this.channel.unshift(rest);
    let wantMore = true;
    for (const part of output) {
      this.octets += part.length;
      if (this.octets > this.options.maxOctets) {
        this.tooLarge = new Pop3Error(Pop3ErrorCode.MESSAGE_TOO_LARGE, `${this.command}: the message exceeds the limit of ${this.options.maxOctets} octets`, {
          command: this.command,
        });
        throw this.tooLarge;
      }
      wantMore = this.deliver(part);
    }
    if (done) return this.finish();
    // push() returning true means the consumer wants more; a false one leaves it to the
    // consumer's next _read() (which may already have set `wanted` meanwhile).
    if (wantMore && !this.destroyed) this.wanted = true;
    return undefined;
  }

  /**
   * The terminator arrived: end the stream, or fail it (before any 'end') when the message
   * is not whole. Synchronous unless an ambiguous end must be proven first (a promise then).
   */
  private finish(): Promise<void> | undefined {
    const end: MessageEnd = {
      command: this.command,
      received: this.octets,
      expected: this.options.expectedOctets,
      ambiguous: this.decoder.terminatorAmbiguous,
      bareLfDots: this.decoder.dotsDroppedAfterBareLf,
      lfEndAfterBareLf: this.decoder.lfTerminatorAfterBareLf,
    };
    const incomplete = checkCompleteness(end);
    if (incomplete) {
      if (incomplete.fatal) this.options.failSession(incomplete.error);
      else this.settle();
      throw incomplete.error;
    }
    if (endNeedsBoundaryProof(end)) return this.confirmBoundary(end).then(() => this.end());
    this.end();
    return undefined;
  }

  private end(): void {
    this.settle();
    this.push(null);
    const taker = this.taker;
    this.taker = undefined;
    taker?.resolve(true);
  }

  /** To the taker when there is one (false once it has enough), else into the stream's buffer. */
  private deliver(chunk: Buffer): boolean {
    const taker = this.taker;
    if (taker === undefined) return this.push(chunk);
    let more: boolean;
    try {
      more = taker.take(chunk);
    } catch (err) {
      this.taker = undefined;
      taker.reject(err as Error);
      return false;
    }
    if (!more) {
      this.taker = undefined;
      taker.resolve(false);
    }
    return more;
  }

  /**
   * Holds the reply slot (no other reply is read meanwhile) until what follows the ambiguous
   * end is known to be a reply. Any failure ends the session: the stream may be out of sync.
   */
  private async confirmBoundary(end: MessageEnd): Promise<void> {
    try {
      await confirmReplyBoundary(this.channel, this.options.boundary, end);
    } catch (err) {
      // A channel failure (idle timeout, abort) has failed the session already; this adds nothing then.
      if (err instanceof Pop3Error) this.options.failSession(err);
      throw err;
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    callback(err);
    const taker = this.taker;
    this.taker = undefined;
    taker?.reject(err ?? prematureClose());
    if (this.settled) return;
    if ((this.decoder.done && !this.pulling) || this.channel.failed) {
      this.settle();
      return;
    }
    if (this.waitingForBytes) {
      this.channel.cancelWhenReadable(this.onReadable);
      this.waitingForBytes = false;
    }
    // Wait for a read in flight (or the check of an ambiguous end, which reads on) to finish
    // first, so reads never overlap and no later reply is read before the check's NOOP reply.
    void (this.pulling ?? Promise.resolve()).then(() => (this.decoder.done ? this.settle() : this.drain()));
  }

  /** Reads and discards the rest of the message so the next reply can be read, within bounds. */
  private async drain(): Promise<void> {
    const { maxDrainOctets, drainTimeoutMs } = this.options;
    const timer = setTimeout(() => this.giveUp(`not over within ${drainTimeoutMs} ms`), drainTimeoutMs);
    let drained = 0;
    try {
      while (!this.decoder.done) {
        const chunk = await this.channel.read();
        if (chunk === null) {
          // Later commands fail anyway; they should say why the message was not taken.
          if (this.tooLarge) this.options.failSession(this.tooLarge);
          break;
        }
        drained += chunk.length;
        const { done, rest } = this.decoder.decode(chunk);
        if (done && rest) this.channel.unshift(rest);
        if (!done && drained > maxDrainOctets) this.giveUp(`more than ${maxDrainOctets} octets`);
      }
    } catch {
      // The channel failed: every later read fails with the same error, nothing to do here.
    } finally {
      clearTimeout(timer);
      this.settle();
    }
  }

  /** The rest is too long to discard: end the session, naming the real reason. */
  private giveUp(why: string): void {
    const command = this.command;
    const err = this.tooLarge
      ? new Pop3Error(Pop3ErrorCode.MESSAGE_TOO_LARGE, `${command}: the message exceeds the limit of ${this.options.maxOctets} octets, and its rest (${why}) was not read: the connection is closed`, {
          command,
          cause: this.tooLarge,
        })
      : new Pop3Error(Pop3ErrorCode.CONNECTION_CLOSED, `${command}: the rest of a message the consumer gave up on (${why}) was not read: the connection is closed`, { command });
    this.options.failSession(err);
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.options.onSettled();
  }
}

interface Taker {
  readonly take: (chunk: Buffer) => boolean;
  readonly resolve: (ended: boolean) => void;
  readonly reject: (err: Error) => void;
}
