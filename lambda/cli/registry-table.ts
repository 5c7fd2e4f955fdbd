/**
 * Where `mailfetch mailboxes ...` finds the registry: the state table, either inside the
 * embedded servers (`--local DIR`, the default, DIR = ./.mailfetch, as for fetch) or in
 * DynamoDB (`--table NAME` or MAILFETCH_TABLE, through the AWS SDK's standard
 * configuration; AWS_ENDPOINT_URL_DYNAMODB points it at DynamoDB Local). No bucket is
 * needed: the registry is only items in the table. Credentials are sealed with the
 * table's data keys, under the KMS key of `--credentials-key` or MAILFETCH_CREDENTIALS_KEY
 * (the embedded one with --local).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { SealedCredentialStore } from '../credentials/sealed-credential-store';
import { ENV } from '../env';
import { DynamoDbMailboxRegistry } from '../registry/dynamodb-mailbox-registry';
import { ensureTable } from '../state/table-schema';
import { UsageError } from './exit-codes';
import { DEFAULT_LOCAL_DIR, LOCAL_TABLE, StorageSetupError, absolute, nonEmpty, sealedStore, startLocalServers } from './storage';

/** --local, --table, --create-missing, --credentials-key: taken by every `mailboxes` and `secrets` subcommand. */
export const REGISTRY_TABLE_OPTIONS = {
  local: { type: 'string' },
  table: { type: 'string' },
  'create-missing': { type: 'boolean' },
  'credentials-key': { type: 'string' },
} as const;

export interface RegistryTableFlags {
  readonly local?: string | undefined;
  readonly table?: string | undefined;
  readonly 'create-missing'?: boolean | undefined;
  readonly 'credentials-key'?: string | undefined;
}

export interface RegistryTable {
  readonly registry: DynamoDbMailboxRegistry;
  /** Seals and opens the credentials of the table's registry items. */
  readonly sealed: SealedCredentialStore;
  /** For messages: `table mailfetch-state`, `embedded DynamoDB under DIR`. */
  readonly description: string;
  close(): Promise<void>;
}

export async function openRegistryTable(flags: RegistryTableFlags, env: NodeJS.ProcessEnv, cwd: string, command: string): Promise<RegistryTable> {
  if (flags.local !== undefined && flags.table !== undefined) throw new UsageError('--local cannot be combined with --table', command);
  const table = flags.local === undefined ? (flags.table ?? nonEmpty(env[ENV.TABLE])) : undefined;
  if (table === '') throw new UsageError('--table needs a name', command);
  if (table === undefined) {
    for (const flag of ['create-missing', 'credentials-key'] as const) {
      if (flags[flag] !== undefined) throw new UsageError(`--${flag} only applies with --table (--local has its own key)`, command);
    }
    return openLocal(absolute(flags.local || DEFAULT_LOCAL_DIR, cwd));
  }
  const dynamodb = new DynamoDBClient({});
  const kms = new KMSClient({});
  const close = async (): Promise<void> => {
    dynamodb.destroy();
    kms.destroy();
  };
  try {
    if (flags['create-missing']) await ensureTable(dynamodb, table);
  } catch (err) {
    await close();
    throw new StorageSetupError(`cannot create or use table ${table}: ${(err as Error).message}`, { cause: err });
  }
  const registry = new DynamoDbMailboxRegistry({ client: dynamodb, tableName: table });
  const kmsKeyId = nonEmpty(flags['credentials-key']) ?? nonEmpty(env[ENV.CREDENTIALS_KEY]);
  return { registry, sealed: sealedStore(dynamodb, table, kms, kmsKeyId), description: registry.description, close };
}

async function openLocal(dir: string): Promise<RegistryTable> {
  const aws = await startLocalServers(dir);
  try {
    // As fetch does: the embedded table always exists.
    await ensureTable(aws.dynamodb, LOCAL_TABLE);
  } catch (err) {
    await aws.stop();
    throw err;
  }
  const registry = new DynamoDbMailboxRegistry({ client: aws.dynamodb, tableName: LOCAL_TABLE });
  return { registry, sealed: sealedStore(aws.dynamodb, LOCAL_TABLE, aws.kms, aws.credentialsKeyArn), description: `embedded DynamoDB under ${dir}`, close: () => aws.stop() };
}
