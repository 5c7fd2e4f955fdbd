import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { MIN_TLS_VERSION } from './constants';
import { Pop3Error, Pop3ErrorCode } from './errors';

/** How the connection is secured. */
export type TlsMode = 'implicit' | 'starttls' | 'none';

export interface TlsOptions {
  /**
   * Extra trusted CA certificates (PEM), added to Node's default roots and to
   * NODE_EXTRA_CA_CERTS, not replacing them.
   * @default none
   */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Name checked against the certificate and sent as SNI. @default the host */
  readonly servername?: string;
  /**
   * Verify the server certificate. Turning this off is for lab servers only and is
   * reported in every session's TLS details.
   * @default true
   */
  readonly rejectUnauthorized?: boolean;
  /**
   * Client certificate (PEM; intermediates may follow the leaf), sent when the server asks
   * for one in the handshake: the identity of SASL EXTERNAL, or a server's TLS-level check.
   * Needs `key`. @default none
   */
  readonly cert?: string;
  /**
   * The private key of `cert` (PEM, unencrypted). `openSession` registers it as a secret:
   * it is scrubbed from every server line, trace and error. @default none
   */
  readonly key?: string;
}

/** What `check` shows and logs record about the secured link. */
export interface TlsDetails {
  readonly protocol: string | null;
  readonly cipher: string;
  readonly authorized: boolean;
  readonly authorizationError: string | undefined;
  readonly subject: string | undefined;
  readonly issuer: string | undefined;
  readonly validTo: string | undefined;
  readonly fingerprint256: string | undefined;
}

export interface ConnectTarget {
  readonly host: string;
  readonly port: number;
  /** Local address to connect from (tests use it to look non-local to the server). */
  readonly localAddress?: string;
}

/** Opens a TCP connection, within `timeoutMs`. */
export function connectTcp(target: ConnectTarget, timeoutMs: number, signal: AbortSignal): Promise<net.Socket> {
  return settleSocket(
    net.connect({ host: target.host, port: target.port, ...(target.localAddress ? { localAddress: target.localAddress } : {}) }),
    'connect',
    target,
    timeoutMs,
    signal,
  );
}

/** Opens a TLS connection (implicit TLS, port 995), handshake included, within `timeoutMs`. */
export function connectTls(target: ConnectTarget, options: TlsOptions, timeoutMs: number, signal: AbortSignal): Promise<tls.TLSSocket> {
  const socket = tls.connect({
    host: target.host,
    port: target.port,
    ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    ...secureContextOptions(target.host, options),
  });
  return settleSocket(socket, 'secureConnect', target, timeoutMs, signal);
}

/** Upgrades an established plain socket to TLS (after STLS), handshake included. */
export function upgradeToTls(
  socket: net.Socket,
  target: ConnectTarget,
  options: TlsOptions,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<tls.TLSSocket> {
  const secure = tls.connect({ socket, ...secureContextOptions(target.host, options) });
  return settleSocket(secure, 'secureConnect', target, timeoutMs, signal);
}

export function tlsDetails(socket: tls.TLSSocket): TlsDetails {
  const cert = socket.getPeerCertificate();
  const hasCert = cert && Object.keys(cert).length > 0;
  const authError = socket.authorizationError as unknown;
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher().name,
    authorized: socket.authorized,
    authorizationError: authError === null || authError === undefined ? undefined : String(authError),
    subject: hasCert ? formatName(cert.subject) : undefined,
    issuer: hasCert ? formatName(cert.issuer) : undefined,
    validTo: hasCert ? cert.valid_to : undefined,
    fingerprint256: hasCert ? cert.fingerprint256 : undefined,
  };
}

function formatName(name: tls.Certificate | undefined): string | undefined {
  if (!name) return undefined;
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
}

function secureContextOptions(host: string, options: TlsOptions): tls.ConnectionOptions {
  const servername = options.servername ?? host;
  return {
    // SNI must not be an IP address (RFC 6066); the certificate check still uses it.
    ...(net.isIP(servername) ? {} : { servername }),
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(servername, cert),
    minVersion: MIN_TLS_VERSION,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    ...(options.ca === undefined && options.cert === undefined ? {} : { secureContext: cachedContext(options) }),
  };
}

/** At most this many distinct CA sets and client certificates keep a cached context (one per mailbox, in practice). */
const MAX_CACHED_CONTEXTS = 32;
const contexts = new Map<string, tls.SecureContext>();

/**
 * A secure context trusting the default roots plus `ca`, with the client certificate if
 * any, built once per distinct combination: parsing ~140 root certificates costs tens of
 * milliseconds of CPU per session otherwise. The cache is keyed by a digest, so no key
 * text is held as a map key.
 * @throws Pop3Error TLS_FAILED when the client certificate or key cannot be used
 */
function cachedContext(options: TlsOptions): tls.SecureContext {
  const list = options.ca === undefined ? [] : caList(options.ca);
  const digest = createHash('sha256').update(`${process.env.NODE_EXTRA_CA_CERTS ?? ''}\0${list.map((c) => c.toString()).join('\0')}\0${options.cert ?? ''}\0${options.key ?? ''}`).digest('base64');
  let context = contexts.get(digest);
  if (!context) {
    context = createContext(options);
    if (contexts.size >= MAX_CACHED_CONTEXTS) contexts.delete(contexts.keys().next().value!);
    contexts.set(digest, context);
  }
  return context;
}

function createContext(options: TlsOptions): tls.SecureContext {
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({
      minVersion: MIN_TLS_VERSION,
      ...(options.cert === undefined ? {} : { cert: options.cert, key: options.key }),
    });
  } catch (err) {
    // OpenSSL's reason ("key values mismatch", "no start line") quotes no PEM text; the error itself is not kept.
    const reason = err instanceof Error ? err.message : String(err);
    throw new Pop3Error(Pop3ErrorCode.TLS_FAILED, `the TLS client certificate or its key cannot be used: ${reason}`);
  }
  if (options.ca !== undefined) addTrustedCas(context, caList(options.ca));
  return context;
}

/** The configured CAs as a list; Node's `ca` option refuses other types, and its native call would ignore them silently. */
function caList(ca: NonNullable<TlsOptions['ca']>): (string | Buffer)[] {
  const list = (Array.isArray(ca) ? ca : [ca]) as unknown[];
  for (const cert of list) {
    if (typeof cert !== 'string' && !Buffer.isBuffer(cert)) throw new Pop3Error(Pop3ErrorCode.USAGE, `tlsOptions.ca must be PEM text or a Buffer of it, got ${cert === null ? 'null' : typeof cert}`);
  }
  return list as (string | Buffer)[];
}

/** The native half of a SecureContext, whose method `createSecureContext`'s own `ca` option calls. */
interface NativeSecureContext {
  addCACert(cert: string | Buffer): void;
}

/**
 * Adds `extra` to a context that trusts Node's bundled roots: Node gives the context its
 * own copy of the already parsed roots first. The `ca` option would replace them instead,
 * and handing the ~140 roots back in as PEM costs 25-55 ms of CPU per process. That copy
 * leaves out NODE_EXTRA_CA_CERTS, so its file is added here too.
 */
function addTrustedCas(context: tls.SecureContext, extra: readonly (string | Buffer)[]): void {
  const native = (context as unknown as { context: NativeSecureContext }).context;
  const envFile = process.env.NODE_EXTRA_CA_CERTS;
  if (envFile) {
    try {
      native.addCACert(readFileSync(envFile));
    } catch {
      // Node itself only warns about an unreadable file; do the same by ignoring it.
    }
  }
  for (const cert of extra) native.addCACert(cert);
}

function settleSocket<S extends net.Socket>(
  socket: S,
  readyEvent: 'connect' | 'secureConnect',
  target: ConnectTarget,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<S> {
  const where = `${target.host}:${target.port}`;
  const tlsStep = readyEvent === 'secureConnect';
  return new Promise<S>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off(readyEvent, onReady);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (err: Pop3Error): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onReady = (): void => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: NodeJS.ErrnoException): void => fail(classifyConnectError(err, where, tlsStep));
    const onClose = (): void => fail(new Pop3Error(Pop3ErrorCode.CONNECTION_CLOSED, `${where} closed the connection during ${tlsStep ? 'the TLS handshake' : 'connect'}`));
    const onAbort = (): void => fail(new Pop3Error(Pop3ErrorCode.ABORTED, `connecting to ${where} was aborted`, { cause: signal.reason }));
    const timer = setTimeout(
      () => fail(new Pop3Error(Pop3ErrorCode.CONNECT_TIMEOUT, `${tlsStep ? 'TLS handshake with' : 'connecting to'} ${where} took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once(readyEvent, onReady);
    socket.once('error', onError);
    socket.once('close', onClose);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

const TCP_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EADDRNOTAVAIL']);

function classifyConnectError(err: NodeJS.ErrnoException, where: string, tlsStep: boolean): Pop3Error {
  if (err.code && TCP_ERRORS.has(err.code)) {
    return new Pop3Error(Pop3ErrorCode.CONNECT_FAILED, `cannot connect to ${where}: ${err.code}`, { cause: err });
  }
  if (tlsStep) {
    const hint = tlsHint(err);
    return new Pop3Error(Pop3ErrorCode.TLS_FAILED, `TLS with ${where} failed: ${err.code ?? err.message}${hint === undefined ? '' : `: ${hint}`}`, { cause: err });
  }
  return new Pop3Error(Pop3ErrorCode.CONNECT_FAILED, `cannot connect to ${where}: ${err.code ?? err.message}`, { cause: err });
}

/** OpenSSL's words for a peer that answered a ClientHello with something other than TLS. */
const NOT_TLS = /wrong version number|packet length too long|unknown protocol|http request|record layer failure/i;
/** Certificate chains that do not end at a trusted root. */
const UNTRUSTED_CHAIN = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT']);

/** What the usual TLS failures mean for the configuration, in its own field names. */
function tlsHint(err: NodeJS.ErrnoException & { cert?: { subjectaltname?: string } }): string | undefined {
  if (err.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || NOT_TLS.test(err.message)) {
    return 'the server answered without TLS: this port speaks plain POP3 (110 usually does); use "tls": "starttls" on it, or the implicit-TLS port (995)';
  }
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = err.cert?.subjectaltname;
    return `the certificate is for ${names ? names.replaceAll('DNS:', '') : 'other names'}: connect by one of those names, or set "tlsServername" to the name the certificate carries`;
  }
  if (err.code !== undefined && UNTRUSTED_CHAIN.has(err.code)) {
    return 'the certificate is not signed by a trusted CA: if the server uses a private CA, put that CA\'s certificate (PEM) in "tlsCa"';
  }
  if (err.code === 'CERT_HAS_EXPIRED') return 'the server\'s certificate has expired: the mail provider must renew it';
  return undefined;
}
