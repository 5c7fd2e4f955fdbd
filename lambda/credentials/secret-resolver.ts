/**
 * Turns a SecretRef into its value: an environment variable (local runs), a value sealed
 * in the registry item (sealed-credential-store.ts), or an AWS Secrets Manager secret,
 * optionally one field of a JSON secret. Secrets are cached per secretId so warm Lambda
 * invocations (which share one module-level resolver) do not pay a GetSecretValue call
 * per run. Errors name the mailbox, the secret and the key, never the value.
 */
import type * as SecretsManagerSdk from './secrets-manager-sdk';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretRef } from '../config/mailbox-config';
import { CredentialError, CredentialErrorCode, awsErrorDetail, describeAwsError, isCredentialError } from './credential-error';
import { describeSlot, type CredentialSlot } from './credential-slot';
import type { SealedCredentialStore } from './sealed-credential-store';
import { isUnderPrefix } from './secret-name';

/** Long enough to save calls across a burst of scheduled runs, short enough to pick up a rotated password. */
export const DEFAULT_SECRET_CACHE_TTL_MS = 5 * 60_000;

export interface SecretResolverOptions {
  /** Secrets Manager client. @default one created on first use (region and credentials from the environment) */
  readonly client?: SecretsManagerClient;
  /** Where `{ "env": ... }` references are read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** How long a secret is served from the cache. @default 300000 (5 minutes) */
  readonly cacheTtlMs?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
  /** Opens `{ "sealed": ... }` references. @default none: sealed references fail with SEALED_INVALID */
  readonly sealed?: SealedCredentialStore;
  /**
   * The Secrets Manager name prefix the deployed function is granted (MAILFETCH_SECRET_PREFIX),
   * named in the fix of an access-denied error. @default unknown: the fix names no prefix
   */
  readonly secretNamePrefix?: string;
}

/** A rotated value's slot, and the value it replaces (a sealed value is replaced only if it still holds that). */
export interface SecretWrite {
  readonly slot: CredentialSlot;
  readonly previous: string;
}

interface CacheEntry {
  /** A promise, so concurrent resolves of one secret share one request. */
  readonly value: Promise<string>;
  readonly expiresAt: number;
}

const ACCESS_DENIED_ERRORS: ReadonlySet<string> = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  // KMS refused to decrypt the secret with its key.
  'DecryptionFailure',
]);
const THROTTLING_ERRORS: ReadonlySet<string> = new Set(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded']);

export class SecretResolver {
  private clientInstance: SecretsManagerClient | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly cacheTtlMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly sealed: SealedCredentialStore | undefined;
  private readonly secretNamePrefix: string | undefined;

  constructor(options: SecretResolverOptions = {}) {
    this.clientInstance = options.client;
    this.sealed = options.sealed;
    this.secretNamePrefix = options.secretNamePrefix;
    this.env = options.env ?? process.env;
    this.cacheTtlMs = options.cacheTtlMs ?? DEFAULT_SECRET_CACHE_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * The referenced value. `slot` (the mailbox and field) is required for sealed references,
   * which are bound to it, and named in every error.
   * @throws CredentialError
   */
  async resolve(ref: SecretRef, slot?: CredentialSlot): Promise<string> {
    if ('env' in ref) return this.fromEnv(ref.env);
    if ('sealed' in ref) return this.sealedStore(slot).open(ref.sealed, slot!);
    try {
      const secret = await this.cachedSecretString(ref.secretId);
      return ref.key === undefined ? requireNonEmpty(secret, `secret "${ref.secretId}"`) : readField(secret, ref.secretId, ref.key);
    } catch (err) {
      throw slot === undefined ? err : this.forSlot(err, slot, ref.secretId);
    }
  }

  /**
   * Writes a new value (a rotated refresh token) to a Secrets Manager reference. With
   * `key`, the secret's current JSON is read fresh (not from the cache, so fields changed
   * elsewhere are kept), the one field is replaced and the whole JSON written back.
   * A sealed reference is replaced in its registry item (see SealedCredentialStore.replace),
   * which needs `write`: the slot, and the value being replaced.
   * @returns false when a sealed value was not replaced (the operator replaced it meanwhile)
   * @throws CredentialError, also for `{ "env": ... }` references, which cannot be written
   */
  async update(ref: SecretRef, newValue: string, write?: SecretWrite): Promise<boolean> {
    if ('env' in ref) {
      throw new CredentialError(
        CredentialErrorCode.SECRET_INVALID,
        `cannot write to environment variable ${ref.env}: only Secrets Manager secrets and sealed values can be updated`,
      );
    }
    if ('sealed' in ref) return this.sealedStore(write?.slot).replace(write!.slot, write!.previous, newValue);
    const secretString = ref.key === undefined ? newValue : replaceField(await this.fetchSecretString(ref.secretId), ref.secretId, ref.key, newValue);
    await this.putSecretString(ref.secretId, secretString);
    this.cache.set(ref.secretId, { value: Promise.resolve(secretString), expiresAt: this.now() + this.cacheTtlMs });
    return true;
  }

  /** The sealed store, for a sealed reference with its slot. */
  private sealedStore(slot: CredentialSlot | undefined): SealedCredentialStore {
    if (this.sealed === undefined || slot === undefined) {
      const where = slot === undefined ? 'a sealed reference' : describeSlot(slot);
      throw new CredentialError(
        CredentialErrorCode.SEALED_INVALID,
        `${where}: a sealed value opens only with the data keys of the state table it was sealed against, and this run has none; give that table (--table NAME, or --local DIR)`,
      );
    }
    return this.sealed;
  }

  /** A Secrets Manager error as seen by one mailbox: its slot first, and the likely fix of a denial. */
  private forSlot(err: unknown, slot: CredentialSlot, secretId: string): unknown {
    if (!isCredentialError(err)) return err;
    let fix = '';
    if (err.code === CredentialErrorCode.SECRET_ACCESS_DENIED) {
      const prefix = this.secretNamePrefix;
      fix =
        prefix !== undefined && !isUnderPrefix(secretId, prefix)
          ? `; the function may read secrets named "${prefix}*" only: move the secret under that prefix, or deploy with secretNamePrefix matching it`
          : `; check the function role's grant on secrets${prefix === undefined ? '' : ` named "${prefix}*"`}, the secret's resource policy and its KMS key (prop secretsEncryptionKey)`;
    }
    return new CredentialError(err.code, `${describeSlot(slot)}: ${err.message}${fix}`, { retryable: err.retryable, cause: err });
  }

  /** Forgets cached secrets (one, or all) so the next resolve reads Secrets Manager again. */
  invalidate(secretId?: string): void {
    if (secretId === undefined) this.cache.clear();
    else this.cache.delete(secretId);
  }

  private fromEnv(name: string): string {
    const value = this.env[name];
    if (value === undefined || value === '') {
      throw new CredentialError(CredentialErrorCode.ENV_MISSING, `environment variable ${name} is ${value === undefined ? 'not set' : 'empty'}`);
    }
    return value;
  }

  private cachedSecretString(secretId: string): Promise<string> {
    const cached = this.cache.get(secretId);
    if (cached && this.now() < cached.expiresAt) return cached.value;
    const value = this.fetchSecretString(secretId);
    const entry: CacheEntry = { value, expiresAt: this.now() + this.cacheTtlMs };
    this.cache.set(secretId, entry);
    // A failure is not cached: the next resolve asks again.
    value.catch(() => {
      if (this.cache.get(secretId) === entry) this.cache.delete(secretId);
    });
    return value;
  }

  private async fetchSecretString(secretId: string): Promise<string> {
    let output;
    const sm = await this.secretsManager();
    try {
      output = await sm.client.send(new sm.sdk.GetSecretValueCommand({ SecretId: secretId }));
    } catch (err) {
      throw secretsManagerError(err, secretId, 'read');
    }
    if (output.SecretString !== undefined) return output.SecretString;
    if (output.SecretBinary !== undefined) return decodeUtf8(output.SecretBinary, secretId);
    throw new CredentialError(CredentialErrorCode.SECRET_INVALID, `secret "${secretId}" has no value`);
  }

  private async putSecretString(secretId: string, secretString: string): Promise<void> {
    const sm = await this.secretsManager();
    try {
      // The SDK fills ClientRequestToken, so a retried PUT does not create a second version.
      await sm.client.send(new sm.sdk.PutSecretValueCommand({ SecretId: secretId, SecretString: secretString }));
    } catch (err) {
      throw secretsManagerError(err, secretId, 'write');
    }
  }

  /**
   * The SDK, loaded on first use, and the client, created then: a local run with only `env`
   * references needs no AWS region, and a container without `secretId` references loads
   * neither (the Lambda bundle keeps it in a lazy chunk).
   */
  private async secretsManager(): Promise<{ readonly client: SecretsManagerClient; readonly sdk: typeof SecretsManagerSdk }> {
    const sdk = await import('./secrets-manager-sdk');
    this.clientInstance ??= new sdk.SecretsManagerClient({});
    return { client: this.clientInstance, sdk };
  }
}

function requireNonEmpty(value: string, what: string): string {
  if (value === '') throw new CredentialError(CredentialErrorCode.SECRET_INVALID, `${what} is empty`);
  return value;
}

function decodeUtf8(bytes: Uint8Array, secretId: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CredentialError(CredentialErrorCode.SECRET_INVALID, `secret "${secretId}" is binary and not valid UTF-8`);
  }
}

/** The secret as a JSON object. JSON.parse's error is not kept as the cause: it quotes the input. */
function parseJsonObject(secret: string, secretId: string, key: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secret);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CredentialError(CredentialErrorCode.SECRET_INVALID, `secret "${secretId}" is not a JSON object, so key "${key}" cannot be used`);
  }
  return parsed as Record<string, unknown>;
}

function readField(secret: string, secretId: string, key: string): string {
  const object = parseJsonObject(secret, secretId, key);
  if (!Object.hasOwn(object, key)) {
    throw new CredentialError(CredentialErrorCode.SECRET_INVALID, `secret "${secretId}" has no key "${key}"`);
  }
  const value = object[key];
  if (typeof value !== 'string') {
    throw new CredentialError(CredentialErrorCode.SECRET_INVALID, `key "${key}" of secret "${secretId}" is not a string`);
  }
  return requireNonEmpty(value, `key "${key}" of secret "${secretId}"`);
}

function replaceField(secret: string, secretId: string, key: string, value: string): string {
  const object = parseJsonObject(secret, secretId, key);
  return JSON.stringify({ ...object, [key]: value });
}

/** Maps an SDK failure to a CredentialError: permanent (not found, denied, invalid) or retryable. */
function secretsManagerError(err: unknown, secretId: string, action: 'read' | 'write'): CredentialError {
  const { name, status } = describeAwsError(err);
  const detail = awsErrorDetail(err);
  if (name === 'ResourceNotFoundException') {
    return new CredentialError(CredentialErrorCode.SECRET_NOT_FOUND, `secret "${secretId}" was not found (${detail})`, { cause: err });
  }
  if (ACCESS_DENIED_ERRORS.has(name) || status === 403) {
    return new CredentialError(CredentialErrorCode.SECRET_ACCESS_DENIED, `access denied to ${action} secret "${secretId}" (${detail})`, { cause: err });
  }
  const transient = status === undefined || status >= 500 || status === 429 || THROTTLING_ERRORS.has(name);
  if (transient) {
    return new CredentialError(CredentialErrorCode.SECRET_UNAVAILABLE, `could not ${action} secret "${secretId}" (${detail})`, { cause: err });
  }
  return new CredentialError(CredentialErrorCode.SECRET_INVALID, `could not ${action} secret "${secretId}" (${detail})`, { cause: err });
}
