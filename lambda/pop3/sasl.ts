import { createHash, createHmac } from 'node:crypto';

/**
 * SASL mechanisms for AUTH (RFC 5034). Each mechanism is a small state machine: an
 * optional initial response, then one answer per server challenge. Byte strings stay
 * Buffers; the caller base64-encodes them for the wire.
 */
export interface SaslMechanism {
  readonly name: string;
  /** Sent with the AUTH command (RFC 4959 style), or undefined to wait for the first "+". */
  readonly initialResponse: Buffer | undefined;
  /**
   * Answers a decoded challenge. Throws {@link SaslCancel} when the exchange cannot go on
   * (a challenge it cannot answer, a server proof that does not verify): the client then
   * cancels with `*` (RFC 5034) and fails with AUTH_CANCELLED. A mechanism with slow
   * work to do (SCRAM's PBKDF2) returns a promise and does it off the event loop.
   */
  respond(challenge: Buffer): Buffer | Promise<Buffer>;
  /**
   * What the server explained during the exchange, for the error when it ends in -ERR
   * (e.g. the decoded OAuth error: status, scope). Printable text, never a credential.
   */
  failureDetail?(): string | undefined;
  /**
   * True when the exchange itself said the credentials are wrong (SCRAM `e=invalid-proof`,
   * `e=unknown-user`): the -ERR that follows is AUTH_FAILED whatever its response code.
   */
  credentialsRefused?(): boolean;
  /**
   * Called when the server answers +OK. Throws {@link SaslCancel} when the exchange is not
   * complete from the client's side (SCRAM: the server's signature was never verified, so
   * mutual authentication did not happen): the exchange is over, so the client cannot send
   * `*`; it drops the connection and fails with AUTH_CANCELLED.
   */
  complete?(): void;
}

/** A mechanism that answers at once (every one but SCRAM). */
export interface SyncSaslMechanism extends SaslMechanism {
  respond(challenge: Buffer): Buffer;
}

/** Thrown by {@link SaslMechanism.respond} to cancel the exchange; `reason` is shown in the error. */
export class SaslCancel extends Error {
  override readonly name = 'SaslCancel';
}

export interface PasswordCredentials {
  readonly username: string;
  readonly password: string;
}

export interface TokenCredentials {
  readonly username: string;
  /** OAuth 2.0 access token (bearer). */
  readonly accessToken: string;
}

/** RFC 4616. */
export function plainMechanism({ username, password }: PasswordCredentials): SyncSaslMechanism {
  const response = Buffer.concat([Buffer.from([0]), Buffer.from(username, 'utf8'), Buffer.from([0]), Buffer.from(password, 'utf8')]);
  return { name: 'PLAIN', initialResponse: response, respond: () => response };
}

/**
 * The LOGIN mechanism (draft-murchison-sasl-login): username, then password. Servers ask
 * with "Username:"/"Password:" prompts; answer by step rather than trusting the prompt text.
 */
export function loginMechanism({ username, password }: PasswordCredentials): SyncSaslMechanism {
  let step = 0;
  return {
    name: 'LOGIN',
    initialResponse: undefined,
    respond: () => Buffer.from(step++ === 0 ? username : password, 'utf8'),
  };
}

/** RFC 2195: HMAC-MD5 of the challenge keyed with the password. */
export function cramMd5Mechanism({ username, password }: PasswordCredentials): SyncSaslMechanism {
  return {
    name: 'CRAM-MD5',
    initialResponse: undefined,
    respond: (challenge) => {
      const digest = createHmac('md5', Buffer.from(password, 'utf8')).update(challenge).digest('hex');
      return Buffer.from(`${username} ${digest}`, 'utf8');
    },
  };
}

/** RFC 1939 APOP digest: md5 of the greeting's timestamp followed by the secret, in hex. */
export function apopDigest(timestamp: string, password: string): string {
  return createHash('md5').update(Buffer.from(timestamp, 'latin1')).update(Buffer.from(password, 'utf8')).digest('hex');
}

/** The `<...>` timestamp of an APOP-capable greeting, or undefined. */
export function apopTimestamp(greetingText: string): string | undefined {
  const m = /<[^<>\s]{1,200}@[^<>\s]{1,200}>/.exec(greetingText) ?? /<[\x21-\x7e]{1,200}>/.exec(greetingText);
  return m?.[0];
}
