import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { ChannelBinding } from './channel-binding';
import { Pop3Error, Pop3ErrorCode, sanitizeServerText } from './errors';
import { SaslCancel, type PasswordCredentials, type SaslMechanism } from './sasl';
import { saslPrep, SaslPrepError } from './saslprep';

/**
 * RFC 5802 recommends at least 4096 PBKDF2 iterations (RFC 7677 repeats it for SHA-256).
 * Fewer would let whoever impersonates the server brute-force the password from our proof
 * that much faster, so a lower count cancels the exchange.
 */
/** RFC 5802 server-error values that say the credentials are wrong (not the exchange). */
const CREDENTIAL_ERRORS: ReadonlySet<string> = new Set(['invalid-proof', 'unknown-user']);

export const MIN_SCRAM_ITERATIONS = 4_096;
/**
 * A hostile server could ask for billions of iterations and keep a CPU busy for minutes: a
 * million (OWASP asks 600,000 for PBKDF2-SHA256 password storage; servers use 4,096 to
 * 15,000) is a fraction of a second on one core, a few seconds on the smallest Lambda.
 */
export const MAX_SCRAM_ITERATIONS = 1_000_000;
/** Random octets in the client nonce (RFC 5802 asks for a "sufficiently random" one). */
const CLIENT_NONCE_OCTETS = 24;

export type ScramHash = 'sha1' | 'sha256';

export interface ScramOptions {
  /** SCRAM-SHA-1 (RFC 5802) or SCRAM-SHA-256 (RFC 7677). */
  readonly hash: ScramHash;
  /** The binding of the current TLS link: the -PLUS mechanism, GS2 flag `p=<type>`. @default none */
  readonly binding?: ChannelBinding;
  /**
   * Without `binding`: the link could be bound, but the server offers no -PLUS. The GS2
   * flag `y` then says so, and a server that does support binding fails the exchange: a
   * man in the middle who removed -PLUS from CAPA is detected (RFC 5802 section 6).
   * @default false (flag `n`)
   */
  readonly couldBind?: boolean;
  /** The client nonce. For tests only (the RFC's example exchanges). @default random */
  readonly nonce?: string;
}

const pbkdf2Async = promisify(pbkdf2);

/**
 * SCRAM-SHA-1 and SCRAM-SHA-256, with or without -PLUS (RFC 5802, 7677). The client-first
 * message is the initial response; the server-first is answered with the proof (PBKDF2 runs
 * on libuv's thread pool, not on the event loop); the server-final carries the server's
 * signature, answered with an empty response (RFC 5034), and verified: a server that cannot
 * prove it knows the password, or that sits behind another TLS connection (-PLUS), is
 * cancelled. A server that answers +OK before its signature was verified fails
 * {@link SaslMechanism.complete}.
 *
 * @throws Pop3Error USAGE when the user name or the password cannot be prepared (SASLprep)
 */
export function scramMechanism(credentials: PasswordCredentials, options: ScramOptions): SaslMechanism {
  return new ScramClient(prepareCredentials(credentials), options);
}

/** Why these credentials cannot be used with SCRAM (SASLprep refuses them), or undefined. */
export function scramCredentialProblem(credentials: PasswordCredentials): string | undefined {
  try {
    prepareCredentials(credentials);
    return undefined;
  } catch (err) {
    if (err instanceof Pop3Error) return err.message;
    throw err;
  }
}

/**
 * Whether SASLprep changes the credentials (they are usable: see {@link scramCredentialProblem}).
 * A server that does not prepare the stored password (Dovecot 2.3) then refuses the right one.
 */
export function saslPrepChanges({ username, password }: PasswordCredentials): boolean {
  const prepared = prepareCredentials({ username, password });
  return prepared.username !== username || prepared.password !== password;
}

type Step = 'server-first' | 'server-final' | 'done';

class ScramClient implements SaslMechanism {
  readonly name: string;
  readonly initialResponse: Buffer;
  private readonly gs2Header: string;
  private readonly clientNonce: string;
  private readonly firstBare: Buffer;
  private step: Step = 'server-first';
  private serverSignature: Buffer | undefined;
  private verified = false;
  private detail: string | undefined;
  /** The server-error value of the server-final message (RFC 5802 section 7), when it sent one. */
  private serverError: string | undefined;

  constructor(
    private readonly credentials: PasswordCredentials,
    private readonly options: ScramOptions,
  ) {
    this.name = `SCRAM-${options.hash === 'sha1' ? 'SHA-1' : 'SHA-256'}${options.binding ? '-PLUS' : ''}`;
    this.gs2Header = options.binding ? `p=${options.binding.type},,` : options.couldBind ? 'y,,' : 'n,,';
    this.clientNonce = options.nonce ?? randomBytes(CLIENT_NONCE_OCTETS).toString('base64');
    this.firstBare = Buffer.from(`n=${escapeSaslName(credentials.username)},r=${this.clientNonce}`, 'utf8');
    this.initialResponse = Buffer.concat([Buffer.from(this.gs2Header, 'utf8'), this.firstBare]);
  }

  async respond(challenge: Buffer): Promise<Buffer> {
    switch (this.step) {
      case 'server-first':
        this.step = 'server-final';
        return this.clientFinal(challenge);
      case 'server-final':
        this.step = 'done';
        this.checkServerFinal(challenge);
        return Buffer.alloc(0);
      default:
        throw new SaslCancel('the server sent another challenge after its final SCRAM message');
    }
  }

  failureDetail(): string | undefined {
    const binding = this.options.binding;
    // A server's own reason (e=) says what failed, unless it is about the binding.
    if (binding === undefined || (this.detail !== undefined && !/binding/i.test(this.detail))) return this.detail;
    // A refused -PLUS is most often a binding type the server does not take, not the password.
    const hint = `channel binding ${binding.type} was sent; if the password is right, the server takes another binding type (Cyrus SASL takes only tls-unique): set auth to ${this.name.replace(/-PLUS$/, '')}`;
    return this.detail === undefined ? hint : `${this.detail}; ${hint}`;
  }

  complete(): void {
    if (!this.verified) {
      throw new SaslCancel('the server accepted the login without proving that it knows the password (no verified server signature): mutual authentication did not happen');
    }
  }

  private async clientFinal(serverFirst: Buffer): Promise<Buffer> {
    const { nonce, salt, iterations } = parseServerFirst(serverFirst.toString('latin1'), this.clientNonce);
    const channel = Buffer.concat([Buffer.from(this.gs2Header, 'utf8'), this.options.binding?.data ?? Buffer.alloc(0)]);
    const withoutProof = `c=${channel.toString('base64')},r=${nonce}`;
    const authMessage = Buffer.concat([this.firstBare, COMMA, serverFirst, COMMA, Buffer.from(withoutProof, 'latin1')]);
    const hash = this.options.hash;
    const salted = await pbkdf2Async(Buffer.from(this.credentials.password, 'utf8'), salt, iterations, HASH_OCTETS[hash], hash);
    const clientKey = hmac(hash, salted, 'Client Key');
    const storedKey = createHash(hash).update(clientKey).digest();
    const clientSignature = hmac(hash, storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ clientSignature[i]!));
    this.serverSignature = hmac(hash, hmac(hash, salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'latin1');
  }

  credentialsRefused(): boolean {
    return this.serverError !== undefined && CREDENTIAL_ERRORS.has(this.serverError);
  }

  /** server-final-message = (server-error / verifier) ["," extensions] */
  private checkServerFinal(serverFinal: Buffer): void {
    const first = serverFinal.toString('latin1').split(',')[0]!;
    if (first.startsWith('e=')) {
      this.serverError = first.slice(2);
      // The server refused the proof; its -ERR follows our (empty) answer and gets this text.
      // Whole: the client scrubs it before cutting it to length (a cut echo would not be recognised).
      this.detail = `the server says: ${first.slice(2)}`;
      return;
    }
    const signature = first.startsWith('v=') ? decodeBase64(first.slice(2)) : undefined;
    if (signature === undefined) throw new SaslCancel('the server\'s final SCRAM message holds neither a signature (v=) nor an error (e=)');
    const expected = this.serverSignature!;
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      throw new SaslCancel(
        `the server's signature does not verify: the server does not know the password${this.options.binding ? ', or its TLS connection is not ours (a man in the middle)' : ''}`,
      );
    }
    this.verified = true;
  }
}

interface ServerFirst {
  readonly nonce: string;
  readonly salt: Buffer;
  readonly iterations: number;
}

/** server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions] */
export function parseServerFirst(text: string, clientNonce: string): ServerFirst {
  const fields = text.split(',');
  if (fields[0]?.startsWith('m=')) throw new SaslCancel('the server requires a SCRAM extension (m=) that this client does not know');
  const [r, s, i] = fields;
  if (!r?.startsWith('r=') || !s?.startsWith('s=') || !i?.startsWith('i=')) throw new SaslCancel('the server\'s first SCRAM message is malformed (r=, s=, i= expected)');
  const nonce = r.slice(2);
  // printable = %x21-2B / %x2D-7E (no comma)
  if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(nonce) || !nonce.startsWith(clientNonce) || nonce.length === clientNonce.length) {
    throw new SaslCancel('the server\'s nonce does not extend the client\'s (a replayed or forged exchange)');
  }
  const salt = decodeBase64(s.slice(2));
  if (salt === undefined || salt.length === 0) throw new SaslCancel('the server sent a salt that is not base64');
  const count = i.slice(2);
  const iterations = /^[1-9][0-9]{0,9}$/.test(count) ? Number(count) : NaN;
  if (!(iterations >= MIN_SCRAM_ITERATIONS && iterations <= MAX_SCRAM_ITERATIONS)) {
    throw new SaslCancel(`the server asks for an iteration count outside ${MIN_SCRAM_ITERATIONS}..${MAX_SCRAM_ITERATIONS}: "${sanitizeServerText(count, 20)}"`);
  }
  return { nonce, salt, iterations };
}

/** RFC 5802 saslname: "=" and "," escaped as "=3D" and "=2C". */
export function escapeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function prepareCredentials({ username, password }: PasswordCredentials): PasswordCredentials {
  return { username: prepare(username, 'user name'), password: prepare(password, 'password') };
}

/** SASLprep, or a USAGE error that names the problem (and, for a user name only, the character). */
function prepare(value: string, what: 'user name' | 'password'): string {
  try {
    const prepared = saslPrep(value);
    if (prepared.length === 0) throw new SaslPrepError('nothing once prepared');
    return prepared;
  } catch (err) {
    if (!(err instanceof SaslPrepError)) throw err;
    const at = what === 'user name' && err.codePoint !== undefined ? ` (U+${err.codePoint.toString(16).toUpperCase().padStart(4, '0')})` : '';
    throw new Pop3Error(Pop3ErrorCode.USAGE, `SCRAM cannot use this ${what}: SASLprep (RFC 4013) refuses it: ${err.reason}${at}`);
  }
}

const COMMA = Buffer.from(',', 'latin1');
const HASH_OCTETS: Readonly<Record<ScramHash, number>> = { sha1: 20, sha256: 32 };
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(text: string): Buffer | undefined {
  return STRICT_BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(hash, key).update(data).digest();
}
