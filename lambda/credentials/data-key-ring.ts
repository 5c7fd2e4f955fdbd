/**
 * The data keys that seal credentials in the registry (envelope encryption). Each version
 * is one item in the state table holding the data key encrypted by the one KMS key
 * (GenerateDataKey); a container decrypts each version it meets once and keeps it in
 * memory, so a run costs no KMS request and sealed credentials cost no monthly fee.
 *
 * Layout (docs/registry.md): pk `#KEYRING`, sk `DATAKEY#<version, 10 digits>`, attributes
 * keyVersion (N), ciphertext (B), kmsKeyId (S, the key KMS reported), createdAt (S). The
 * KMS encryption context is `{ purpose: "mailfetch-credentials", table, keyVersion }`: the
 * IAM grant is conditioned on it, and a data key copied to another table or version does
 * not decrypt. Rotation adds a version; older versions stay, so old values keep opening.
 */
import type * as KmsSdk from './kms-sdk';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDbApi, DynamoDbTarget } from '../state/dynamodb-api';
import { dynamoDbApiOf } from '../state/sdk-dynamodb-api';
import { PARTITION_KEY, SORT_KEY } from '../state/table-schema';
import { classifyAwsError } from '../state/errors';
import { CredentialError, CredentialErrorCode, awsErrorDetail, describeAwsError } from './credential-error';
import { DATA_KEY_PURPOSE, DATA_KEY_SORT_PREFIX, KEYRING_PARTITION, dataKeyContext, dataKeySortKey } from './data-key-layout';
import { DATA_KEY_BYTES, type DataKey } from './sealed-value';


const KMS_ACCESS_ERRORS: ReadonlySet<string> = new Set([
  'AccessDeniedException',
  'DisabledException',
  'KMSInvalidStateException',
  'NotFoundException',
  'IncorrectKeyException',
  'InvalidCiphertextException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
]);

export interface DataKeyRingOptions {
  /** Injected, so tests and the CLI point it at DynamoDB Local or the embedded servers. */
  readonly dynamodb: DynamoDbTarget;
  /** The state table (it holds the registry the sealed values live in). */
  readonly tableName: string;
  /** KMS client. @default one created on first use (region and credentials from the environment) */
  readonly kms?: KMSClient;
  /**
   * The KMS key that encrypts data keys (ARN, id or alias). Needed to create a data key;
   * when set, Decrypt is asked to use this key and no other.
   * @default none: existing data keys are decrypted with the key that encrypted them
   */
  readonly kmsKeyId?: string;
  /** Clock for createdAt. @default () => new Date() */
  readonly now?: () => Date;
}

export class DataKeyRing {
  readonly tableName: string;
  /** The state table's client (the registry's writes of sealed values share it). */
  readonly dynamodb: DynamoDbApi;
  private kmsInstance: KMSClient | undefined;
  private readonly kmsKeyId: string | undefined;
  private readonly now: () => Date;
  /** Promises, so concurrent runs in one container share one Decrypt. Failures are not kept. */
  private readonly keys = new Map<number, Promise<DataKey>>();

  constructor(options: DataKeyRingOptions) {
    this.dynamodb = dynamoDbApiOf(options.dynamodb);
    this.tableName = options.tableName;
    this.kmsInstance = options.kms;
    this.kmsKeyId = options.kmsKeyId;
    this.now = options.now ?? (() => new Date());
  }

  /** The data key of `version`, decrypted once per ring. @throws CredentialError DATA_KEY_* */
  key(version: number): Promise<DataKey> {
    return this.once(version, () => this.load(version));
  }

  /** The newest version, or undefined when the table has no data key yet. */
  async latestVersion(): Promise<number | undefined> {
    const result = await this.dynamo('Query', () =>
      this.dynamodb.send('Query', {
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
          ExpressionAttributeValues: { ':pk': { S: KEYRING_PARTITION }, ':prefix': { S: DATA_KEY_SORT_PREFIX } },
          ScanIndexForward: false,
          Limit: 1,
          ConsistentRead: true,
        },
      ),
    );
    const version = result.Items?.[0]?.keyVersion?.N;
    return version === undefined ? undefined : Number(version);
  }

  /** The key new values are sealed with: the newest version, created (version 1) when there is none. */
  async current(): Promise<DataKey> {
    const latest = await this.latestVersion();
    return latest === undefined ? this.create(1) : this.key(latest);
  }

  /** Adds a version after the newest and returns it: values sealed from now on use it. */
  async rotate(): Promise<DataKey> {
    return this.create(((await this.latestVersion()) ?? 0) + 1);
  }

  // -------------------------------------------------------------------------------------

  private async load(version: number): Promise<DataKey> {
    const result = await this.dynamo('GetItem', () =>
      this.dynamodb.send('GetItem', { TableName: this.tableName, Key: this.itemKey(version), ConsistentRead: true }),
    );
    const ciphertext = result.Item?.ciphertext?.B;
    if (ciphertext === undefined) {
      throw new CredentialError(
        CredentialErrorCode.DATA_KEY_NOT_FOUND,
        `data key version ${version} is not in table ${this.tableName}: the value was sealed against another table, or the key item was deleted; seal the credential again with 'mailfetch mailboxes update'`,
      );
    }
    let plaintext: Uint8Array | undefined;
    const kms = await this.kms();
    try {
      const output = await kms.client.send(
        new kms.sdk.DecryptCommand({
          CiphertextBlob: ciphertext,
          EncryptionContext: dataKeyContext(this.tableName, version),
          ...(this.kmsKeyId === undefined ? {} : { KeyId: this.kmsKeyId }),
        }),
      );
      plaintext = output.Plaintext;
    } catch (err) {
      throw this.kmsError(err, 'decrypt', version);
    }
    return checkedKey(version, plaintext);
  }

  /** Creates `version` once per ring: concurrent seals in one container share one GenerateDataKey. */
  private create(version: number): Promise<DataKey> {
    return this.once(version, () => this.generate(version));
  }

  /** The cached promise of `version`, or `produce()`'s, kept unless it fails. */
  private once(version: number, produce: () => Promise<DataKey>): Promise<DataKey> {
    let pending = this.keys.get(version);
    if (pending === undefined) {
      pending = produce();
      this.keys.set(version, pending);
      pending.catch(() => {
        if (this.keys.get(version) === pending) this.keys.delete(version);
      });
    }
    return pending;
  }

  /** GenerateDataKey, then a conditional PutItem: two creators racing end with the winner's key. */
  private async generate(version: number): Promise<DataKey> {
    if (this.kmsKeyId === undefined) {
      throw new CredentialError(
        CredentialErrorCode.DATA_KEY_NOT_FOUND,
        `table ${this.tableName} has no data key ${version === 1 ? 'yet' : `version ${version}`}, and no KMS key is configured to create one: set MAILFETCH_CREDENTIALS_KEY (or --credentials-key) to the stack output CredentialsKeyArn`,
      );
    }
    let output;
    const kms = await this.kms();
    try {
      output = await kms.client.send(
        new kms.sdk.GenerateDataKeyCommand({ KeyId: this.kmsKeyId, KeySpec: 'AES_256', EncryptionContext: dataKeyContext(this.tableName, version) }),
      );
    } catch (err) {
      throw this.kmsError(err, 'generate', version);
    }
    const key = checkedKey(version, output.Plaintext);
    const item = {
      ...this.itemKey(version),
      keyVersion: { N: String(version) },
      ciphertext: { B: output.CiphertextBlob ?? new Uint8Array() },
      kmsKeyId: { S: output.KeyId ?? this.kmsKeyId },
      createdAt: { S: this.now().toISOString() },
    };
    try {
      await this.dynamodb.send('PutItem', { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PARTITION_KEY } },
      );
    } catch (err) {
      // Another container created this version first: use its key (ours was never stored).
      if (classifyAwsError(err) === 'CONDITION_FAILED') return this.load(version);
      throw this.dynamoError(err, 'PutItem');
    }
    return key;
  }

  private itemKey(version: number): Record<string, { S: string }> {
    return { [PARTITION_KEY]: { S: KEYRING_PARTITION }, [SORT_KEY]: { S: dataKeySortKey(version) } };
  }

  private async dynamo<T>(operation: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw this.dynamoError(err, operation);
    }
  }

  private dynamoError(err: unknown, operation: string): CredentialError {
    const kind = classifyAwsError(err);
    const denied = /AccessDenied/.test(describeAwsError(err).name);
    const code = denied ? CredentialErrorCode.DATA_KEY_ACCESS_DENIED : CredentialErrorCode.DATA_KEY_UNAVAILABLE;
    return new CredentialError(code, `reading the data keys failed: DynamoDB ${operation} on table ${this.tableName} (${awsErrorDetail(err)})`, {
      retryable: kind === 'THROTTLED' || kind === 'UNAVAILABLE',
      cause: err,
    });
  }

  private kmsError(err: unknown, action: 'decrypt' | 'generate', version: number): CredentialError {
    const { name, status } = describeAwsError(err);
    const what = `KMS could not ${action} data key version ${version} of table ${this.tableName} (${awsErrorDetail(err)})`;
    if (KMS_ACCESS_ERRORS.has(name) || status === 403) {
      const fix = `the role needs kms:${action === 'decrypt' ? 'Decrypt' : 'GenerateDataKey'} on the credentials key (stack output CredentialsKeyArn) with encryption context purpose=${DATA_KEY_PURPOSE} and table=${this.tableName}, and the key must be enabled`;
      return new CredentialError(CredentialErrorCode.DATA_KEY_ACCESS_DENIED, `${what}; ${fix}`, { cause: err });
    }
    return new CredentialError(CredentialErrorCode.DATA_KEY_UNAVAILABLE, what, { cause: err });
  }

  /**
   * The KMS SDK, loaded on first use, and the client, created then: a container whose
   * mailboxes have no sealed values loads neither (the Lambda bundle keeps it in a lazy chunk).
   */
  private async kms(): Promise<{ readonly client: KMSClient; readonly sdk: typeof KmsSdk }> {
    const sdk = await import('./kms-sdk');
    this.kmsInstance ??= new sdk.KMSClient({});
    return { client: this.kmsInstance, sdk };
  }
}

function checkedKey(version: number, plaintext: Uint8Array | undefined): DataKey {
  if (plaintext === undefined || plaintext.length !== DATA_KEY_BYTES) {
    throw new CredentialError(CredentialErrorCode.DATA_KEY_ACCESS_DENIED, `KMS returned no 256-bit data key for version ${version}`);
  }
  return { version, bytes: Buffer.from(plaintext) };
}
