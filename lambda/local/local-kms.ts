/**
 * A local AWS KMS endpoint: the operations mailfetch's envelope encryption uses
 * (GenerateDataKey, Decrypt, Encrypt) over KMS's real wire protocol (AWS JSON 1.1,
 * `X-Amz-Target: TrentService.<Operation>`), so a real KMSClient points at it. There is
 * no maintained local KMS; this one serves the CLI's embedded mode (`--local DIR`, key
 * material kept in DIR/kms) and the tests (in memory).
 *
 * Like KMS, it binds every ciphertext to its key and to the encryption context (a
 * different context, or another key named in Decrypt, fails as KMS fails). Its ciphertext
 * blobs are its own opaque format: `LKMS1 | key id (36) | iv (12) | tag (16) | ciphertext`.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import type { LocalAccessKey } from './local-access-key';
import { AwsServiceError, startAwsJsonEndpoint, unknownOperation, type AwsErrorReply } from './aws-json-endpoint';

export type KmsOperation = 'GenerateDataKey' | 'Decrypt' | 'Encrypt';

export interface LocalKmsOptions {
  /** JSON file keeping the key material across runs (created, mode 0600). @default in memory */
  readonly keyFile?: string;
  /** Region in the key ARNs. @default 'us-east-1' */
  readonly region?: string;
  /** Answer only requests signed with this key; createClient() signs with it. @default any request, clients sign with dummy credentials */
  readonly accessKey?: LocalAccessKey;
}

export interface LocalKms {
  readonly endpoint: string;
  /** ARN of the key created (or loaded) at start. */
  readonly keyArn: string;
  /** Another key (its ARN): e.g. to show that a ciphertext does not open under it. */
  createKey(): Promise<string>;
  /** Requests received for one operation, or for all. Failed requests count too. */
  calls(operation?: KmsOperation): number;
  resetCalls(): void;
  /** The next request for `operation` fails with this error (queued). */
  failNext(operation: KmsOperation, error: AwsErrorReply): void;
  /** A real client for this endpoint, one attempt per call. Destroyed by close(). */
  createClient(): KMSClient;
  close(): Promise<void>;
}

const DEFAULT_REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const MAGIC = Buffer.from('LKMS1');
const KEY_ID_CHARS = 36;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** KMS's bounds for GenerateDataKey NumberOfBytes and for Encrypt's plaintext. */
const MAX_DATA_KEY_BYTES = 1024;
const MAX_PLAINTEXT_BYTES = 4096;
const KEY_SPEC_BYTES: Readonly<Record<string, number>> = { AES_256: 32, AES_128: 16 };
const KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FILE_MODE = 0o600;

interface KeyFile {
  readonly keys: { readonly keyId: string; readonly material: string }[];
}

export async function startLocalKms(options: LocalKmsOptions = {}): Promise<LocalKms> {
  const region = options.region ?? DEFAULT_REGION;
  const keys = new KeyStore(await loadKeys(options.keyFile), options.keyFile, region);
  const keyArn = keys.firstArn() ?? (await keys.create());
  const server = await startAwsJsonEndpoint({ targetPrefix: 'TrentService', handle: (operation, body) => keys.handle(operation, body), ...(options.accessKey ? { accessKey: options.accessKey } : {}) });
  const credentials = options.accessKey?.credentials ?? { accessKeyId: 'local', secretAccessKey: 'local' };
  const clients: KMSClient[] = [];
  return {
    endpoint: server.endpoint,
    keyArn,
    createKey: () => keys.create(),
    calls: (operation) => server.calls(operation),
    resetCalls: () => server.resetCalls(),
    failNext: (operation, error) => server.failNext(operation, error),
    createClient: () => {
      const client = new KMSClient({ endpoint: server.endpoint, region, credentials, maxAttempts: 1 });
      clients.push(client);
      return client;
    },
    close: async () => {
      for (const client of clients) client.destroy();
      await server.close();
    },
  };
}

/** The keys and the three operations on them. */
class KeyStore {
  constructor(
    private readonly keys: Map<string, Buffer>,
    private readonly keyFile: string | undefined,
    private readonly region: string,
  ) {}

  firstArn(): string | undefined {
    const first = this.keys.keys().next().value;
    return first === undefined ? undefined : this.arnOf(first);
  }

  async create(): Promise<string> {
    const keyId = randomUUID();
    this.keys.set(keyId, randomBytes(KEY_BYTES));
    await saveKeys(this.keyFile, this.keys);
    return this.arnOf(keyId);
  }

  handle(operation: string, body: Record<string, unknown>): unknown {
    if (operation === 'GenerateDataKey') {
      const keyId = this.keyIdOf(body.KeyId);
      const plaintext = randomBytes(dataKeyBytes(body));
      return { KeyId: this.arnOf(keyId), Plaintext: plaintext.toString('base64'), CiphertextBlob: this.encrypt(keyId, plaintext, body.EncryptionContext).toString('base64') };
    }
    if (operation === 'Decrypt') {
      const { keyId, plaintext } = this.decrypt(body);
      return { KeyId: this.arnOf(keyId), Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    }
    if (operation === 'Encrypt') {
      const keyId = this.keyIdOf(body.KeyId);
      const plaintext = typeof body.Plaintext === 'string' ? Buffer.from(body.Plaintext, 'base64') : Buffer.alloc(0);
      if (plaintext.length === 0 || plaintext.length > MAX_PLAINTEXT_BYTES) throw validation(`Plaintext must be 1 to ${MAX_PLAINTEXT_BYTES} bytes`);
      return { KeyId: this.arnOf(keyId), CiphertextBlob: this.encrypt(keyId, plaintext, body.EncryptionContext).toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    }
    throw unknownOperation(operation);
  }

  private arnOf(keyId: string): string {
    return `arn:aws:kms:${this.region}:${ACCOUNT}:key/${keyId}`;
  }

  /** A key id or key ARN of a key we have; anything else is NotFound, as in KMS. */
  private keyIdOf(value: unknown): string {
    const text = typeof value === 'string' ? value : '';
    const keyId = text.startsWith('arn:') ? text.slice(text.lastIndexOf('/') + 1) : text;
    if (!KEY_ID.test(keyId) || !this.keys.has(keyId)) throw new AwsServiceError(400, 'NotFoundException', `Key '${text}' does not exist`);
    return keyId;
  }

  private encrypt(keyId: string, plaintext: Buffer, context: unknown): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(keyId)!, iv);
    cipher.setAAD(contextBytes(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([MAGIC, Buffer.from(keyId, 'ascii'), iv, cipher.getAuthTag(), ciphertext]);
  }

  private decrypt(body: Record<string, unknown>): { keyId: string; plaintext: Buffer } {
    const blob = typeof body.CiphertextBlob === 'string' ? Buffer.from(body.CiphertextBlob, 'base64') : Buffer.alloc(0);
    const header = MAGIC.length + KEY_ID_CHARS;
    const keyId = blob.subarray(MAGIC.length, header).toString('ascii');
    if (blob.length < header + IV_BYTES + TAG_BYTES || !blob.subarray(0, MAGIC.length).equals(MAGIC) || !this.keys.has(keyId)) {
      throw new AwsServiceError(400, 'InvalidCiphertextException', '');
    }
    if (body.KeyId !== undefined && this.keyIdOf(body.KeyId) !== keyId) {
      throw new AwsServiceError(400, 'IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.keys.get(keyId)!, blob.subarray(header, header + IV_BYTES));
    decipher.setAAD(contextBytes(body.EncryptionContext));
    decipher.setAuthTag(blob.subarray(header + IV_BYTES, header + IV_BYTES + TAG_BYTES));
    try {
      return { keyId, plaintext: Buffer.concat([decipher.update(blob.subarray(header + IV_BYTES + TAG_BYTES)), decipher.final()]) };
    } catch {
      // KMS says no more than this when the encryption context does not match.
      throw new AwsServiceError(400, 'InvalidCiphertextException', '');
    }
  }
}

/** KeySpec or NumberOfBytes, exactly one, as KMS requires. */
function dataKeyBytes(body: Record<string, unknown>): number {
  const spec = body.KeySpec;
  const count = body.NumberOfBytes;
  if ((spec === undefined) === (count === undefined)) throw validation('Please specify either number of bytes or key spec.');
  if (spec !== undefined) {
    const bytes = typeof spec === 'string' ? KEY_SPEC_BYTES[spec] : undefined;
    if (bytes === undefined) throw validation(`KeySpec must be one of ${Object.keys(KEY_SPEC_BYTES).join(', ')}`);
    return bytes;
  }
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_DATA_KEY_BYTES) {
    throw validation(`NumberOfBytes must be 1 to ${MAX_DATA_KEY_BYTES}`);
  }
  return count;
}

/** The encryption context as authenticated data: pairs sorted by key, so order does not matter. */
function contextBytes(context: unknown): Buffer {
  const pairs = typeof context === 'object' && context !== null ? Object.entries(context as Record<string, unknown>) : [];
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(pairs), 'utf8');
}

function validation(message: string): AwsServiceError {
  return new AwsServiceError(400, 'ValidationException', message);
}

async function loadKeys(path: string | undefined): Promise<Map<string, Buffer>> {
  const keys = new Map<string, Buffer>();
  if (path === undefined) return keys;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return keys;
    throw err;
  }
  const parsed = JSON.parse(text) as KeyFile;
  for (const { keyId, material } of parsed.keys) keys.set(keyId, Buffer.from(material, 'base64'));
  return keys;
}

async function saveKeys(path: string | undefined, keys: ReadonlyMap<string, Buffer>): Promise<void> {
  if (path === undefined) return;
  const file: KeyFile = { keys: [...keys].map(([keyId, material]) => ({ keyId, material: material.toString('base64') })) };
  // The key opens every sealed credential: its directory is its owner's only.
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(file, null, 2)}\n`, { mode: FILE_MODE });
}
