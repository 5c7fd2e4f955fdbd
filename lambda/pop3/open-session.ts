import type { Capabilities } from './capabilities';
import { portOf } from './client-options';
import { Pop3Error, Pop3ErrorCode } from './errors';
import { Pop3Client, type Pop3ConnectOptions } from './pop3-client';
import {
  apopDigest,
  apopTimestamp,
  cramMd5Mechanism,
  loginMechanism,
  plainMechanism,
  type SaslMechanism,
} from './sasl';
import { oauthBearerMechanism, xoauth2Mechanism } from './sasl-oauth';
import { externalMechanism } from './sasl-external';
import type { ChannelBinding } from './channel-binding';
import type * as ScramCode from './sasl-scram';

/** SCRAM's code and SASLprep's tables: loaded only for a session that may use SCRAM (see loadScram). */
type ScramModule = typeof ScramCode;

export const AUTH_MECHANISMS = ['USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2', 'OAUTHBEARER', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS', 'EXTERNAL'] as const;
export type AuthMechanismName = (typeof AUTH_MECHANISMS)[number];
const TOKEN_MECHANISMS: readonly AuthMechanismName[] = ['XOAUTH2', 'OAUTHBEARER'];
const SCRAM_MECHANISMS: readonly AuthMechanismName[] = ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS'];
/** Channel-bound SCRAM: only over TLS with a binding (see Pop3Client.channelBinding()). */
const PLUS_MECHANISMS: readonly AuthMechanismName[] = ['SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS'];
const SASL_MECHANISMS: readonly AuthMechanismName[] = ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2', 'OAUTHBEARER', 'EXTERNAL', ...SCRAM_MECHANISMS];

/**
 * Default preference with a password. SCRAM first everywhere: the password never leaves
 * the client and the server proves it knows it too; over TLS the channel-bound forms first
 * (a man in the middle with another TLS connection fails them). Then, over TLS, the
 * simplest mechanisms (the link protects the password and the server may store any hash);
 * over an explicitly allowed plaintext link, challenge-response so the password is not sent.
 */
export const DEFAULT_PREFERENCE_SECURE: readonly AuthMechanismName[] = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'LOGIN', 'USER', 'CRAM-MD5', 'APOP'];
export const DEFAULT_PREFERENCE_PLAINTEXT: readonly AuthMechanismName[] = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'CRAM-MD5', 'APOP', 'PLAIN', 'LOGIN', 'USER'];
export const DEFAULT_PREFERENCE_TOKEN: readonly AuthMechanismName[] = ['XOAUTH2', 'OAUTHBEARER'];

export interface Pop3SessionOptions extends Pop3ConnectOptions {
  readonly username: string;
  /** For USER, APOP, PLAIN, LOGIN, CRAM-MD5, SCRAM-*. */
  readonly password?: string;
  /** OAuth 2.0 access token, for XOAUTH2 and OAUTHBEARER. */
  readonly accessToken?: string;
  /**
   * A mechanism, or `auto` to pick from CAPA by preference. EXTERNAL logs in with the TLS
   * client certificate (`tlsOptions.cert`/`key`); `auto` takes it when that is the only credential.
   * @default 'auto'
   */
  readonly auth?: AuthMechanismName | 'auto';
  /** Order in which `auto` tries mechanisms. @default by link security and credential kind */
  readonly authPreference?: readonly AuthMechanismName[];
  /**
   * Allow authentication over a link without TLS. Off by default: credentials (and
   * bearer tokens, and brute-forceable APOP/CRAM-MD5 digests) stay off plaintext links.
   * @default false
   */
  readonly allowPlaintextAuth?: boolean;
  /** Send XOAUTH2 in the two-step form (Microsoft 365). @default false (withheld anyway when too long) */
  readonly xoauth2TwoStep?: boolean;
}

/**
 * Opens an authenticated session: connect, (STLS), CAPA, authenticate, CAPA again (some
 * servers announce PIPELINING/TOP only after login). Closes the connection on failure.
 */
export async function openSession(options: Pop3SessionOptions): Promise<Pop3Client> {
  // The client scrubs these from everything the server says, from the greeting on.
  const secrets = [...(options.secrets ?? []), ...[options.password, options.accessToken, options.tlsOptions?.key].filter((s): s is string => s !== undefined)];
  const client = await Pop3Client.connect({ ...options, secrets });
  try {
    if ((options.tls ?? 'implicit') === 'starttls') {
      await startTls(client);
    }
    let before = await client.capa();
    if (!client.secure && !options.allowPlaintextAuth) {
      throw new Pop3Error(
        Pop3ErrorCode.PLAINTEXT_REFUSED,
        'refusing to authenticate over a connection without TLS (set allowPlaintextAuth to allow it)',
      );
    }
    // Without CAPA, `auto` asks a bare AUTH for the SASL mechanisms (older servers list them).
    if (before.lines.length === 0 && (options.auth ?? 'auto') === 'auto') before = { ...before, sasl: await client.authList() };
    const scram = await loadScram(options, before, client);
    const mechanism = chooseMechanism(options, before, client.greeting, client.secure, scram);
    await authenticate(client, mechanism, options, scram);
    await client.capa();
    return client;
  } catch (err) {
    client.close();
    throw err;
  }
}

async function startTls(client: Pop3Client): Promise<void> {
  try {
    await client.stls();
  } catch (err) {
    if (err instanceof Pop3Error && err.code === Pop3ErrorCode.SERVER_ERROR) {
      throw new Pop3Error(Pop3ErrorCode.UNSUPPORTED, `the server refused STLS: ${err.serverText ?? ''}`.trimEnd(), { cause: err, command: 'STLS' });
    }
    throw err;
  }
}

/** SCRAM's part of a session: its code, and the link's channel binding (for -PLUS) if it has one. */
export interface ScramSupport {
  readonly module: ScramModule;
  readonly binding: ChannelBinding | undefined;
}

/**
 * Loads SCRAM when this session may use it: it is configured, or `auto` has a password and
 * the server lists a SCRAM mechanism (`auto` takes SASL mechanisms only from the listing). A
 * session with any other server, or with a token, never loads it.
 */
async function loadScram(options: Pop3SessionOptions, caps: Capabilities, client: Pop3Client): Promise<ScramSupport | undefined> {
  const wanted = options.auth ?? 'auto';
  const inPlay = SCRAM_MECHANISMS.includes(wanted as AuthMechanismName) || (wanted === 'auto' && options.password !== undefined && caps.sasl.some((m) => SCRAM_MECHANISMS.includes(m as AuthMechanismName)));
  if (!inPlay) return undefined;
  const [module, binding] = await Promise.all([import('./sasl-scram'), client.channelBinding()]);
  return { module, binding };
}

/**
 * Picks the mechanism: the configured one (checked against CAPA) or the first fitting one.
 * `scram`: SCRAM's code and the link's channel binding (which the -PLUS mechanisms need).
 * Without it -PLUS is unavailable, and `auto` passes over SCRAM unless the credentials are
 * printable ASCII, which SASLprep neither refuses nor changes (openSession loads SCRAM
 * whenever it may be chosen, so the exact check applies there).
 */
export function chooseMechanism(options: Pop3SessionOptions, caps: Capabilities, greeting: string, secure: boolean, scram?: ScramSupport): AuthMechanismName {
  const canBind = scram?.binding !== undefined;
  const token = options.accessToken !== undefined;
  // A client certificate as the only credential: EXTERNAL, whatever else is offered.
  const certificateOnly = !token && options.password === undefined && options.tlsOptions?.cert !== undefined && options.authPreference === undefined;
  const wanted = (options.auth ?? 'auto') === 'auto' && certificateOnly ? 'EXTERNAL' : (options.auth ?? 'auto');
  if (wanted !== 'auto') {
    const why = (wanted === 'EXTERNAL' ? withoutCertificate(options, secure) : undefined) ?? unavailable(wanted, caps, greeting, false, canBind);
    if (why) throw new Pop3Error(Pop3ErrorCode.UNSUPPORTED, `authentication mechanism ${wanted} is not available: ${why}`);
    if (wanted !== 'EXTERNAL' && TOKEN_MECHANISMS.includes(wanted) !== token) {
      throw new Pop3Error(Pop3ErrorCode.USAGE, `${wanted} needs ${TOKEN_MECHANISMS.includes(wanted) ? 'an access token' : 'a password'}`);
    }
    return wanted;
  }
  const preference = options.authPreference ?? (token ? DEFAULT_PREFERENCE_TOKEN : secure ? DEFAULT_PREFERENCE_SECURE : DEFAULT_PREFERENCE_PLAINTEXT);
  const usable = preference.filter((m) => TOKEN_MECHANISMS.includes(m) === token && !scramRefuses(m, options, scram?.module));
  const chosen = usable.find((m) => unavailable(m, caps, greeting, true, canBind) === undefined);
  if (chosen) return chosen;
  // A server without CAPA tells us nothing: USER (or XOAUTH2 with a token) is the best guess.
  if (caps.lines.length === 0) return token ? 'XOAUTH2' : 'USER';
  const offered = [...(caps.user ? ['USER'] : []), ...caps.sasl].join(' ') || 'nothing';
  throw new Pop3Error(Pop3ErrorCode.UNSUPPORTED, `no usable authentication mechanism (wanted ${usable.join(', ')}; the server offers ${offered})`);
}

/**
 * Why `mechanism` cannot be used, or undefined. Without CAPA nothing is known: `auto`
 * (`strict`) then only takes USER or APOP (RFC 1939), while an explicitly configured
 * mechanism is tried anyway.
 */
function unavailable(mechanism: AuthMechanismName, caps: Capabilities, greeting: string, strict: boolean, canBind: boolean): string | undefined {
  if (mechanism === 'APOP') return apopTimestamp(greeting) ? undefined : 'the greeting has no APOP timestamp';
  if (PLUS_MECHANISMS.includes(mechanism) && !canBind) return 'it needs a TLS connection with a channel binding';
  const noCapa = caps.lines.length === 0;
  if (mechanism === 'USER') return caps.user || noCapa ? undefined : 'the server does not list USER in CAPA';
  if (SASL_MECHANISMS.includes(mechanism) && !caps.sasl.includes(mechanism) && (strict || !noCapa)) {
    if (!noCapa) return `the server offers SASL ${caps.sasl.join(' ') || 'none'}`;
    return caps.sasl.length === 0 ? 'the server does not support CAPA, so it announces no SASL mechanism' : `without CAPA, a bare AUTH lists ${caps.sasl.join(' ')}`;
  }
  return undefined;
}

/**
 * `auto` passes over SCRAM when SASLprep refuses the credentials, or changes them: servers
 * that skip SASLprep (Dovecot 2.3) refuse the right password then, as AUTH_FAILED. Another
 * mechanism takes the credentials as they are.
 */
function scramRefuses(mechanism: AuthMechanismName, options: Pop3SessionOptions, scram: ScramModule | undefined): boolean {
  if (!SCRAM_MECHANISMS.includes(mechanism) || options.password === undefined) return false;
  const credentials = { username: options.username, password: options.password };
  if (scram === undefined) return !PRINTABLE_ASCII.test(credentials.username) || !PRINTABLE_ASCII.test(credentials.password);
  return scram.scramCredentialProblem(credentials) !== undefined || scram.saslPrepChanges(credentials);
}

/** Non-empty printable ASCII: SASLprep (RFC 4013) maps, refuses and reorders none of it. */
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** Why EXTERNAL has no identity to assert (it is the TLS client certificate), or undefined. */
function withoutCertificate(options: Pop3SessionOptions, secure: boolean): string | undefined {
  if (options.tlsOptions?.cert === undefined || options.tlsOptions.key === undefined) return 'no TLS client certificate and key are configured';
  return secure ? undefined : 'the connection has no TLS, so no client certificate was presented';
}

async function authenticate(client: Pop3Client, mechanism: AuthMechanismName, options: Pop3SessionOptions, scram: ScramSupport | undefined): Promise<void> {
  const { username } = options;
  if (mechanism === 'USER') return client.userPass(username, requirePassword(options));
  if (mechanism === 'APOP') return client.apop(username, apopDigest(apopTimestamp(client.greeting)!, requirePassword(options)));
  return client.auth(saslMechanism(mechanism, options, client, scram));
}

function saslMechanism(mechanism: AuthMechanismName, options: Pop3SessionOptions, client: Pop3Client, scram: ScramSupport | undefined): SaslMechanism {
  const { username } = options;
  if (SCRAM_MECHANISMS.includes(mechanism)) return scramFor(mechanism, options, client, scram);
  switch (mechanism) {
    case 'PLAIN':
      return plainMechanism({ username, password: requirePassword(options) });
    case 'LOGIN':
      return loginMechanism({ username, password: requirePassword(options) });
    case 'CRAM-MD5':
      return cramMd5Mechanism({ username, password: requirePassword(options) });
    case 'XOAUTH2':
      return xoauth2Mechanism({ username, accessToken: requireToken(options) }, options.xoauth2TwoStep ?? false);
    case 'OAUTHBEARER':
      return oauthBearerMechanism({ username, accessToken: requireToken(options) }, { host: options.host, port: portOf(options) });
    case 'EXTERNAL':
      // The username as authorization identity: a certificate naming another user fails (sasl-external.ts).
      return externalMechanism(username);
    default:
      throw new Pop3Error(Pop3ErrorCode.USAGE, `${mechanism} is not a SASL mechanism`);
  }
}

/**
 * SCRAM, bound to the link for -PLUS. Without -PLUS over a link that could be bound, the
 * GS2 flag `y` tells a server that offers no -PLUS so, unless it does offer the -PLUS form
 * (then the plain form was configured on purpose, and `y` would make the server fail).
 */
function scramFor(mechanism: AuthMechanismName, options: Pop3SessionOptions, client: Pop3Client, scram: ScramSupport | undefined): SaslMechanism {
  const credentials = { username: options.username, password: requirePassword(options) };
  // openSession loads SCRAM for every session with a password that can choose it.
  if (scram === undefined) throw new Pop3Error(Pop3ErrorCode.USAGE, `${mechanism}: SCRAM was not loaded for this session`);
  const hash = mechanism.startsWith('SCRAM-SHA-256') ? 'sha256' : 'sha1';
  const { binding } = scram;
  if (PLUS_MECHANISMS.includes(mechanism)) {
    if (!binding) throw new Pop3Error(Pop3ErrorCode.UNSUPPORTED, `${mechanism} needs a TLS connection with a channel binding`);
    return scram.module.scramMechanism(credentials, { hash, binding });
  }
  const serverBinds = client.capabilities?.sasl.includes(`${mechanism}-PLUS`) ?? false;
  return scram.module.scramMechanism(credentials, { hash, couldBind: binding !== undefined && !serverBinds });
}

function requirePassword(options: Pop3SessionOptions): string {
  if (options.password === undefined) throw new Pop3Error(Pop3ErrorCode.USAGE, 'this mechanism needs a password');
  return options.password;
}

function requireToken(options: Pop3SessionOptions): string {
  if (options.accessToken === undefined) throw new Pop3Error(Pop3ErrorCode.USAGE, 'this mechanism needs an access token');
  return options.accessToken;
}
