/**
 * The part buffers of one multipart upload, reused: each part is copied in place from the
 * incoming chunks into a free buffer, which comes back once its UploadPart resolved. An
 * upload of any length allocates at most `capacity` buffers, instead of one fresh buffer
 * per part whose predecessors wait for the garbage collector (what made the sink's peak
 * RSS about twice its live data).
 */
export class PartBufferPool {
  private readonly free: Buffer[] = [];
  private allocatedCount = 0;

  /**
   * @param partSizeOctets size of every buffer
   * @param capacity buffers that may exist at once: the parts in flight plus the one being filled
   */
  constructor(
    readonly partSizeOctets: number,
    readonly capacity: number,
  ) {}

  /** Buffers allocated so far; never more than `capacity`. */
  get allocated(): number {
    return this.allocatedCount;
  }

  /**
   * A free buffer (with stale bytes: the caller overwrites what it sends). Throws when all
   * `capacity` buffers are taken: the caller bounds its parts in flight, so that is a bug.
   */
  take(): Buffer {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.allocatedCount >= this.capacity) {
      throw new Error(`PartBufferPool: all ${this.capacity} part buffers are in use`);
    }
    this.allocatedCount++;
    // Unsafe (not zero-filled) is fine: only the bytes copied in are ever sent.
    return Buffer.allocUnsafe(this.partSizeOctets);
  }

  /** Returns a buffer taken from this pool; its bytes may be overwritten from now on. */
  give(buffer: Buffer): void {
    this.free.push(buffer);
  }
}
