import { Readable } from 'node:stream';
import type { ByteChannel } from './byte-channel';
import { MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS } from './constants';
import { DotDecoder } from './dot-decoder';
import { Pop3Error, Pop3ErrorCode } from './errors';

/**
 * The body of a RETR or TOP reply as a byte stream: exactly the message bytes, unstuffed,
 * without the terminator. Data is pulled from the socket only as fast as the consumer
 * reads, so memory stays flat whatever the message size.
 *
 * The stream ends only after the terminator was seen; a connection that drops, stalls or
 * is aborted mid-message makes it error instead. If the consumer destroys the stream
 * early, or the message exceeds `maxOctets`, the rest of the message is read and discarded
 * so the session stays usable for the next command.
 */
export class MessageStream extends Readable {
  /** Message octets delivered so far (after unstuffing). */
  octets = 0;
  private readonly decoder = new DotDecoder();
  /** The read loop in progress, if any: reads on the channel must never overlap. */
  private pulling: Promise<void> | undefined;
  /** The consumer asked for data (via _read) that has not been pushed yet. */
  private wanted = false;
  private settled = false;

  /**
   * @param channel the session's byte channel, positioned after the +OK line
   * @param maxOctets the message may not be larger than this (MESSAGE_TOO_LARGE)
   * @param onSettled called once when the reply is fully consumed (or the channel is dead),
   *   so the session can read the next reply
   */
  constructor(
    private readonly channel: ByteChannel,
    private readonly maxOctets: number,
    private readonly onSettled: () => void,
  ) {
    super({ highWaterMark: MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS });
  }

  override _read(): void {
    // Record the demand before anything else: a _read() that arrives while a pull is
    // finishing must not be lost, or the stream would wait forever for a push that never
    // comes (Node calls _read() again only after a push).
    this.wanted = true;
    if (!this.pulling) this.startPulling();
  }

  private startPulling(): void {
    this.pulling = this.pull().then(
      () => {
        this.pulling = undefined;
        if (this.wanted && !this.destroyed && !this.decoder.done) this.startPulling();
      },
      (err: unknown) => {
        this.pulling = undefined;
        this.destroy(err as Error);
      },
    );
  }

  /** Reads and pushes chunks while the consumer wants more. */
  private async pull(): Promise<void> {
    while (this.wanted) {
      this.wanted = false;
      const chunk = await this.channel.read();
      if (chunk === null) {
        throw new Pop3Error(Pop3ErrorCode.CONNECTION_CLOSED, `the server closed the connection after ${this.octets} octets of a message`);
      }
      const { output, done, rest } = this.decoder.decode(chunk);
      // Hand back the next reply's bytes first, whatever happens to this message.
      if (rest) this.channel.unshift(rest);
      let wantMore = true;
      for (const part of output) {
        this.octets += part.length;
        if (this.octets > this.maxOctets) {
          throw new Pop3Error(Pop3ErrorCode.MESSAGE_TOO_LARGE, `message exceeds the limit of ${this.maxOctets} octets`);
        }
        wantMore = this.push(part);
      }
      if (done) {
        this.settle();
        this.push(null);
        return;
      }
      if (this.destroyed) return;
      // push() returning true means the consumer wants more; a false one leaves it to the
      // consumer's next _read() (which may already have set `wanted` meanwhile).
      if (wantMore) this.wanted = true;
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    callback(err);
    if (this.settled) return;
    if (this.decoder.done || this.channel.failed) {
      this.settle();
      return;
    }
    // Wait for a read in flight to finish before draining, so reads never overlap.
    void (this.pulling ?? Promise.resolve()).then(() => this.drain());
  }

  /** Reads and discards the rest of the message so the next reply can be read. */
  private async drain(): Promise<void> {
    try {
      while (!this.decoder.done) {
        const chunk = await this.channel.read();
        if (chunk === null) break;
        const { done, rest } = this.decoder.decode(chunk);
        if (done && rest) this.channel.unshift(rest);
      }
    } catch {
      // The channel failed: every later read fails with the same error, nothing to do here.
    } finally {
      this.settle();
    }
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.onSettled();
  }
}
