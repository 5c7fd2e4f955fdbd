/**
 * The benchmark worker's AWS side, built as the Lambda handler builds its own: every
 * DynamoDB request and every PutObject signed here and sent over kept-alive sockets, and the
 * SDK clients (with the handler's settings) made only when a request needs them. No SDK
 * module is imported here: the process loads one only if a request falls back to it.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { once } from '../lambda/client-source';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lambda/local/local-credentials';
import type { DynamoDbApi } from '../lambda/state/dynamodb-api';
import { dynamoDbAt } from '../lambda/state/routed-dynamodb-api';
import { sdkDynamoDbApi } from '../lambda/state/sdk-dynamodb-api';
import { DirectPutObject } from '../lambda/storage/direct-put-object';
import { s3TargetAt } from '../lambda/storage/environment-s3-target';
import type { ClientJob } from './client';

export interface WorkerAws {
  readonly dynamodb: DynamoDbApi;
  readonly s3: () => Promise<S3Client>;
  readonly directPutObject: DirectPutObject;
  destroy(): void;
}

export function awsClients(job: ClientJob): WorkerAws {
  let s3: S3Client | undefined;
  let dynamodb: DynamoDBClient | undefined;
  const credentials = (): Promise<{ accessKeyId: string; secretAccessKey: string }> => Promise.resolve(LOCAL_CREDENTIALS);
  const makeS3 = once(async () => (s3 = await s3Client(job)));
  const makeDynamoDb = once(async () => (dynamodb = await dynamoDbClient(job)));
  return {
    dynamodb: dynamoDbAt({ endpoint: new URL(job.dynamoEndpoint!), region: LOCAL_REGION, credentials }, sdkDynamoDbApi(makeDynamoDb)),
    s3: makeS3,
    directPutObject: new DirectPutObject(s3TargetAt({ endpoint: new URL(job.s3Endpoint!), region: LOCAL_REGION, credentials }, { forcePathStyle: true })),
    destroy: () => {
      s3?.destroy();
      dynamodb?.destroy();
    },
  };
}

/**
 * The S3 client for the local endpoints with createLocalS3Client's settings (path style,
 * the dummy credentials, checksums only when required unless `sdkDefaultChecksums`), plus
 * `cacheMiddleware` when asked: the handler's production clients resolve their middleware
 * stack once per command class.
 */
export async function s3Client(job: ClientJob): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({
    endpoint: job.s3Endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    ...(job.sdkDefaultChecksums === true ? {} : { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }),
    cacheMiddleware: job.cacheMiddleware ?? true,
  });
}

async function dynamoDbClient(job: ClientJob): Promise<DynamoDBClient> {
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  return new DynamoDBClient({ endpoint: job.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, cacheMiddleware: job.cacheMiddleware ?? true });
}
