/**
 * Where the Lambda worker's PutObjects go, from its environment alone (no S3 SDK): the
 * region's public endpoint, virtual-hosted (`<bucket>.s3.<region>.amazonaws.com`), or a
 * configured endpoint. Only plain bucket names are resolved here: lower-case letters,
 * digits and single hyphens. A name with dots (no TLS certificate covers it as a host),
 * an access point ARN or a directory bucket (`--x-s3`) goes through the SDK, whose endpoint
 * rules know them.
 */
import { isIP } from 'node:net';
import { serviceEndpointFromEnvironment, type AwsServiceEndpoint } from '../aws-direct/aws-environment';
import { DirectPutObject, type DirectPutTarget, type DirectPutTargetSource } from './direct-put-object';

/** A bucket name every addressing style takes as it is. */
const PLAIN_BUCKET = /^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/;

export interface EnvironmentS3TargetOptions {
  /** Path-style requests (`<endpoint>/<bucket>/<key>`), as the SDK client's option of that name. @default false */
  readonly forcePathStyle?: boolean;
  /** Milliseconds to add to the local clock when signing. @default none */
  readonly clockOffsetMs?: () => number;
}

/**
 * A direct PutObject to the S3 the environment names (see aws-environment.ts), or undefined
 * where only the SDK's endpoint rules can tell.
 */
export function directPutObjectFromEnvironment(env: NodeJS.ProcessEnv = process.env, options: EnvironmentS3TargetOptions = {}): DirectPutObject | undefined {
  const endpoint = serviceEndpointFromEnvironment('s3', env);
  return endpoint ? new DirectPutObject(s3TargetAt(endpoint, options)) : undefined;
}

export function s3TargetAt(endpoint: AwsServiceEndpoint, options: EnvironmentS3TargetOptions = {}): DirectPutTargetSource {
  const clockOffsetMs = options.clockOffsetMs ?? ((): number => 0);
  return (bucket) => {
    const url = bucketUrl(bucket, endpoint, options.forcePathStyle ?? false);
    const target: DirectPutTarget | undefined = url && { url, region: endpoint.region, service: 's3', credentials: () => endpoint.credentials(), clockOffsetMs };
    return Promise.resolve(target);
  };
}

/** The bucket's base URL as the SDK addresses it (an IP-address endpoint takes path style), or undefined. */
export function bucketUrl(bucket: string, endpoint: AwsServiceEndpoint, forcePathStyle: boolean): URL | undefined {
  if (!PLAIN_BUCKET.test(bucket)) return undefined;
  const base = endpoint.endpoint ?? new URL(`https://s3.${endpoint.region}.amazonaws.com/`);
  if (forcePathStyle || isIP(base.hostname.replace(/^\[(.*)\]$/, '$1')) !== 0) return new URL(`/${bucket}/`, base);
  return new URL(`${base.protocol}//${bucket}.${base.host}/`);
}
