/**
 * What every MessageSink promises (lambda/storage/message-sink.ts), run against each
 * adapter: the deterministic key, byte-exact storage with the digest the state record is
 * built from, overwrite on re-store, streaming with bounded read-ahead, and atomicity: a
 * source that fails (midway, or after its last byte, as the POP3 reader does when the
 * octet count disagrees) leaves nothing new under the key, and concurrent stores of one
 * key end with one complete object. A seeded random sequence checks every store against
 * a model. Adapter-specific behaviour is tested next to each adapter (test/storage).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StorageError } from '../../lambda/storage/errors';
import { captureHeaderBlock, headerFingerprint } from '../../lambda/storage/header-block';
import type { MessageSink, StoreMessageInput } from '../../lambda/storage/message-sink';
import { objectKeyFor } from '../../lambda/storage/object-key';
import { Prng } from '../fault/prng';

export interface SinkUnderTest {
  readonly sink: MessageSink;
  /** The prefix the sink was created with. */
  readonly prefix: string;
  /** The bytes stored under `key`, or undefined when there is no object. */
  read(key: string): Promise<Buffer | undefined>;
  /** Every key under `prefix`. */
  keys(prefix: string): Promise<string[]>;
  /** What an interrupted store could leave behind besides objects (pending multipart uploads, temporary files). */
  leftovers(): Promise<string[]>;
  /** Octets of the message being stored under `key` that have left this process so far. */
  persistedOctets(key: string): Promise<number>;
  /** The most a store may hold ahead of persistedOctets (what "memory does not grow with message size" means here). */
  readonly readAheadBoundOctets: number;
  /**
   * Whether the backend replaces an object atomically when writes of one key overlap. S3
   * does (the last complete PUT wins); s3rver writes into the final file as bytes arrive,
   * so overlapping PUTs can interleave there. The engine never overlaps them (one run per
   * mailbox holds the lease); the test still checks what every backend must give. @default true
   */
  readonly atomicOverlappingWrites?: boolean;
  /**
   * Whether the head of an empty object can be read. S3 answers a range of an empty object
   * with 416 InvalidRange (the sink reads that as an empty header block); s3rver drops the
   * connection instead. @default true
   */
  readonly readsEmptyObjectHead?: boolean;
}

export interface SinkFixture {
  /** A sink with a prefix of its own, so tests do not see each other's objects. */
  create(): Promise<SinkUnderTest>;
}

const MAILBOX = 'acme';
const MIB = 1024 * 1024;
const LARGE_MESSAGE_OCTETS = 32 * MIB;
const CHUNK_OCTETS = 64 * 1024;
const FIRST_SEEN = '2024-05-01T10:00:00.000Z';
const CONCURRENT_WRITERS = 4;
const MODEL_SEEDS = [7, 8];
const MODEL_STEPS = 16;
const HEADERS = 'From: Alice <alice@example.org>\r\nSubject: =?UTF-8?B?w5xiZXJncsO2w59l?=\r\nMessage-ID: <m1@example.org>\r\n\r\n';

function input(identity: string, body: Readable): StoreMessageInput {
  return { mailboxId: MAILBOX, identity, uid: identity, body, sizeHint: 0, firstSeenAt: FIRST_SEEN };
}

/** Every byte value, CRLF, bare CR/LF, a NUL and a lone dot line: what mail bodies hold. */
function awkwardMessage(tag = ''): Buffer {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  return Buffer.concat([Buffer.from(`${HEADERS}${tag}line one\r\n.\r\nbare LF\nbare CR\r\0`, 'latin1'), all, Buffer.from(all).reverse(), Buffer.from('\r\n')]);
}

/** `bytes` in chunks of `chunkOctets`, optionally failing (instead of ending) after `failAfterOctets`. */
function chunkedSource(bytes: Buffer, options: { chunkOctets?: number; failAfterOctets?: number } = {}): Readable {
  const chunkOctets = options.chunkOctets ?? 1_000;
  let offset = 0;
  return new Readable({
    // Produce only when the consumer asks: the failure then comes after every byte before it was
    // consumed (a destroy would discard chunks still buffered in the stream).
    highWaterMark: 0,
    read() {
      if (options.failAfterOctets !== undefined && offset >= options.failAfterOctets) {
        this.destroy(Object.assign(new Error('message incomplete: 812 of 1,024 octets announced by LIST'), { code: 'MESSAGE_INCOMPLETE' }));
        return;
      }
      if (offset >= bytes.length) {
        this.push(null);
        return;
      }
      const end = Math.min(bytes.length, offset + chunkOctets, options.failAfterOctets ?? Infinity);
      const chunk = bytes.subarray(offset, end);
      offset = end;
      // Asynchronously, as a socket delivers: concurrent stores interleave.
      setImmediate(() => this.push(chunk));
    },
  });
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function storeError(promise: Promise<unknown>): Promise<StorageError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  return err as StorageError;
}

export function messageSinkContract(name: string, fixture: () => SinkFixture): void {
  describe(`MessageSink contract: ${name}`, () => {
    const fresh = (): Promise<SinkUnderTest> => fixture().create();

    it('derives the key from prefix, mailbox and identity only, as objectKeyFor does; refuses a bad mailbox id', async () => {
      const { sink, prefix } = await fresh();
      expect(sink.objectKey(MAILBOX, 'uid+1/x')).toBe(`${prefix}${MAILBOX}/uid~2B1~2Fx.eml`);
      expect(sink.objectKey(MAILBOX, 'uid+1/x')).toBe(objectKeyFor(prefix, MAILBOX, 'uid+1/x'));
      expect(() => sink.objectKey('../etc', 'x')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    });

    it('stores a message byte-exact and reports its size, SHA-256, header fingerprint and body hash', async () => {
      const t = await fresh();
      const body = awkwardMessage();
      const stored = await t.sink.store(input('uid+1/x', chunkedSource(body, { chunkOctets: 100 })));
      const bodyStart = body.indexOf('\r\n\r\n') + 4;
      expect(stored).toEqual({
        key: t.sink.objectKey(MAILBOX, 'uid+1/x'),
        size: body.length,
        sha256: sha256(body),
        headerFingerprint: headerFingerprint(captureHeaderBlock(body)),
        bodySha256: sha256(body.subarray(bodyStart)),
        headerBlock: captureHeaderBlock(body),
      });
      expect((await t.read(stored.key))?.equals(body)).toBe(true);
      expect(await t.keys(t.prefix)).toEqual([stored.key]);
    });

    it('reads back the header block of a stored object (of a large one too, from its head only); none for a missing key', async () => {
      const t = await fresh();
      const small = await t.sink.store(input('head-small', chunkedSource(awkwardMessage())));
      const large = Buffer.concat([Buffer.from(HEADERS, 'latin1'), Buffer.alloc(3 * MIB, 'y')]);
      const big = await t.sink.store(input('head-large', chunkedSource(large)));
      const empty = await t.sink.store(input('head-empty', Readable.from([])));

      expect(await t.sink.readHeaderBlock(small.key)).toEqual(small.headerBlock);
      expect(await t.sink.readHeaderBlock(big.key)).toEqual(captureHeaderBlock(large));
      if (t.readsEmptyObjectHead !== false) expect((await t.sink.readHeaderBlock(empty.key))?.length).toBe(0);
      expect(await t.sink.readHeaderBlock(t.sink.objectKey(MAILBOX, 'never-stored'))).toBeUndefined();
    });

    it('stores an empty message as an empty object', async () => {
      const t = await fresh();
      const stored = await t.sink.store(input('empty', Readable.from([])));
      expect(stored).toMatchObject({ size: 0, sha256: sha256(Buffer.alloc(0)) });
      expect((await t.read(stored.key))?.length).toBe(0);
    });

    it('overwrites the same key byte-exact when the same identity is stored again', async () => {
      const t = await fresh();
      const first = await t.sink.store(input('again', chunkedSource(awkwardMessage('first '))));
      const second = await t.sink.store(input('again', chunkedSource(Buffer.from('Subject: 2\r\n\r\nshorter\r\n'))));
      expect(second.key).toBe(first.key);
      expect(await t.keys(t.prefix)).toEqual([first.key]);
      expect((await t.read(first.key))?.toString('latin1')).toBe('Subject: 2\r\n\r\nshorter\r\n');
    });

    it(`streams a ${LARGE_MESSAGE_OCTETS / MIB} MiB message byte-exact, never reading far ahead of what it stored`, async () => {
      const t = await fresh();
      const key = t.sink.objectKey(MAILBOX, 'large');
      const source = largeSource(LARGE_MESSAGE_OCTETS, () => t.persistedOctets(key));
      const stored = await t.sink.store(input('large', source.stream));
      expect(stored.size).toBe(LARGE_MESSAGE_OCTETS);
      expect(stored.sha256).toBe(source.sha256());
      // The sink pulled the message through as it stored it: it never held the message.
      expect(source.maxReadAhead()).toBeLessThan(t.readAheadBoundOctets);
      expect(t.readAheadBoundOctets).toBeLessThan(LARGE_MESSAGE_OCTETS);
      const back = await t.read(key);
      expect(back?.length).toBe(LARGE_MESSAGE_OCTETS);
      expect(sha256(back!)).toBe(stored.sha256);
    });

    it.each([
      ['midway through a small message', 10_000, 4_000],
      ['midway through a large message', 12 * MIB, 7 * MIB],
      ['after its last byte (a size mismatch the source detects at the end)', 20_000, 20_000],
    ])('a source failing %s: SOURCE_FAILED with the cause, no object, nothing left over, a retry stores it', async (_label, octets, failAfterOctets) => {
      const t = await fresh();
      const body = Buffer.concat([Buffer.from(HEADERS, 'latin1'), Buffer.alloc(octets - HEADERS.length, 'x')]);
      const source = chunkedSource(body, { chunkOctets: CHUNK_OCTETS, failAfterOctets });
      const error = await storeError(t.sink.store(input('broken', source)));
      expect(error.code).toBe('SOURCE_FAILED');
      expect(error.retryable).toBe(true);
      expect((error.cause as Error).message).toMatch(/^message incomplete/);
      // The header block had arrived whole: the engine can still tell the message apart.
      expect(error.headerFingerprint).toBe(headerFingerprint(captureHeaderBlock(body)));
      expect(source.destroyed).toBe(true);
      expect(await t.read(t.sink.objectKey(MAILBOX, 'broken'))).toBeUndefined();
      expect(await t.keys(t.prefix)).toEqual([]);
      expect(await t.leftovers()).toEqual([]);

      const retried = await t.sink.store(input('broken', chunkedSource(body, { chunkOctets: CHUNK_OCTETS })));
      expect((await t.read(retried.key))?.equals(body)).toBe(true);
    });

    it('a failed re-store leaves the earlier complete object as it was', async () => {
      const t = await fresh();
      const earlier = awkwardMessage('earlier ');
      const { key } = await t.sink.store(input('kept', chunkedSource(earlier)));
      const later = awkwardMessage('later ');
      await storeError(t.sink.store(input('kept', chunkedSource(later, { failAfterOctets: later.length }))));
      expect((await t.read(key))?.equals(earlier)).toBe(true);
      expect(await t.leftovers()).toEqual([]);
    });

    it(`ends ${CONCURRENT_WRITERS} concurrent stores of one key with one complete object`, async () => {
      const t = await fresh();
      const bodies = Array.from({ length: CONCURRENT_WRITERS }, (_, i) => Buffer.concat([Buffer.from(HEADERS), Buffer.alloc(200_000 + i * 1_000, 65 + i)]));
      const results = await Promise.all(bodies.map((b) => t.sink.store(input('contended', chunkedSource(b, { chunkOctets: 16 * 1024 })))));
      const key = results[0]!.key;
      const final = await t.read(key);
      if (t.atomicOverlappingWrites ?? true) expect(bodies.filter((b) => final?.equals(b))).toHaveLength(1);
      else expect(final?.length).toBeGreaterThan(0);
      expect(await t.keys(t.prefix)).toEqual([key]);
      expect(await t.leftovers()).toEqual([]);
    });

    it('refuses an invalid identity as INVALID_INPUT, stops the source and stores nothing', async () => {
      const t = await fresh();
      const source = chunkedSource(awkwardMessage());
      const error = await storeError(t.sink.store(input('', source)));
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.retryable).toBe(false);
      expect(source.destroyed).toBe(true);
      expect(await t.keys(t.prefix)).toEqual([]);
    });

    it.each(MODEL_SEEDS)('holds, after every store of a seeded random sequence, the last complete copy per key (seed %i)', async (seed) => {
      const t = await fresh();
      const random = new Prng(seed);
      const model = new Map<string, Buffer>();
      for (let step = 0; step < MODEL_STEPS; step++) {
        const identity = random.pick(['m1', 'm2', 'm3']);
        const body = Buffer.concat([Buffer.from(`Subject: step ${step}\r\n\r\n`), Buffer.alloc(random.int(0, 100_000), random.int(0, 255))]);
        const fails = random.chance(0.3);
        const source = chunkedSource(body, { chunkOctets: random.int(1, 40_000), ...(fails ? { failAfterOctets: random.int(0, body.length) } : {}) });
        const context = `seed ${seed}, step ${step}: ${fails ? 'failing ' : ''}store of ${identity}`;
        const key = t.sink.objectKey(MAILBOX, identity);
        if (fails) {
          expect((await storeError(t.sink.store(input(identity, source)))).code, context).toBe('SOURCE_FAILED');
        } else {
          expect((await t.sink.store(input(identity, source))).sha256, context).toBe(sha256(body));
          model.set(key, body);
        }
        expect((await t.keys(t.prefix)).sort(), context).toEqual([...model.keys()].sort());
        const stored = await t.read(key);
        expect(stored === undefined ? undefined : sha256(stored), context).toBe(model.has(key) ? sha256(model.get(key)!) : undefined);
      }
      expect(await t.leftovers()).toEqual([]);
    });
  });
}

interface LargeSource {
  readonly stream: Readable;
  sha256(): string;
  /** The most octets produced beyond what the sink had persisted, sampled before each chunk. */
  maxReadAhead(): number;
}

/**
 * A message of `totalOctets` produced on demand in distinct 64 KiB chunks. Before each
 * chunk it asks how much the sink has persisted: the difference is what the sink (and the
 * stream between) holds in memory.
 */
function largeSource(totalOctets: number, persisted: () => Promise<number>): LargeSource {
  const hash = createHash('sha256');
  const block = Buffer.alloc(CHUNK_OCTETS, 0x61);
  let produced = 0;
  let index = 0;
  let maxAhead = 0;
  const stream = new Readable({
    highWaterMark: CHUNK_OCTETS,
    read() {
      if (produced >= totalOctets) {
        this.push(null);
        return;
      }
      void persisted().then(
        (octets) => {
          maxAhead = Math.max(maxAhead, produced - octets);
          const chunk = index === 0 ? Buffer.from(HEADERS) : Buffer.from(block);
          if (index > 0) chunk.writeUInt32BE(index, 0); // distinct chunks: a reordered part changes the hash
          index++;
          const piece = chunk.subarray(0, Math.min(chunk.length, totalOctets - produced));
          hash.update(piece);
          produced += piece.length;
          this.push(piece);
        },
        (err: unknown) => this.destroy(err as Error),
      );
    },
  });
  return { stream, sha256: () => hash.digest('hex'), maxReadAhead: () => maxAhead };
}
