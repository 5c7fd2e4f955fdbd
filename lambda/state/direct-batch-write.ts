/**
 * BatchWriteItem of message records, signed here and sent over kept-alive sockets: the one
 * DynamoDB request a run makes per 25 stored messages. Through the SDK a record costs about
 * 0.2 ms of CPU (schema serialisation, middleware, its HTTP client); here the JSON is made by
 * JSON.stringify and the request is one write.
 *
 * A fast path, never the only one, like the direct PutObject: the endpoint, signing region
 * and credentials come from the SDK client (its endpoint rules decide, once per table), only
 * string and number attributes go this way, and anything but a 200 with a readable answer is
 * "not written": the caller sends the same batch through the SDK, whose retries and typed
 * errors apply as before. Every request of a batch puts a whole item (or deletes one), so a
 * batch sent twice writes the same items twice: nothing is duplicated.
 */
import { hash } from 'node:crypto';
import { BatchWriteItemCommand, type ConsumedCapacity, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import { DirectPath, requestHead, TargetCache, type Interceptor } from '../aws-direct/direct-path';
import { signRequest } from '../aws-direct/sigv4';

/** A request that made no progress for this long is given up (and goes through the SDK). */
export const DIRECT_BATCH_WRITE_IDLE_TIMEOUT_MS = 10_000;
/** Kept-alive sockets per client: the state store keeps at most a few batches in flight. */
const DIRECT_BATCH_WRITE_MAX_SOCKETS = 8;
/** An answer lists at most 25 unprocessed small records; a longer one goes through the SDK. */
const MAX_ANSWER_OCTETS = 1024 * 1024;
const TARGET_HEADER = 'DynamoDB_20120810.BatchWriteItem';
const CONTENT_TYPE = 'application/x-amz-json-1.0';
/** DynamoDB's error types that say nothing against this request's form (see `outcome`). */
const TRANSIENT_ERROR_TYPES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'InternalServerError',
  'ServiceUnavailable',
  'ExpiredTokenException',
  'InvalidSignatureException',
  'TransactionInProgressException',
]);

/** What an interceptor sees: the command input the SDK would have sent. */
export interface DirectBatchWriteRequest {
  readonly operation: 'BatchWriteItem';
  readonly input: { readonly RequestItems: Record<string, WriteRequest[]>; readonly ReturnConsumedCapacity: 'TOTAL' };
}

export interface DirectBatchWriteResponse {
  readonly statusCode: number;
  /** DynamoDB's error type (`ThrottlingException`), from an error answer. */
  readonly errorType?: string | undefined;
  /** A 200's answer, as the SDK would return it. */
  readonly output?: { readonly UnprocessedItems?: Record<string, WriteRequest[]>; readonly ConsumedCapacity?: ConsumedCapacity[] } | undefined;
}

/**
 * `written`: DynamoDB took the batch, but for `unprocessed`; `retry-sdk`: nothing known to be
 * written, the SDK should send it; `refused`: a 4xx the SDK may get past (then this path turns itself off).
 */
export type DirectBatchWriteOutcome =
  | { readonly kind: 'written'; readonly unprocessed: WriteRequest[]; readonly consumed: ConsumedCapacity[] }
  | { readonly kind: 'retry-sdk'; readonly reason: string }
  | { readonly kind: 'refused'; readonly reason: string };

interface Target {
  readonly url: URL;
  readonly region: string;
}

export class DirectBatchWrite {
  private readonly targets = new TargetCache<Target>();
  private readonly path = new DirectPath<DirectBatchWriteRequest, DirectBatchWriteResponse>({
    maxSockets: DIRECT_BATCH_WRITE_MAX_SOCKETS,
    idleTimeoutMs: DIRECT_BATCH_WRITE_IDLE_TIMEOUT_MS,
    maxBodyOctets: MAX_ANSWER_OCTETS,
  });

  constructor(private readonly client: DynamoDBClient) {}

  /** Why the path is off for this client, if it is. */
  get disabledReason(): string | undefined {
    return this.path.disabledReason;
  }

  /** Turns the path off for good: the SDK sends every BatchWriteItem of this client from now on. */
  disable(reason: string): void {
    this.path.disable(reason);
  }

  /** @returns a function that removes the interceptor. */
  intercept(interceptor: Interceptor<DirectBatchWriteRequest, DirectBatchWriteResponse>): () => void {
    return this.path.intercept(interceptor);
  }

  /**
   * Writes one batch (at most 25 requests, one table), or says why the SDK should. Once
   * `signal` aborted nothing is sent, and a request in flight is cut off (its socket closed).
   */
  async write(tableName: string, requests: WriteRequest[], signal?: AbortSignal): Promise<DirectBatchWriteOutcome> {
    if (this.disabledReason !== undefined || this.path.resting) return { kind: 'retry-sdk', reason: 'not available' };
    if (!requests.every(plainWriteRequest)) return { kind: 'retry-sdk', reason: 'an attribute other than a string or a number' };
    const target = await this.target(tableName);
    if (target === undefined) return { kind: 'retry-sdk', reason: 'not available' };
    const result = await this.attempt(target, tableName, requests, signal);
    // A caller that stopped says nothing about the path.
    if (!signal?.aborted) this.path.noteOutcome(result.kind === 'written' ? undefined : result.reason);
    return result;
  }

  private async attempt(target: Target, tableName: string, requests: WriteRequest[], signal: AbortSignal | undefined): Promise<DirectBatchWriteOutcome> {
    const request: DirectBatchWriteRequest = { operation: 'BatchWriteItem', input: { RequestItems: { [tableName]: requests }, ReturnConsumedCapacity: 'TOTAL' } };
    let response: DirectBatchWriteResponse;
    try {
      response = await this.path.through(request, (sent) => this.send(target, sent, signal));
    } catch (err) {
      return { kind: 'retry-sdk', reason: err instanceof Error ? err.message : String(err) };
    }
    return outcome(response, tableName);
  }

  private target(tableName: string): Promise<Target | undefined> {
    return this.targets.get(tableName, () => resolveTarget(this.client, tableName));
  }

  private async send(target: Target, request: DirectBatchWriteRequest, signal: AbortSignal | undefined): Promise<DirectBatchWriteResponse> {
    const config = this.client.config;
    const credentials = await config.credentials();
    const body = Buffer.from(JSON.stringify(request.input), 'utf8');
    const path = '/';
    const headers = signRequest(
      {
        method: 'POST',
        path,
        headers: { host: target.url.host, 'content-length': String(body.length), 'content-type': CONTENT_TYPE, 'x-amz-target': TARGET_HEADER },
        payloadSha256Hex: hash('sha256', body, 'hex'),
      },
      { region: target.region, service: 'dynamodb', credentials, now: new Date(Date.now() + (config.systemClockOffset ?? 0)) },
    );
    const response = await this.path.pool(target.url).request(requestHead('POST', path, headers), body, signal);
    if (response.truncated) return { statusCode: response.statusCode, errorType: 'AnswerTooLong' };
    return answerOf(response.statusCode, response.body);
  }
}

const byClient = new WeakMap<DynamoDBClient, DirectBatchWrite>();

/** The fast path of one SDK client: one per client, so its sockets and endpoint live as long as the client. */
export function directBatchWriteFor(client: DynamoDBClient): DirectBatchWrite {
  let direct = byClient.get(client);
  if (!direct) {
    direct = new DirectBatchWrite(client);
    byClient.set(client, direct);
  }
  return direct;
}

/** A put of a whole item, or a delete, whose every attribute is a string or a number: JSON.stringify writes it as DynamoDB reads it. */
function plainWriteRequest(request: WriteRequest): boolean {
  const attributes = request.PutRequest ? request.DeleteRequest === undefined && request.PutRequest.Item : request.DeleteRequest?.Key;
  if (!attributes) return false;
  for (const name in attributes) {
    const value = attributes[name] as unknown as Record<string, unknown>;
    let kinds = 0;
    for (const kind in value) {
      if ((kind !== 'S' && kind !== 'N') || typeof value[kind] !== 'string') return false;
      kinds++;
    }
    if (kinds !== 1) return false;
  }
  return true;
}

/** The answer's meaning; a 200 whose body is not the answer DynamoDB gives counts as no answer. */
function answerOf(statusCode: number, body: Buffer): DirectBatchWriteResponse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { statusCode, errorType: statusCode === 200 ? 'UnreadableAnswer' : undefined };
  }
  if (statusCode !== 200) {
    const type = (parsed as { __type?: unknown } | null)?.__type;
    return { statusCode, errorType: typeof type === 'string' ? type.slice(type.lastIndexOf('#') + 1).slice(0, 100) : undefined };
  }
  return { statusCode, output: parsed as DirectBatchWriteResponse['output'] };
}

function outcome(response: DirectBatchWriteResponse, tableName: string): DirectBatchWriteOutcome {
  const { statusCode, errorType, output } = response;
  const reason = `HTTP ${statusCode}${errorType ? ` ${errorType}` : ''}`;
  if (statusCode === 200 && errorType === undefined) {
    const answer = batchWriteAnswer(output, tableName);
    return answer ? { kind: 'written', ...answer } : { kind: 'retry-sdk', reason: `${reason} with an answer of another shape` };
  }
  const transient = statusCode >= 500 || statusCode === 200 || statusCode === 429 || statusCode === 408 || TRANSIENT_ERROR_TYPES.has(errorType ?? '');
  return transient ? { kind: 'retry-sdk', reason } : { kind: 'refused', reason };
}

/**
 * A 200's body as DynamoDB answers this batch: an object, with unprocessed items of this
 * table only, and capacity (asked for) of this table only. Anything else is not taken for
 * "written": the SDK sends the batch again, which writes the same items.
 */
function batchWriteAnswer(output: unknown, tableName: string): { unprocessed: WriteRequest[]; consumed: ConsumedCapacity[] } | undefined {
  if (!isPlainObject(output) || '__type' in output) return undefined;
  const { UnprocessedItems: unprocessedByTable = {}, ConsumedCapacity: consumed = [] } = output;
  if (!isPlainObject(unprocessedByTable) || Object.keys(unprocessedByTable).some((table) => table !== tableName)) return undefined;
  const unprocessed = unprocessedByTable[tableName] ?? [];
  if (!Array.isArray(unprocessed) || !unprocessed.every(isPlainObject)) return undefined;
  if (!Array.isArray(consumed) || !consumed.every((c) => isPlainObject(c) && (c.TableName === undefined || c.TableName === tableName))) return undefined;
  return { unprocessed: unprocessed as WriteRequest[], consumed: consumed as ConsumedCapacity[] };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Where BatchWriteItem requests on `tableName` go, decided by the SDK's own endpoint rules on
 * the client's configuration (custom endpoints, FIPS, account-based endpoints);
 * undefined when they need more than plain SigV4, extra headers or a path of their own.
 */
async function resolveTarget(client: DynamoDBClient, tableName: string): Promise<Target | undefined> {
  // A copy: the resolution may write a configured endpoint into the config it is given.
  const endpoint = await getEndpointFromInstructions({ RequestItems: { [tableName]: [] } }, BatchWriteItemCommand, { ...client.config });
  const scheme = (endpoint.properties?.authSchemes as Array<Record<string, unknown>> | undefined)?.[0];
  if (scheme !== undefined && scheme.name !== 'sigv4') return undefined;
  if (endpoint.url.search !== '' || (endpoint.headers && Object.keys(endpoint.headers).length > 0)) return undefined;
  // The SDK signs an endpoint's path its own way (encoded twice, a slash added): only `/` is sent here.
  if (endpoint.url.pathname !== '/') return undefined;
  const region = typeof scheme?.signingRegion === 'string' ? scheme.signingRegion : await client.config.region();
  return { url: endpoint.url, region };
}
