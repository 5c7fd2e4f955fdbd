/**
 * Where an SDK client's PutObjects to a bucket go, for the direct path: the SDK's own
 * endpoint resolution on the client's configuration decides (custom endpoints,
 * AWS_ENDPOINT_URL_S3 and the shared config included, ARN and region checks applied), once
 * per bucket, and the client's credential provider and clock-skew correction sign. Used
 * where a client exists anyway (the tests, the command); the Lambda worker resolves from
 * its environment instead (environment-s3-target.ts) and loads no S3 SDK for it.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { DirectPutTarget, DirectPutTargetSource } from './direct-put-object';

export function sdkS3Target(client: S3Client): DirectPutTargetSource {
  return (bucket, key) => resolveTarget(client, bucket, key);
}

/**
 * Undefined when the requests need more than plain SigV4 (S3 Express, SigV4A) or when the
 * client sends to a bucket endpoint of its own.
 */
async function resolveTarget(client: S3Client, bucket: string, key: string): Promise<DirectPutTarget | undefined> {
  if (client.config.bucketEndpoint) return undefined;
  const [{ PutObjectCommand }, { getEndpointFromInstructions }] = await Promise.all([import('./s3-sdk'), import('@smithy/core/endpoints')]);
  // A copy: the resolution may write a configured endpoint into the config it is given.
  const endpoint = await getEndpointFromInstructions({ Bucket: bucket, Key: key }, PutObjectCommand, { ...client.config });
  const scheme = (endpoint.properties?.authSchemes as Array<Record<string, unknown>> | undefined)?.[0];
  if (scheme?.name !== 'sigv4' || typeof scheme.signingRegion !== 'string') return undefined;
  if (endpoint.url.search !== '' || (endpoint.headers && Object.keys(endpoint.headers).length > 0)) return undefined;
  return {
    url: endpoint.url,
    region: scheme.signingRegion,
    service: typeof scheme.signingName === 'string' ? scheme.signingName : 's3',
    credentials: () => client.config.credentials(),
    clockOffsetMs: () => client.config.systemClockOffset ?? 0,
  };
}
