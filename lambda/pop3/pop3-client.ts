import type net from 'node:net';
import type tls from 'node:tls';
import { ByteChannel } from './byte-channel';
import { NO_CAPABILITIES, parseCapabilities, type Capabilities } from './capabilities';
import { connectTcp, connectTls, tlsDetails, upgradeToTls, type TlsDetails, type TlsMode, type TlsOptions } from './connect';
import {
  CONNECT_TIMEOUT_MS,
  GREETING_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  MAX_COMMAND_OCTETS,
  MAX_LINE_OCTETS,
  MAX_LISTING_ENTRIES,
  MAX_MESSAGE_OCTETS,
  MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS,
  PIPELINE_MAX_OUTSTANDING,
  PIPELINE_REFILL_AT,
  QUIT_TIMEOUT_MS,
  SESSION_TIMEOUT_MS,
} from './constants';
import { Pop3Error, Pop3ErrorCode } from './errors';
import { readLine } from './line-reader';
import { buildUidlListing, parseListLine, parseUidlLine, uidProblem, type ListEntry, type UidlListing } from './listing';
import { MessageStream } from './message-stream';
import { redactCommand } from './redact';
import { errorFromReply, parseStatusLine, type CommandPurpose, type StatusLine } from './response';
import type { SaslMechanism } from './sasl';

/** A line of the protocol conversation, for debugging. Secrets are already redacted. */
export interface TraceEvent {
  readonly direction: 'client' | 'server';
  readonly line: string;
}

export interface Pop3ConnectOptions {
  readonly host: string;
  /** @default 995 with implicit TLS, 110 otherwise */
  readonly port?: number;
  /** @default 'implicit' */
  readonly tls?: TlsMode;
  readonly tlsOptions?: TlsOptions;
  /** Local address to connect from. @default chosen by the OS */
  readonly localAddress?: string;
  /** @default CONNECT_TIMEOUT_MS (15 s) */
  readonly connectTimeoutMs?: number;
  /** @default GREETING_TIMEOUT_MS (30 s) */
  readonly greetingTimeoutMs?: number;
  /** @default IDLE_TIMEOUT_MS (60 s) */
  readonly idleTimeoutMs?: number;
  /** Whole-session deadline, counted from connect. @default SESSION_TIMEOUT_MS (15 min) */
  readonly sessionTimeoutMs?: number;
  /** Aborts the session (the socket is destroyed, pending calls fail with ABORTED). */
  readonly signal?: AbortSignal;
  /** @default MAX_LINE_OCTETS (8192) */
  readonly maxLineOctets?: number;
  /** @default MAX_MESSAGE_OCTETS (100 MiB) */
  readonly maxMessageOctets?: number;
  /**
   * Use PIPELINING when the server announces it. `false` forces lock-step for servers
   * that announce it but break under it.
   * @default true
   */
  readonly pipelining?: boolean;
  /** Receives every protocol line except message bodies, with secrets redacted. */
  readonly trace?: (event: TraceEvent) => void;
}

/** One command waiting to be sent or answered. */
interface Slot {
  readonly bytes: Buffer;
  /** Redacted form for errors and traces. */
  readonly shown: string;
  sent: boolean;
}

const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * A POP3 session. Every verb is built on two primitives: {@link command} (single-line
 * reply) and {@link multiline} / {@link stream} (multi-line reply). Commands may be called
 * without awaiting the previous one: they are queued, sent in a bounded pipelining window
 * when the server supports PIPELINING (lock-step otherwise), and answered in order.
 *
 * Message streams from {@link retr} and {@link top} must be consumed or destroyed: the
 * next reply is read only after the previous one was.
 */
export class Pop3Client {
  /** Greeting text (after "+OK"). */
  readonly greeting: string;
  private socket: net.Socket;
  private readonly channel: ByteChannel;
  private readonly options: Pop3ConnectOptions;
  private caps: Capabilities | undefined;
  private tlsInfo: TlsDetails | undefined;
  private state: 'AUTHORIZATION' | 'TRANSACTION' | 'CLOSED' = 'AUTHORIZATION';
  private readonly queue: Slot[] = [];
  private outstanding = 0;
  private replyTail: Promise<void> = Promise.resolve();
  /** Commands waiting for their turn to read; all woken when the connection fails. */
  private readonly turnWaiters = new Set<() => void>();
  private usePipelining = false;
  private readonly deadline: NodeJS.Timeout;
  private readonly abortListener: (() => void) | undefined;

  private constructor(socket: net.Socket, channel: ByteChannel, greeting: string, options: Pop3ConnectOptions, deadline: NodeJS.Timeout, abortListener: (() => void) | undefined) {
    this.socket = socket;
    this.channel = channel;
    this.greeting = greeting;
    this.options = options;
    this.deadline = deadline;
    this.abortListener = abortListener;
    if ('encrypted' in socket) this.tlsInfo = tlsDetails(socket as tls.TLSSocket);
    void channel.whenFailed.then(() => {
      for (const wake of [...this.turnWaiters]) wake();
    });
  }

  /** Connects (TLS per options), reads the greeting, and returns a session in AUTHORIZATION state. */
  static async connect(options: Pop3ConnectOptions): Promise<Pop3Client> {
    const mode = options.tls ?? 'implicit';
    const target = { host: options.host, port: options.port ?? (mode === 'implicit' ? 995 : 110), ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
    const controller = new AbortController();
    const sessionMs = options.sessionTimeoutMs ?? SESSION_TIMEOUT_MS;
    const deadline = setTimeout(
      () => controller.abort(new Pop3Error(Pop3ErrorCode.ABORTED, `the session deadline of ${sessionMs} ms passed`)),
      sessionMs,
    );
    deadline.unref();
    const external = options.signal;
    const abortListener = external ? (): void => controller.abort(new Pop3Error(Pop3ErrorCode.ABORTED, 'the session was aborted', { cause: external.reason })) : undefined;
    if (external && abortListener) {
      if (external.aborted) abortListener();
      else external.addEventListener('abort', abortListener, { once: true });
    }
    const connectMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    let socket: net.Socket;
    try {
      socket = mode === 'implicit' ? await connectTls(target, options.tlsOptions ?? {}, connectMs, controller.signal) : await connectTcp(target, connectMs, controller.signal);
    } catch (err) {
      clearTimeout(deadline);
      if (external && abortListener) external.removeEventListener('abort', abortListener);
      throw err;
    }
    socket.setNoDelay(true);
    const channel = new ByteChannel(options.greetingTimeoutMs ?? GREETING_TIMEOUT_MS, MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS);
    channel.attach(socket);
    controller.signal.addEventListener(
      'abort',
      () => {
        const reason = controller.signal.reason;
        channel.fail(reason instanceof Pop3Error ? reason : new Pop3Error(Pop3ErrorCode.ABORTED, 'the session was aborted', { cause: reason }));
        socket.destroy();
      },
      { once: true },
    );
    let status: StatusLine;
    try {
      status = parseStatusLine(await readLine(channel, options.maxLineOctets ?? MAX_LINE_OCTETS));
      if (status.kind !== 'ok') throw errorFromReply(status, 'greeting', 'other');
    } catch (err) {
      clearTimeout(deadline);
      if (external && abortListener) external.removeEventListener('abort', abortListener);
      socket.destroy();
      throw retagGreetingError(err);
    }
    options.trace?.({ direction: 'server', line: `+OK ${status.text}` });
    // The greeting has its own, usually longer, allowance; from here on the idle timeout applies.
    const client = new Pop3Client(socket, channel, status.text, options, deadline, abortListener);
    channel.setIdleTimeout(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS);
    return client;
  }

  /** Capabilities as last read by {@link capa} (undefined before the first CAPA). */
  get capabilities(): Capabilities | undefined {
    return this.caps;
  }

  /** TLS details of the link, or undefined while it is plaintext. */
  get tls(): TlsDetails | undefined {
    return this.tlsInfo;
  }

  get secure(): boolean {
    return this.tlsInfo !== undefined;
  }

  get authenticated(): boolean {
    return this.state === 'TRANSACTION';
  }

  /** True when commands are currently pipelined. */
  get pipelining(): boolean {
    return this.usePipelining;
  }

  // ---- verbs -------------------------------------------------------------------------

  /** CAPA (RFC 2449). A server without CAPA gets {@link NO_CAPABILITIES}. */
  async capa(): Promise<Capabilities> {
    try {
      this.caps = parseCapabilities(await this.multiline('CAPA'));
    } catch (err) {
      if (!(err instanceof Pop3Error) || err.code !== Pop3ErrorCode.SERVER_ERROR) throw err;
      this.caps = NO_CAPABILITIES;
    }
    this.updatePipelining();
    return this.caps;
  }

  /** STLS (RFC 2595): upgrades the link; capabilities learned before are discarded. */
  async stls(): Promise<void> {
    if (this.secure) throw new Pop3Error(Pop3ErrorCode.USAGE, 'the connection is already secured');
    await this.command('STLS');
    const injected = this.channel.detach();
    if (injected.length > 0) {
      this.fail(new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, 'the server sent data after the STLS reply, before TLS started (possible injection)', { command: 'STLS' }));
      throw this.channel.failed!;
    }
    const target = { host: this.options.host, port: this.socket.remotePort ?? 0 };
    const signal = AbortSignal.timeout(this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
    let secure: tls.TLSSocket;
    try {
      secure = await upgradeToTls(this.socket, target, this.options.tlsOptions ?? {}, this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, signal);
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
    this.socket = secure;
    this.channel.attach(secure);
    this.tlsInfo = tlsDetails(secure);
    this.caps = undefined;
    this.usePipelining = false;
  }

  /** USER + PASS. The password never appears in traces or errors. */
  async userPass(username: string, password: string): Promise<void> {
    await this.command(`USER ${username}`, 'auth');
    await this.command(`PASS ${password}`, 'auth');
    this.enterTransaction();
  }

  /** APOP with the digest of the greeting's timestamp. */
  async apop(username: string, digest: string): Promise<void> {
    await this.command(`APOP ${username} ${digest}`, 'auth');
    this.enterTransaction();
  }

  /** AUTH (RFC 5034) with a SASL mechanism, answering server challenges until +OK or -ERR. */
  async auth(mechanism: SaslMechanism): Promise<void> {
    const initial = mechanism.initialResponse;
    const inline = initial === undefined ? undefined : `AUTH ${mechanism.name} ${encodeInitial(initial)}`;
    // RFC 5034: an initial response that would make the command longer than 255 octets is
    // withheld and sent as the answer to the server's first (empty) challenge instead.
    let withheld = inline !== undefined && inline.length + 2 > MAX_COMMAND_OCTETS ? initial : undefined;
    const line = inline === undefined || withheld ? `AUTH ${mechanism.name}` : inline;
    await this.exchange(line, async (first) => {
      let status = first;
      // Each challenge is answered; the number of rounds is bounded against a looping server.
      for (let round = 0; status.kind === 'continue'; round++) {
        if (round >= MAX_SASL_ROUNDS) throw new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, `AUTH ${mechanism.name}: more than ${MAX_SASL_ROUNDS} challenges`);
        const challenge = Buffer.from(status.text.trim(), 'base64');
        const answer = (withheld ?? mechanism.respond(challenge)).toString('base64');
        withheld = undefined;
        this.writeRaw(Buffer.from(`${answer}\r\n`, 'latin1'), '***');
        status = await this.readStatus();
      }
      if (status.kind === 'err') throw errorFromReply(status, `AUTH ${mechanism.name}`, 'auth');
    });
    this.enterTransaction();
  }

  async stat(): Promise<{ count: number; size: number }> {
    const status = await this.command('STAT');
    const m = /^(\d{1,10})\s+(\d{1,15})/.exec(status.text);
    if (!m) throw new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, `STAT reply is malformed: "${status.text.slice(0, 80)}"`, { command: 'STAT' });
    return { count: Number(m[1]), size: Number(m[2]) };
  }

  /** LIST: sizes of all messages. */
  async list(): Promise<ListEntry[]> {
    return (await this.multiline('LIST')).map(parseListLine);
  }

  /** LIST n: size of one message. */
  async listOne(n: number): Promise<ListEntry> {
    const status = await this.command(`LIST ${messageNumber(n)}`);
    return parseListLine(Buffer.from(status.text, 'latin1'));
  }

  /** UIDL: the unique-ids, validated; duplicates and invalid ids reported, never merged. */
  async uidl(): Promise<UidlListing> {
    return buildUidlListing(await this.multiline('UIDL'));
  }

  /** UIDL n. */
  async uidlOne(n: number): Promise<string> {
    const status = await this.command(`UIDL ${messageNumber(n)}`);
    const { uid } = parseUidlLine(Buffer.from(status.text, 'latin1'));
    const problem = uidProblem(uid);
    if (problem) throw new Pop3Error(Pop3ErrorCode.INVALID_UID, `UIDL ${n}: ${problem}`, { command: `UIDL ${n}` });
    return uid.toString('latin1');
  }

  /** RETR n: the message as a stream of its exact bytes. */
  retr(n: number, maxOctets?: number): Promise<MessageStream> {
    return this.stream(`RETR ${messageNumber(n)}`, maxOctets);
  }

  /** TOP n lines: the header, the blank line and `lines` body lines, as a stream. */
  top(n: number, lines: number, maxOctets?: number): Promise<MessageStream> {
    if (!Number.isSafeInteger(lines) || lines < 0) throw new Pop3Error(Pop3ErrorCode.USAGE, `TOP: invalid line count ${lines}`);
    return this.stream(`TOP ${messageNumber(n)} ${lines}`, maxOctets);
  }

  async dele(n: number): Promise<void> {
    await this.command(`DELE ${messageNumber(n)}`);
  }

  async rset(): Promise<void> {
    await this.command('RSET');
  }

  async noop(): Promise<void> {
    await this.command('NOOP');
  }

  /**
   * QUIT: in TRANSACTION state this makes the server delete the messages marked with DELE
   * (UPDATE state). Only a +OK reply confirms that; the connection is closed either way.
   */
  async quit(): Promise<void> {
    if (this.state === 'CLOSED') return;
    const timer = setTimeout(() => this.fail(new Pop3Error(Pop3ErrorCode.IDLE_TIMEOUT, `no reply to QUIT within ${QUIT_TIMEOUT_MS} ms`)), QUIT_TIMEOUT_MS);
    try {
      await this.command('QUIT');
    } finally {
      clearTimeout(timer);
      this.close();
    }
  }

  /** Closes the connection without QUIT: nothing marked for deletion is deleted. Idempotent. */
  close(): void {
    if (this.state === 'CLOSED') return;
    this.state = 'CLOSED';
    clearTimeout(this.deadline);
    if (this.options.signal && this.abortListener) this.options.signal.removeEventListener('abort', this.abortListener);
    this.channel.fail(new Pop3Error(Pop3ErrorCode.CONNECTION_CLOSED, 'the session is closed'));
    this.socket.destroySoon();
  }

  // ---- primitives --------------------------------------------------------------------

  /** Sends a command and reads its single-line reply; -ERR becomes a typed error. */
  command(line: string, purpose: CommandPurpose = 'other'): Promise<StatusLine> {
    return this.exchange(line, async (status, shown) => {
      if (status.kind === 'ok') return status;
      if (status.kind === 'err') throw errorFromReply(status, shown, purpose);
      throw new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, `unexpected continuation after ${shown}`, { command: shown });
    });
  }

  /** Sends a command with a multi-line reply and returns its lines, unstuffed (listings). */
  multiline(line: string): Promise<Buffer[]> {
    return this.exchange(line, async (status, shown) => {
      if (status.kind !== 'ok') throw status.kind === 'err' ? errorFromReply(status, shown, 'other') : unexpected(shown);
      const lines: Buffer[] = [];
      for (;;) {
        const l = await readLine(this.channel, this.maxLine);
        if (l.length === 1 && l[0] === DOT) return lines;
        if (lines.length >= MAX_LISTING_ENTRIES) throw new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, `${shown}: more than ${MAX_LISTING_ENTRIES} lines`, { command: shown });
        lines.push(l[0] === DOT ? l.subarray(1) : l);
      }
    });
  }

  /** Sends a command whose multi-line reply is a message; resolves once +OK arrived. */
  stream(line: string, maxOctets = this.options.maxMessageOctets ?? MAX_MESSAGE_OCTETS): Promise<MessageStream> {
    return this.exchange(line, async (status, shown, keepOpen) => {
      if (status.kind !== 'ok') throw status.kind === 'err' ? errorFromReply(status, shown, 'other') : unexpected(shown);
      return new MessageStream(this.channel, maxOctets, keepOpen());
    });
  }

  /**
   * Queues `line`, waits for its turn to read, reads the status line and hands it to
   * `handle`. The reply slot is released when `handle` settles, unless `handle` called
   * `keepOpen()`: then the function it returned releases it (a message stream does, once
   * the message was read to its end).
   */
  private exchange<T>(line: string, handle: (status: StatusLine, shown: string, keepOpen: () => () => void) => Promise<T>): Promise<T> {
    if (this.state === 'CLOSED') return Promise.reject(new Pop3Error(Pop3ErrorCode.USAGE, 'the session is closed'));
    const shown = redactCommand(line);
    if (/[\r\n]/.test(line)) return Promise.reject(new Pop3Error(Pop3ErrorCode.USAGE, `command holds a line break: ${shown}`));
    const slot: Slot = { bytes: Buffer.concat([Buffer.from(line, 'utf8'), CRLF]), shown, sent: false };
    const previous = this.replyTail;
    let release!: () => void;
    this.replyTail = new Promise<void>((resolve) => {
      let released = false;
      release = (): void => {
        if (released) return;
        released = true;
        if (slot.sent) this.outstanding--;
        this.pump();
        resolve();
      };
    });
    this.queue.push(slot);
    this.pump();
    // Once the connection has failed, an earlier reply's unconsumed stream must not hold up
    // this command: it fails at once with the connection's error.
    return this.turnAfter(previous).then(async () => {
      let kept = false;
      const keepOpen = (): (() => void) => {
        kept = true;
        return release;
      };
      try {
        if (this.channel.failed) throw this.channel.failed;
        return await handle(await this.readStatus(), shown, keepOpen);
      } catch (err) {
        kept = false;
        if (err instanceof Pop3Error && isFatal(err)) this.fail(err);
        throw err;
      } finally {
        if (!kept) release();
      }
    });
  }

  /**
   * Resolves when `previous` has, or when the connection fails. Waiters live in a set that
   * the single failure hook drains, so a long healthy session retains nothing per command
   * (a race against one never-settling promise would keep every command's closure alive).
   */
  private turnAfter(previous: Promise<void>): Promise<void> {
    if (this.channel.failed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.turnWaiters.delete(wake);
        resolve();
      };
      this.turnWaiters.add(wake);
      void previous.then(wake);
    });
  }

  /** Writes queued commands: all at once within the window when pipelining, else one by one. */
  private pump(): void {
    if (this.queue.length === 0) return;
    if (this.usePipelining) {
      if (this.outstanding > PIPELINE_REFILL_AT) return;
    } else if (this.outstanding > 0) {
      return;
    }
    const limit = this.usePipelining ? PIPELINE_MAX_OUTSTANDING : 1;
    const batch: Buffer[] = [];
    while (this.outstanding < limit && this.queue.length > 0) {
      const slot = this.queue.shift()!;
      slot.sent = true;
      this.outstanding++;
      batch.push(slot.bytes);
      this.options.trace?.({ direction: 'client', line: slot.shown });
    }
    // One write per batch: pipelined commands go out in as few TCP segments as possible.
    if (batch.length > 0 && !this.socket.destroyed) this.socket.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
  }

  private writeRaw(bytes: Buffer, shown: string): void {
    this.options.trace?.({ direction: 'client', line: shown });
    this.socket.write(bytes);
  }

  private async readStatus(): Promise<StatusLine> {
    const status = parseStatusLine(await readLine(this.channel, this.maxLine));
    this.options.trace?.({ direction: 'server', line: `${status.kind === 'ok' ? '+OK' : status.kind === 'err' ? '-ERR' : '+'}${status.responseCode ? ` [${status.responseCode}]` : ''} ${status.text}`.trimEnd() });
    return status;
  }

  private enterTransaction(): void {
    this.state = 'TRANSACTION';
    // RFC 2449: capabilities may change after login; they are asked again by the caller.
    this.caps = undefined;
    this.updatePipelining();
  }

  private updatePipelining(): void {
    // Pipelining only after login: Courier swallows commands sent before its login reply.
    this.usePipelining = this.state === 'TRANSACTION' && (this.options.pipelining ?? true) && (this.caps?.pipelining ?? false);
  }

  private fail(err: Error): void {
    this.channel.fail(err);
    this.socket.destroy();
  }

  private get maxLine(): number {
    return this.options.maxLineOctets ?? MAX_LINE_OCTETS;
  }
}

const DOT = 0x2e;
/** A SASL exchange longer than this is a looping or hostile server. */
const MAX_SASL_ROUNDS = 10;

function encodeInitial(initial: Buffer): string {
  // RFC 5034: an empty initial response is sent as "=".
  return initial.length === 0 ? '=' : initial.toString('base64');
}

function messageNumber(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new Pop3Error(Pop3ErrorCode.USAGE, `invalid message number ${n}`);
  return n;
}

function unexpected(shown: string): Pop3Error {
  return new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, `unexpected continuation after ${shown}`, { command: shown });
}

/** After these the byte stream can no longer be trusted to be in sync: the session ends. */
function isFatal(err: Pop3Error): boolean {
  return err.code === Pop3ErrorCode.PROTOCOL_ERROR || err.code === Pop3ErrorCode.LINE_TOO_LONG;
}

function retagGreetingError(err: unknown): unknown {
  if (err instanceof Pop3Error && err.code === Pop3ErrorCode.IDLE_TIMEOUT) {
    return new Pop3Error(Pop3ErrorCode.GREETING_TIMEOUT, 'no greeting from the server in time', { cause: err });
  }
  return err;
}
