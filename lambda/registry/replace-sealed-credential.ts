/**
 * Replaces one sealed credential inside a registry item's configuration, conditionally:
 * the UpdateItem succeeds only if the configuration is still the one read, so a change
 * made meanwhile (an operator's `mailboxes update`, a re-seal after a key rotation) is
 * never overwritten. On a conflict the item is read again and `replace` decides anew.
 * Only `config` and `configVersion` change: health and `enabled` are not touched.
 */
import type { CredentialSlot } from '../credentials/credential-slot';
import { configKeysOf, describeSlot } from '../credentials/credential-slot';
import { CredentialError, CredentialErrorCode, awsErrorDetail } from '../credentials/credential-error';
import type { DynamoDbTarget } from '../state/dynamodb-api';
import { classifyAwsError } from '../state/errors';
import { dynamoDbApiOf } from '../state/sdk-dynamodb-api';
import { RegistryAttr, registryKey } from './registry-item';

/** A concurrent change is rare (an operator edit); three rounds settle any realistic race. */
const MAX_ATTEMPTS = 3;

/**
 * Given the sealed value now stored in the slot, the value to store instead, or undefined
 * to leave the item alone (the slot holds something else than expected).
 */
export type SealedReplacement = (current: string) => Promise<string | undefined>;

export interface ReplaceSealedOptions {
  /** The DynamoDB port, or an SDK client. */
  readonly dynamodb: DynamoDbTarget;
  readonly tableName: string;
}

/**
 * @returns true when a new value was written; false when the mailbox is gone, its slot is
 *   not a sealed value, or `replace` declined
 * @throws CredentialError SECRET_UNAVAILABLE (retryable) or SECRET_ACCESS_DENIED
 */
export async function replaceSealedCredential(options: ReplaceSealedOptions, slot: CredentialSlot, replace: SealedReplacement): Promise<boolean> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const configJson = await readConfig(options, slot);
    if (configJson === undefined) return false;
    const config = JSON.parse(configJson) as Record<string, unknown>;
    const keys = configKeysOf(slot.field);
    const last = keys[keys.length - 1]!;
    const holder = refHolder(config, keys.slice(0, -1));
    const ref = holder?.[last];
    const current = isSealedRef(ref) ? ref.sealed : undefined;
    if (holder === undefined || current === undefined) return false;
    const next = await replace(current);
    if (next === undefined) return false;
    holder[last] = { sealed: next };
    if (await writeIfUnchanged(options, slot, configJson, JSON.stringify(config))) return true;
  }
  throw new CredentialError(
    CredentialErrorCode.SECRET_UNAVAILABLE,
    `${describeSlot(slot)}: the registry item changed ${MAX_ATTEMPTS} times while the sealed value was being replaced; the next run tries again`,
  );
}

/** The object holding the reference: the config, or the block (`oauth`, `clientCertificate`) the keys lead to. */
function refHolder(config: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> | undefined {
  let holder: unknown = config;
  for (const key of keys) holder = typeof holder === 'object' && holder !== null ? (holder as Record<string, unknown>)[key] : undefined;
  return typeof holder === 'object' && holder !== null ? (holder as Record<string, unknown>) : undefined;
}

function isSealedRef(ref: unknown): ref is { sealed: string } {
  return typeof ref === 'object' && ref !== null && typeof (ref as { sealed?: unknown }).sealed === 'string';
}

async function readConfig(options: ReplaceSealedOptions, slot: CredentialSlot): Promise<string | undefined> {
  try {
    const result = await dynamoDbApiOf(options.dynamodb).send('GetItem', { TableName: options.tableName, Key: registryKey(slot.mailboxId), ConsistentRead: true });
    return result.Item?.[RegistryAttr.config]?.S;
  } catch (err) {
    throw writeFailed(err, slot, options.tableName, 'GetItem');
  }
}

async function writeIfUnchanged(options: ReplaceSealedOptions, slot: CredentialSlot, before: string, after: string): Promise<boolean> {
  try {
    await dynamoDbApiOf(options.dynamodb).send('UpdateItem', {
        TableName: options.tableName,
        Key: registryKey(slot.mailboxId),
        UpdateExpression: 'SET #config = :after ADD #version :one',
        ConditionExpression: '#config = :before',
        ExpressionAttributeNames: { '#config': RegistryAttr.config, '#version': RegistryAttr.configVersion },
        ExpressionAttributeValues: { ':after': { S: after }, ':before': { S: before }, ':one': { N: '1' } },
      },
    );
    return true;
  } catch (err) {
    if (classifyAwsError(err) === 'CONDITION_FAILED') return false;
    throw writeFailed(err, slot, options.tableName, 'UpdateItem');
  }
}

function writeFailed(err: unknown, slot: CredentialSlot, table: string, operation: string): CredentialError {
  const kind = classifyAwsError(err);
  const detail = awsErrorDetail(err);
  const denied = /AccessDenied/.test(detail);
  return new CredentialError(
    denied ? CredentialErrorCode.SECRET_ACCESS_DENIED : CredentialErrorCode.SECRET_UNAVAILABLE,
    `${describeSlot(slot)}: writing the sealed value to the registry failed: DynamoDB ${operation} on table ${table} (${detail})`,
    { retryable: kind === 'THROTTLED' || kind === 'UNAVAILABLE', cause: err },
  );
}
