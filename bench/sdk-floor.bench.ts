/**
 * What the AWS SDK alone costs per request, the floor under the worker's CPU per message:
 * every stored message is one PutObject and a 25th of a BatchWriteItem, whatever the worker
 * does around it; beside each, the same request through the direct path the worker uses. The real
 * clients (configured as the handler builds them) send to the latency model's endpoints
 * with no delay, 16 requests at a time, in a process of their own; the figure is this
 * process's CPU (user + sys) over the measured requests, after a warm-up.
 *
 *   node --import tsx bench/sdk-floor.bench.ts [requests]   prints one JSON line
 *
 * The endpoints run in a child process (bench/latency-model), so their CPU is not counted.
 */
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { BatchWriteItemCommand, DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ensureTable } from '../lambda/state/table-schema';
import { DirectDynamoDb } from '../lambda/state/direct-dynamodb';
import { sdkClientTarget } from '../lambda/state/sdk-client-target';
import { DirectPutObject } from '../lambda/storage/direct-put-object';
import { sdkS3Target } from '../lambda/storage/sdk-s3-target';
import { signRequest } from '../lambda/aws-direct/sigv4';
import { exec } from './common';
import { startLatencyModel } from './latency-model/start-latency-model';

export interface SdkFloorFigures {
  readonly requests: number;
  readonly messageOctets: number;
  /** CPU per PutObject of one message through the SDK (precomputed SHA-256 checksum, as the sink sent it before the direct path). */
  readonly putObjectCpuMs: number;
  /** CPU per PutObject of the same message through the sink's direct path (lambda/storage/direct-put-object.ts). */
  readonly directPutObjectCpuMs: number;
  /**
   * CPU per PutObject of the same message signed as the direct path signs it, sent through
   * node:http with a keep-alive agent (what the direct path used before its own HTTP/1.1 client).
   */
  readonly nodeHttpPutObjectCpuMs: number;
  /** CPU per record written in BatchWriteItem requests of 25 through the SDK. */
  readonly batchedRecordCpuMs: number;
  /** The same through the state store's direct path (lambda/state/direct-dynamodb.ts), which the worker uses. Missing in runs before it. */
  readonly directBatchedRecordCpuMs?: number;
}

const MESSAGE_OCTETS = 10_000;
const CONCURRENCY = 16;
const WARM_UP_REQUESTS = 100;
const RECORDS_PER_BATCH = 25;
/** Rounds in which the direct path and node:http alternate; the median round of each is reported. */
const COMPARISON_ROUNDS = 5;
/** A few seconds of requests; minutes means stuck. */
const SDK_FLOOR_TIMEOUT_MS = 5 * 60_000;
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };

async function cpuPerCall(count: number, call: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARM_UP_REQUESTS; i++) await call(-1 - i);
  const start = process.cpuUsage();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) await call(next++);
  }));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / count;
}

export async function measureSdkFloor(requests: number): Promise<SdkFloorFigures> {
  const zero = { PutObject: 0, CreateBucket: 0 };
  const model = await startLatencyModel({ s3DelaysMs: zero, dynamoDbDelaysMs: { BatchWriteItem: 0 } });
  const s3 = new S3Client({ endpoint: model.s3Endpoint, region: 'us-east-1', credentials: CREDENTIALS, forcePathStyle: true, cacheMiddleware: true });
  const dynamodb = new DynamoDBClient({ endpoint: model.dynamoEndpoint, region: 'us-east-1', credentials: CREDENTIALS, cacheMiddleware: true });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'floor' }));
    await ensureTable(dynamodb, 'floor');
    const body = Buffer.alloc(MESSAGE_OCTETS, 'x');
    const checksum = createHash('sha256').update(body).digest('base64');
    const putObjectCpuMs = await cpuPerCall(requests, (i) =>
      s3.send(new PutObjectCommand({ Bucket: 'floor', Key: `m/${i}.eml`, Body: body, ChecksumSHA256: checksum, ContentType: 'message/rfc822' })),
    );
    const sha256 = createHash('sha256').update(body).digest();
    const direct = new DirectPutObject(sdkS3Target(s3));
    const directPut = async (i: number): Promise<void> => {
      const outcome = await direct.put({ bucket: 'floor', key: `d/${i}.eml`, body, contentType: 'message/rfc822', metadata: {}, sha256Hex: sha256.toString('hex'), checksumSha256Base64: checksum });
      if (outcome.kind !== 'stored') throw new Error(`direct PutObject not stored: ${outcome.reason}`);
    };
    const httpPut = (i: number): Promise<void> => nodeHttpPut(new URL(model.s3Endpoint), `/floor/h/${i}.eml`, body, sha256.toString('hex'), checksum);
    // The two clients in alternating rounds: neither gains from running after the other warmed up.
    const direct_: number[] = [];
    const http_: number[] = [];
    for (let round = 0; round < COMPARISON_ROUNDS; round++) {
      direct_.push(await cpuPerCall(Math.ceil(requests / COMPARISON_ROUNDS), (i) => directPut(round * requests + i)));
      http_.push(await cpuPerCall(Math.ceil(requests / COMPARISON_ROUNDS), (i) => httpPut(round * requests + i)));
    }
    const directPutObjectCpuMs = median(direct_);
    const nodeHttpPutObjectCpuMs = median(http_);
    const batch = (i: number): WriteRequest[] =>
      Array.from({ length: RECORDS_PER_BATCH }, (_, j) => ({ PutRequest: { Item: { pk: { S: 'MAILBOX#floor' }, sk: { S: `MSG#${i}-${j}` }, status: { S: 'stored' }, size: { N: '10000' } } } }));
    const batches = Math.ceil(requests / RECORDS_PER_BATCH);
    const perBatch = await cpuPerCall(batches, (i) => dynamodb.send(new BatchWriteItemCommand({ RequestItems: { floor: batch(i) } })));
    const directBatch = new DirectDynamoDb(sdkClientTarget(dynamodb));
    const perDirectBatch = await cpuPerCall(batches, async (i) => {
      const outcome = await directBatch.send('BatchWriteItem', { RequestItems: { floor: batch(i < 0 ? i - batches : batches + i) }, ReturnConsumedCapacity: 'TOTAL' });
      if (outcome.kind !== 'answered') throw new Error(`direct BatchWriteItem not written: ${'error' in outcome ? outcome.error.message : outcome.reason}`);
    });
    return {
      requests,
      messageOctets: MESSAGE_OCTETS,
      putObjectCpuMs,
      directPutObjectCpuMs,
      nodeHttpPutObjectCpuMs,
      batchedRecordCpuMs: perBatch / RECORDS_PER_BATCH,
      directBatchedRecordCpuMs: perDirectBatch / RECORDS_PER_BATCH,
    };
  } finally {
    s3.destroy();
    dynamodb.destroy();
    await model.stop();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const nodeHttpAgent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/** One signed PutObject through node:http (the reference for the direct path's own client). */
function nodeHttpPut(endpoint: URL, path: string, body: Buffer, sha256Hex: string, checksum: string): Promise<void> {
  const headers = signRequest(
    { method: 'PUT', path, headers: { host: endpoint.host, 'content-length': String(body.length), 'content-type': 'message/rfc822', 'x-amz-checksum-sha256': checksum }, payloadSha256Hex: sha256Hex },
    { region: 'us-east-1', service: 's3', credentials: CREDENTIALS, now: new Date() },
  );
  return new Promise<void>((resolve, reject) => {
    const req = httpRequest({ method: 'PUT', hostname: endpoint.hostname, port: endpoint.port, path, headers, agent: nodeHttpAgent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs the measurement as its own process (the bench runner's CPU stays out of it). */
export async function runSdkFloor(requests: number): Promise<SdkFloorFigures> {
  const r = await exec(process.execPath, ['--import', 'tsx', import.meta.filename, String(requests)], { timeoutMs: SDK_FLOOR_TIMEOUT_MS });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) throw new Error(`bench/sdk-floor.bench.ts failed with ${r.code ?? r.signal}:\n${r.stderr.trim().slice(-2000)}`);
  return JSON.parse(line) as SdkFloorFigures;
}

if (import.meta.filename === process.argv[1]) {
  measureSdkFloor(Number(process.argv[2] ?? 2000)).then(
    (figures) => {
      process.stdout.write(`${JSON.stringify(figures)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
