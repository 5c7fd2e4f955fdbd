/**
 * Where `mailfetch mailboxes ...` finds the registry: the state table, either inside the
 * embedded servers (`--local DIR`, the default, DIR = ./.mailfetch, as for fetch) or in
 * DynamoDB (`--table NAME` or MAILFETCH_TABLE, through the AWS SDK's standard
 * configuration; AWS_ENDPOINT_URL_DYNAMODB points it at DynamoDB Local). No bucket is
 * needed: the registry is only items in the table.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ENV } from '../env';
import { DynamoDbMailboxRegistry } from '../registry/dynamodb-mailbox-registry';
import { ensureTable } from '../state/table-schema';
import { UsageError } from './exit-codes';
import { DEFAULT_LOCAL_DIR, LOCAL_TABLE, StorageSetupError, absolute, nonEmpty, startLocalServers } from './storage';

/** --local, --table, --create-missing: taken by every `mailboxes` subcommand. */
export const REGISTRY_TABLE_OPTIONS = {
  local: { type: 'string' },
  table: { type: 'string' },
  'create-missing': { type: 'boolean' },
} as const;

export interface RegistryTableFlags {
  readonly local?: string | undefined;
  readonly table?: string | undefined;
  readonly 'create-missing'?: boolean | undefined;
}

export interface RegistryTable {
  readonly registry: DynamoDbMailboxRegistry;
  /** For messages: `table mailfetch-state`, `embedded DynamoDB under DIR`. */
  readonly description: string;
  close(): Promise<void>;
}

export async function openRegistryTable(flags: RegistryTableFlags, env: NodeJS.ProcessEnv, cwd: string, command: string): Promise<RegistryTable> {
  if (flags.local !== undefined && flags.table !== undefined) throw new UsageError('--local cannot be combined with --table', command);
  const table = flags.local === undefined ? (flags.table ?? nonEmpty(env[ENV.TABLE])) : undefined;
  if (table === '') throw new UsageError('--table needs a name', command);
  if (table === undefined) {
    if (flags['create-missing'] !== undefined) throw new UsageError('--create-missing only applies with --table', command);
    return openLocal(absolute(flags.local || DEFAULT_LOCAL_DIR, cwd));
  }
  const dynamodb = new DynamoDBClient({});
  try {
    if (flags['create-missing']) await ensureTable(dynamodb, table);
  } catch (err) {
    dynamodb.destroy();
    throw new StorageSetupError(`cannot create or use table ${table}: ${(err as Error).message}`, { cause: err });
  }
  const registry = new DynamoDbMailboxRegistry({ client: dynamodb, tableName: table });
  return { registry, description: registry.description, close: async () => dynamodb.destroy() };
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
  return { registry, description: `embedded DynamoDB under ${dir}`, close: () => aws.stop() };
}
