// The public types of the fake POP3 server: options, sessions, the server handle, the
// ground truth it keeps about every message, and the profile hooks that model how real
// servers differ from RFC 1939. Re-exported by fake-pop3-server.ts.

/** The server's certificate and key (PEM). */
export interface FakePop3Pki {
  readonly serverCert: Buffer | string;
  readonly serverKey: Buffer | string;
}

export interface FakeMessage {
  uid: string;
  /** the message as it should be RECEIVED by the client; the server dot-stuffs it on the wire */
  bytes: Buffer;
}

/** true: the hook handled the line; false/undefined: fall through to the default handling. */
export type FakeHookResult = boolean | void | Promise<boolean | void>;

export interface FakePop3Options {
  messages?: FakeMessage[];
  /** default 'alice' */
  user?: string;
  /** default 'secret' */
  password?: string;
  /**
   * Capabilities listed by CAPA before login; default ['TOP','UIDL','USER','RESP-CODES','PIPELINING',
   * 'SASL PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER'] (+ 'STLS' when stls is enabled and the link is
   * not TLS yet). null: CAPA answers -ERR. The SASL entry also decides which AUTH mechanisms work.
   */
  capabilities?: string[] | null;
  /** Capabilities after login; default = capabilities without USER/SASL/STLS */
  capabilitiesAfterLogin?: string[];
  /** default '+OK fake POP3 ready <1896.697170952@fake>' (APOP timestamp). A string gets CRLF appended; a Buffer is sent raw. */
  greeting?: Buffer | string;
  /** default 'none' */
  tls?: 'none' | 'implicit';
  /** offer STLS (default false) */
  stls?: boolean;
  /** required when TLS is used (tests: makeTestPki() from test/fixtures/test-ca.ts) */
  pki?: FakePop3Pki;
  /**
   * The highest TLS version the server speaks: 'TLSv1.2' to test what needs TLS 1.2 (the
   * tls-server-end-point channel binding of SCRAM-*-PLUS). Default: Node's ('TLSv1.3').
   */
  tlsMaxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /**
   * SCRAM (offered when the SASL capability names SCRAM-SHA-1, SCRAM-SHA-256 or their -PLUS
   * forms; not by default): the iteration count, and ways to misbehave.
   */
  scram?: FakeScramOptions;
  /** Accept these OAuth bearer tokens (for XOAUTH2/OAUTHBEARER). */
  oauthTokens?: string[];
  /**
   * XOAUTH2 wants the two-step form (AUTH XOAUTH2, then "+ ", then the response), like
   * Microsoft 365: an initial response is refused. Default false: accept both forms.
   */
  xoauth2TwoStep?: boolean;
  /**
   * Script hook: called for every command line before the profiles and the default
   * handling (so a fault always wins over a modelled behaviour). Return true if you handled it.
   */
  onCommand?: (cmd: FakeCommand, session: FakeSession) => FakeHookResult;
  /** Script hook: called when a connection is up (after the implicit TLS handshake). Return true to suppress the greeting. */
  onConnect?: (session: FakeSession) => FakeHookResult;
  /**
   * Chunking of every write: if set, each server write is split into chunks of these sizes
   * (cycled), written with setImmediate between them, so the client sees arbitrary TCP chunk boundaries.
   */
  chunkSizes?: number[];
  /**
   * Server semantics models (test/fixtures/pop3-profiles), applied in this order. Hooks
   * that transform a value (capabilities, listing, sizes, -ERR lines) are chained; hooks
   * that decide (UID assignment, command takeover, login refusal) stop at the first answer.
   */
  profiles?: readonly FakePop3Profile[];
  /**
   * Called synchronously when deletions or hidings are about to take effect (at QUIT
   * before "+OK" is written, or in deleteByOtherClient/hideByOtherClient), while the
   * messages are still on the server. A throw is recorded in `errors`, the change is NOT
   * applied and the connection drops (a server that crashed in its UPDATE state). Calling
   * `event.connection.destroy()` from here models "applied, but the +OK was lost".
   */
  onCommit?: (event: FakeCommitEvent) => void;
  /** The server's clock in ms (delivery times, Gmail's 30-day recent window). Default Date.now. */
  clock?: () => number;
  /**
   * More accounts on this server besides `user`, each with its own password and maildrop
   * (one server hosting a fleet of mailboxes). Profiles apply to every account; reach an
   * account's maildrop with `server.account(user)`. Default none.
   */
  accounts?: readonly FakeAccountOptions[];
  /**
   * Keep every received line in `commands`. Default true; a long load run turns it off so
   * the server's memory does not grow with the sessions it served.
   */
  recordCommands?: boolean;
}

/** How the fake server's SCRAM behaves (FakePop3Options.scram). */
export interface FakeScramOptions {
  /** The PBKDF2 iteration count of the server-first message. Default 4096. */
  readonly iterations?: number;
  /**
   * The hash of tls-server-end-point (RFC 5929: the certificate's signature hash, SHA-256 for
   * MD5/SHA-1). Default 'sha256', right for makeTestPki's certificates (ECDSA with SHA-256).
   */
  readonly endPointHash?: string;
  /**
   * - 'wrong-signature': the server-final carries a signature that does not verify;
   * - 'foreign-nonce': the server-first nonce does not start with the client's;
   * - 'mandatory-extension': the server-first starts with an `m=` extension;
   * - 'ok-without-final': +OK right after the client-final, no server-final at all;
   * - 'other-binding': the server computes another channel binding than the client's (as
   *   the far end of a man in the middle would): the client's `c=` does not match.
   */
  readonly misbehave?: 'wrong-signature' | 'foreign-nonce' | 'mandatory-extension' | 'ok-without-final' | 'other-binding';
  /** Refuse the client's proof with this `e=` server-final (RFC 5802 server-error), then -ERR. */
  readonly serverError?: string;
}

/** One more account of the server (FakePop3Options.accounts). */
export interface FakeAccountOptions {
  readonly user: string;
  readonly password: string;
  readonly messages?: readonly FakeMessage[];
}

/** An account's maildrop: like the server's own `messages`, `truth` and `deliver`. */
export interface FakeAccount {
  readonly user: string;
  readonly messages: FakeMessage[];
  readonly truth: FakeGroundTruth;
  deliver(bytes: Buffer | string, options?: FakeDeliveryOptions): FakeMailRecord;
}

export interface FakeCommand {
  /** upper-cased */
  verb: string;
  args: string[];
  /** the line without CRLF */
  raw: Buffer;
}

export type FakeSessionState = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE';

export interface FakeSession {
  readonly id: number;
  readonly state: FakeSessionState;
  readonly tls: boolean;
  /** message numbers marked by DELE */
  readonly deleted: Set<number>;
  /**
   * message numbers sent with RETR in this session (RSET does not clear it: the bytes left).
   * A hook that answers RETR itself adds the number here if the message should count as read (Gmail).
   */
  readonly retrieved: Set<number>;
  /** message numbers sent with TOP in this session */
  readonly topped: Set<number>;
  /** the messages numbered 1..N for this session (fixed at login; before login the current mailbox) */
  readonly mailbox: readonly FakeMessage[];
  /** the name the client logged in with, as sent (e.g. 'recent:alice'); null before login */
  readonly user: string | null;
  /** the last line read from the client (command or SASL continuation), without CRLF */
  readonly lastLine: Buffer | null;
  /** holds the maildrop lock: from login until its UPDATE is done or the connection is gone */
  readonly locked: boolean;
  /** raw bytes (string written as latin1), honours chunkSizes */
  write(data: Buffer | string): Promise<void>;
  /** appends CRLF; a "-ERR" line first passes the profiles' errorLine hooks */
  writeLine(line: string): Promise<void>;
  /** Write a multi-line body: dot-stuffs `bytes` (as the profiles say), ensures the final CRLF, appends ".\r\n". */
  writeMultiline(bytes: Buffer): Promise<void>;
  /** The next line from the client (without CRLF; recorded in `commands`), or null once the session is over. For scripted dialogues. */
  readLine(): Promise<Buffer | null>;
  /** stop reading and writing forever (connection stays open) */
  stall(): void;
  /** drop the TCP connection (socket.destroy(): no more bytes, no TLS close_notify) */
  destroy(): void;
  /** drop the TCP connection with a real RST (socket.resetAndDestroy()) */
  reset(): void;
  /** graceful FIN, after the writes already queued */
  end(): void;
  /** switch this session to TLS (used by the default STLS handling; exposed for scripts) */
  upgradeTls(): Promise<void>;
}

/** Why a message left the maildrop. */
export type FakeRemoval =
  /** a POP3 session of this server: DELE (or a profile's rule) then QUIT */
  | { readonly by: 'pop3'; readonly session: number; readonly at: number }
  /** server.deleteByOtherClient: another client logged in, DELE'd and QUIT */
  | { readonly by: 'other-client'; readonly at: number }
  /** the test took it out of `server.messages` itself (the legacy way to script deletions) */
  | { readonly by: 'external'; readonly at: number };

/** A message still in the maildrop that normal sessions no longer list (Gmail: "popped"). */
export interface FakeHiding {
  /** the profile that hid it ('gmail'), or 'other-client' */
  readonly by: string;
  /** the session whose QUIT hid it; undefined for other-client */
  readonly session: number | undefined;
  readonly at: number;
}

/**
 * Ground truth about one delivered message. A live view: it changes as the server does.
 * A message the test splices out of `server.messages` itself is marked removed at the next
 * sync (any FakeGroundTruth query, deliver, addMessages, login or QUIT).
 */
export interface FakeMailRecord {
  /** stable internal id: 1, 2, ... in delivery order; never reused */
  readonly id: number;
  /** the object in `server.messages` while the message is on the server */
  readonly message: FakeMessage;
  readonly uid: string;
  readonly bytes: Buffer;
  /** server clock at delivery */
  readonly deliveredAt: number;
  /** set once the message left the maildrop */
  readonly removed: FakeRemoval | undefined;
  /** set once normal sessions stopped listing it (it may still be removed later) */
  readonly hidden: FakeHiding | undefined;
}

/** What the server knows for certain, for invariant checks. Each call reflects `server.messages` as it is now. */
export interface FakeGroundTruth {
  /** every message ever delivered, by id */
  all(): readonly FakeMailRecord[];
  get(id: number): FakeMailRecord | undefined;
  /** the record of a message object in `server.messages` (registers it if the test pushed it there itself) */
  of(message: FakeMessage): FakeMailRecord | undefined;
  /** in the maildrop (hidden or not) */
  onServer(): readonly FakeMailRecord[];
  /** in the maildrop and not hidden: what a normal session would list (before per-session caps) */
  visible(): readonly FakeMailRecord[];
  removed(): readonly FakeMailRecord[];
  /** in the maildrop but hidden */
  hidden(): readonly FakeMailRecord[];
  /** "left the server" from a fetcher's point of view: removed, or hidden */
  left(): readonly FakeMailRecord[];
}

/** A deletion or hiding about to take effect (see FakePop3Options.onCommit). */
export interface FakeCommitEvent {
  readonly cause: 'quit' | 'other-client';
  /** the number of the session whose QUIT this is; undefined for other-client */
  readonly session: number | undefined;
  /** that session itself (e.g. to destroy() it: the change applies, the "+OK" is lost) */
  readonly connection: FakeSession | undefined;
  /** about to leave the maildrop (still in it now) */
  readonly removed: readonly FakeMailRecord[];
  /** about to be hidden from normal listings */
  readonly hidden: readonly FakeMailRecord[];
}

export interface FakeDeliveryOptions {
  /** the UIDL to use; default: the first profile's assignUid, else `fake-<id>` */
  uid?: string;
  /** delivery time on the server clock; default now (backdate for Gmail's 30-day window) */
  at?: number;
}

export interface FakePop3Server {
  readonly port: number;
  readonly host: '127.0.0.1';
  /** every line received (commands and SASL continuations), in order, across all sessions */
  readonly commands: { session: number; line: string; tls: boolean }[];
  /** connections accepted so far */
  readonly sessions: number;
  /** messages currently in the mailbox (DELE+QUIT removes them, like a real server); hidden ones included */
  readonly messages: FakeMessage[];
  /** exceptions thrown by hooks (or by the fake itself); such a session is destroyed. TLS handshake failures are not errors. */
  readonly errors: Error[];
  /** the active profiles, in order */
  readonly profiles: readonly FakePop3Profile[];
  /** ground truth for invariant checks */
  readonly truth: FakeGroundTruth;
  addMessages(messages: FakeMessage[]): void;
  /** The account `user` (the default one or one of `accounts`); undefined for an unknown name. */
  account(user: string): FakeAccount | undefined;
  /** New mail arrives (a string is taken as latin1 bytes): appended, visible to sessions that log in later. */
  deliver(bytes: Buffer | string, options?: FakeDeliveryOptions): FakeMailRecord;
  /**
   * Another client logged in, DELE'd the message and QUIT: it leaves the maildrop, so later
   * messages are renumbered for later sessions. Sessions already logged in keep their
   * numbering and can still read it (RFC 1939 fixes the numbers for a session).
   * Returns false when the message had already left.
   */
  deleteByOtherClient(message: number | FakeMailRecord): boolean;
  /** Another client made the message disappear from normal listings (Gmail: it popped it). Returns false if already hidden or gone. */
  hideByOtherClient(message: number | FakeMailRecord): boolean;
  /** connections currently open */
  openSessions(): readonly FakeSession[];
  /** the server clock */
  now(): number;
  /** closes the server and destroys live sockets */
  close(): Promise<void>;
}

/** Where a message ends up when a session QUITs, beyond its DELEs. */
export interface FakeQuitEffects {
  /** leave the maildrop (e.g. RFC 2449 EXPIRE 0: everything retrieved) */
  readonly remove?: readonly FakeMessage[];
  /** stay but are no longer listed by normal sessions (Gmail: popped) */
  readonly hide?: readonly FakeMessage[];
}

/**
 * A model of how a real server behaves, as hooks into the fake's default handling. Every
 * hook is optional. Profiles are plain objects without per-server state: whatever they
 * decide per session or per message is derived from the session/message (and a seed), so
 * one profile object may serve several servers and every decision replays.
 */
export interface FakePop3Profile {
  /** shown in ground truth (FakeHiding.by) and in errors */
  readonly name: string;
  /** CAPA lines, before and after login (chained) */
  capabilities?(caps: readonly string[], session: FakeSession): readonly string[];
  /** The account a login name refers to (Gmail: 'recent:alice' -> 'alice'); undefined: unchanged. */
  accountName?(loginName: string): string | undefined;
  /** Refuse a login whose credentials were right: return the -ERR line (first answer wins). */
  refuseLogin?(session: FakeSession, server: FakePop3Server): string | undefined;
  /** The UIDL of a message delivered without one (first answer wins). */
  assignUid?(bytes: Buffer, server: FakePop3Server): string | undefined;
  /** The messages a session lists, numbered 1..N in this order, fixed at login (chained). */
  listing?(messages: readonly FakeMessage[], session: FakeSession, server: FakePop3Server): readonly FakeMessage[];
  /** Take over a command line (after the test's onCommand, before the default; first true wins). */
  onCommand?(cmd: FakeCommand, session: FakeSession, server: FakePop3Server): FakeHookResult;
  /** The size LIST/STAT/RETR report for a message (chained; starts at the exact size). */
  reportedSize?(size: number, message: FakeMessage, server: FakePop3Server): number;
  /** The wire form of a multi-line body: stuffed, CRLF-terminated, ".\r\n" (the last profile that has it wins). */
  encodeMultiline?(bytes: Buffer): Buffer;
  /** Rewrite a "-ERR" line before it is sent (chained). */
  errorLine?(line: string, session: FakeSession): string;
  /** Extra effects of a QUIT in TRANSACTION state (merged over all profiles). */
  quitEffects?(session: FakeSession, server: FakePop3Server): FakeQuitEffects;
  /** Runs in UPDATE state before the changes are applied (e.g. a slow mbox rewrite). */
  beforeUpdate?(session: FakeSession): Promise<void>;
  /** Runs in UPDATE state after the changes were applied, before "+OK". */
  afterUpdate?(session: FakeSession): Promise<void>;
}
