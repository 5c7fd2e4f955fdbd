/**
 * The S3 adapter of {@link MessageSink}: stores each message byte-exact under its
 * deterministic key, as one PutObject when it is small and as a multipart upload when it
 * is not, hashing it on the way. Memory stays bounded by the options, not by message size.
 */
import type * as S3Sdk from './s3-sdk';
import type { S3Client } from '@aws-sdk/client-s3';
import { clientOf, once, type ClientSource } from '../client-source';
import { DirectPutObject, directPutObjectFor, type DirectPutOutcome } from './direct-put-object';
import { StorageError, fromS3Error, invalidInput } from './errors';
import { MAX_HEADER_CAPTURE_OCTETS, MAX_HEADER_VALUE_CHARS, captureHeaderBlock, extractHeaderFields, toMetadataValue, type HeaderFields } from './header-block';
import type { DigestResult, HeaderDigest } from './message-digest';
import { MessageParts } from './message-parts';
import type { MessageSink, StoreMessageInput, StoredMessage } from './message-sink';
import { MessageSource, storedMessage } from './message-source';
import { DEFAULT_PREFIX, objectKeyFor } from './object-key';

const MIB = 1024 * 1024;
export { DEFAULT_PREFIX } from './object-key';
/** Messages up to this size are buffered and sent in one PutObject (one request, verified checksum). */
export const DEFAULT_SINGLE_PART_MAX_OCTETS = 16 * MIB;
/**
 * Part size of multipart uploads. S3's 10,000 parts then make 78 GiB, beyond any mail; each
 * upload holds (queueSize + 1) part buffers of this size (see maxPartBuffers).
 */
export const DEFAULT_PART_SIZE_OCTETS = 8 * MIB;
/** Parts in flight per upload: overlaps the network with reading the source, which fills one more part meanwhile. */
export const DEFAULT_QUEUE_SIZE = 2;
/** S3's minimum part size (except the last part). */
export const MIN_PART_SIZE_OCTETS = 5 * MIB;
/** S3 allows 10,000 parts: with 5 GiB parts that is far beyond any mail; keep parts sane. */
export const MAX_PART_SIZE_OCTETS = 5 * 1024 * MIB;
/** S3 limits user metadata to 2 KB (keys plus values, UTF-8 bytes); keep a margin below it. */
export const METADATA_BUDGET_OCTETS = 2_000;
/** Largest uidl/identity metadata value: RFC 1939 UIDLs are at most 70 chars, so this rarely cuts. */
const MAX_ID_METADATA_CHARS = 256;
export const MESSAGE_CONTENT_TYPE = 'message/rfc822';

/**
 * The S3 SDK's module, loaded by the first request that needs it (a PutObject the direct
 * path did not take, a read, a multipart upload): a worker whose objects all go direct
 * never loads it.
 */
const s3Sdk = once((): Promise<typeof S3Sdk> => import('./s3-sdk'));

/** Header-derived metadata keys, in the order they give up space when over budget. */
const HEADER_METADATA_KEYS = {
  subject: 'subject',
  from: 'from',
  messageId: 'message-id',
  date: 'date',
} as const satisfies Record<keyof HeaderFields, string>;
const HEADER_METADATA_ENTRIES = Object.entries(HEADER_METADATA_KEYS) as ReadonlyArray<[keyof HeaderFields, string]>;

export interface S3MessageSinkOptions {
  /**
   * The SDK client, or how to make it when a request first needs it (the Lambda worker's:
   * with a {@link DirectPutObject} of its own, most runs never make it).
   */
  readonly client: ClientSource<S3Client>;
  readonly bucket: string;
  /**
   * Key prefix, usually ending in '/'.
   * @default 'messages/'
   */
  readonly prefix?: string;
  /**
   * Messages up to this size go in one PutObject (held in memory); larger ones stream as a
   * multipart upload.
   * @default 16 MiB
   */
  readonly singlePartMaxOctets?: number;
  /**
   * Part size of multipart uploads (5 MiB..5 GiB).
   * @default 8 MiB
   */
  readonly partSizeOctets?: number;
  /**
   * Parts in flight per multipart upload.
   * @default 2
   */
  readonly queueSize?: number;
  /**
   * Send the SHA-256 of single-part objects and of every part of a multipart upload
   * (`x-amz-checksum-sha256`) so S3 rejects a corrupted upload. s3rver accepts and ignores it.
   * @default true
   */
  readonly sendChecksums?: boolean;
  /**
   * Send single-part PutObjects signed here, over kept-alive sockets of their own, at a
   * fifth of the SDK's CPU per request; anything but a 200 is sent again through the SDK
   * (see direct-put-object.ts). `true`: where the client's configuration says (the client
   * must then be given, not made later); a DirectPutObject: through it (the Lambda worker's,
   * resolved from its environment, shared by its runs). Only for a client whose middleware
   * and request handler add nothing a PutObject must carry (an SSE key, an ACL, a proxy):
   * the direct request runs neither. mailfetch's handler and command line, which build their
   * clients, turn it on.
   * @default false
   */
  readonly directPutObject?: boolean | DirectPutObject;
  /**
   * Told when the direct path turns itself off for the client (S3 refused its request and
   * then took the SDK's, or it failed too often in a row): `direct-put-disabled` with the
   * bucket and why.
   * @default nothing is told
   */
  readonly onWarning?: (event: string, fields: Record<string, unknown>) => void;
}

/** Options with defaults applied; validated once in the constructor. */
type ResolvedOptions = Required<Omit<S3MessageSinkOptions, 'onWarning'>> & Pick<S3MessageSinkOptions, 'onWarning'>;

/**
 * Stores messages in S3. Memory per store(): a small message is held whole (below
 * MAX_HEAD_OCTETS in the chunks it came in, above in part buffers) and copied once more into
 * the body sent when it spans several chunks or parts: at most about twice
 * `singlePartMaxOctets`. A large one holds maxPartBuffers() part buffers, filled in place
 * and reused for every part (message-parts.ts, multipart-upload.ts): 24 MiB with the
 * defaults, whatever its size. Measured peak RSS of a 200 MB message (bench/rss.bench.ts,
 * defaults): +43 MiB over the process's baseline, of which 18 are the POP3 engine's own
 * (lib-storage, which copied every part into a fresh buffer, peaked at +110 MiB). Size the
 * Lambda's memory with that per upload in flight in mind (default 512 MB).
 */
export class S3MessageSink implements MessageSink {
  private readonly options: ResolvedOptions;

  constructor(options: S3MessageSinkOptions) {
    this.options = resolveOptions(options);
  }

  objectKey(mailboxId: string, identity: string): string {
    return objectKeyFor(this.options.prefix, mailboxId, identity);
  }

  async store(input: StoreMessageInput): Promise<StoredMessage> {
    const source = new MessageSource(input.body);
    const parts = new MessageParts({
      partSizeOctets: this.options.partSizeOctets,
      maxBuffers: maxPartBuffers(this.options),
      checksums: this.options.sendChecksums,
    });
    try {
      const key = this.objectKey(input.mailboxId, input.identity);
      const rest = await this.readHead(source, parts);
      const stored = source.ended
        ? await this.putSinglePart(input, key, parts.contiguous(), source)
        : await this.uploadMultipart(input, key, parts, source.drain(rest === undefined ? [] : [rest]), source);
      return stored;
    } catch (err) {
      // Whatever failed, the producer (the POP3 connection) must stop sending.
      source.destroy();
      throw toStorageError(err, source);
    }
  }

  async readHeaderBlock(key: string): Promise<Buffer | undefined> {
    try {
      const [{ GetObjectCommand }, client] = await Promise.all([s3Sdk(), clientOf(this.options.client)]);
      const object = await client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key, Range: `bytes=0-${MAX_HEADER_CAPTURE_OCTETS - 1}` }));
      return captureHeaderBlock(Buffer.from((await object.Body?.transformToByteArray()) ?? []));
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NoSuchKey') return undefined;
      // A range of an empty object is unsatisfiable: its header block is empty.
      if (name === 'InvalidRange' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416) return Buffer.alloc(0);
      throw fromS3Error(err, 'GetObject');
    }
  }

  /**
   * Reads into `parts` until the message ended (it is small) or is known to be longer than
   * singlePartMaxOctets (it is not); returns what the last chunk held beyond that point.
   */
  private async readHead(source: MessageSource, parts: MessageParts): Promise<Buffer | undefined> {
    const limit = this.options.singlePartMaxOctets + 1;
    let rest: Buffer | undefined;
    await source.pull((chunk) => {
      let offset = 0;
      while (offset < chunk.length && parts.octets < limit) {
        offset += parts.write(chunk, offset, Math.min(chunk.length, offset + limit - parts.octets));
      }
      if (offset < chunk.length) rest = chunk.subarray(offset);
      return rest === undefined && parts.octets < limit;
    });
    return rest;
  }

  /** The whole message is in memory: one request, with a checksum S3 verifies. */
  private async putSinglePart(input: StoreMessageInput, key: string, body: Buffer, source: MessageSource): Promise<StoredMessage> {
    const result = source.digest.result();
    const metadata = buildObjectMetadata(input, result);
    const direct = this.directPath();
    const wasOff = direct?.disabledReason !== undefined;
    const directOutcome = await direct?.put({
      bucket: this.options.bucket,
      key,
      body,
      contentType: MESSAGE_CONTENT_TYPE,
      metadata,
      sha256Hex: result.sha256,
      checksumSha256Base64: this.options.sendChecksums ? result.sha256Base64 : undefined,
    });
    if (direct && !wasOff && direct.disabledReason !== undefined) this.warnDisabled(direct.disabledReason);
    if (directOutcome?.kind === 'stored') return storedMessage(key, result);
    try {
      const [{ PutObjectCommand }, client] = await Promise.all([s3Sdk(), clientOf(this.options.client)]);
      await client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentType: MESSAGE_CONTENT_TYPE,
          Metadata: metadata,
          ...(this.options.sendChecksums ? { ChecksumSHA256: result.sha256Base64 } : {}),
        }),
      );
    } catch (err) {
      throw fromS3Error(err, 'PutObject');
    }
    if (direct && directOutcome?.kind === 'refused') this.directRefused(direct, directOutcome);
    return storedMessage(key, result);
  }

  /** The direct path of this sink's PutObjects, if it has one. */
  private directPath(): DirectPutObject | undefined {
    const { directPutObject, client } = this.options;
    if (directPutObject instanceof DirectPutObject) return directPutObject;
    return directPutObject && typeof client !== 'function' ? directPutObjectFor(client) : undefined;
  }

  /** S3 refused the direct request but took the SDK's: the direct one is wrong here, stop sending it. */
  private directRefused(direct: DirectPutObject, outcome: Extract<DirectPutOutcome, { kind: 'refused' }>): void {
    if (direct.disabledReason !== undefined) return;
    direct.disable(`refused (${outcome.reason}) where the SDK's request was taken`);
    this.warnDisabled(direct.disabledReason!);
  }

  private warnDisabled(reason: string): void {
    this.options.onWarning?.('direct-put-disabled', { bucket: this.options.bucket, reason });
  }

  /**
   * Sends the parts read so far, then `rest` (the rest of the source), as a multipart upload.
   * The object's metadata has no `sha256`: it is only known after the last byte, when the
   * upload has long started (S3 metadata is fixed at CreateMultipartUpload). The state
   * record carries it. Only CompleteMultipartUpload creates the object, so a failure
   * leaves nothing under the key: the upload is aborted.
   */
  private async uploadMultipart(
    input: StoreMessageInput,
    key: string,
    parts: MessageParts,
    rest: AsyncIterable<Buffer>,
    source: MessageSource,
  ): Promise<StoredMessage> {
    const headerResult = source.digest.headerResult();
    // Large messages only: the module (and the S3 SDK under it) is loaded by the first.
    const [{ uploadMultipart }, client] = await Promise.all([import('./multipart-upload'), clientOf(this.options.client)]);
    await uploadMultipart(
      {
        client,
        bucket: this.options.bucket,
        key,
        contentType: MESSAGE_CONTENT_TYPE,
        metadata: buildObjectMetadata(input, headerResult),
        queueSize: this.options.queueSize,
        sendChecksums: this.options.sendChecksums,
        // A part may fail while the source is stalled (a silent server): stopping the
        // source makes the upload give up at once instead of after the POP3 idle timeout.
        onFailure: (err) => source.noteBackendFailure(err),
      },
      parts,
      rest,
    );
    return storedMessage(key, source.digest.result());
  }
}

// ---------------------------------------------------------------------------------------
// Failures

/** Maps whatever store() caught to a StorageError, the side that failed first deciding. */
function toStorageError(err: unknown, source: MessageSource): StorageError {
  const failed = source.sourceFailure();
  if (failed !== undefined) return failed;
  if (err instanceof StorageError) return err;
  return fromS3Error(source.backendError?.error ?? err, 'multipart upload');
}

// ---------------------------------------------------------------------------------------
// Metadata

/**
 * S3 user metadata of a stored message. Keys are lowercase (S3 lowercases them anyway);
 * values are printable ASCII: ids are encodeURIComponent'd, header fields come from
 * extractHeaderFields (percent-encoded UTF-8). Header fields are shortened, subject first,
 * until the whole fits {@link METADATA_BUDGET_OCTETS}. `size` and `sha256` are set only when
 * `digest` has them: a multipart upload fixes its metadata before the last byte is read.
 */
export function buildObjectMetadata(
  input: Pick<StoreMessageInput, 'mailboxId' | 'uid' | 'identity' | 'firstSeenAt'>,
  digest: HeaderDigest & Partial<Pick<DigestResult, 'size' | 'sha256'>>,
): Record<string, string> {
  const metadata: Record<string, string> = {
    mailbox: input.mailboxId,
    uidl: encodedId(input.uid),
    identity: encodedId(input.identity),
    'first-seen': toMetadataValue(input.firstSeenAt, MAX_HEADER_VALUE_CHARS),
  };
  if (digest.size !== undefined) metadata.size = String(digest.size);
  if (digest.sha256 !== undefined) metadata.sha256 = digest.sha256;
  const fields = extractHeaderFields(digest.headerBlock);
  for (const [field, key] of HEADER_METADATA_ENTRIES) {
    const value = fields[field];
    if (value !== undefined) metadata[key] = value;
  }
  fitMetadataBudget(metadata);
  return metadata;
}

/** A UTF-16 surrogate without its pair: encodeURIComponent throws on it. */
const LONE_SURROGATE = /\p{Cs}/u;

/** What encodeURIComponent leaves as it is. */
const URI_UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]*$/;

/**
 * encodeURIComponent of an id, cut to MAX_ID_METADATA_CHARS between characters (never inside
 * one character's escapes), so decodeURIComponent always works on the result.
 */
function encodedId(id: string): string {
  if (id.length <= MAX_ID_METADATA_CHARS && URI_UNRESERVED.test(id)) return id;
  // Ids are short: the whole encoding usually fits (it throws on a lone surrogate, replaced below).
  if (id.length <= MAX_ID_METADATA_CHARS && !LONE_SURROGATE.test(id)) {
    const whole = encodeURIComponent(id);
    if (whole.length <= MAX_ID_METADATA_CHARS) return whole;
  }
  let out = '';
  for (const char of id.replace(/\p{Cs}/gu, '\ufffd')) {
    const piece = encodeURIComponent(char);
    if (out.length + piece.length > MAX_ID_METADATA_CHARS) break;
    out += piece;
  }
  return out;
}

/** Counted with the `x-amz-meta-` prefix: more than S3 counts, so the budget holds either way. */
const METADATA_HEADER_PREFIX = 'x-amz-meta-';

/** All values are ASCII, so characters are octets. */
function metadataOctets(metadata: Record<string, string>): number {
  let octets = 0;
  for (const key in metadata) octets += METADATA_HEADER_PREFIX.length + key.length + metadata[key]!.length;
  return octets;
}

/** Shortens header-derived values (subject first) until the metadata fits the budget. */
function fitMetadataBudget(metadata: Record<string, string>): void {
  for (const [, key] of HEADER_METADATA_ENTRIES) {
    const excess = metadataOctets(metadata) - METADATA_BUDGET_OCTETS;
    if (excess <= 0) return;
    const value = metadata[key];
    if (value === undefined) continue;
    const shorter = toMetadataValue(decodeURIComponent(value), Math.max(0, value.length - excess));
    if (shorter === '') delete metadata[key];
    else metadata[key] = shorter;
  }
}

// ---------------------------------------------------------------------------------------
// Options

/**
 * Part buffers one store() may hold: the parts read before a message is known to be large
 * (singlePartMaxOctets + 1 octets) or the parts in flight, plus the one being filled. 3 (24
 * MiB) with the defaults.
 */
function maxPartBuffers(o: Pick<ResolvedOptions, 'singlePartMaxOctets' | 'partSizeOctets' | 'queueSize'>): number {
  return Math.max(o.queueSize, Math.floor((o.singlePartMaxOctets + 1) / o.partSizeOctets)) + 1;
}

function resolveOptions(options: S3MessageSinkOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    client: options.client,
    bucket: options.bucket,
    prefix: options.prefix ?? DEFAULT_PREFIX,
    singlePartMaxOctets: options.singlePartMaxOctets ?? DEFAULT_SINGLE_PART_MAX_OCTETS,
    partSizeOctets: options.partSizeOctets ?? DEFAULT_PART_SIZE_OCTETS,
    queueSize: options.queueSize ?? DEFAULT_QUEUE_SIZE,
    sendChecksums: options.sendChecksums ?? true,
    directPutObject: options.directPutObject ?? false,
    onWarning: options.onWarning,
  };
  const problems = optionProblems(resolved);
  if (problems.length > 0) throw invalidInput(`invalid S3MessageSink options: ${problems.join('; ')}`);
  return resolved;
}

/** Every problem at once, so one fix round is enough. */
function optionProblems(o: ResolvedOptions): string[] {
  const problems: string[] = [];
  if (o.bucket.length === 0) problems.push('bucket is empty');
  if (/[\p{Cc}]/u.test(o.prefix) || o.prefix.startsWith('/')) problems.push('prefix has control characters or a leading /');
  if (!Number.isSafeInteger(o.singlePartMaxOctets) || o.singlePartMaxOctets < 0) {
    problems.push('singlePartMaxOctets must be a non-negative integer');
  }
  const partSizeOk = Number.isSafeInteger(o.partSizeOctets) && o.partSizeOctets >= MIN_PART_SIZE_OCTETS;
  if (!partSizeOk || o.partSizeOctets > MAX_PART_SIZE_OCTETS) {
    problems.push(`partSizeOctets must be between ${MIN_PART_SIZE_OCTETS} and ${MAX_PART_SIZE_OCTETS}`);
  }
  if (!Number.isSafeInteger(o.queueSize) || o.queueSize < 1) problems.push('queueSize must be a positive integer');
  if (o.directPutObject === true && typeof o.client === 'function') problems.push('directPutObject: true takes its endpoint from the client, which must then be given (or give a DirectPutObject)');
  return problems;
}
