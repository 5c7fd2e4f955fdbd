// One connection to the fake POP3 server: socket and TLS plumbing, serialised (optionally
// chunked) writes, the session state RFC 1939 defines, and what profiles need to know
// about it (who logged in, what was retrieved, the line being answered).
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DEFAULT_MECHANISMS, type AuthContext } from './fake-pop3-auth';
import type { FakeMessage, FakePop3Server, FakeSession, FakeSessionState } from './fake-pop3-types';
import { LineBuffer } from './line-buffer';
import type { Maildrop } from './maildrop';
import type { ProfileChain } from './profile-chain';
import { capName, type Settings } from './settings';

/** One account of the server: who may log in, with what, and its maildrop. */
export interface SessionAccount {
  readonly user: string;
  readonly password: string;
  readonly drop: Maildrop;
}

/** What a session needs from its server. */
export interface SessionHost {
  readonly settings: Settings;
  readonly chain: ProfileChain;
  /** the public handle, passed to profile hooks */
  readonly api: FakePop3Server;
  readonly messages: FakeMessage[];
  /** The default account's maildrop (the one sessions see before login). */
  readonly truth: Maildrop;
  /** The account a login name refers to (after the profiles' mapping), if any. */
  accountOf(loginName: string): SessionAccount | undefined;
  record(session: Session, line: Buffer): void;
  reportError(err: unknown): void;
  secureContext(): SecureContext;
  /** runs one command line: hooks, profiles, default handling */
  handle(session: Session, line: Buffer): Promise<void>;
  /** the messages a session logging in now lists, numbered 1..N */
  listingFor(session: Session): FakeMessage[];
  /** UPDATE state: applies the session's deletions and the profiles' quit effects */
  commitQuit(session: Session): void;
}

/** A TLS handshake that failed: expected in certificate tests, so not reported as an error. */
class TlsHandshakeError extends Error {}

function ignore(): void {}

export class Session implements FakeSession {
  state: FakeSessionState = 'AUTHORIZATION';
  tls = false;
  readonly deleted = new Set<number>();
  readonly retrieved = new Set<number>();
  readonly topped = new Set<number>();
  user: string | null = null;
  lastLine: Buffer | null = null;
  locked = false;
  /** USER given, PASS pending */
  pendingUser: Buffer | null = null;
  private snapshot: FakeMessage[] | null = null;
  /** The logged-in account's maildrop (the default account's before login). */
  private account: Maildrop | null = null;
  private socket: Socket;
  private readonly input = new LineBuffer();
  private detachInput: (() => void) | undefined;
  private writeChain: Promise<void> = Promise.resolve();
  private chunkIndex = 0;
  /** we ended or destroyed the connection: no further command is read */
  private finished = false;
  private stalled = false;
  /** the TCP connection is closed */
  private gone = false;
  private upgrading = false;
  private cramCounter = 0;
  private markClosed: () => void = ignore;
  private readonly closed: Promise<void>;

  constructor(
    readonly id: number,
    private readonly raw: Socket,
    readonly server: SessionHost,
  ) {
    this.socket = raw;
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    raw.once('close', this.markClosed);
    // A dropped connection releases the maildrop lock, as a real server's process exit does.
    raw.once('close', () => {
      this.gone = true;
      this.locked = false;
    });
    // Peer resets are routine in these tests; without a listener they would crash the process.
    raw.on('error', ignore);
    // Small writes must leave as separate segments, or chunkSizes would be coalesced away.
    raw.setNoDelay(true);
  }

  get settings(): Settings {
    return this.server.settings;
  }

  get mailbox(): readonly FakeMessage[] {
    return this.snapshot ?? this.drop.messages;
  }

  /** The maildrop of the account logged in (the default account's before login). */
  get drop(): Maildrop {
    return this.account ?? this.server.truth;
  }

  /** True once our side ended or destroyed the connection. */
  get isFinished(): boolean {
    return this.finished;
  }

  async run(): Promise<void> {
    try {
      await this.open();
      for (let line = await this.readLine(); line !== null; line = await this.readLine()) {
        await this.server.handle(this, line);
      }
      this.end();
    } catch (err) {
      if (!(err instanceof TlsHandshakeError)) this.server.reportError(err);
      this.destroy();
    }
  }

  private async open(): Promise<void> {
    if (this.settings.implicitTls) await this.upgradeTls();
    else this.detachInput = this.listen(this.raw);
    if (await this.settings.onConnect?.(this)) return;
    await this.write(this.settings.greeting);
  }

  /** Feeds `socket` into the line buffer; returns the function that stops it. */
  private listen(socket: Socket): () => void {
    const onData = (chunk: Buffer): void => this.input.push(chunk);
    const onEnd = (): void => this.input.end();
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    return () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
  }

  async readLine(): Promise<Buffer | null> {
    if (!this.finished && !this.stalled) {
      const line = await this.input.next();
      if (line !== null && !this.finished && !this.stalled) {
        this.server.record(this, line);
        this.lastLine = line;
        return line;
      }
    }
    // A stalled session reads nothing, ever: park until the connection is gone.
    if (this.stalled) await this.closed;
    return null;
  }

  write(data: Buffer | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    // Serialised: chunks of two writes must never interleave.
    const done = this.writeChain.then(() => this.writeChunked(bytes));
    this.writeChain = done;
    return done;
  }

  writeLine(line: string): Promise<void> {
    const text = line.startsWith('-ERR') ? this.server.chain.errorLine(line, this) : line;
    return this.write(`${text}\r\n`);
  }

  writeMultiline(bytes: Buffer): Promise<void> {
    return this.write(this.server.chain.encodeMultiline(bytes));
  }

  private async writeChunked(bytes: Buffer): Promise<void> {
    const sizes = this.settings.chunkSizes;
    if (!sizes) return this.writeNow(bytes);
    for (let offset = 0; offset < bytes.length; ) {
      const size = sizes[this.chunkIndex++ % sizes.length]!;
      await this.writeNow(bytes.subarray(offset, offset + size));
      offset += size;
      await nextTurn();
    }
  }

  /** Resolves once the bytes are handed to the kernel (so a client that stops reading stalls us, as it would a real server). */
  private writeNow(bytes: Buffer): Promise<void> {
    if (this.stalled || !this.socket.writable || bytes.length === 0) return Promise.resolve();
    const written = new Promise<void>((resolve) => this.socket.write(bytes, () => resolve()));
    return Promise.race([written, this.closed]);
  }

  stall(): void {
    this.stalled = true;
    this.socket.pause();
  }

  destroy(): void {
    this.finished = true;
    this.socket.destroy();
    this.raw.destroy();
  }

  reset(): void {
    this.finished = true;
    this.raw.resetAndDestroy();
    this.socket.destroy();
  }

  end(): void {
    if (this.finished) return;
    this.finished = true;
    void this.writeChain.then(() => this.socket.end());
  }

  async upgradeTls(): Promise<void> {
    if (this.tls || this.upgrading) throw new Error('fake POP3: session is already TLS');
    this.upgrading = true;
    const secureContext = this.server.secureContext();
    await this.writeChain; // e.g. "+OK Begin TLS" must leave in plaintext first
    this.raw.pause();
    this.detachInput?.();
    // Plaintext pipelined behind STLS must not survive into the TLS session (CVE-2011-0411).
    this.input.discard();
    const secure = new TLSSocket(this.raw, { isServer: true, secureContext });
    secure.on('error', ignore);
    secure.once('close', this.markClosed);
    this.socket = secure;
    this.detachInput = this.listen(secure);
    await handshake(secure);
    this.tls = true;
  }

  /** Logs in as `loginName` (as the client sent it): from now on the message numbers are fixed for this session. */
  login(loginName: string): void {
    this.state = 'TRANSACTION';
    this.pendingUser = null;
    this.user = loginName;
    this.account = this.server.accountOf(loginName)?.drop ?? null;
    this.locked = !this.gone;
    this.snapshot = this.server.listingFor(this);
  }

  /** True when `loginName` names an account of this server (profiles may map names, e.g. Gmail's 'recent:'). */
  isAccount(loginName: string): boolean {
    return this.server.accountOf(loginName) !== undefined;
  }

  /** The password of the account `loginName` names; undefined for no account. */
  passwordOf(loginName: string): string | undefined {
    return this.server.accountOf(loginName)?.password;
  }

  capabilities(): readonly string[] | null {
    const list = this.state !== 'AUTHORIZATION' ? this.settings.capabilitiesAfterLogin : this.beforeLoginCapabilities();
    return list && this.server.chain.capabilities(list, this);
  }

  private beforeLoginCapabilities(): readonly string[] | null {
    const caps = this.settings.capabilities;
    if (caps === null) return null;
    const list = caps.filter((c) => !(this.tls && capName(c) === 'STLS'));
    if (this.settings.stls && !this.tls && !list.some((c) => capName(c) === 'STLS')) list.push('STLS');
    return list;
  }

  /** AUTH mechanisms: those the SASL capability names (all defaults when CAPA is off). */
  mechanisms(): string[] {
    const caps = this.settings.capabilities;
    if (caps === null) return [...DEFAULT_MECHANISMS];
    const sasl = caps.find((c) => capName(c) === 'SASL');
    return sasl ? sasl.split(' ').slice(1).filter(Boolean).map((m) => m.toUpperCase()) : [];
  }

  authContext(): AuthContext {
    return {
      user: this.settings.user,
      isUser: (name) => this.isAccount(name),
      passwordOf: (name) => this.passwordOf(name),
      oauthTokens: this.settings.oauthTokens,
      xoauth2TwoStep: this.settings.xoauth2TwoStep,
      writeLine: (line) => this.writeLine(line),
      readContinuation: () => this.readLine(),
      cramChallenge: () => `<${process.pid}.${++this.cramCounter}@fake>`,
      mechanisms: this.mechanisms(),
      tls: this.tls,
      scram: this.settings.scram,
      channelBinding: (type) => this.channelBinding(type),
    };
  }

  /**
   * The channel binding of this session's TLS connection, computed on the server's side:
   * tls-exporter (RFC 9266) on TLS 1.3 only (TLS 1.2 would need the extended master secret),
   * tls-server-end-point (RFC 5929) from our own certificate.
   */
  private channelBinding(type: string): Buffer | undefined {
    if (!this.tls) return undefined;
    const socket = this.socket as TLSSocket;
    if (type === 'tls-exporter') {
      if (socket.getProtocol() !== 'TLSv1.3') return undefined;
      // "No context", as RFC 9266 says (Node's typings insist on one; its code does not).
      return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', undefined as unknown as Buffer);
    }
    if (type === 'tls-server-end-point') {
      const own = socket.getCertificate();
      return own && 'raw' in own ? createHash(this.settings.scram.endPointHash).update(own.raw).digest() : undefined;
    }
    return undefined;
  }
}

function handshake(socket: TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err?: Error): void => {
      cleanup();
      reject(new TlsHandshakeError(err?.message ?? 'connection closed during the TLS handshake'));
    };
    const onClose = (): void => fail();
    // Server-side TLSSocket signals a finished handshake with 'secure'.
    const done = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      socket.off('error', fail);
      socket.off('close', onClose);
      socket.off('secure', done);
    };
    socket.once('error', fail);
    socket.once('close', onClose);
    socket.once('secure', done);
  });
}
