/**
 * `MailboxCredentials`: where the fleet's credentials come from, with grants whose size does
 * not depend on the number of mailboxes.
 *
 * - Sealed values in the registry (`{ "sealed": ... }`): one KMS key encrypts the data keys
 *   kept in the state table (lambda/credentials/data-key-ring.ts). The worker may only
 *   kms:Decrypt, and only data keys of its own table (encryption-context condition).
 * - Secrets Manager (`{ "secretId": ... }`): secrets named under one prefix, read and
 *   written back (rotated refresh tokens) through one statement on `secret:<prefix>*`.
 *
 * A mailbox added later with the CLI needs no deploy and no grant: its credentials are
 * sealed, or named under the prefix.
 */
import { ArnFormat, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { DATA_KEY_PURPOSE } from '../lambda/credentials/data-key-layout';
import { ENV } from '../lambda/env';

/** What the worker does with its secrets: read them, and write back rotated refresh tokens (never UpdateSecret). */
const WORKER_SECRET_ACTIONS = ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'] as const;
/** Writing a secret encrypted with a customer-managed key needs a new data key from it. */
const SECRETS_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;
/** The CLI seals: it decrypts an existing data key, or generates the first (and each rotation's). */
const SEAL_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;

export interface MailboxCredentialsProps {
  /** The state table: its data keys are the only ones the grants allow. */
  readonly table: ITable;
  /** Secrets Manager name prefix the worker may read and write (e.g. `mailfetch/`). */
  readonly secretNamePrefix: string;
  /** @default a new key with yearly rotation, removed with `removalPolicy` */
  readonly key?: IKey;
  /** Customer-managed key of the secrets, used through Secrets Manager only. @default none (aws/secretsmanager) */
  readonly secretsEncryptionKey?: IKey;
  /** For a new key. The table's sealed values are unreadable once it is gone: keep it as long as the table. */
  readonly removalPolicy: RemovalPolicy;
}

/** Something with an environment: the worker function. */
export interface HasEnvironment {
  addEnvironment(key: string, value: string): unknown;
}

export class MailboxCredentials extends Construct {
  /** Encrypts the data keys of sealed credentials (stack output CredentialsKeyArn). */
  readonly key: IKey;
  readonly secretNamePrefix: string;
  /** `arn:<partition>:secretsmanager:<region>:<account>:secret:<prefix>*`: the secrets the worker may use. */
  readonly secretArnPattern: string;
  private readonly table: ITable;
  private readonly secretsEncryptionKey: IKey | undefined;

  constructor(scope: Construct, id: string, props: MailboxCredentialsProps) {
    super(scope, id);
    this.table = props.table;
    this.secretNamePrefix = props.secretNamePrefix;
    this.secretsEncryptionKey = props.secretsEncryptionKey;
    this.key =
      props.key ??
      new Key(this, 'Key', {
        description: 'mailfetch: encrypts the data keys of mailbox credentials sealed in the registry',
        enableKeyRotation: true,
        removalPolicy: props.removalPolicy,
      });
    this.secretArnPattern = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${props.secretNamePrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /**
   * The worker: opens sealed values (kms:Decrypt of this table's data keys), reads secrets
   * under the prefix and writes rotated refresh tokens back to them; and tells it the key
   * and the prefix through its environment.
   */
  grantWorker(worker: IGrantable & HasEnvironment): void {
    this.grantDataKeys(worker, ['kms:Decrypt']);
    Grant.addToPrincipal({ grantee: worker, actions: [...WORKER_SECRET_ACTIONS], resourceArns: [this.secretArnPattern] });
    if (this.secretsEncryptionKey !== undefined) {
      // On the principal (works for imported keys too), and only through Secrets Manager.
      Grant.addToPrincipal({
        grantee: worker,
        actions: [...SECRETS_KEY_ACTIONS],
        resourceArns: [this.secretsEncryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
      });
    }
    worker.addEnvironment(ENV.CREDENTIALS_KEY, this.key.keyArn);
    worker.addEnvironment(ENV.SECRET_PREFIX, this.secretNamePrefix);
  }

  /**
   * An operator (or a provisioning role) sealing credentials with `mailfetch mailboxes add
   * --password-stdin` or `mailfetch secrets seal`: creates and decrypts this table's data
   * keys. It also needs the registry items of the table (e.g. `table.grantReadWriteData`).
   */
  grantSeal(grantee: IGrantable): Grant {
    return this.grantDataKeys(grantee, [...SEAL_ACTIONS]);
  }

  /** KMS actions on the key, for data keys of this table only (the encryption context data-key-ring.ts sends). */
  private grantDataKeys(grantee: IGrantable, actions: string[]): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.key.keyArn],
      conditions: {
        StringEquals: {
          'kms:EncryptionContext:purpose': DATA_KEY_PURPOSE,
          'kms:EncryptionContext:table': this.table.tableName,
        },
      },
    });
  }
}
