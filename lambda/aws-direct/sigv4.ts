/**
 * AWS Signature Version 4 for one request whose payload hash is already known (the sink
 * hashes every message as it arrives): header values trimmed with inner blanks collapsed,
 * every header given signed, the payload hash sent as `x-amz-content-sha256`. For S3 the path
 * is encoded once (S3 does not double-encode); a DynamoDB request's path is `/`.
 * direct-put-object.ts and direct-dynamodb.ts use it; s3rver checks these signatures in
 * the tests, and the tests compare them with the SDK's signer.
 */
import { createHmac, hash } from 'node:crypto';

/** SHA-256's block size: an HMAC key is padded to it (RFC 2104). */
const SHA256_BLOCK_OCTETS = 64;

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

export interface RequestToSign {
  readonly method: string;
  /** Already URI-encoded (see {@link encodeS3Path}). */
  readonly path: string;
  /** Lower-case names; `host` included. Every header here is signed. */
  readonly headers: Record<string, string>;
  readonly payloadSha256Hex: string;
}

export interface SigningScope {
  readonly region: string;
  readonly service: string;
  readonly credentials: SigningCredentials;
  /** When the request is made, corrected for clock skew. */
  readonly now: Date;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** Signing keys change per day, region and secret: a handful at most per process. */
const SIGNING_KEY_CACHE_ENTRIES = 8;
const signingKeys = new Map<string, { readonly secret: string; readonly key: HmacKey }>();
/** A value that needs no trimming or collapsing (the usual case) is used as it is. */
const NEEDS_CANONICAL = /^\s|\s$|\s\s|[\t\n\r\f\v]/;

/**
 * The headers to send: the given ones plus `x-amz-date`, `x-amz-content-sha256` (S3 requires
 * it; the SDK sends it to DynamoDB too), `x-amz-security-token` (when there is a session
 * token) and `authorization`.
 */
export function signRequest(request: RequestToSign, scope: SigningScope): Record<string, string> {
  const amzDate = amzDateOf(scope.now);
  const fields = headerFields(request, scope, amzDate);
  const headers: Record<string, string> = Object.fromEntries(fields);
  headers.authorization = authorization(request, scope, amzDate, fields);
  return headers;
}

/** Fields the signature sets itself. */
const SIGNATURE_FIELDS: readonly string[] = ['x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token', 'authorization'];

/** A line break in a header field would end it, and let the rest pass as fields of its own. */
const LINE_BREAK = /[\r\n]/;

/**
 * The signed request's head: the request line and the fields of {@link signRequest}, without
 * the final empty line, made in the same pass as the signature (no object of the headers,
 * no second walk over them). A line break in a name or value throws.
 */
export function signedRequestHead(request: RequestToSign, scope: SigningScope): string {
  const amzDate = amzDateOf(scope.now);
  const fields = headerFields(request, scope, amzDate);
  let head = `${request.method} ${request.path} HTTP/1.1`;
  for (const [name, value] of fields) {
    const field = `${name}: ${value}`;
    if (LINE_BREAK.test(field)) throw new Error(`header ${JSON.stringify(name.slice(0, 40))} holds a line break`);
    head += `\r\n${field}`;
  }
  const signature = authorization(request, scope, amzDate, fields);
  // The key id, region and service are in it: a line break there splits the request as well.
  if (LINE_BREAK.test(signature)) throw new Error('the authorization holds a line break');
  return `${head}\r\nauthorization: ${signature}`;
}

/** The fields to sign and send, sorted by name: the given ones and those of the signature. */
function headerFields(request: RequestToSign, scope: SigningScope, amzDate: string): [string, string][] {
  let fields = Object.entries(request.headers);
  // The signature's own fields replace any given under their names (each is sent once).
  if (SIGNATURE_FIELDS.some((name) => name in request.headers)) fields = fields.filter(([name]) => !SIGNATURE_FIELDS.includes(name));
  fields.push(['x-amz-date', amzDate], ['x-amz-content-sha256', request.payloadSha256Hex]);
  if (scope.credentials.sessionToken) fields.push(['x-amz-security-token', scope.credentials.sessionToken]);
  return fields.sort(byName);
}

function byName(a: [string, string], b: [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** The `authorization` value over `fields` (sorted, every one signed). */
function authorization(request: RequestToSign, scope: SigningScope, amzDate: string, fields: readonly [string, string][]): string {
  const day = amzDate.slice(0, 8);
  let canonicalHeaders = '';
  let signedHeaders = '';
  for (const [name, value] of fields) {
    canonicalHeaders += `${name}:${canonicalValue(value)}\n`;
    signedHeaders += signedHeaders === '' ? name : `;${name}`;
  }
  const canonicalRequest = `${request.method}\n${request.path}\n\n${canonicalHeaders}\n${signedHeaders}\n${request.payloadSha256Hex}`;
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${credentialScope}\n${sha256Hex(canonicalRequest)}`;
  const signature = hmacHex(signingKey(scope, day), stringToSign);
  return `${ALGORITHM} Credential=${scope.credentials.accessKeyId}/${credentialScope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

/** The last `x-amz-date` made, for its second: requests signed in the same second share it. */
let lastAmzDate = { second: Number.NaN, text: '' };

/** `20261206T195724Z`: ISO 8601 basic format, to the second. */
function amzDateOf(now: Date): string {
  const second = Math.floor(now.getTime() / 1000);
  if (second !== lastAmzDate.second) lastAmzDate = { second, text: now.toISOString().replace(/[-:]|\.\d{3}/g, '') };
  return lastAmzDate.text;
}

/** Characters RFC 3986 leaves unencoded in a path, and the slash: such a path (most object keys) is its own encoding. */
const UNRESERVED_PATH = /^[A-Za-z0-9\-._~/]*$/;

/** `/a b/c` -> `/a%20b/c`: each segment as RFC 3986 wants it, the slashes kept. */
export function encodeS3Path(path: string): string {
  return UNRESERVED_PATH.test(path) ? path : path.split('/').map(encodeSegment).join('/');
}

function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalValue(value: string): string {
  return NEEDS_CANONICAL.test(value) ? value.trim().replace(/\s+/g, ' ') : value;
}

function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

function signingKey(scope: SigningScope, day: string): HmacKey {
  const secret = scope.credentials.secretAccessKey;
  const id = `${day}/${scope.region}/${scope.service}/${scope.credentials.accessKeyId}`;
  const cached = signingKeys.get(id);
  if (cached?.secret === secret) return cached.key;
  let key = createHmac('sha256', `AWS4${secret}`).update(day).digest();
  for (const part of [scope.region, scope.service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const hmacKey = padKey(key);
  signingKeys.delete(id);
  if (signingKeys.size >= SIGNING_KEY_CACHE_ENTRIES) signingKeys.delete(signingKeys.keys().next().value!);
  signingKeys.set(id, { secret, key: hmacKey });
  return hmacKey;
}

/** A 32-octet signing key XORed with HMAC's inner and outer pads (RFC 2104), once per key. */
interface HmacKey {
  readonly inner: Buffer;
  readonly outer: Buffer;
}

function padKey(key: Buffer): HmacKey {
  const inner = Buffer.alloc(SHA256_BLOCK_OCTETS, 0x36);
  const outer = Buffer.alloc(SHA256_BLOCK_OCTETS, 0x5c);
  for (let i = 0; i < key.length; i++) {
    inner[i]! ^= key[i]!;
    outer[i]! ^= key[i]!;
  }
  return { inner, outer };
}

/**
 * HMAC-SHA256 of `text` under a padded key, as two one-shot hashes: the same value as
 * createHmac, without a Hmac object (and its key object) per request.
 */
function hmacHex(key: HmacKey, text: string): string {
  const inner = hash('sha256', Buffer.concat([key.inner, Buffer.from(text, 'utf8')]), 'buffer');
  return hash('sha256', Buffer.concat([key.outer, inner]), 'hex');
}
