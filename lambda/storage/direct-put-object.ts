/**
 * PutObject of a message held whole in memory, signed here and sent over kept-alive
 * sockets: the one request every stored message makes. Through the SDK it costs about
 * 1 ms of CPU (middleware, schema serialisation, endpoint rules, signing; measured in
 * bench/sdk-floor.bench.ts), here about a fifth of that: what a Lambda's third of a vCPU
 * spends per message.
 *
 * It is a fast path, never the only one. It takes the endpoint, the signing region and the
 * credentials from the SDK client (its endpoint rules decide, once per bucket), sends only
 * plain SigV4 requests (no S3 Express, access point ARNs or multi-region access points) and
 * reports anything but a 200 as "not stored": the sink then sends the same PutObject through
 * the SDK, whose retries, clock-skew correction, redirects and typed errors apply as before.
 * Both write the same bytes under the same key, so an attempt whose answer was lost is
 * overwritten, never duplicated. A refusal the SDK then gets past (a 4xx other than clock
 * skew) turns the fast path off for that client.
 */
import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Agent as PlainAgent, request as httpRequest } from 'node:http';
import type { S3Client } from '@aws-sdk/client-s3';
import { encodeS3Path, signRequest } from './sigv4';

/** A request that made no progress for this long is given up (and goes through the SDK). */
export const DIRECT_PUT_IDLE_TIMEOUT_MS = 30_000;
/** Kept-alive sockets per client: as many as uploads a worker keeps in flight. */
const DIRECT_PUT_MAX_SOCKETS = 64;
/** An error answer is a small XML document; more is not read. */
const MAX_ERROR_BODY_OCTETS = 64 * 1024;
/** S3's refusal that the SDK corrects by itself (its clock offset), after which this path works again. */
const CLOCK_SKEW_CODES = new Set(['RequestTimeTooSkewed', 'RequestExpired']);

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

/**
 * Sees every direct request, like SDK middleware sees the SDK's: counting, fault injection
 * and mirrors in the tests. Throwing counts as a request that failed without an answer.
 */
export type DirectRequestInterceptor = (request: DirectRequest, send: () => Promise<DirectResponse>) => Promise<DirectResponse>;

/**
 * `stored`; `retry-sdk`: not stored, the SDK should try (a network failure, a 5xx, throttling);
 * `refused`: a 4xx, which the SDK may get past (then this path turns itself off) or report.
 */
export type DirectPutOutcome = { readonly kind: 'stored' } | { readonly kind: 'retry-sdk'; readonly reason: string } | { readonly kind: 'refused'; readonly reason: string };

interface Target {
  readonly url: URL;
  readonly region: string;
  readonly service: string;
}

export class DirectPutObject {
  private readonly targets = new Map<string, Promise<Target | undefined>>();
  private readonly interceptors: DirectRequestInterceptor[] = [];
  private agent: HttpAgent | undefined;
  private offReason: string | undefined;

  constructor(private readonly client: S3Client) {}

  /** Why the path is off for this client, if it is. */
  get disabledReason(): string | undefined {
    return this.offReason;
  }

  /** Turns the path off for good: the SDK sends every PutObject of this client from now on. */
  disable(reason: string): void {
    this.offReason ??= reason;
  }

  /** @returns a function that removes the interceptor. */
  intercept(interceptor: DirectRequestInterceptor): () => void {
    this.interceptors.push(interceptor);
    return () => {
      const at = this.interceptors.indexOf(interceptor);
      if (at >= 0) this.interceptors.splice(at, 1);
    };
  }

  /** Whether this client's requests to `bucket` can go this way (resolves the endpoint once). */
  async available(bucket: string): Promise<boolean> {
    return this.offReason === undefined && (await this.target(bucket)) !== undefined;
  }

  async put(request: DirectPutRequest): Promise<DirectPutOutcome> {
    const target = await this.target(request.bucket);
    if (target === undefined || this.offReason !== undefined) return { kind: 'retry-sdk', reason: 'not available' };
    const headers = requestHeaders(target, request);
    const seen: DirectRequest = { operation: 'PutObject', bucket: request.bucket, key: request.key, body: request.body, headers };
    let response: DirectResponse;
    try {
      response = await this.through(0, seen, () => this.send(target, request, headers));
    } catch (err) {
      return { kind: 'retry-sdk', reason: err instanceof Error ? err.message : String(err) };
    }
    return outcome(response);
  }

  private through(at: number, request: DirectRequest, send: () => Promise<DirectResponse>): Promise<DirectResponse> {
    const interceptor = this.interceptors[at];
    return interceptor ? interceptor(request, () => this.through(at + 1, request, send)) : send();
  }

  private target(bucket: string): Promise<Target | undefined> {
    let target = this.targets.get(bucket);
    if (!target) {
      target = resolveTarget(this.client, bucket).catch(() => undefined);
      this.targets.set(bucket, target);
    }
    return target;
  }

  private async send(target: Target, request: DirectPutRequest, requestHeaders: Record<string, string>): Promise<DirectResponse> {
    const config = this.client.config;
    const credentials = await config.credentials();
    const path = `${target.url.pathname.replace(/\/$/, '')}/${encodeS3Path(request.key)}`;
    const headers = signRequest(
      { method: 'PUT', path, headers: requestHeaders, payloadSha256Hex: request.sha256Hex },
      { region: target.region, service: target.service, credentials, now: new Date(Date.now() + (config.systemClockOffset ?? 0)) },
    );
    const secure = target.url.protocol === 'https:';
    this.agent ??= secure ? new HttpsAgent({ keepAlive: true, maxSockets: DIRECT_PUT_MAX_SOCKETS }) : new PlainAgent({ keepAlive: true, maxSockets: DIRECT_PUT_MAX_SOCKETS });
    // URL keeps an IPv6 literal's brackets ([::1]), which node:http would look up as a name.
    const hostname = target.url.hostname.replace(/^\[(.*)\]$/, '$1');
    const options = { method: 'PUT', hostname, port: target.url.port || undefined, path, headers, agent: this.agent };
    return new Promise<DirectResponse>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(options, (res) => readResponse(res).then(resolve, reject));
      req.setTimeout(DIRECT_PUT_IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no progress for ${DIRECT_PUT_IDLE_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(request.body);
    });
  }
}

const byClient = new WeakMap<S3Client, DirectPutObject>();

/** The fast path of one SDK client: one per client, so its sockets and endpoint live as long as the client. */
export function directPutObjectFor(client: S3Client): DirectPutObject {
  let direct = byClient.get(client);
  if (!direct) {
    direct = new DirectPutObject(client);
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
  const transient = statusCode >= 500 || statusCode === 429 || statusCode === 408 || CLOCK_SKEW_CODES.has(errorCode ?? '');
  return transient ? { kind: 'retry-sdk', reason } : { kind: 'refused', reason };
}

async function readResponse(res: IncomingMessage): Promise<DirectResponse> {
  const statusCode = res.statusCode ?? 0;
  if (statusCode === 200) {
    res.resume();
    await new Promise<void>((resolve, reject) => res.on('end', resolve).on('error', reject));
    return { statusCode };
  }
  let body = '';
  for await (const chunk of res) {
    if (body.length < MAX_ERROR_BODY_OCTETS) body += (chunk as Buffer).toString('utf8');
  }
  return { statusCode, errorCode: /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1] };
}

/**
 * Where PutObject requests to `bucket` go, per the client's own endpoint rules; undefined
 * when they need more than plain SigV4 (S3 Express, SigV4A) or a custom endpoint function.
 */
async function resolveTarget(client: S3Client, bucket: string): Promise<Target | undefined> {
  const config = client.config;
  const custom = config.endpoint ? await config.endpoint() : undefined;
  const customUrl = custom === undefined ? undefined : 'url' in custom ? String((custom as { url: URL }).url) : `${custom.protocol}//${custom.hostname}${custom.port ? `:${custom.port}` : ''}${custom.path}`;
  const endpoint = config.endpointProvider(
    {
      Bucket: bucket,
      Region: await config.region(),
      UseFIPS: await config.useFipsEndpoint(),
      UseDualStack: await config.useDualstackEndpoint(),
      ForcePathStyle: config.forcePathStyle,
      Accelerate: config.useAccelerateEndpoint,
      ...(customUrl ? { Endpoint: customUrl } : {}),
    },
    {},
  );
  const scheme = (endpoint.properties?.authSchemes as Array<Record<string, unknown>> | undefined)?.[0];
  if (scheme?.name !== 'sigv4' || typeof scheme.signingRegion !== 'string') return undefined;
  if (endpoint.url.search !== '' || (endpoint.headers && Object.keys(endpoint.headers).length > 0)) return undefined;
  return { url: endpoint.url, region: scheme.signingRegion, service: typeof scheme.signingName === 'string' ? scheme.signingName : 's3' };
}
