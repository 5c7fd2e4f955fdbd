/**
 * MessageParts and PartBufferPool on their own: how a message's chunks become parts in
 * reused buffers. The S3 sink's tests (s3-message-sink.test.ts) check the same against
 * s3rver, through the SDK.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_HEAD_OCTETS, MessageParts, type MessagePart } from '../../lambda/storage/message-parts';
import { PartBufferPool } from '../../lambda/storage/part-buffer-pool';

const KIB = 1024;
const PART_OCTETS = 4 * MAX_HEAD_OCTETS;

const sha256Base64 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('base64');

/** `message` cut into chunks of the given sizes, cycling through them. */
function chunksOf(message: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0, i = 0; offset < message.length; i++) {
    const end = Math.min(message.length, offset + sizes[i % sizes.length]!);
    chunks.push(message.subarray(offset, end));
    offset = end;
  }
  return chunks;
}

/**
 * What the multipart upload does with MessageParts: writes each chunk part by part, keeps
 * up to `inFlight` taken parts (copying their bytes, as S3 would have them, and checking
 * their checksum), and releases the oldest when one more is taken.
 */
function upload(parts: MessageParts, chunks: readonly Buffer[], inFlight: number): { stored: Buffer[]; taken: MessagePart[] } {
  const stored: Buffer[] = [];
  const taken: MessagePart[] = [];
  const pending: MessagePart[] = [];
  const send = (part: MessagePart): void => {
    if (pending.length === inFlight) parts.release(pending.shift()!);
    // Checked now: the bytes are overwritten once the part is released.
    if (part.sha256Base64 !== undefined) expect(part.sha256Base64).toBe(sha256Base64(part.bytes));
    stored.push(Buffer.from(part.bytes));
    taken.push(part);
    pending.push(part);
  };
  for (const chunk of chunks) {
    for (let offset = 0; offset < chunk.length; ) {
      offset += parts.write(chunk, offset);
      const full = parts.takeFull();
      if (full) send(full);
    }
  }
  const last = parts.takeLast();
  if (last) send(last);
  return { stored, taken };
}

describe('MessageParts', () => {
  it.each([
    ['chunks that straddle parts', [100_003, 77_777]],
    ['a chunk larger than two parts', [3 * PART_OCTETS + 5]],
    ['single octets around the head', [1, MAX_HEAD_OCTETS - 1, 1, 2]],
    ['chunks that end exactly on part boundaries', [PART_OCTETS / 4]],
  ])('cuts a message into parts byte-exact, in order, reusing queue + 1 buffers (%s)', (_label, sizes) => {
    const message = randomBytes(5 * PART_OCTETS + 12_345);
    const parts = new MessageParts({ partSizeOctets: PART_OCTETS, maxBuffers: 3, checksums: true });

    const { stored, taken } = upload(parts, chunksOf(message, sizes), 2);

    expect(Buffer.concat(stored).equals(message)).toBe(true);
    expect(taken.map((p) => p.partNumber)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(taken.every((p) => p.sha256Base64 !== undefined)).toBe(true);
    expect(stored.slice(0, -1).every((p) => p.length === PART_OCTETS)).toBe(true);
    expect(parts.octets).toBe(message.length);
    // Six parts through three buffers: each one filled again in place.
    expect(parts.buffersAllocated).toBe(3);
    expect(new Set(taken.map((p) => p.bytes.buffer)).size).toBe(3);
  });

  it('ends on a full part without an empty last part', () => {
    const message = randomBytes(2 * PART_OCTETS);
    const parts = new MessageParts({ partSizeOctets: PART_OCTETS, maxBuffers: 2, checksums: false });

    const { stored, taken } = upload(parts, chunksOf(message, [64 * KIB]), 1);

    expect(stored.map((p) => p.length)).toEqual([PART_OCTETS, PART_OCTETS]);
    expect(taken.every((p) => p.sha256Base64 === undefined)).toBe(true);
    expect(Buffer.concat(stored).equals(message)).toBe(true);
  });

  it('keeps a small message in the chunks it came in: no part buffer, no copy', () => {
    const message = randomBytes(MAX_HEAD_OCTETS - 1);
    const parts = new MessageParts({ partSizeOctets: PART_OCTETS, maxBuffers: 3, checksums: true });

    parts.write(message);

    const body = parts.contiguous();
    expect(body.equals(message)).toBe(true);
    expect(body.buffer).toBe(message.buffer); // the chunk's own memory
    expect(parts.buffersAllocated).toBe(0);
  });

  it('gives every byte held as one buffer, head or parts, for a single PUT', () => {
    const message = randomBytes(PART_OCTETS + 3 * MAX_HEAD_OCTETS);
    const small = Buffer.from('Subject: x\r\n\r\nbody\r\n');
    const parts = new MessageParts({ partSizeOctets: PART_OCTETS, maxBuffers: 3, checksums: true });
    const head = new MessageParts({ partSizeOctets: PART_OCTETS, maxBuffers: 3, checksums: true });

    for (const chunk of chunksOf(message, [333_333])) for (let o = 0; o < chunk.length; ) o += parts.write(chunk, o);
    for (const chunk of chunksOf(small, [5])) head.write(chunk);

    expect(parts.contiguous().equals(message)).toBe(true);
    expect(parts.buffersAllocated).toBe(2);
    const onePart = new MessageParts({ partSizeOctets: PART_OCTETS, maxBuffers: 1, checksums: false });
    onePart.write(message, 0, 2 * MAX_HEAD_OCTETS);
    const body = onePart.contiguous();
    expect(body.equals(message.subarray(0, 2 * MAX_HEAD_OCTETS))).toBe(true);
    expect(body.buffer.byteLength).toBe(PART_OCTETS); // the part itself, not a copy
    expect(head.contiguous().equals(small)).toBe(true);
    expect(new MessageParts({ partSizeOctets: PART_OCTETS, maxBuffers: 1, checksums: false }).contiguous()).toHaveLength(0);
  });
});

describe('PartBufferPool', () => {
  it('hands out at most `capacity` buffers, reusing those given back', () => {
    const pool = new PartBufferPool(KIB, 2);
    const a = pool.take();
    const b = pool.take();

    expect(() => pool.take()).toThrow('PartBufferPool: all 2 part buffers are in use');
    pool.give(a);
    expect(pool.take()).toBe(a);
    expect(b).toHaveLength(KIB);
    expect(pool.allocated).toBe(2);
  });
});
