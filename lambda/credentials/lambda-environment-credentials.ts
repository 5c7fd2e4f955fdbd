/**
 * The AWS credential chain of the Lambda bundles: the handler bundles alias
 * `@aws-sdk/credential-provider-node` to this module (lib/bundling.ts).
 *
 * Why: the SDK's default chain also carries SSO, STS web identity, sign-in, ini files, process
 * and instance metadata providers (with their own nested STS/SSO clients), about 100 KB of a
 * bundle that Lambda loads on every cold start and never uses. The Node.js runtime hands the
 * function's role credentials to it in the environment, which is all this reads. The
 * command (`mailfetch`) and the library keep the full chain: a user's profiles and SSO work there.
 */
import type { AwsCredentialIdentity } from '@smithy/types';

/** The variables the Lambda runtime sets from the execution role (AWS documents them as reserved). */
const ACCESS_KEY_ID = 'AWS_ACCESS_KEY_ID';
const SECRET_ACCESS_KEY = 'AWS_SECRET_ACCESS_KEY';
const SESSION_TOKEN = 'AWS_SESSION_TOKEN';
const EXPIRATION = 'AWS_CREDENTIAL_EXPIRATION';

/** Raised when the environment holds no credentials: names the variables, never a value. */
export class LambdaCredentialsMissingError extends Error {
  readonly code = 'CREDENTIALS_MISSING';
  readonly tryNextLink = false;
  constructor() {
    super(
      `no AWS credentials in the environment (${ACCESS_KEY_ID} and ${SECRET_ACCESS_KEY} are not both set). ` +
        'The Lambda runtime sets them from the function role; outside Lambda, set them or use the mailfetch command, which reads profiles and SSO.',
    );
    this.name = 'LambdaCredentialsMissingError';
  }
}

/** The credentials the environment holds now, or an error saying which variables are missing. */
export async function environmentCredentials(env: NodeJS.ProcessEnv = process.env): Promise<AwsCredentialIdentity> {
  const accessKeyId = env[ACCESS_KEY_ID];
  const secretAccessKey = env[SECRET_ACCESS_KEY];
  if (!accessKeyId || !secretAccessKey) throw new LambdaCredentialsMissingError();
  const expiration = env[EXPIRATION] ? new Date(env[EXPIRATION]) : undefined;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env[SESSION_TOKEN] ? { sessionToken: env[SESSION_TOKEN] } : {}),
    ...(expiration && !Number.isNaN(expiration.getTime()) ? { expiration } : {}),
  };
}

/**
 * Drop-in for the SDK's `defaultProvider(init)`: the clients' runtime configuration calls it
 * once per client and calls the result whenever they need credentials (they cache them).
 */
export function defaultProvider(_init?: unknown): () => Promise<AwsCredentialIdentity> {
  return () => environmentCredentials();
}
