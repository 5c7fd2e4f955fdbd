/**
 * Before a command talks to AWS: is there a region and are there credentials? Without this,
 * the first request fails deep inside a run as `UNKNOWN: Region is missing`, counted
 * against a mailbox. Here the command stops at once (exit 2) and says what to set.
 */
import { ConfigError } from '../config/config-error';

/** The part of an AWS SDK v3 client's resolved configuration this reads. */
export interface AwsClientConfig {
  readonly config: {
    region(): Promise<string>;
    credentials(): Promise<unknown>;
  };
}

const LOCAL_ALTERNATIVE = 'or leave out --bucket/--table (and MAILFETCH_BUCKET/MAILFETCH_TABLE) to keep everything under ./.mailfetch';

/** @throws ConfigError naming what is missing and how to provide it */
export async function checkAwsSetup(client: AwsClientConfig): Promise<void> {
  let region: string | undefined;
  try {
    region = await client.config.region();
  } catch {
    region = undefined;
  }
  if (!region) fail(`no AWS region is configured: set AWS_REGION (e.g. AWS_REGION=eu-west-1), or a profile with a region (AWS_PROFILE), ${LOCAL_ALTERNATIVE}`);
  try {
    await client.config.credentials();
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    fail(`no AWS credentials were found (${why}): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run 'aws sso login' for an SSO profile, ${LOCAL_ALTERNATIVE}`);
  }
}

function fail(problem: string): never {
  throw new ConfigError([problem], { message: problem });
}
