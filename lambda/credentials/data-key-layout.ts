/**
 * Where the data keys of sealed credentials live in the state table, and the KMS encryption
 * context they are encrypted under. Shared by the runtime (data-key-ring.ts) and the CDK
 * grants (lib/mailbox-credentials.ts), so this file imports nothing.
 */

/** Partition of the data key items: not a mailbox partition (`MBX#...`), not the registry's. */
export const KEYRING_PARTITION = '#KEYRING';
export const DATA_KEY_SORT_PREFIX = 'DATAKEY#';
/** The `purpose` of the KMS encryption context; the worker's kms:Decrypt grant requires it. */
export const DATA_KEY_PURPOSE = 'mailfetch-credentials';
/** Zero-padded, so the sort key orders versions numerically (Query newest first). */
const VERSION_DIGITS = 10;

/** The KMS encryption context of one data key version: `{ purpose, table, keyVersion }`. */
export function dataKeyContext(tableName: string, version: number): Record<string, string> {
  return { purpose: DATA_KEY_PURPOSE, table: tableName, keyVersion: String(version) };
}

export function dataKeySortKey(version: number): string {
  return `${DATA_KEY_SORT_PREFIX}${String(version).padStart(VERSION_DIGITS, '0')}`;
}
