/**
 * S3MessageSink against a real s3rver, where it goes beyond the MessageSink contract
 * (test/contract/message-sink.contract.ts): one PutObject with a checksum or a multipart
 * upload, object metadata, which requests a failure of either side sends (an aborted
 * upload, nothing at all), throttling and a stalled source, and option validation.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLocalS3Client } from '../fixtures/s3rver-process';
import { StorageError } from '../../lambda/storage/errors';
import { captureHeaderBlock, headerFingerprint } from '../../lambda/storage/header-block';
import type { StoreMessageInput } from '../../lambda/storage/message-sink';
import {
  METADATA_BUDGET_OCTETS,
  S3MessageSink,
  buildObjectMetadata,
} from '../../lambda/storage/s3-message-sink';
import { countS3Requests, startS3rver, type LocalS3 } from '../fixtures/aws-local';
import { hookRequests } from '../fixtures/request-hooks';

const BUCKET = 'mail-sink';
const MIB = 1024 * 1024;
const FIRST_SEEN = '2024-05-01T10:00:00.000Z';
/** Small thresholds so a 20 MiB message takes the multipart path with several parts. */
const MULTIPART_OPTIONS = { singlePartMaxOctets: 1 * MIB, partSizeOctets: 5 * MIB, queueSize: 2 } as const;
const LARGE_MESSAGE_OCTETS = 20 * MIB;
const SOURCE_CHUNK_OCTETS = 64 * 1024;
/** A failure must be reported without waiting for a stalled POP3 server (whose idle timeout is 60 s). */
const STALL_REPORT_TIMEOUT_MS = 5_000;

const HEADERS =
  'Return-Path: <alice@example.org>\r\n' +
  'Message-ID: <big-1@example.org>\r\n' +
  'Date: Wed, 1 May 2024 10:00:00 +0200\r\n' +
  'From: =?utf-8?Q?Al=C3=AFce?= <alice@example.org>\r\n' +
  'Subject: =?UTF-8?B?w5xiZXJncsO2w59l?=\r\n' +
  '\tand a fold\r\n';

/** A message of `totalOctets`: HEADERS, an empty line, then distinct pseudo-random 64 KiB chunks. */
interface TestSource {
  readonly stream: Readable;
  /** Octets handed to the consumer so far. */
  produced(): number;
  /** SHA-256 (hex) of everything produced. */
  sha256(): string;
  /** True once the consumer asked for bytes after the stall point. */
  stalled(): boolean;
}

interface SourceOptions {
  /** Destroy the stream with an error once this many octets were produced. */
  readonly failAfterOctets?: number;
  /** Stop producing (without ending) once this many octets were produced: a stalled server. */
  readonly stallAfterOctets?: number;
  readonly onChunk?: () => void;
}

function messageSource(totalOctets: number, options: SourceOptions = {}): TestSource {
  const hash = createHash('sha256');
  const block = randomBytes(SOURCE_CHUNK_OCTETS);
  const header = Buffer.from(`${HEADERS}\r\n`, 'latin1');
  let produced = 0;
  let index = 0;
  let stalled = false;
  const stream = new Readable({
    highWaterMark: SOURCE_CHUNK_OCTETS,
    read() {
      if (options.failAfterOctets !== undefined && produced >= options.failAfterOctets) {
        this.destroy(new Error('POP3 connection reset by peer'));
        return;
      }
      if (options.stallAfterOctets !== undefined && produced >= options.stallAfterOctets) {
        stalled = true; // read() is not called again until a push: the consumer waits forever
        return;
      }
      if (produced >= totalOctets) {
        this.push(null);
        return;
      }
      const chunk = index === 0 ? header : Buffer.from(block);
      // Distinct chunks: a part stored twice or out of order changes the hash.
      if (index > 0) chunk.writeUInt32BE(index, 0);
      index++;
      const piece = chunk.subarray(0, Math.min(chunk.length, totalOctets - produced));
      hash.update(piece);
      produced += piece.length;
      options.onChunk?.();
      this.push(piece);
    },
  });
  return { stream, produced: () => produced, sha256: () => hash.digest('hex'), stalled: () => stalled };
}

const sha256Base64 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('base64');

interface ObservedPart {
  readonly partNumber: number;
  /** The ArrayBuffer the part's Body lives in. */
  readonly memory: ArrayBufferLike;
  /** ChecksumSHA256 as sent, and the SHA-256 of the Body before and after the request. */
  readonly sent: string | undefined;
  readonly before: string;
  readonly after: string;
}

/** Records every UploadPart's body, and what CreateMultipartUpload and CompleteMultipartUpload sent. */
function observeMultipart(client: S3Client): { parts: ObservedPart[]; algorithm(): unknown; completed(): CompletedPart[] } {
  const parts: ObservedPart[] = [];
  let algorithm: unknown;
  let completed: CompletedPart[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Body?: Uint8Array; PartNumber?: number; ChecksumSHA256?: string; ChecksumAlgorithm?: string; MultipartUpload?: { Parts?: CompletedPart[] } };
      if (context.commandName === 'CreateMultipartUploadCommand') algorithm = input.ChecksumAlgorithm;
      if (context.commandName === 'CompleteMultipartUploadCommand') completed = input.MultipartUpload?.Parts ?? [];
      if (context.commandName !== 'UploadPartCommand') return next(args);
      const body = input.Body!;
      const before = sha256Base64(body);
      const result = await next(args);
      parts.push({ partNumber: input.PartNumber!, memory: body.buffer, sent: input.ChecksumSHA256, before, after: sha256Base64(body) });
      return result;
    },
    { step: 'initialize', name: 'observeMultipart' },
  );
  return { parts, algorithm: () => algorithm, completed: () => completed };
}

function slowDownError(): Error {
  return Object.assign(new Error('Please reduce your request rate.'), {
    name: 'SlowDown',
    $fault: 'server',
    $metadata: { httpStatusCode: 503 },
  });
}

/**
 * Makes UploadPart number `partNumber` fail with SlowDown, once `when()` is true. Added
 * before the retry middleware: the SDK's own retries would only slow the test down.
 */
function failUploadPart(client: S3Client, partNumber: number, when: () => boolean = () => true): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'UploadPartCommand' && (args.input as { PartNumber?: number }).PartNumber === partNumber) {
        await vi.waitUntil(when, { timeout: 10_000, interval: 10 });
        throw slowDownError();
      }
      return next(args);
    },
    { step: 'initialize', name: `failUploadPart${partNumber}` },
  );
}

function storeInput(identity: string, body: Readable, overrides: Partial<StoreMessageInput> = {}): StoreMessageInput {
  return { mailboxId: 'acme', identity, uid: identity, body, sizeHint: 0, firstSeenAt: FIRST_SEEN, ...overrides };
}

async function getObject(s3: S3Client, key: string) {
  const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return { ...response, bytes: Buffer.from(await response.Body!.transformToByteArray()) };
}

async function keysUnder(s3: S3Client, prefix: string): Promise<string[]> {
  const listing = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (listing.Contents ?? []).map((object) => object.Key!);
}

async function pendingUploads(s3: S3Client): Promise<string[]> {
  const result = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
  return (result.Uploads ?? []).map((upload) => upload.Key!);
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function storeError(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(StorageError);
    return err as StorageError;
  }
  throw new Error('expected store() to fail');
}

/** Records the request headers of every request of one operation. */
function captureHeaders(client: S3Client, operation: string): Array<Record<string, string>> {
  const seen: Array<Record<string, string>> = [];
  hookRequests(
    client,
    {
      name: `captureHeaders${operation}`,
      before: (request) => {
        if (request.operation === operation && request.headers) seen.push({ ...request.headers });
      },
    },
    's3',
  );
  return seen;
}

describe('S3MessageSink', () => {
  let local: LocalS3;
  const extraClients: S3Client[] = [];

  /** A client of its own, for tests that add middleware. */
  function newClient(): S3Client {
    const client = createLocalS3Client(local.endpoint);
    extraClients.push(client);
    return client;
  }

  beforeAll(async () => {
    local = await startS3rver();
    await local.createBucket(BUCKET);
  });
  afterEach(async () => {
    expect(await pendingUploads(local.s3)).toEqual([]);
  });
  afterAll(async () => {
    for (const client of extraClients) client.destroy();
    await local?.stop();
  });

  it('stores a small message byte-exact in one PutObject with a checksum, ContentType and metadata', async () => {
    const client = newClient();
    const counter = countS3Requests(client);
    const putHeaders = captureHeaders(client, 'PutObject');
    const every8BitByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const body = Buffer.concat([
      Buffer.from(`${HEADERS}\r\nline one\r\n.\r\nbare LF\nbare CR\r`, 'latin1'),
      every8BitByte,
      Buffer.from('\r\n\r\n'),
    ]);
    const sink = new S3MessageSink({ client, bucket: BUCKET });

    const stored = await sink.store(
      storeInput('uid+1/x', Readable.from([body.subarray(0, 100), body.subarray(100)]), { uid: 'uid+1/x' }),
    );

    const sha256 = createHash('sha256').update(body).digest();
    expect(stored).toEqual({
      key: 'messages/acme/uid~2B1~2Fx.eml',
      size: body.length,
      sha256: sha256.toString('hex'),
      headerFingerprint: headerFingerprint(body),
      // The body starts after the header block's empty line (HEADERS ends with one line end).
      bodySha256: createHash('sha256').update(body.subarray(body.indexOf('\r\n\r\n') + 4)).digest('hex'),
      headerBlock: captureHeaderBlock(body),
    });
    expect(counter.counts()).toEqual({ PutObject: 1 });
    expect(putHeaders[0]?.['x-amz-checksum-sha256']).toBe(sha256.toString('base64'));

    const object = await getObject(local.s3, stored.key);
    expect(object.bytes.equals(body)).toBe(true);
    expect(object.ContentType).toBe('message/rfc822');
    expect(object.Metadata).toEqual({
      mailbox: 'acme',
      uidl: 'uid%2B1%2Fx',
      identity: 'uid%2B1%2Fx',
      size: String(body.length),
      'first-seen': FIRST_SEEN,
      sha256: sha256.toString('hex'),
      'message-id': '<big-1@example.org>',
      date: 'Wed, 1 May 2024 10:00:00 +0200',
      from: 'Al%C3%AFce <alice@example.org>',
      subject: '%C3%9Cbergr%C3%B6%C3%9Fe and a fold',
    });
    expect(decodeURIComponent(object.Metadata!.subject!)).toBe('Übergröße and a fold');
  });

  it('streams a 20 MiB message byte-exact through a multipart upload with bounded read-ahead', async () => {
    const client = newClient();
    const counter = countS3Requests(client);
    let acknowledgedOctets = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'UploadPartCommand') {
          acknowledgedOctets += (args.input as { Body: Uint8Array }).Body.byteLength;
        }
        return result;
      },
      { step: 'initialize', name: 'countAcknowledgedOctets' },
    );
    let maxReadAheadOctets = 0;
    const source = messageSource(LARGE_MESSAGE_OCTETS, {
      onChunk: () => {
        maxReadAheadOctets = Math.max(maxReadAheadOctets, source.produced() - acknowledgedOctets);
      },
    });
    const sink = new S3MessageSink({ client, bucket: BUCKET, ...MULTIPART_OPTIONS });

    const stored = await sink.store(storeInput('big', source.stream));

    expect(stored.size).toBe(LARGE_MESSAGE_OCTETS);
    expect(stored.sha256).toBe(source.sha256());
    expect(stored.headerFingerprint).toBe(headerFingerprint(Buffer.from(`${HEADERS}\r\n`, 'latin1')));
    const expectedParts = Math.ceil(LARGE_MESSAGE_OCTETS / MULTIPART_OPTIONS.partSizeOctets);
    expect(counter.counts()).toEqual({ CreateMultipartUpload: 1, UploadPart: expectedParts, CompleteMultipartUpload: 1 });
    // The sink never holds the message: at most the parts in flight plus one being assembled.
    const readAheadBoundOctets = (MULTIPART_OPTIONS.queueSize + 1) * MULTIPART_OPTIONS.partSizeOctets + MIB;
    expect(maxReadAheadOctets).toBeLessThan(readAheadBoundOctets);

    const object = await getObject(local.s3, stored.key);
    expect(object.bytes.length).toBe(LARGE_MESSAGE_OCTETS);
    expect(createHash('sha256').update(object.bytes).digest('hex')).toBe(stored.sha256);
    expect(object.ContentType).toBe('message/rfc822');
    // sha256 and size are unknown when a multipart upload starts: the state record has them.
    expect(object.Metadata).toEqual({
      mailbox: 'acme',
      uidl: 'big',
      identity: 'big',
      'first-seen': FIRST_SEEN,
      'message-id': '<big-1@example.org>',
      date: 'Wed, 1 May 2024 10:00:00 +0200',
      from: 'Al%C3%AFce <alice@example.org>',
      subject: '%C3%9Cbergr%C3%B6%C3%9Fe and a fold',
    });
  });

  it('reuses queueSize + 1 part buffers over a 7-part upload, byte-exact where chunks straddle parts, each part with its SHA-256', async () => {
    const client = newClient();
    const counter = countS3Requests(client);
    const observed = observeMultipart(client);
    const message = Buffer.concat([Buffer.from(`${HEADERS}\r\n`, 'latin1'), randomBytes(30 * MIB + 12_345)]);
    // Chunks that straddle part boundaries, and one larger than two parts.
    const sizes = [100_003, 12 * MIB, 777_777];
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < message.length; offset += chunks.at(-1)!.length) {
      chunks.push(message.subarray(offset, offset + sizes[chunks.length % sizes.length]!));
    }
    const sink = new S3MessageSink({ client, bucket: BUCKET, ...MULTIPART_OPTIONS });

    const stored = await sink.store(storeInput('reused', Readable.from(chunks)));

    const expectedParts = Math.ceil(message.length / MULTIPART_OPTIONS.partSizeOctets);
    expect(expectedParts).toBe(7);
    expect(counter.counts()).toEqual({ CreateMultipartUpload: 1, UploadPart: expectedParts, CompleteMultipartUpload: 1 });
    // Each part is filled in place in one of the buffers in flight or being filled.
    expect(new Set(observed.parts.map((p) => p.memory)).size).toBeLessThanOrEqual(MULTIPART_OPTIONS.queueSize + 1);
    for (const part of observed.parts) {
      // The checksum is the part's, and its buffer was not refilled while the request was in flight.
      expect({ sent: part.sent, after: part.after }, `part ${part.partNumber}`).toEqual({ sent: part.before, after: part.before });
    }
    expect(observed.algorithm()).toBe('SHA256');
    const sentChecksums = Object.fromEntries(observed.parts.map((p) => [p.partNumber, p.sent]));
    expect(observed.completed().map((p) => [p.PartNumber, p.ChecksumSHA256])).toEqual(
      Array.from({ length: expectedParts }, (_, i) => [i + 1, sentChecksums[i + 1]]),
    );
    expect(stored).toMatchObject({ size: message.length, sha256: createHash('sha256').update(message).digest('hex') });
    expect((await getObject(local.s3, stored.key)).bytes.equals(message)).toBe(true);
  });

  it('stores a message longer than the head kept as chunks but within singlePartMaxOctets in one PutObject, byte-exact', async () => {
    const client = newClient();
    const counter = countS3Requests(client);
    const putHeaders = captureHeaders(client, 'PutObject');
    const source = messageSource(3 * MIB + 7);
    const sink = new S3MessageSink({ client, bucket: BUCKET });

    const stored = await sink.store(storeInput('middle', source.stream));

    expect(counter.counts()).toEqual({ PutObject: 1 });
    expect(stored.sha256).toBe(source.sha256());
    const object = await getObject(local.s3, stored.key);
    expect(object.bytes.length).toBe(3 * MIB + 7);
    expect(createHash('sha256').update(object.bytes).digest('hex')).toBe(stored.sha256);
    expect(putHeaders[0]?.['x-amz-checksum-sha256']).toBe(Buffer.from(stored.sha256, 'hex').toString('base64'));
  });

  it('drops the connection mid-multipart: SOURCE_FAILED with the cause, upload aborted, no object', async () => {
    const client = newClient();
    const counter = countS3Requests(client);
    const source = messageSource(LARGE_MESSAGE_OCTETS, { failAfterOctets: 12 * MIB });
    const sink = new S3MessageSink({ client, bucket: BUCKET, ...MULTIPART_OPTIONS });

    const error = await storeError(sink.store(storeInput('dropped-big', source.stream)));

    expect(error.code).toBe('SOURCE_FAILED');
    expect(error.retryable).toBe(true);
    expect((error.cause as Error).message).toBe('POP3 connection reset by peer');
    expect(counter.count('CreateMultipartUpload')).toBe(1);
    expect(counter.count('AbortMultipartUpload')).toBe(1);
    expect(counter.count('CompleteMultipartUpload')).toBe(0);
    expect(await keysUnder(local.s3, sink.objectKey('acme', 'dropped-big'))).toEqual([]);
    expect(await pendingUploads(local.s3)).toEqual([]);
  });

  it('drops the connection before the end of a small message: SOURCE_FAILED, nothing sent', async () => {
    const client = newClient();
    const counter = countS3Requests(client);
    const source = messageSource(MIB, { failAfterOctets: 200 * 1024 });
    const sink = new S3MessageSink({ client, bucket: BUCKET });

    const error = await storeError(sink.store(storeInput('dropped-small', source.stream)));

    expect(error.code).toBe('SOURCE_FAILED');
    expect((error.cause as Error).message).toBe('POP3 connection reset by peer');
    expect(counter.counts()).toEqual({});
    expect(await keysUnder(local.s3, sink.objectKey('acme', 'dropped-small'))).toEqual([]);
  });

  it('is throttled mid-upload: THROTTLED, the source is stopped early, upload aborted, no object', async () => {
    const client = newClient();
    failUploadPart(client, 2);
    const nominalOctets = 3 * LARGE_MESSAGE_OCTETS;
    const source = messageSource(nominalOctets);
    const sink = new S3MessageSink({ client, bucket: BUCKET, ...MULTIPART_OPTIONS });

    const error = await storeError(sink.store(storeInput('throttled', source.stream)));

    expect(error.code).toBe('THROTTLED');
    expect(error.retryable).toBe(true);
    expect((error.cause as Error).name).toBe('SlowDown');
    expect(source.stream.destroyed).toBe(true);
    expect(source.produced()).toBeLessThan(LARGE_MESSAGE_OCTETS);
    expect(await keysUnder(local.s3, sink.objectKey('acme', 'throttled'))).toEqual([]);
    expect(await pendingUploads(local.s3)).toEqual([]);
  });

  it('fails at once when S3 fails while the source is stalled (does not wait for the server)', async () => {
    const client = newClient();
    const stallAfterOctets = 16 * MIB;
    const source = messageSource(LARGE_MESSAGE_OCTETS, { stallAfterOctets });
    // Part 3 fails only once the other uploader is waiting for bytes the source will never send.
    failUploadPart(client, 3, () => source.stalled());
    const sink = new S3MessageSink({ client, bucket: BUCKET, ...MULTIPART_OPTIONS });

    const error = await storeError(withTimeout(sink.store(storeInput('stalled', source.stream)), STALL_REPORT_TIMEOUT_MS));

    expect(error.code).toBe('THROTTLED');
    expect(source.stream.destroyed).toBe(true);
    expect(await keysUnder(local.s3, sink.objectKey('acme', 'stalled'))).toEqual([]);
    expect(await pendingUploads(local.s3)).toEqual([]);
  });

  it.each([
    ['single part', {}],
    ['multipart', MULTIPART_OPTIONS],
  ])('reports a missing bucket as BUCKET_NOT_FOUND, not retryable, and stops the source (%s)', async (_label, options) => {
    const source = messageSource(8 * MIB);
    const sink = new S3MessageSink({ client: local.s3, bucket: 'no-such-bucket', ...options });

    const error = await storeError(sink.store(storeInput('nowhere', source.stream)));

    expect(error.code).toBe('BUCKET_NOT_FOUND');
    expect(error.retryable).toBe(false);
    expect(source.stream.destroyed).toBe(true);
  });
});

describe('S3MessageSink options', () => {
  it('reports every invalid option at once', () => {
    const client = {} as S3Client;
    expect(() => new S3MessageSink({ client, bucket: '', partSizeOctets: MIB, queueSize: 0 })).toThrow(
      'invalid S3MessageSink options: bucket is empty; partSizeOctets must be between 5242880 and 5368709120; queueSize must be a positive integer',
    );
  });
});

describe('buildObjectMetadata', () => {
  it('shortens header values, subject first, to stay within the metadata budget', () => {
    const long = 'x'.repeat(300);
    const headerBlock = Buffer.from(
      `Subject: ${'ü'.repeat(300)}\r\nFrom: ${long}\r\nMessage-ID: <${long}>\r\nDate: ${long}\r\n`,
      'utf8',
    );
    const metadata = buildObjectMetadata(
      { mailboxId: 'm'.repeat(64), uid: '/'.repeat(300), identity: '/'.repeat(300), firstSeenAt: 'y'.repeat(300) },
      { headerBlock, size: 1, sha256: 'a'.repeat(64) },
    );

    const octets = Object.entries(metadata).reduce((sum, [k, v]) => sum + 'x-amz-meta-'.length + k.length + v.length, 0);
    expect(octets).toBeLessThanOrEqual(METADATA_BUDGET_OCTETS);
    expect(metadata.from).toHaveLength(256); // untouched: the subject gave up enough
    expect(metadata.subject!.length).toBeLessThan(256);
    for (const value of Object.values(metadata)) {
      expect(value).toMatch(/^[\x20-\x7e]*$/);
      expect(() => decodeURIComponent(value)).not.toThrow();
    }
    expect(metadata.uidl).toBe('%2F'.repeat(85)); // 256 chars at most, never half an escape
  });
});
