/**
 * A message as one S3 multipart upload, in reused part buffers (MessageParts): at most
 * `queueSize` parts are in flight, the source is read only while a buffer is free, and a
 * part's buffer is filled again once its UploadPart resolved, so memory stays the parts'
 * `maxBuffers` whatever the length. Completes the upload, or aborts it on any failure once
 * no part is in flight any more: a part still uploading during the abort could outlive it.
 */
import {
  AbortMultipartUploadCommand,
  ChecksumAlgorithm,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
  type UploadPartCommandOutput,
} from '@aws-sdk/client-s3';
import type { MessagePart, MessageParts } from './message-parts';

export interface MultipartUploadRequest {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly contentType: string;
  readonly metadata: Record<string, string>;
  /** Parts in flight at most. */
  readonly queueSize: number;
  /** Send each part's SHA-256 (`x-amz-checksum-sha256`) so S3 rejects a corrupted part. */
  readonly sendChecksums: boolean;
  /**
   * Told of the first failed request (after the SDK's retries) at once, before the upload
   * has settled: the caller stops its source, which may be stalled waiting for a server.
   */
  readonly onFailure: (err: unknown) => void;
}

/**
 * Uploads the bytes already in `parts`, then `rest`, under `request.key`; only
 * CompleteMultipartUpload creates the object.
 */
export async function uploadMultipart(request: MultipartUploadRequest, parts: MessageParts, rest: AsyncIterable<Buffer>): Promise<void> {
  const uploadId = await createUpload(request);
  const uploads = new PartUploads(request, uploadId, parts);
  try {
    for (let part = parts.takeFull(); part !== undefined; part = parts.takeFull()) await uploads.send(part);
    for await (const chunk of rest) {
      for (let offset = 0; offset < chunk.length; ) {
        offset += parts.write(chunk, offset);
        const full = parts.takeFull();
        if (full !== undefined) await uploads.send(full);
      }
    }
    const last = parts.takeLast();
    if (last !== undefined) await uploads.send(last);
    const completed = await uploads.end();
    await attempt(request, (client) => client.send(new CompleteMultipartUploadCommand({
      Bucket: request.bucket,
      Key: request.key,
      UploadId: uploadId,
      MultipartUpload: { Parts: completed },
    })));
  } catch (err) {
    await uploads.settle();
    await abortUpload(request, uploadId);
    throw err;
  }
}

async function createUpload(request: MultipartUploadRequest): Promise<string> {
  const algorithm = await checksumAlgorithm(request);
  const created = await attempt(request, (client) => client.send(new CreateMultipartUploadCommand({
    Bucket: request.bucket,
    Key: request.key,
    ContentType: request.contentType,
    Metadata: request.metadata,
    ...algorithm,
  })));
  if (created.UploadId === undefined) throw failed(request, new Error('CreateMultipartUpload answered without an UploadId'));
  return created.UploadId;
}

/**
 * The upload's checksum algorithm: S3 refuses parts whose checksum differs from it. SHA-256
 * when we send it; else what the SDK adds by itself to every part (CRC32 when the client
 * computes checksums "when supported", as lib-storage does); else none.
 */
async function checksumAlgorithm(request: MultipartUploadRequest): Promise<{ ChecksumAlgorithm?: ChecksumAlgorithm }> {
  if (request.sendChecksums) return { ChecksumAlgorithm: ChecksumAlgorithm.SHA256 };
  const calculation = await request.client.config.requestChecksumCalculation();
  return calculation === 'WHEN_SUPPORTED' ? { ChecksumAlgorithm: ChecksumAlgorithm.CRC32 } : {};
}

/**
 * Best effort, once nothing is in flight: when the abort fails too, the bucket's lifecycle
 * rule (abortIncompleteMultipartUploadAfter) removes the parts, and the error worth
 * reporting is the one that made us abort.
 */
async function abortUpload(request: MultipartUploadRequest, uploadId: string): Promise<void> {
  try {
    await request.client.send(new AbortMultipartUploadCommand({ Bucket: request.bucket, Key: request.key, UploadId: uploadId }));
  } catch {
    // see above
  }
}

/** One request (`client.send`), telling `onFailure` when it fails. */
async function attempt<Output>(request: MultipartUploadRequest, send: (client: S3Client) => Promise<Output>): Promise<Output> {
  try {
    return await send(request.client);
  } catch (err) {
    throw failed(request, err);
  }
}

function failed(request: MultipartUploadRequest, err: unknown): unknown {
  request.onFailure(err);
  return err;
}

/** The parts in flight of one upload: `queueSize` at most, each buffer released when its request is over. */
class PartUploads {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly completed: CompletedPart[] = [];
  private failure: { readonly error: unknown } | undefined;

  constructor(
    private readonly request: MultipartUploadRequest,
    private readonly uploadId: string,
    private readonly parts: MessageParts,
  ) {}

  /** Starts uploading `part` once fewer than `queueSize` are in flight; throws the first failure. */
  async send(part: MessagePart): Promise<void> {
    while (this.inFlight.size >= this.request.queueSize) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const upload: Promise<void> = this.upload(part).finally(() => this.inFlight.delete(upload));
    this.inFlight.add(upload);
  }

  /** Waits for every part: the parts for CompleteMultipartUpload, in order. */
  async end(): Promise<CompletedPart[]> {
    await this.settle();
    this.throwIfFailed();
    return this.completed.sort((a, b) => a.PartNumber! - b.PartNumber!);
  }

  /** Resolves once no part is in flight (whether they succeeded or not). */
  async settle(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  /** Never rejects: the first failure is kept, and thrown by the next send() or end(). */
  private async upload(part: MessagePart): Promise<void> {
    try {
      const output = await attempt(this.request, (client) => client.send(new UploadPartCommand({
        Bucket: this.request.bucket,
        Key: this.request.key,
        UploadId: this.uploadId,
        PartNumber: part.partNumber,
        Body: part.bytes,
        ContentLength: part.bytes.length,
        ...(part.sha256Base64 === undefined ? {} : { ChecksumSHA256: part.sha256Base64 }),
      })));
      if (output.ETag === undefined) throw failed(this.request, new Error(`UploadPart ${part.partNumber} answered without an ETag`));
      this.completed.push(completedPart(part, output));
    } catch (err) {
      this.failure ??= { error: err };
    } finally {
      // The request is over (S3 answered, or the SDK gave up): the bytes may be overwritten.
      this.parts.release(part);
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}

/** What CompleteMultipartUpload needs of a part: its ETag and the checksum S3 verified. */
function completedPart(part: MessagePart, output: UploadPartCommandOutput): CompletedPart {
  const { ETag, ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256 } = output;
  const checksums = { ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256: part.sha256Base64 ?? ChecksumSHA256 };
  const present = Object.entries(checksums).filter(([, value]) => value !== undefined);
  return { PartNumber: part.partNumber, ETag, ...Object.fromEntries(present) };
}
