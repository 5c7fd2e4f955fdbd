/**
 * A message's bytes as they arrive, cut into multipart-upload parts in reused buffers
 * (PartBufferPool). The first bytes stay the chunks they arrived in (the head), so a small
 * message never takes a part buffer; after that every chunk is copied once, in place, into
 * the part being filled (a chunk may straddle parts). Full parts wait in order until the
 * caller takes them, and their buffers come back with release().
 */
import { createHash, type Hash } from 'node:crypto';
import { PartBufferPool } from './part-buffer-pool';

/**
 * The head holds at most this much (or a part, if less). Most mail is smaller and never
 * takes a part buffer (8 MiB of external memory per message would make the GC run every
 * few messages); a larger message copies its head into part 1, which leaves at most this
 * much garbage, where a whole part's worth of chunks would raise the peak by a part.
 */
export const MAX_HEAD_OCTETS = 1024 * 1024;

export interface MessagePart {
  /** 1-based, in message order. */
  readonly partNumber: number;
  /** The part's bytes: a view of `buffer`, valid until release(). */
  readonly bytes: Buffer;
  /** The pool buffer holding them. */
  readonly buffer: Buffer;
  /** SHA-256 (base64) of `bytes`, when checksums were asked for. */
  readonly sha256Base64: string | undefined;
}

interface FillingPart {
  readonly partNumber: number;
  readonly buffer: Buffer;
  filled: number;
  /** SHA-256 of the bytes copied in so far (hashed while they are in the cache). */
  readonly hash: Hash | undefined;
}

export interface MessagePartsOptions {
  readonly partSizeOctets: number;
  /** Part buffers that may exist at once (see PartBufferPool). */
  readonly maxBuffers: number;
  /** Compute each part's SHA-256. */
  readonly checksums: boolean;
}

export class MessageParts {
  private readonly pool: PartBufferPool;
  /** The first bytes while they are fewer than MAX_HEAD_OCTETS; undefined once they went into part 1. */
  private head: Buffer[] | undefined = [];
  private filling: FillingPart | undefined;
  private readonly full: FillingPart[] = [];
  private nextPartNumber = 1;
  /** Octets written so far. */
  octets = 0;

  constructor(private readonly options: MessagePartsOptions) {
    this.pool = new PartBufferPool(options.partSizeOctets, options.maxBuffers);
  }

  /** Part buffers allocated so far (reused ones count once). */
  get buffersAllocated(): number {
    return this.pool.allocated;
  }

  /**
   * Writes `chunk[start..end)` up to the end of the part being filled, and returns how many
   * octets it took: the caller takes each part that fills before writing more, so the
   * buffers in use stay bounded however large a chunk is.
   */
  write(chunk: Buffer, start = 0, end = chunk.length): number {
    if (this.head !== undefined) {
      if (this.octets + (end - start) < Math.min(MAX_HEAD_OCTETS, this.options.partSizeOctets)) {
        this.head.push(chunk.subarray(start, end));
        this.octets += end - start;
        return end - start;
      }
      this.packHead();
    }
    const part = (this.filling ??= this.startPart());
    const copied = copyInto(part, chunk, start, end);
    this.octets += copied;
    if (part.filled === part.buffer.length) {
      this.full.push(part);
      this.filling = undefined;
    }
    return copied;
  }

  /** The oldest full part not taken yet. */
  takeFull(): MessagePart | undefined {
    const part = this.full.shift();
    return part === undefined ? undefined : finish(part);
  }

  /**
   * Once the message ended and every full part was taken: the last, partial part (from the
   * head if the message is shorter than a part), or undefined when there are no bytes left.
   */
  takeLast(): MessagePart | undefined {
    if (this.head !== undefined && this.octets > 0) this.packHead();
    const part = this.filling;
    this.filling = undefined;
    return part === undefined || part.filled === 0 ? undefined : finish(part);
  }

  /** Every byte written, as one buffer (for a single PUT): a copy unless they are in one chunk or one part. */
  contiguous(): Buffer {
    const pieces = this.head ?? [...this.full, ...(this.filling ? [this.filling] : [])].map((p) => p.buffer.subarray(0, p.filled));
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.octets);
  }

  /** Gives a taken part's buffer back for the next part: call once its upload is over. */
  release(part: MessagePart): void {
    this.pool.give(part.buffer);
  }

  private startPart(): FillingPart {
    const hash = this.options.checksums ? createHash('sha256') : undefined;
    return { partNumber: this.nextPartNumber++, buffer: this.pool.take(), filled: 0, hash };
  }

  /** The head's chunks become the start of part 1 (their octets are counted already). */
  private packHead(): void {
    const part = (this.filling = this.startPart());
    for (const piece of this.head ?? []) copyInto(part, piece, 0, piece.length);
    this.head = undefined;
  }
}

/** Copies `chunk[start..end)` into `part` as far as it has room; returns the octets copied. */
function copyInto(part: FillingPart, chunk: Buffer, start: number, end: number): number {
  const copied = chunk.copy(part.buffer, part.filled, start, end);
  part.hash?.update(chunk.subarray(start, start + copied));
  part.filled += copied;
  return copied;
}

function finish(part: FillingPart): MessagePart {
  return {
    partNumber: part.partNumber,
    bytes: part.buffer.subarray(0, part.filled),
    buffer: part.buffer,
    sha256Base64: part.hash?.digest('base64'),
  };
}
