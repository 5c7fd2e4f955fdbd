/**
 * Where a service's requests go and how they are signed, from the process environment alone
 * (no SDK): what the Lambda runtime sets (AWS_REGION and the role's credentials) and the
 * SDK's own endpoint variables. Only the plain cases are resolved here: a configured
 * endpoint, or a region of the standard `aws` partition with no FIPS or dual-stack endpoint
 * asked for. Anything else (GovCloud, China, ISO partitions, FIPS) is undefined: the SDK,
 * whose endpoint rules know those, sends the requests.
 */
import { environmentCredentials } from '../credentials/lambda-environment-credentials';
import type { SigningCredentials } from './sigv4';

export type AwsService = 'dynamodb' | 's3';

export interface AwsServiceEndpoint {
  /** A configured endpoint (`AWS_ENDPOINT_URL_DYNAMODB`...); undefined: the region's public endpoint. */
  readonly endpoint: URL | undefined;
  readonly region: string;
  credentials(): Promise<SigningCredentials>;
}

/** Credentials from the environment are read again after this long (a runtime may renew them between invocations). */
const CREDENTIALS_REREAD_MS = 60_000;
/** Regions of the standard partition (`amazonaws.com`): `us-east-1`, `ap-southeast-2`, `il-central-1`... */
const STANDARD_REGION = /^(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:central|north|south|east|west|northeast|northwest|southeast|southwest)-\d{1,2}$/;
/** The SDK's names of each service's endpoint variable (AWS_ENDPOINT_URL_<SERVICE ID>). */
const ENDPOINT_VARIABLES: Readonly<Record<AwsService, string>> = { dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB', s3: 'AWS_ENDPOINT_URL_S3' };

/** The service as the environment configures it, or undefined when only the SDK can tell. */
export function serviceEndpointFromEnvironment(service: AwsService, env: NodeJS.ProcessEnv = process.env): AwsServiceEndpoint | undefined {
  // As the SDK reads them: AWS_REGION only, `true`/`false` flags, empty variables unset.
  const region = env.AWS_REGION;
  const [fips, dualStack, ignoreEndpoints] = [env.AWS_USE_FIPS_ENDPOINT, env.AWS_USE_DUALSTACK_ENDPOINT, env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS].map(flag);
  if (!region || fips !== false || dualStack !== false || ignoreEndpoints === undefined) return undefined;
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) return undefined;
  const configured = ignoreEndpoints ? undefined : env[ENDPOINT_VARIABLES[service]] || env.AWS_ENDPOINT_URL || undefined;
  let endpoint: URL | undefined;
  if (configured) {
    endpoint = plainEndpoint(configured);
    if (endpoint === undefined) return undefined;
  } else if (!STANDARD_REGION.test(region)) {
    return undefined;
  }
  return { endpoint, region, credentials: rereadEvery(CREDENTIALS_REREAD_MS, () => environmentCredentials(env)) };
}

/** `read()` once per `intervalMs` at most: signing thousands of requests reads the environment a few times. */
function rereadEvery(intervalMs: number, read: () => Promise<SigningCredentials>): () => Promise<SigningCredentials> {
  let value: Promise<SigningCredentials> | undefined;
  let readAt = 0;
  return () => {
    const now = Date.now();
    if (value === undefined || now - readAt >= intervalMs || now < readAt) {
      value = read();
      readAt = now;
    }
    return value;
  };
}

/** An http(s) URL with no path, query or credentials of its own; else undefined. */
function plainEndpoint(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const plain = (url.protocol === 'https:' || url.protocol === 'http:') && url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
  return plain ? url : undefined;
}

/** The public endpoint of `service` in a standard-partition region. */
export function publicEndpoint(service: AwsService, region: string): URL {
  return new URL(`https://${service}.${region}.amazonaws.com/`);
}

/** An SDK flag variable: unset or empty is false; anything but `true` or `false` is for the SDK to judge (undefined). */
function flag(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '' || value === 'false') return false;
  return value === 'true' ? true : undefined;
}
