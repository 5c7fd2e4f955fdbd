import type net from 'node:net';
import type tls from 'node:tls';
import { ByteChannel } from './byte-channel';
import type { ChannelBinding } from './channel-binding';
import { NO_CAPABILITIES, parseCapabilities, type Capabilities } from './capabilities';
import { serverPolicy, type ServerPolicy } from './server-policy';
import { portOf, type MessageOptions, type Pop3ConnectOptions } from './client-options';
import { connectTcp, connectTls, tlsDetails, upgradeToTls, type TlsDetails } from './connect';
import {
  CONNECT_TIMEOUT_MS,
  DRAIN_TIMEOUT_MS,
  GREETING_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  MAX_COMMAND_OCTETS,
  MAX_DRAIN_OCTETS,
  MAX_LINE_OCTETS,
  MAX_MESSAGE_OCTETS,
  MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS,
  PIPELINE_MAX_OUTSTANDING,
  PIPELINE_REFILL_AT,
  QUIT_TIMEOUT_MS,
  SESSION_TIMEOUT_MS,
} from './constants';
import { Pop3Error, Pop3ErrorCode, sanitizeServerText } from './errors';
import { readBufferedLine, readLine } from './line-reader';
import { parseListLine, parseUidlLine, uidProblem, UidlListingBuilder, type ListEntry, type UidlListing } from './listing';
import { MessageSizes } from './message-sizes';
import { MessageStream } from './message-stream';
import { forEachReplyLine, replyBoundsFor } from './multiline-reply';
import { redactCommand } from './redact';
import { Fifo } from './fifo';
import { ReplyQueue } from './reply-queue';
import type { BoundaryProbe } from './reply-boundary';
import { errorFromReply, parseStatusLine, statusKeywordLength, type CommandPurpose, type StatusLine } from './response';
import { SaslCancel, type SaslMechanism } from './sasl';
import { saslResponseForms } from './sasl-response-forms';
import { SecretScrubber } from './secret-scrubber';
import { soon } from './soon';
import { createSessionSignal, type SessionSignal } from './session-signal';

export type { MessageOptions, Pop3ConnectOptions, TraceEvent } from './client-options';

/** One command waiting to be sent or answered. */
interface Slot {
  /** The command line without its CRLF (encoded when sent, one buffer per batch). */
  readonly line: string;
  /** Redacted form for errors and traces. */
  readonly shown: string;
  sent: boolean;
}

/** Reads a command's reply from its status line on; may call `keepOpen` to hold the reply slot past its return. */
type ReplyHandler<T> = (status: StatusLine, shown: string, keepOpen: () => () => void) => T | Promise<T>;

/** What {@link Pop3Client.connect} hands to the constructor. */
interface Session {
  readonly socket: net.Socket;
  readonly channel: ByteChannel;
  readonly greeting: string;
  readonly options: Pop3ConnectOptions;
  readonly signal: SessionSignal;
  readonly scrubber: SecretScrubber;
}

/** Sent outside the command queue to prove an ambiguous message end (see reply-boundary.ts). */
const NOOP_LINE = Buffer.from('NOOP\r\n', 'latin1');

/**
 * A POP3 session. Every verb is built on two primitives: {@link command} (single-line
 * reply) and {@link multiline} / {@link stream} (multi-line reply). Commands may be called
 * without awaiting the previous one: they are queued, sent in a bounded pipelining window
 * when the server supports PIPELINING (lock-step otherwise), and answered in order. The
 * promises the verbs return are already observed, so a caller that pipelines may await
 * them late: a connection that drops meanwhile cannot cause an unhandled rejection.
 *
 * Message streams from {@link retr} and {@link top} must be consumed or destroyed: the
 * next reply is read only after the previous one was.
 *
 * Every server line is scrubbed of the session's secrets as soon as it is read (see
 * {@link Pop3ConnectOptions.secrets}), so no error, trace line or parsed text holds one.
 */
export class Pop3Client {
  /** Greeting text (after "+OK"). */
  readonly greeting: string;
  private socket: net.Socket;
  private readonly channel: ByteChannel;
  private readonly options: Pop3ConnectOptions;
  private readonly session: SessionSignal;
  private readonly scrubber: SecretScrubber;
  private caps: Capabilities | undefined;
  /** The last CAPA read before login: its EXPIRE/LOGIN-DELAY stand when CAPA after login is silent. */
  private capsBeforeLogin: Capabilities | undefined;
  private tlsInfo: TlsDetails | undefined;
  private state: 'AUTHORIZATION' | 'TRANSACTION' | 'CLOSED' = 'AUTHORIZATION';
  private readonly queue = new Fifo<Slot>();
  private outstanding = 0;
  /** Whose turn it is to read a reply; every waiting command is woken when the connection fails. */
  private readonly replies = new ReplyQueue();
  private usePipelining = false;
  /** A pump is queued for the end of this turn (see schedulePump). */
  private pumpQueued = false;
  /** The message stream whose reply is being read, if any. */
  private activeStream: MessageStream | undefined;
  /** The command of that stream once the server closed and no reply can follow it (see {@link inputEnded}). */
  private closedAhead: string | undefined;
  /** Server lines as they may be shown: with the session's secrets removed. */
  private readonly show = (line: Buffer): Buffer => this.scrubber.scrubLine(line);
  /**
   * What a message stream needs to prove an ambiguous end (reply-boundary.ts). Only the
   * stream holding the reply slot uses it, so its NOOP cannot interleave wrongly: commands
   * sent earlier were all answered; in lock-step nothing else goes out until the slot is
   * released; pipelined commands queued meanwhile go out after the NOOP, and their replies
   * come after its reply, which the stream consumes before it releases the slot.
   */
  private readonly boundaryProbe: BoundaryProbe = {
    // The stream's own command is the oldest one still counted as outstanding.
    laterReplyDue: () => this.outstanding > 1,
    sendNoop: () => {
      // A socket the server has closed takes no more writes (see pump).
      if (!this.socket.writable) return false;
      this.writeRaw(NOOP_LINE, 'NOOP');
      return true;
    },
    readNoopReply: () => this.readStatus(),
  };

  private constructor(session: Session) {
    this.socket = session.socket;
    this.channel = session.channel;
    this.greeting = session.greeting;
    this.options = session.options;
    this.session = session.signal;
    this.scrubber = session.scrubber;
    if ('encrypted' in this.socket) this.tlsInfo = tlsDetails(this.socket as tls.TLSSocket);
    void this.channel.whenFailed.then(() => this.wakeAll());
    this.channel.onInputEnd(() => this.inputEnded());
  }

  /** Connects (TLS per options), reads the greeting, and returns a session in AUTHORIZATION state. */
  static async connect(options: Pop3ConnectOptions): Promise<Pop3Client> {
    const session = createSessionSignal(options.sessionTimeoutMs ?? SESSION_TIMEOUT_MS, options.signal);
    const scrubber = new SecretScrubber();
    for (const secret of options.secrets ?? []) scrubber.addSecret(secret);
    let socket: net.Socket;
    try {
      socket = await openSocket(options, session.signal);
    } catch (err) {
      session.dispose();
      throw err;
    }
    socket.setNoDelay(true);
    const channel = new ByteChannel(options.greetingTimeoutMs ?? GREETING_TIMEOUT_MS, MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS);
    channel.attach(socket);
    // Everything that waits on the connection (greeting, replies, drains, the STLS
    // handshake, QUIT) ends at once with ABORTED.
    const onAbort = (): void => {
      channel.fail(abortError(session.signal.reason));
      socket.destroy();
    };
    if (session.signal.aborted) onAbort();
    else session.signal.addEventListener('abort', onAbort, { once: true });
    let status: StatusLine;
    try {
      const raw = await readLine(channel, options.maxLineOctets ?? MAX_LINE_OCTETS);
      status = parseStatusLine(scrubber.scrubLine(raw, statusKeywordLength(raw)));
      if (status.kind !== 'ok') throw errorFromReply(status, 'greeting', 'other');
    } catch (err) {
      session.dispose();
      socket.destroy();
      throw retagGreetingError(err);
    }
    options.trace?.({ direction: 'server', line: `+OK ${status.text}` });
    // The greeting has its own, usually longer, allowance; from here on the idle timeout applies.
    const client = new Pop3Client({ socket, channel, greeting: status.text, options, signal: session, scrubber });
    channel.setIdleTimeout(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS);
    return client;
  }

  /** Capabilities as last read by {@link capa} (undefined before the first CAPA). */
  get capabilities(): Capabilities | undefined {
    return this.caps;
  }

  /** The server's announced policy (EXPIRE, LOGIN-DELAY), from CAPA before and after login. */
  get serverPolicy(): ServerPolicy {
    return serverPolicy(this.capsBeforeLogin, this.caps);
  }

  /** TLS details of the link, or undefined while it is plaintext. */
  get tls(): TlsDetails | undefined {
    return this.tlsInfo;
  }

  get secure(): boolean {
    return this.tlsInfo !== undefined;
  }

  /**
   * The channel binding of the TLS link as it is now (after STLS: the upgraded one), for
   * SCRAM-*-PLUS: tls-exporter on TLS 1.3, tls-server-end-point before. Undefined on a
   * plaintext link, or when the link has none (see channel-binding.ts).
   */
  async channelBinding(): Promise<ChannelBinding | undefined> {
    if (this.tlsInfo === undefined) return undefined;
    // Loaded here, not with the client: only SCRAM-*-PLUS needs it (a lazy chunk of the Lambda bundle).
    const { channelBindingOf } = await import('./channel-binding');
    return channelBindingOf(this.socket as tls.TLSSocket);
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
  capa(): Promise<Capabilities> {
    return observed(
      (async () => {
        try {
          this.caps = parseCapabilities(await this.multiline('CAPA'));
        } catch (err) {
          if (!(err instanceof Pop3Error) || err.code !== Pop3ErrorCode.SERVER_ERROR) throw err;
          this.caps = NO_CAPABILITIES;
        }
        if (this.state === 'AUTHORIZATION') this.capsBeforeLogin = this.caps;
        this.updatePipelining();
        return this.caps;
      })(),
    );
  }

  /** STLS (RFC 2595): upgrades the link; capabilities learned before are discarded. */
  stls(): Promise<void> {
    return observed(this.startTls());
  }

  /** USER + PASS. The password never appears in traces or errors. */
  userPass(username: string, password: string): Promise<void> {
    this.scrubber.addSecret(password);
    return observed(
      (async () => {
        await this.command(`USER ${username}`, this.loginPurpose);
        await this.command(`PASS ${password}`, this.loginPurpose);
        this.enterTransaction();
      })(),
    );
  }

  /** APOP with the digest of the greeting's timestamp. */
  apop(username: string, digest: string): Promise<void> {
    // The digest can be brute-forced offline: it must not come back in an echo either.
    this.scrubber.addSent(digest.toLowerCase());
    this.scrubber.addSent(digest.toUpperCase());
    return observed(this.command(`APOP ${username} ${digest}`, this.loginPurpose).then(() => this.enterTransaction()));
  }

  /**
   * The SASL mechanisms a bare `AUTH` lists, upper-cased: older servers answer it (before
   * RFC 5034, which has no such form) and it is all a server without CAPA tells. Empty when
   * the server refuses it, whatever its response code: no credential went with it, so even
   * `[AUTH]` says nothing about the credentials. A server that takes it for the start of an
   * exchange ("+") gets `*`; one that does not refuse that is dropped (PROTOCOL_ERROR).
   */
  authList(): Promise<string[]> {
    return observed(
      this.exchange('AUTH', async (status, shown) => {
        if (status.kind === 'continue') {
          this.writeRaw(Buffer.from('*\r\n', 'latin1'), '*');
          if ((await this.readStatus()).kind !== 'err') throw unexpected(shown);
          return [];
        }
        if (status.kind === 'err') return [];
        const names = new Set<string>();
        await forEachReplyLine(this.channel, this.maxLine, replyBoundsFor('AUTH'), shown, (bytes, start, end) => {
          for (const word of this.show(bytes.subarray(start, end)).toString('latin1').trim().split(/\s+/)) {
            if (SASL_NAME.test(word)) names.add(word.toUpperCase());
          }
        });
        return [...names];
      }),
    );
  }

  /** AUTH (RFC 5034) with a SASL mechanism, answering server challenges until +OK or -ERR. */
  auth(mechanism: SaslMechanism): Promise<void> {
    return observed(this.authenticate(mechanism));
  }

  stat(): Promise<{ count: number; size: number }> {
    return observed(
      this.command('STAT').then((status) => {
        const m = /^(\d{1,10})\s+(\d{1,15})/.exec(status.text);
        if (!m) throw new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, `STAT reply is malformed: "${status.text.slice(0, 80)}"`, { command: 'STAT' });
        return { count: Number(m[1]), size: Number(m[2]) };
      }),
    );
  }

  /** LIST: sizes of all messages. */
  list(): Promise<ListEntry[]> {
    const entries: ListEntry[] = [];
    return observed(this.multilineEach('LIST', (bytes, start, end) => void entries.push(parseListLine(bytes, this.show, start, end))).then(() => entries));
  }

  /**
   * LIST as message number -> size, held compactly (see MessageSizes): what a sync needs of
   * a listing of any length, without an object per message.
   */
  listSizes(): Promise<MessageSizes> {
    const sizes = new MessageSizes();
    const entry = { number: 0, size: 0 };
    return observed(
      this.multilineEach('LIST', (bytes, start, end) => {
        parseListLine(bytes, this.show, start, end, entry);
        sizes.add(entry.number, entry.size);
      }).then(() => sizes),
    );
  }

  /** LIST n: size of one message. */
  listOne(n: number): Promise<ListEntry> {
    return observed(this.command(`LIST ${messageNumber(n)}`).then((status) => parseListLine(Buffer.from(status.text, 'latin1'))));
  }

  /** UIDL: the unique-ids, validated; duplicates and invalid ids reported, never merged. */
  uidl(): Promise<UidlListing> {
    const builder = new UidlListingBuilder(this.show, (bytes, start, end) => this.scrubber.holdsBytes(bytes, start, end));
    return observed(this.multilineEach('UIDL', (bytes, start, end) => builder.add(bytes, start, end)).then(() => builder.finish()));
  }

  /** UIDL n. */
  uidlOne(n: number): Promise<string> {
    return observed(
      this.command(`UIDL ${messageNumber(n)}`).then((status) => {
        const { uid } = parseUidlLine(Buffer.from(status.text, 'latin1'));
        const problem = uidProblem(uid) ?? (status.scrubbed ? 'unique-id holds a credential of this session' : undefined);
        if (problem) throw new Pop3Error(Pop3ErrorCode.INVALID_UID, `UIDL ${n}: ${problem}`, { command: `UIDL ${n}` });
        return uid.toString('latin1');
      }),
    );
  }

  /**
   * RETR n: the message as a stream of its exact bytes. Give `expectedOctets` (the LIST
   * size) so that a truncated message fails instead of ending; a number is `maxOctets`.
   */
  retr(n: number, options?: number | MessageOptions): Promise<MessageStream> {
    return this.stream(`RETR ${messageNumber(n)}`, options);
  }

  /** TOP n lines: the header, the blank line and `lines` body lines, as a stream. */
  top(n: number, lines: number, options?: number | MessageOptions): Promise<MessageStream> {
    if (!Number.isSafeInteger(lines) || lines < 0) throw new Pop3Error(Pop3ErrorCode.USAGE, `TOP: invalid line count ${lines}`);
    return this.stream(`TOP ${messageNumber(n)} ${lines}`, options);
  }

  dele(n: number): Promise<void> {
    return observed(this.command(`DELE ${messageNumber(n)}`).then(() => undefined));
  }

  rset(): Promise<void> {
    return observed(this.command('RSET').then(() => undefined));
  }

  noop(): Promise<void> {
    return observed(this.command('NOOP').then(() => undefined));
  }

  /**
   * QUIT: in TRANSACTION state this makes the server delete the messages marked with DELE
   * (UPDATE state). Only a +OK reply confirms that; the connection is closed either way.
   */
  quit(): Promise<void> {
    if (this.state === 'CLOSED') return Promise.resolve();
    const ms = this.options.quitTimeoutMs ?? QUIT_TIMEOUT_MS;
    const timer = setTimeout(() => this.fail(new Pop3Error(Pop3ErrorCode.IDLE_TIMEOUT, `no reply to QUIT within ${ms} ms`, { command: 'QUIT' })), ms);
    return observed(
      this.command('QUIT')
        .then(() => undefined)
        .finally(() => {
          clearTimeout(timer);
          this.close();
        }),
    );
  }

  /** Closes the connection without QUIT: nothing marked for deletion is deleted. Idempotent. */
  close(): void {
    if (this.state === 'CLOSED') return;
    this.state = 'CLOSED';
    this.session.dispose();
    this.channel.fail(new Pop3Error(Pop3ErrorCode.CONNECTION_CLOSED, 'the session is closed'));
    this.socket.destroySoon();
  }

  // ---- primitives --------------------------------------------------------------------

  /** Sends a command and reads its single-line reply; -ERR becomes a typed error. */
  command(line: string, purpose: CommandPurpose = 'other'): Promise<StatusLine> {
    return this.exchange(line, (status, shown) => {
      if (status.kind === 'ok') return status;
      if (status.kind === 'err') throw errorFromReply(status, shown, purpose);
      throw unexpected(shown);
    });
  }

  /**
   * Sends a command with a multi-line reply and returns its lines, unstuffed and scrubbed
   * of secrets. The reply is bounded in lines and octets (REPLY_TOO_LARGE, see multiline-reply.ts).
   */
  multiline(line: string): Promise<Buffer[]> {
    return observed(this.multilineRaw(line).then((lines) => lines.map(this.show)));
  }

  /** Sends a command whose multi-line reply is a message; resolves once +OK arrived. */
  stream(line: string, options?: number | MessageOptions): Promise<MessageStream> {
    const o: MessageOptions = typeof options === 'number' ? { maxOctets: options } : (options ?? {});
    return this.exchange(line, (status, shown, keepOpen) => {
      if (status.kind !== 'ok') throw status.kind === 'err' ? errorFromReply(status, shown, 'other') : unexpected(shown);
      const release = keepOpen();
      const stream = new MessageStream(this.channel, {
        command: shown,
        maxOctets: o.maxOctets ?? this.options.maxMessageOctets ?? MAX_MESSAGE_OCTETS,
        expectedOctets: o.expectedOctets,
        maxDrainOctets: this.options.maxDrainOctets ?? MAX_DRAIN_OCTETS,
        drainTimeoutMs: this.options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS,
        onSettled: () => {
          if (this.activeStream === stream) this.activeStream = undefined;
          release();
        },
        failSession: this.failSession,
        boundary: this.boundaryProbe,
      });
      this.activeStream = stream;
      // The server may have closed before this reply's turn came: decide for those behind it now.
      if (this.channel.inputEnded) this.inputEnded();
      return stream;
    });
  }

  private async multilineRaw(line: string): Promise<Buffer[]> {
    const lines: Buffer[] = [];
    await this.multilineEach(line, (bytes, start, end) => void lines.push(bytes.subarray(start, end)));
    return lines;
  }

  /** A multi-line reply handed over line by line as it arrives (listings: no array of a million Buffers). */
  private multilineEach(line: string, onLine: (bytes: Buffer, start: number, end: number) => void): Promise<void> {
    return this.exchange(line, (status, shown) => {
      if (status.kind !== 'ok') throw status.kind === 'err' ? errorFromReply(status, shown, 'other') : unexpected(shown);
      return forEachReplyLine(this.channel, this.maxLine, replyBoundsFor(line, this.options.maxListingOctets), shown, onLine);
    });
  }

  /**
   * Queues `line`, waits for its turn to read, reads the status line and hands it to
   * `handle`. The reply slot is released when `handle` settles, unless `handle` called
   * `keepOpen()`: then the function it returned releases it (a message stream does, once
   * the message was read to its end).
   */
  private exchange<T>(line: string, handle: ReplyHandler<T>): Promise<T> {
    if (this.state === 'CLOSED') return rejected(new Pop3Error(Pop3ErrorCode.USAGE, 'the session is closed'));
    const shown = this.scrubber.scrub(redactCommand(line));
    if (/[\r\n]/.test(line)) return rejected(new Pop3Error(Pop3ErrorCode.USAGE, `command holds a line break: ${shown}`));
    const slot: Slot = { line, shown, sent: false };
    this.queue.push(slot);
    this.schedulePump();
    return observed(
      new Promise<T>((resolve, reject) => {
        let holds = false;
        let released = false;
        const release = (): void => {
          if (released) return;
          released = true;
          if (slot.sent) this.outstanding--;
          this.pump();
          if (holds) this.replies.leave();
        };
        const start = (): void => {
          try {
            resolve(this.answer(shown, handle, release));
          } catch (err) {
            reject(err);
          }
        };
        // Once the connection has failed, an earlier reply's unconsumed stream must not hold
        // up this command: it fails at once with the connection's error.
        holds = this.replies.enter(start, this.channel.failed !== undefined || this.closedAhead !== undefined);
      }),
    );
  }

  /**
   * This command's turn: reads its status line (without waiting when it was received
   * already) and hands it to `handle`. The slot is released when `handle` is done,
   * synchronously or once its promise settles, unless it called `keepOpen()`.
   */
  private answer<T>(shown: string, handle: ReplyHandler<T>, release: () => void): T | Promise<T> {
    let kept = false;
    const keepOpen = (): (() => void) => {
      kept = true;
      return release;
    };
    const failed = (err: unknown): never => this.replyFailed(err, release);
    try {
      if (this.channel.failed) throw this.channel.failed;
      if (this.closedAhead !== undefined) throw closedBeforeReply(shown, this.closedAhead);
      const status = this.readStatusNow();
      const result = status === undefined ? this.readStatus().then((s) => handle(s, shown, keepOpen)) : handle(status, shown, keepOpen);
      if (!(result instanceof Promise)) {
        if (!kept) release();
        return result;
      }
      return result.then((value) => {
        if (!kept) release();
        return value;
      }, failed);
    } catch (err) {
      return failed(err);
    }
  }

  /** A reply that failed: a fatal error ends the session; the slot is released either way. */
  private replyFailed(err: unknown, release: () => void): never {
    if (err instanceof Pop3Error && isFatal(err)) this.fail(err);
    release();
    throw err;
  }

  private wakeAll(): void {
    this.replies.wakeAll();
  }

  /**
   * The server closed its side. A command waiting behind a message stream that nobody
   * reads would wait for the session deadline; when nothing follows that reply in what is
   * buffered, no reply can ever come, so every waiting and later command fails now with
   * CONNECTION_CLOSED. (When bytes do follow, reading the stream reaches them.)
   */
  private inputEnded(): void {
    const stream = this.activeStream;
    if (!stream || this.closedAhead !== undefined || this.channel.failed || stream.bytesFollowReply()) return;
    this.closedAhead = stream.command;
    this.wakeAll();
  }

  /**
   * Pipelined commands queued in one turn (a fetch issuing its look-ahead) go out in one
   * write at its end: one TLS record and one send instead of one per command. Without
   * pipelining a command goes out at once (there is only ever one outstanding).
   */
  private schedulePump(): void {
    if (!this.usePipelining) return this.pump();
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    soon(() => {
      this.pumpQueued = false;
      try {
        this.pump();
      } catch (err) {
        // Nobody awaits this turn (a trace callback that threw): the session ends, its commands fail with the cause.
        this.fail(err instanceof Error ? err : new Error(String(err)));
      }
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
    // A socket the server has closed takes no more writes (and an attempt would fail the
    // channel while a stream still has buffered bytes to read).
    if (!this.socket.writable) return;
    const limit = this.usePipelining ? PIPELINE_MAX_OUTSTANDING : 1;
    let batch = '';
    while (this.outstanding < limit && this.queue.length > 0) {
      const slot = this.queue.shift()!;
      slot.sent = true;
      this.outstanding++;
      batch += `${slot.line}\r\n`;
      this.options.trace?.({ direction: 'client', line: slot.shown });
    }
    // One write per batch: pipelined commands go out in as few TCP segments as possible.
    if (batch.length > 0) this.socket.write(Buffer.from(batch, 'utf8'));
  }

  private writeRaw(bytes: Buffer, shown: string): void {
    this.options.trace?.({ direction: 'client', line: shown });
    this.socket.write(bytes);
  }

  /** Reads a status line, scrubbed of secrets before it is parsed, traced or shown. */
  private async readStatus(): Promise<StatusLine> {
    return this.statusOf(await readLine(this.channel, this.maxLine));
  }

  /** The status line, when the channel holds it whole already (else undefined, nothing consumed). */
  private readStatusNow(): StatusLine | undefined {
    const raw = readBufferedLine(this.channel, this.maxLine);
    return raw === undefined ? undefined : this.statusOf(raw);
  }

  private statusOf(raw: Buffer): StatusLine {
    const line = this.scrubber.holdsBytes(raw, 0, raw.length) ? this.scrubber.scrubLine(raw, statusKeywordLength(raw)) : raw;
    const parsed = parseStatusLine(line);
    const status: StatusLine = line === raw ? parsed : { ...parsed, scrubbed: true, ...(parsed.kind === 'continue' ? { challengeText: parseStatusLine(raw).text } : {}) };
    this.options.trace?.({ direction: 'server', line: `${status.kind === 'ok' ? '+OK' : status.kind === 'err' ? '-ERR' : '+'}${status.responseCode ? ` [${status.responseCode}]` : ''} ${status.text}`.trimEnd() });
    return status;
  }

  private async startTls(): Promise<void> {
    if (this.secure) throw new Pop3Error(Pop3ErrorCode.USAGE, 'the connection is already secured');
    await this.command('STLS');
    const injected = this.channel.detach();
    if (injected.length > 0) {
      this.fail(new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, 'the server sent data after the STLS reply, before TLS started (possible injection)', { command: 'STLS' }));
      throw this.channel.failed!;
    }
    const target = { host: this.options.host, port: this.socket.remotePort ?? 0 };
    const connectMs = this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    let secure: tls.TLSSocket;
    try {
      // The session's signal: an abort or the deadline ends the handshake as ABORTED.
      secure = await upgradeToTls(this.socket, target, this.options.tlsOptions ?? {}, connectMs, this.session.signal);
    } catch (err) {
      // An abort fails the channel first; report that, not the closed socket it causes.
      const reason = this.channel.failed ?? (err as Error);
      this.fail(reason);
      throw reason;
    }
    this.socket = secure;
    this.channel.attach(secure);
    this.tlsInfo = tlsDetails(secure);
    this.caps = undefined;
    this.capsBeforeLogin = undefined;
    this.usePipelining = false;
  }

  private async authenticate(mechanism: SaslMechanism): Promise<void> {
    const name = mechanism.name;
    let sent = 0;
    // Every response is registered before it goes out: an echo of it is scrubbed.
    const register = (response: Buffer): void => {
      for (const form of saslResponseForms(name, response, sent++)) this.scrubber.addSent(form);
    };
    const initial = mechanism.initialResponse;
    const inline = initial === undefined ? undefined : `AUTH ${name} ${encodeInitial(initial)}`;
    if (initial !== undefined) register(initial);
    // RFC 5034: an initial response that would make the command longer than 255 octets is
    // withheld and sent as the answer to the server's first (empty) challenge instead.
    let withheld = inline !== undefined && inline.length + 2 > MAX_COMMAND_OCTETS ? initial : undefined;
    const line = inline === undefined || withheld ? `AUTH ${name}` : inline;
    await this.exchange(line, async (first) => {
      let status = first;
      // Each challenge is answered; the number of rounds is bounded against a looping server.
      for (let round = 0; status.kind === 'continue'; round++) {
        const answer = withheld ?? (await saslAnswer(mechanism, status, round));
        // The answer may have taken a while (SCRAM's PBKDF2): the session may have ended meanwhile.
        if (this.channel.failed) throw this.channel.failed;
        if (answer instanceof SaslCancel) return this.cancelSasl(name, answer.message);
        if (!withheld) register(answer);
        withheld = undefined;
        this.writeRaw(Buffer.from(`${answer.toString('base64')}\r\n`, 'latin1'), '***');
        status = await this.readStatus();
      }
      if (status.kind === 'err') throw this.saslRejected(status, mechanism);
      this.checkSaslComplete(mechanism);
    });
    this.enterTransaction();
  }

  /**
   * +OK ended the exchange: a mechanism that did not get what it needed (SCRAM: the server's
   * signature) says so, and the session, logged in to a server that proved nothing, is dropped.
   */
  private checkSaslComplete(mechanism: SaslMechanism): void {
    try {
      mechanism.complete?.();
    } catch (err) {
      if (!(err instanceof SaslCancel)) throw err;
      const cancelled = new Pop3Error(Pop3ErrorCode.AUTH_CANCELLED, `AUTH ${mechanism.name} cancelled: ${this.scrubber.scrub(err.message)}`, { command: `AUTH ${mechanism.name}` });
      this.fail(cancelled);
      throw cancelled;
    }
  }

  /**
   * Cancels the exchange with `*` (RFC 5034); the server answers -ERR. Any other answer
   * leaves the session in an unknown state (and logged in, perhaps, to a server whose proof
   * did not verify): the connection is dropped.
   */
  private async cancelSasl(name: string, reason: string): Promise<never> {
    this.writeRaw(Buffer.from('*\r\n', 'latin1'), '*');
    const message = `AUTH ${name} cancelled: ${this.scrubber.scrub(reason)}`;
    let reply: StatusLine;
    try {
      reply = await this.readStatus();
    } catch (cause) {
      // A server that hangs up or goes silent instead of answering "*" (an impostor whose
      // signature did not verify may) does not turn the reason into a retryable connection error.
      if (!(cause instanceof Pop3Error) || cause.code === Pop3ErrorCode.ABORTED) throw cause;
      const err = new Pop3Error(Pop3ErrorCode.AUTH_CANCELLED, message, { command: `AUTH ${name}`, cause });
      this.fail(err);
      throw err;
    }
    const serverText = sanitizeServerText(reply.text);
    const err = new Pop3Error(Pop3ErrorCode.AUTH_CANCELLED, message, { command: `AUTH ${name}`, serverText });
    if (reply.kind !== 'err') this.fail(err);
    throw err;
  }

  /** The -ERR that ended an exchange, with what the mechanism learned (an OAuth error's status). */
  private saslRejected(status: StatusLine, mechanism: SaslMechanism): Pop3Error {
    // The exchange may itself have said the credentials are wrong, whatever the -ERR's code says.
    const err = errorFromReply(status, `AUTH ${mechanism.name}`, mechanism.credentialsRefused?.() ? 'auth' : this.loginPurpose);
    const detail = mechanism.failureDetail?.();
    if (detail === undefined) return err;
    return new Pop3Error(err.code, `${err.message} (${sanitizeServerText(this.scrubber.scrub(detail), MAX_SASL_DETAIL_CHARS)})`, err);
  }

  /**
   * What an -ERR without a response code to a login command means: wrong credentials,
   * unless the server announced AUTH-RESP-CODE (RFC 3206), which promises `[AUTH]` for those.
   */
  private get loginPurpose(): CommandPurpose {
    const caps = this.capsBeforeLogin ?? this.caps;
    return caps?.authRespCode ? 'other' : 'auth';
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

  /** What a message stream calls to end the session (one function for every stream). */
  private readonly failSession = (err: Pop3Error): void => this.fail(err);

  private get maxLine(): number {
    return this.options.maxLineOctets ?? MAX_LINE_OCTETS;
  }
}

/** A SASL exchange longer than this is a looping or hostile server. */
const MAX_SASL_ROUNDS = 10;
/** A SASL mechanism name (RFC 4422: upper-case letters, digits, '-' and '_', 1 to 20 characters). */
const SASL_NAME = /^[A-Za-z0-9_-]{1,20}$/;
/** How much of what a mechanism learned (an OAuth error's fields) an AUTH error quotes. */
const MAX_SASL_DETAIL_CHARS = 300;
/** A SASL challenge is base64 (RFC 4648, padded) or empty. */
const BASE64_CHALLENGE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The mechanism's answer to one challenge, or why the exchange has to be cancelled. */
async function saslAnswer(mechanism: SaslMechanism, status: StatusLine, round: number): Promise<Buffer | SaslCancel> {
  if (round >= MAX_SASL_ROUNDS) return new SaslCancel(`the server sent more than ${MAX_SASL_ROUNDS} challenges`);
  // A challenge that seems to hold a secret (an echo, or a short password by chance in random
  // base64) is decoded as received: what the mechanism learns from it is scrubbed before it shows.
  const text = (status.challengeText ?? status.text).trim();
  if (!BASE64_CHALLENGE.test(text)) return new SaslCancel(`the server sent a challenge that is not base64: "${sanitizeServerText(status.text.trim(), 40)}"`);
  try {
    return await mechanism.respond(Buffer.from(text, 'base64'));
  } catch (err) {
    if (err instanceof SaslCancel) return err;
    throw err;
  }
}

/**
 * Marks `p` as handled without consuming its outcome: whoever awaits it still gets the
 * rejection, but a caller that pipelines and awaits it late cannot crash the process with
 * an unhandledRejection when the connection drops meanwhile.
 */
function observed<T>(p: Promise<T>): Promise<T> {
  p.catch(ignore);
  return p;
}

function ignore(): void {
  // the rejection is handled by whoever awaits the promise
}

function rejected<T>(err: Error): Promise<T> {
  return observed(Promise.reject(err));
}

function openSocket(options: Pop3ConnectOptions, signal: AbortSignal): Promise<net.Socket> {
  const mode = options.tls ?? 'implicit';
  const target = { host: options.host, port: portOf(options), ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
  const connectMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  return mode === 'implicit' ? connectTls(target, options.tlsOptions ?? {}, connectMs, signal) : connectTcp(target, connectMs, signal);
}

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

function closedBeforeReply(shown: string, streamCommand: string): Pop3Error {
  return new Pop3Error(
    Pop3ErrorCode.CONNECTION_CLOSED,
    `${shown}: the server closed the connection, and no reply follows that of ${streamCommand}, whose message is still unread`,
    { command: shown },
  );
}

function abortError(reason: unknown): Pop3Error {
  return reason instanceof Pop3Error ? reason : new Pop3Error(Pop3ErrorCode.ABORTED, 'the session was aborted', { cause: reason });
}

/** After these the byte stream can no longer be trusted to be in sync: the session ends. */
function isFatal(err: Pop3Error): boolean {
  return err.code === Pop3ErrorCode.PROTOCOL_ERROR || err.code === Pop3ErrorCode.LINE_TOO_LONG || err.code === Pop3ErrorCode.REPLY_TOO_LARGE;
}

function retagGreetingError(err: unknown): unknown {
  if (err instanceof Pop3Error && err.code === Pop3ErrorCode.IDLE_TIMEOUT) {
    return new Pop3Error(Pop3ErrorCode.GREETING_TIMEOUT, 'no greeting from the server in time', { cause: err });
  }
  return err;
}
