// The fake POP3 server's SCRAM (RFC 5802, RFC 7677): SCRAM-SHA-1, SCRAM-SHA-256 and their
// -PLUS forms, bound to the session's own TLS connection, with RFC 5802's downgrade
// protection, and the misbehaviours of FakeScramOptions. Written apart from the client's
// code (lambda/pop3/sasl-scram.ts) so that the two check each other.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { AUTH_FAILED_LINE, type AuthContext, type AuthOutcome } from './fake-pop3-auth';
import { b64, challenge, FAILED, REPLIED, reply } from './fake-sasl-io';

const pbkdf2Async = promisify(pbkdf2);

interface ClientFirst {
  /** gs2-header, as sent: what `c=` must carry (with the binding data for "p") */
  readonly gs2: string;
  /** 'n', 'y', or the channel-binding type of "p=" */
  readonly flag: string;
  readonly user: string;
  readonly nonce: string;
  /** client-first-message-bare, as sent */
  readonly bare: string;
}

/** Runs AUTH SCRAM-*: `ir` is the client-first message when it came with the AUTH line. */
export async function scram(ctx: AuthContext, mechanism: string, ir: Buffer | undefined): Promise<AuthOutcome> {
  const hash = mechanism.startsWith('SCRAM-SHA-256') ? 'sha256' : 'sha1';
  const first = ir ?? (await challenge(ctx, ''));
  if (!first) return REPLIED;
  const client = parseClientFirst(first.toString('utf8'));
  if (!client) return reply(ctx, '-ERR malformed SCRAM client-first message');
  const binding = bindingFor(ctx, mechanism, client.flag);
  if (binding === undefined) return reply(ctx, AUTH_FAILED_LINE);
  const { misbehave, serverError, iterations } = ctx.scram;
  const salt = randomBytes(16);
  const nonce = `${misbehave === 'foreign-nonce' ? 'forged' : client.nonce}${randomBytes(18).toString('base64')}`;
  const serverFirst = `${misbehave === 'mandatory-extension' ? 'm=fake-extension,' : ''}r=${nonce},s=${salt.toString('base64')},i=${iterations}`;
  const final = await challenge(ctx, b64(serverFirst));
  if (!final) return REPLIED;
  const m = /^(c=([^,]*),r=([^,]*)(?:,[^,]*)*?),p=([^,]*)$/.exec(final.toString('utf8'));
  const expectedChannel = Buffer.concat([Buffer.from(client.gs2, 'utf8'), binding]).toString('base64');
  const password = ctx.passwordOf(client.user);
  if (serverError !== undefined) return refuse(ctx, serverError);
  if (!m || m[2] !== expectedChannel || m[3] !== nonce || password === undefined) return FAILED;
  const keys = await saltedKeys(hash, password, salt, iterations);
  const authMessage = `${client.bare},${serverFirst},${m[1]!}`;
  const proof = Buffer.from(m[4]!, 'base64');
  const clientSignature = hmac(hash, keys.storedKey, authMessage);
  const clientKey = Buffer.from(proof.map((byte, i) => byte ^ clientSignature[i]!));
  const storedKey = createHash(hash).update(clientKey).digest();
  if (proof.length !== keys.storedKey.length || !timingSafeEqual(storedKey, keys.storedKey)) return FAILED;
  if (misbehave === 'ok-without-final') return { kind: 'ok', user: client.user };
  const signature = hmac(hash, keys.serverKey, authMessage);
  if (misbehave === 'wrong-signature') signature[0]! ^= 0xff;
  const answer = await challenge(ctx, b64(`v=${signature.toString('base64')}`));
  if (!answer) return REPLIED;
  // RFC 5034: the client answers the server's last data with an empty response.
  return answer.length === 0 ? { kind: 'ok', user: client.user } : FAILED;
}

/** client-first-message = gs2-header client-first-message-bare; null when malformed. */
function parseClientFirst(text: string): ClientFirst | null {
  const m = /^(n|y|p=([A-Za-z0-9.-]+)),(a=[^,]*)?,(n=([^,]*),r=([\x21-\x2b\x2d-\x7e]+)(?:,.*)?)$/.exec(text);
  if (!m) return null;
  const user = unescapeName(m[5]!);
  if (user === null || m[3] !== undefined) return null; // no authorization identity in these tests
  return { gs2: text.slice(0, text.length - m[4]!.length), flag: m[2] ?? m[1]!, user, nonce: m[6]!, bare: m[4]! };
}

/** saslname: "=2C" is ",", "=3D" is "=", any other "=" is an error. */
function unescapeName(name: string): string | null {
  if (/=(?!2C|3D)/.test(name)) return null;
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/**
 * The channel-binding data the client's `c=` must carry: none for "n" and "y", the
 * session's binding for "p". Undefined when the exchange must fail: "p" without -PLUS (or
 * the reverse), a type this link does not have, or "y" while the server offers the -PLUS
 * form over this TLS link (RFC 5802 section 6: a downgrade, -PLUS was removed on the way).
 */
function bindingFor(ctx: AuthContext, mechanism: string, flag: string): Buffer | undefined {
  const plus = mechanism.endsWith('-PLUS');
  if (flag === 'n') return plus ? undefined : Buffer.alloc(0);
  if (flag === 'y') return plus || (ctx.tls && ctx.mechanisms.includes(`${mechanism}-PLUS`)) ? undefined : Buffer.alloc(0);
  if (!plus) return undefined;
  const data = ctx.channelBinding(flag);
  if (data === undefined || ctx.scram.misbehave !== 'other-binding') return data;
  return createHash('sha256').update('another TLS connection').update(data).digest();
}

/** FakeScramOptions.serverError: the server-final is `e=...`, the client answers, then -ERR [AUTH]. */
async function refuse(ctx: AuthContext, serverError: string): Promise<AuthOutcome> {
  const answer = await challenge(ctx, b64(`e=${serverError}`));
  return answer === null ? REPLIED : FAILED;
}

/** The stored password, prepared as RFC 5802 asks (NFKC is all of SASLprep the tests' passwords need). */
async function saltedKeys(hash: string, password: string, salt: Buffer, iterations: number): Promise<{ storedKey: Buffer; serverKey: Buffer }> {
  const salted = await pbkdf2Async(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, hash === 'sha1' ? 20 : 32, hash);
  return { storedKey: createHash(hash).update(hmac(hash, salted, 'Client Key')).digest(), serverKey: hmac(hash, salted, 'Server Key') };
}

function hmac(hash: string, key: Buffer, data: string): Buffer {
  return createHmac(hash, key).update(data, 'utf8').digest();
}
