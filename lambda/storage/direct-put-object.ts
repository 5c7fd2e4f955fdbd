/**
 * PutObject of a message held whole in memory, signed here and sent over kept-alive
 * sockets: the one request every stored message makes. Through the SDK it costs about
 * 1 ms of CPU (middleware, schema serialisation, endpoint rules, signing; measured in
 * bench/sdk-floor.bench.ts), here about a fifth of that: what a Lambda's third of a vCPU
 * spends per message.
 *
 * It is a fast path, never the only one. Where requests go and how they are signed comes from
 * a target: an SDK client's configuration (its endpoint rules decide, once per bucket:
 * sdk-s3-target.ts) or the Lambda's environment (environment-s3-target.ts). It sends only
 * plain SigV4 requests (no S3 Express, access point ARNs or multi-region access points) and
 * reports anything but a 200 as "not stored": the sink then sends the same PutObject through
 * the SDK, whose retries, clock-skew correction, redirects and typed errors apply as before.
 * Both write the same bytes under the same key, so an attempt whose answer was lost is
 * overwritten, never duplicated. A refusal the SDK then gets past (a 4xx other than clock
 * skew) turns the fast path off for that client.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { DIRECT_BACKOFF_BASE_MS, DIRECT_BACKOFF_MAX_MS, DIRECT_MAX_FAILURES_IN_A_ROW, DirectPath, TargetCache, type Interceptor } from '../aws-direct/direct-path';
import { encodeS3Path, signedRequestHead, type SigningCredentials } from '../aws-direct/sigv4';
import { sdkS3Target } from './sdk-s3-target';

/** A request that made no progress for this long is given up (and goes through the SDK). */
export const DIRECT_PUT_IDLE_TIMEOUT_MS = 30_000;
/** Kept-alive sockets per client: as many as uploads a worker keeps in flight. */
const DIRECT_PUT_MAX_SOCKETS = 64;
/** An error answer is a small XML document; more is not read. */
const MAX_ERROR_BODY_OCTETS = 64 * 1024;
/**
 * S3's 4xx answers that say nothing against this request's form: the SDK retries them or
 * corrects itself (its clock offset, fresh credentials), after which this path works again.
 */
const TRANSIENT_REFUSAL_CODES = new Set([
  'RequestTimeTooSkewed',
  'RequestExpired',
  'RequestTimeout',
  'IncompleteBody',
  'BadDigest',
  'XAmzContentSHA256Mismatch',
  'ExpiredToken',
  'TokenRefreshRequired',
  'OperationAborted',
  'SlowDown',
]);
/** How the path rests after failures and when it turns off (see aws-direct/direct-path.ts). */
export const DIRECT_PUT_BACKOFF_BASE_MS = DIRECT_BACKOFF_BASE_MS;
export const DIRECT_PUT_BACKOFF_MAX_MS = DIRECT_BACKOFF_MAX_MS;
export const DIRECT_PUT_MAX_FAILURES_IN_A_ROW = DIRECT_MAX_FAILURES_IN_A_ROW;

export interface DirectPutRequest {
  readonly bucket: string;
  readonly key: string;
  readonly body: Buffer;
  readonly contentType: string;
  /** User metadata, printable ASCII values. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Hex SHA-256 of body: the signed payload hash. */
  readonly sha256Hex: string;
  /** Sent as `x-amz-checksum-sha256`, which S3 verifies. @default not sent */
  readonly checksumSha256Base64?: string | undefined;
}

/** What an interceptor sees: the operation and the bytes it stores. */
export interface DirectRequest {
  readonly operation: 'PutObject';
  readonly bucket: string;
  readonly key: string;
  readonly body: Buffer;
  /** The headers sent besides the signature's (`content-type`, `x-amz-checksum-sha256`, `x-amz-meta-*`...). */
  readonly headers: Readonly<Record<string, string>>;
}

export interface DirectResponse {
  readonly statusCode: number;
  /** S3's error code, from an error answer. */
  readonly errorCode?: string | undefined;
}

/** Sees every direct PutObject (see aws-direct/direct-path.ts). */
export type DirectRequestInterceptor = Interceptor<DirectRequest, DirectResponse>;

/**
 * `stored`; `retry-sdk`: not stored, the SDK should try (a network failure, a 5xx, throttling);
 * `refused`: a 4xx, which the SDK may get past (then this path turns itself off) or report.
 */
export type DirectPutOutcome = { readonly kind: 'stored' } | { readonly kind: 'retry-sdk'; readonly reason: string } | { readonly kind: 'refused'; readonly reason: string };

/** Where a bucket's PutObjects go: the bucket's URL (virtual-hosted or path-style), and how they are signed. */
export interface DirectPutTarget {
  readonly url: URL;
  readonly region: string;
  readonly service: string;
  credentials(): Promise<SigningCredentials>;
  /** Milliseconds to add to the local clock when signing (the SDK's clock-skew correction). */
  clockOffsetMs(): number;
}

/** Resolves where `bucket`'s PutObjects go; undefined: not this way (the SDK sends them). */
export type DirectPutTargetSource = (bucket: string, key: string) => Promise<DirectPutTarget | undefined>;

type Target = DirectPutTarget;

export class DirectPutObject {
  private readonly targets = new TargetCache<Target>();
  private readonly path = new DirectPath<DirectRequest, DirectResponse>({
    maxSockets: DIRECT_PUT_MAX_SOCKETS,
    idleTimeoutMs: DIRECT_PUT_IDLE_TIMEOUT_MS,
    maxBodyOctets: MAX_ERROR_BODY_OCTETS,
  });

  constructor(private readonly resolveTarget: DirectPutTargetSource) {}

  /** Why the path is off for this client, if it is. */
  get disabledReason(): string | undefined {
    return this.path.disabledReason;
  }

  /** Turns the path off for good: the SDK sends every PutObject of this client from now on. */
  disable(reason: string): void {
    this.path.disable(reason);
  }

  /** @returns a function that removes the interceptor. */
  intercept(interceptor: DirectRequestInterceptor): () => void {
    return this.path.intercept(interceptor);
  }

  /** Whether this client's requests to `bucket` can go this way (resolves the endpoint once). */
  async available(bucket: string): Promise<boolean> {
    return this.disabledReason === undefined && (await this.target(bucket, 'probe')) !== undefined;
  }

  async put(request: DirectPutRequest): Promise<DirectPutOutcome> {
    if (this.path.resting) return { kind: 'retry-sdk', reason: 'resting after a failure' };
    const target = await this.target(request.bucket, request.key);
    if (target === undefined || this.disabledReason !== undefined) return { kind: 'retry-sdk', reason: 'not available' };
    const result = await this.attempt(target, request);
    this.path.noteOutcome(result.kind === 'stored' ? undefined : result.reason);
    return result;
  }

  private async attempt(target: Target, request: DirectPutRequest): Promise<DirectPutOutcome> {
    const headers = requestHeaders(target, request);
    const seen: DirectRequest = { operation: 'PutObject', bucket: request.bucket, key: request.key, body: request.body, headers };
    let response: DirectResponse;
    try {
      response = await this.path.through(seen, (sent) => {
        if (sent !== seen) throw new Error('a PutObject interceptor cannot replace the request');
        return this.send(target, request, headers);
      });
    } catch (err) {
      return { kind: 'retry-sdk', reason: err instanceof Error ? err.message : String(err) };
    }
    return outcome(response);
  }

  private target(bucket: string, key: string): Promise<Target | undefined> {
    return this.targets.get(bucket, () => this.resolveTarget(bucket, key));
  }

  private async send(target: Target, request: DirectPutRequest, requestHeaders: Record<string, string>): Promise<DirectResponse> {
    const credentials = await target.credentials();
    const path = `${target.url.pathname.replace(/\/$/, '')}/${encodeS3Path(request.key)}`;
    const head = signedRequestHead(
      { method: 'PUT', path, headers: requestHeaders, payloadSha256Hex: request.sha256Hex },
      { region: target.region, service: target.service, credentials, now: new Date(Date.now() + target.clockOffsetMs()) },
    );
    const response = await this.path.pool(target.url).request(head, request.body);
    return { statusCode: response.statusCode, errorCode: response.statusCode === 200 ? undefined : errorCodeOf(response.body) };
  }
}

const byClient = new WeakMap<S3Client, DirectPutObject>();

/** The fast path of one SDK client: one per client, so its sockets and endpoint live as long as the client. */
export function directPutObjectFor(client: S3Client): DirectPutObject {
  let direct = byClient.get(client);
  if (!direct) {
    direct = new DirectPutObject(sdkS3Target(client));
    byClient.set(client, direct);
  }
  return direct;
}

function requestHeaders(target: Target, request: DirectPutRequest): Record<string, string> {
  const headers: Record<string, string> = {
    host: target.url.host,
    'content-length': String(request.body.length),
    'content-type': request.contentType,
  };
  if (request.checksumSha256Base64 !== undefined) headers['x-amz-checksum-sha256'] = request.checksumSha256Base64;
  for (const [name, value] of Object.entries(request.metadata)) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
  return headers;
}

function outcome(response: DirectResponse): DirectPutOutcome {
  const { statusCode, errorCode } = response;
  if (statusCode === 200) return { kind: 'stored' };
  const reason = `HTTP ${statusCode}${errorCode ? ` ${errorCode}` : ''}`;
  const transient = statusCode >= 500 || statusCode === 429 || statusCode === 408 || TRANSIENT_REFUSAL_CODES.has(errorCode ?? '');
  return transient ? { kind: 'retry-sdk', reason } : { kind: 'refused', reason };
}

function errorCodeOf(body: Buffer): string | undefined {
  return /<Code>([^<]{1,100})<\/Code>/.exec(body.toString('utf8'))?.[1];
}
