import type { Socket } from 'node:net';
import { Pop3Error, Pop3ErrorCode } from './errors';
import { soon } from './soon';

/**
 * Pull-based view of a socket: `read()` hands out the next received chunk. The socket is
 * paused whenever unread data piles up past a small bound, so a slow consumer (an S3
 * upload) slows the server down through TCP flow control instead of growing memory.
 *
 * It also owns the idle timeout: the clock runs only while a read is waiting for bytes,
 * so time spent by a slow consumer never counts as server silence.
 */
export class ByteChannel {
  private socket: Socket | undefined;
  private readonly queue: Buffer[] = [];
  private queuedOctets = 0;
  private ended = false;
  private failure: Error | undefined;
  private signalFailure!: () => void;
  /** Resolves once the channel has failed: waiters on earlier replies need not wait any longer. */
  readonly whenFailed: Promise<void> = new Promise((resolve) => (this.signalFailure = resolve));
  private waiter: { resolve: (b: Buffer | null) => void; reject: (e: Error) => void } | undefined;
  /** A reader waiting through {@link whenReadable} (no promise). */
  private wake: (() => void) | undefined;
  /** performance.now() when the current wait began: the idle timer checks it when it fires. */
  private waitStartedAt = 0;
  private endListener: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onEnd = (): void => this.finishInput();
  private readonly onClose = (): void => this.finishInput();
  private readonly onError = (err: Error): void =>
    this.fail(new Pop3Error(Pop3ErrorCode.CONNECTION_CLOSED, `connection failed: ${err.message}`, { cause: err }));

  /**
   * @param idleTimeoutMs no byte for this long while a read waits fails the read (IDLE_TIMEOUT)
   * @param highWaterOctets unread octets above which the socket is paused
   */
  constructor(
    private idleTimeoutMs: number,
    private readonly highWaterOctets: number,
  ) {}

  /** Changes the idle timeout (the greeting has a longer allowance than later replies). */
  setIdleTimeout(ms: number): void {
    this.idleTimeoutMs = ms;
    this.clearIdleTimer();
    if (this.waiting) this.armIdleTimer();
  }

  /** Starts reading from `socket` (again, after a TLS upgrade). */
  attach(socket: Socket): void {
    this.socket = socket;
    this.ended = false;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    socket.resume();
  }

  /**
   * Stops reading from the current socket (before a TLS upgrade) and returns what was
   * received but not yet read: after STLS that must be nothing, or a man in the middle
   * may have injected plaintext (CVE-2011-0411 class).
   */
  detach(): Buffer[] {
    const socket = this.socket;
    if (socket) {
      socket.pause();
      socket.off('data', this.onData);
      socket.off('end', this.onEnd);
      socket.off('close', this.onClose);
      socket.off('error', this.onError);
    }
    this.socket = undefined;
    const left = this.queue.splice(0);
    this.queuedOctets = 0;
    return left;
  }

  /** The next chunk, or null when the peer closed the connection. */
  read(): Promise<Buffer | null> {
    const chunk = this.take();
    if (chunk) return Promise.resolve(chunk);
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    if (this.waiting) return Promise.reject(concurrentReads());
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.armIdleTimer();
    });
  }

  /**
   * Calls `wake` once bytes arrive, or the channel ends or fails, synchronously from the
   * socket's event: a reader that takes chunks with {@link readBuffered} waits for more
   * without a promise. For a channel that is failed or ended already, or holds bytes,
   * `wake` runs in a microtask. The idle timeout runs meanwhile, as for {@link read}.
   */
  whenReadable(wake: () => void): void {
    if (this.queue.length > 0 || this.failure || this.ended) return soon(wake);
    if (this.waiting) throw concurrentReads();
    this.wake = wake;
    this.armIdleTimer();
  }

  /** Withdraws a {@link whenReadable} wait that has not woken yet. */
  cancelWhenReadable(wake: () => void): void {
    if (this.wake === wake) this.wake = undefined;
  }

  /**
   * The next chunk already received, without waiting (undefined when none is buffered):
   * a reader drains what is there synchronously and awaits {@link read} only when it must.
   */
  readBuffered(): Buffer | undefined {
    return this.take();
  }

  /** Puts bytes back in front (the start of the next reply after a terminator). */
  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.queue.unshift(chunk);
    this.queuedOctets += chunk.length;
  }

  /** Fails the pending and every later read with `err` (abort, deadline, protocol error). */
  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.signalFailure();
    this.clearIdleTimer();
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
    this.wakeReader();
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** True once the peer closed its side: no byte will arrive beyond those already buffered. */
  get inputEnded(): boolean {
    return this.ended;
  }

  /** The received, unread chunks, in order, without consuming them (to look ahead). */
  buffered(): readonly Buffer[] {
    return this.queue;
  }

  /** Calls `listener` when the peer closes its side (FIN, or the socket closes). One listener. */
  onInputEnd(listener: () => void): void {
    this.endListener = listener;
  }

  private take(): Buffer | undefined {
    const chunk = this.queue.shift();
    if (!chunk) return undefined;
    this.queuedOctets -= chunk.length;
    if (this.queuedOctets < this.highWaterOctets && this.socket?.isPaused()) this.socket.resume();
    return chunk;
  }

  /** A read is waiting for bytes (by promise or by {@link whenReadable}). */
  private get waiting(): boolean {
    return this.waiter !== undefined || this.wake !== undefined;
  }

  private receive(chunk: Buffer): void {
    // The idle timer is left running: it checks, when it fires, whether a wait is that old.
    const w = this.waiter;
    if (w && this.queue.length === 0) {
      this.waiter = undefined;
      w.resolve(chunk);
      return;
    }
    this.queue.push(chunk);
    this.queuedOctets += chunk.length;
    if (this.queuedOctets >= this.highWaterOctets) this.socket?.pause();
    this.wakeReader();
  }

  private wakeReader(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private finishInput(): void {
    if (this.ended) return;
    this.ended = true;
    // No byte can come any more: a wait ends now, never in a timeout.
    this.clearIdleTimer();
    const w = this.waiter;
    if (w && this.queue.length === 0) {
      this.waiter = undefined;
      w.resolve(null);
    }
    this.wakeReader();
    this.endListener?.();
  }

  /**
   * Starts the idle clock of a wait. One timer serves every wait: it is not cleared when
   * bytes arrive (a busy stream waits thousands of times), only checked when it fires.
   */
  private armIdleTimer(): void {
    this.waitStartedAt = performance.now();
    this.idleTimer ??= setTimeout(this.onIdleTimer, this.idleTimeoutMs);
  }

  private readonly onIdleTimer = (): void => {
    this.idleTimer = undefined;
    if (!this.waiting) return;
    const left = this.waitStartedAt + this.idleTimeoutMs - performance.now();
    if (left > 0) {
      this.idleTimer = setTimeout(this.onIdleTimer, Math.ceil(left));
      return;
    }
    const err = new Pop3Error(Pop3ErrorCode.IDLE_TIMEOUT, `no data from the server for ${this.idleTimeoutMs} ms while a reply was pending`);
    this.fail(err);
    this.socket?.destroy();
  };

  private clearIdleTimer(): void {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
  }
}

function concurrentReads(): Pop3Error {
  return new Pop3Error(Pop3ErrorCode.USAGE, 'two concurrent reads on one POP3 connection');
}
