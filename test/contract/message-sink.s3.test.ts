/**
 * The MessageSink contract on S3MessageSink against the tests' local S3 (s3rver), with
 * small multipart thresholds so large messages take the multipart path with several parts.
 */
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { S3MessageSink } from '../../lambda/storage/s3-message-sink';
import { createLocalS3Client, startS3rver, type LocalS3 } from '../fixtures/aws-local';
import { hookRequests } from '../fixtures/request-hooks';
import { messageSinkContract } from './message-sink.contract';

const BUCKET = 'contract';
const MIB = 1024 * 1024;
const OPTIONS = { singlePartMaxOctets: 1 * MIB, partSizeOctets: 5 * MIB, queueSize: 2 } as const;
/** The documented bound (see S3MessageSink): the buffered prefix plus (queueSize + 2) parts, and a chunk or two. */
const READ_AHEAD_BOUND_OCTETS = OPTIONS.singlePartMaxOctets + (OPTIONS.queueSize + 2) * OPTIONS.partSizeOctets + MIB;

let local: LocalS3;
const clients: S3Client[] = [];
let sinks = 0;

beforeAll(async () => {
  local = await startS3rver();
  await local.createBucket(BUCKET);
});
afterAll(async () => {
  for (const client of clients) client.destroy();
  await local?.stop();
});

/** A client of the sink's own that counts the body octets S3 acknowledged. */
function countingClient(): { client: S3Client; acknowledged: () => number } {
  const client = createLocalS3Client(local.endpoint);
  clients.push(client);
  let octets = 0;
  hookRequests(
    client,
    {
      name: 'countAcknowledgedOctets',
      step: 'initialize',
      after: ({ operation, input }) => {
        if (operation === 'UploadPart' || operation === 'PutObject') octets += (input.Body as Uint8Array | undefined)?.byteLength ?? 0;
      },
    },
    's3',
  );
  return { client, acknowledged: () => octets };
}

async function read(key: string): Promise<Buffer | undefined> {
  try {
    const response = await local.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await response.Body!.transformToByteArray());
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

async function keys(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let token: string | undefined;
  do {
    const page = await local.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    found.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return found;
}

messageSinkContract('S3MessageSink on s3rver', () => ({
  create: async () => {
    const prefix = `t${++sinks}/`;
    const { client, acknowledged } = countingClient();
    return {
      sink: new S3MessageSink({ client, bucket: BUCKET, prefix, ...OPTIONS }),
      prefix,
      read,
      keys,
      leftovers: async () => {
        const uploads = await local.s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }));
        return (uploads.Uploads ?? []).map((u) => `multipart upload of ${u.Key}`);
      },
      persistedOctets: async () => acknowledged(),
      readAheadBoundOctets: READ_AHEAD_BOUND_OCTETS,
      // s3rver streams a PUT into its final file: overlapping PUTs of one key can interleave.
      atomicOverlappingWrites: false,
      readsEmptyObjectHead: false,
    };
  },
}));
