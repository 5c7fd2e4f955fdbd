/**
 * The latency model's S3: path-style REST on loopback, answering after the configured
 * delay with what the SDK and lib-storage read: ETag, the x-amz-checksum-* values the
 * request carried (in headers, or in an aws-chunked trailer) echoed back, the XML of
 * CreateMultipartUpload, CompleteMultipartUpload and ListObjectsV2, S3's error XML.
 *
 * Bodies are drained and counted, never kept or parsed: an object is its key, size, ETag,
 * user metadata and checksums (enough for HeadObject, ListObjectsV2 and counting what a
 * run stored). CompleteMultipartUpload only counts the parts its XML lists against the
 * parts uploaded. GetObject is not answered (the worker never reads an object back).
 * Signatures are not checked: it binds to 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOOPBACK_HOST } from '../../lambda/local/loopback';
import type { S3Operation } from './latency-options';
import { TallyBook } from './latency-tally';
import { listObjectsV2, type S3Bucket, type S3Object } from './s3-listing';
import { compareUtf8 } from './utf8-order';
import { errorXml, multipartCompleteXml, multipartInitiateXml } from './s3-xml';

/** Bytes kept from the end of a body: an aws-chunked trailer fits in it. */
const TAIL_BYTES = 512;
/** A CompleteMultipartUpload request lists at most 10,000 parts, ~100 bytes each. */
const MAX_COMPLETE_XML_BYTES = 2 * 1024 * 1024;
/** The checksum algorithms S3 echoes back. */
const CHECKSUM_HEADER = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/;

export interface LatencyS3 {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly tallies: TallyBook;
  /** Drops every bucket, object and upload. */
  clear(): void;
  close(): Promise<void>;
}

interface Upload {
  readonly bucket: string;
  readonly key: string;
  readonly parts: Map<number, { size: number }>;
  readonly metadata: Record<string, string>;
  readonly contentType: string | undefined;
}

/** One parsed request. */
interface S3Request {
  readonly req: IncomingMessage;
  readonly bucket: string;
  readonly key: string;
  readonly query: URLSearchParams;
  /** Body bytes (x-amz-decoded-content-length when the body was aws-chunked). */
  readonly size: number;
  readonly checksums: Record<string, string>;
  /** The whole body, kept only for CompleteMultipartUpload. */
  readonly text?: string;
}

interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string | number>;
  readonly xml?: string;
}

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startLatencyS3(delaysMs: Readonly<Partial<Record<S3Operation, number>>>): Promise<LatencyS3> {
  const buckets = new Map<string, S3Bucket>();
  const uploads = new Map<string, Upload>();
  const tallies = new TallyBook();
  let sequence = 0;
  const nextId = (): string => (++sequence).toString(16).padStart(32, '0');

  const server = createServer((req, res) => {
    void serve(req, res).catch((err: unknown) => send(res, req, { status: 500, xml: errorXml('InternalError', String(err)) }));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const slash = path.indexOf('/', 1);
    const bucket = decodeURIComponent(slash < 0 ? path.slice(1) : path.slice(1, slash));
    const key = slash < 0 ? '' : decodeURIComponent(path.slice(slash + 1));
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const operation = classify(req, key, query);
    const tally = tallies.of(operation ?? 'Unsupported');
    tally.calls++;
    const body = await drain(req, operation === 'CompleteMultipartUpload');
    const request: S3Request = { req, bucket, key, query, ...body };
    if (operation === 'PutObject' || operation === 'UploadPart') tally.bytesIn += request.size;
    let reply: Reply;
    try {
      if (operation === undefined) throw new S3Error(501, 'NotImplemented', `latency model: ${req.method} ${path} is not supported`);
      reply = answer(operation, request);
    } catch (err) {
      if (!(err instanceof S3Error)) throw err;
      reply = { status: err.status, xml: errorXml(err.code, err.message) };
    }
    if (operation) await tallies.delay(operation, delaysMs[operation] ?? 0);
    send(res, req, reply);
  }

  function bucketOf(name: string): S3Bucket {
    const b = buckets.get(name);
    if (b === undefined) throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist');
    return b;
  }

  function uploadOf(r: S3Request): Upload {
    const u = uploads.get(r.query.get('uploadId') ?? '');
    if (u === undefined || u.bucket !== r.bucket || u.key !== r.key) throw new S3Error(404, 'NoSuchUpload', 'The specified upload does not exist');
    return u;
  }

  function answer(operation: S3Operation, r: S3Request): Reply {
    switch (operation) {
      case 'CreateBucket':
        if (!buckets.has(r.bucket)) buckets.set(r.bucket, new Map());
        return { status: 200, headers: { location: `/${r.bucket}` } };
      case 'HeadBucket':
        bucketOf(r.bucket);
        return { status: 200 };
      case 'DeleteBucket':
        if (bucketOf(r.bucket).size > 0) throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty');
        buckets.delete(r.bucket);
        return { status: 204 };
      case 'PutObject': {
        const object: S3Object = { size: r.size, etag: `"${nextId()}"`, lastModified: new Date(), metadata: userMetadata(r.req), contentType: r.req.headers['content-type'], checksums: r.checksums };
        bucketOf(r.bucket).set(r.key, object);
        return { status: 200, headers: { etag: object.etag, ...r.checksums } };
      }
      case 'HeadObject': {
        const o = bucketOf(r.bucket).get(r.key);
        if (o === undefined) throw new S3Error(404, 'NotFound', 'Not Found');
        const meta = Object.fromEntries(Object.entries(o.metadata).map(([k, v]) => [`x-amz-meta-${k}`, v]));
        return { status: 200, headers: { 'content-length': o.size, etag: o.etag, 'last-modified': o.lastModified.toUTCString(), ...(o.contentType ? { 'content-type': o.contentType } : {}), ...meta } };
      }
      case 'DeleteObject':
        bucketOf(r.bucket).delete(r.key);
        return { status: 204 };
      case 'ListObjectsV2':
        if (r.query.get('delimiter')) throw new S3Error(501, 'NotImplemented', 'latency model: ListObjectsV2 with a delimiter is not supported');
        return { status: 200, xml: listObjectsV2(r.bucket, bucketOf(r.bucket), r.query, compareUtf8) };
      case 'CreateMultipartUpload': {
        bucketOf(r.bucket);
        const uploadId = nextId();
        uploads.set(uploadId, { bucket: r.bucket, key: r.key, parts: new Map(), metadata: userMetadata(r.req), contentType: r.req.headers['content-type'] });
        const algorithm = r.req.headers['x-amz-checksum-algorithm'];
        return { status: 200, headers: typeof algorithm === 'string' ? { 'x-amz-checksum-algorithm': algorithm } : {}, xml: multipartInitiateXml(r.bucket, r.key, uploadId) };
      }
      case 'UploadPart': {
        const part = Number(r.query.get('partNumber'));
        if (!(Number.isInteger(part) && part >= 1 && part <= 10_000)) throw new S3Error(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
        uploadOf(r).parts.set(part, { size: r.size });
        return { status: 200, headers: { etag: `"${nextId()}"`, ...r.checksums } };
      }
      case 'CompleteMultipartUpload':
        return complete(r);
      case 'AbortMultipartUpload':
        uploadOf(r);
        uploads.delete(r.query.get('uploadId')!);
        return { status: 204 };
    }
  }

  function complete(r: S3Request): Reply {
    const upload = uploadOf(r);
    const listed = (r.text ?? '').match(/<PartNumber>/g)?.length ?? 0;
    if (listed === 0 || listed !== upload.parts.size) throw new S3Error(400, 'InvalidPart', `The request lists ${listed} parts; ${upload.parts.size} were uploaded`);
    const size = [...upload.parts.values()].reduce((n, p) => n + p.size, 0);
    const etag = `"${nextId()}-${upload.parts.size}"`;
    bucketOf(r.bucket).set(r.key, { size, etag, lastModified: new Date(), metadata: upload.metadata, contentType: upload.contentType, checksums: {} });
    uploads.delete(r.query.get('uploadId')!);
    return { status: 200, xml: multipartCompleteXml(r.bucket, r.key, etag) };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => resolve());
  });
  return {
    endpoint: `http://${LOOPBACK_HOST}:${(server.address() as AddressInfo).port}`,
    tallies,
    clear: () => {
      buckets.clear();
      uploads.clear();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function classify(req: IncomingMessage, key: string, q: URLSearchParams): S3Operation | undefined {
  const method = req.method ?? 'GET';
  if (key === '') {
    if (method === 'PUT' && [...q.keys()].length === 0) return 'CreateBucket';
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'DELETE') return 'DeleteBucket';
    if (method === 'GET' && q.get('list-type') === '2') return 'ListObjectsV2';
    return undefined;
  }
  if (method === 'PUT' && req.headers['x-amz-copy-source'] === undefined) return q.has('uploadId') ? 'UploadPart' : 'PutObject';
  if (method === 'POST') return q.has('uploads') ? 'CreateMultipartUpload' : q.has('uploadId') ? 'CompleteMultipartUpload' : undefined;
  if (method === 'DELETE') return q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
  if (method === 'HEAD') return 'HeadObject';
  return undefined;
}

/** Reads the body to its end without keeping it (but its last bytes, or all of it when `keep`). */
async function drain(req: IncomingMessage, keep: boolean): Promise<Pick<S3Request, 'size' | 'checksums' | 'text'>> {
  let bytes = 0;
  let tail: Buffer = Buffer.alloc(0);
  const kept: Buffer[] = [];
  for await (const chunk of req) {
    const c = chunk as Buffer;
    bytes += c.length;
    if (keep && bytes <= MAX_COMPLETE_XML_BYTES) kept.push(c);
    tail = c.length >= TAIL_BYTES ? c.subarray(c.length - TAIL_BYTES) : Buffer.concat([tail, c]).subarray(-TAIL_BYTES);
  }
  const decoded = Number(req.headers['x-amz-decoded-content-length']);
  return {
    size: Number.isFinite(decoded) ? decoded : bytes,
    checksums: checksumsOf(req, tail),
    ...(keep ? { text: Buffer.concat(kept).toString('utf8') } : {}),
  };
}

/** The x-amz-checksum-* values sent as headers or, aws-chunked, in the trailer. */
function checksumsOf(req: IncomingMessage, tail: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (CHECKSUM_HEADER.test(name) && typeof value === 'string') out[name] = value;
  }
  const trailer = req.headers['x-amz-trailer'];
  if (typeof trailer === 'string' && CHECKSUM_HEADER.test(trailer)) {
    const m = new RegExp(`${trailer}:\\s*([A-Za-z0-9+/=]+)`).exec(tail.toString('latin1'));
    if (m) out[trailer] = m[1]!;
  }
  return out;
}

function userMetadata(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-amz-meta-') && typeof value === 'string') out[name.slice('x-amz-meta-'.length)] = value;
  }
  return out;
}

function send(res: ServerResponse, req: IncomingMessage, reply: Reply): void {
  if (res.headersSent) return void res.destroy();
  const body = req.method === 'HEAD' || reply.xml === undefined ? undefined : Buffer.from(reply.xml, 'utf8');
  res.writeHead(reply.status, {
    'x-amz-request-id': `latency-${process.pid}`,
    ...(body ? { 'content-type': 'application/xml', 'content-length': body.length } : req.method === 'HEAD' ? {} : { 'content-length': 0 }),
    ...reply.headers,
  });
  res.end(body);
}
