/**
 * The common face of every POP3 server in the interoperability matrix. Each fixture in this
 * directory starts one private instance on 127.0.0.1 (ephemeral ports, own work dir, own
 * users) and stops everything it started.
 */
import type { AuthMechanismName } from '../../../lambda/pop3';
import type { ClientKeyPair } from '../../fixtures/client-pki';

export type ServerName = 'dovecot' | 'mailutils' | 'popa3d' | 'courier' | 'cyrus';

/** How the worker secures the link: STLS on the plain port, implicit TLS, or none at all. */
export type SecurityMode = 'starttls' | 'implicit' | 'none';

export interface InteropServer {
  readonly name: ServerName;
  /** Debian package version of the server, for the results table. */
  readonly version: string;
  readonly host: '127.0.0.1';
  readonly ports: { readonly plain?: number; readonly implicitTls?: number };
  /** Whether the plain port offers STLS. */
  readonly stls: boolean;
  /** PEM of the server certificate (SAN DNS:localhost, IP:127.0.0.1), usable as the only CA. */
  readonly ca?: Buffer;
  /** The login as this server wants it (mailutils: user@domain). */
  readonly user: { readonly username: string; readonly password: string };
  /** Login mechanisms offered in every security mode (EXTERNAL: in the TLS modes). */
  readonly mechanisms: readonly AuthMechanismName[];
  /** For EXTERNAL: a TLS client certificate naming `user`, from a CA the server trusts. */
  readonly clientCertificate?: ClientKeyPair;
  /** The instance's private work dir (config, mail, logs); gone after stop(). */
  readonly workDir: string;
  /** Short names of this server's known quirks (see the fixture's header comment). */
  readonly quirks: readonly string[];
  /**
   * Puts messages into the mailbox, the way local delivery does for this server: messages
   * are given in wire form (CRLF line ends) and stored with LF line ends in Maildir/mbox
   * files, or sent over LMTP (Cyrus). Never call it while a session is open.
   */
  deliver(messages: readonly Buffer[]): Promise<void>;
  /** Messages left on the server (a POP3 STAT in a session of its own). */
  count(): Promise<number>;
  /** Stops every process the fixture started and removes its work dir. Idempotent. */
  stop(): Promise<void>;
}

/** What a fixture offers, known before it starts (test names are built from it). */
export interface ServerProfile {
  readonly name: ServerName;
  /** For tables and messages: "GNU mailutils pop3d". */
  readonly label: string;
  readonly modes: readonly SecurityMode[];
  readonly mechanisms: readonly AuthMechanismName[];
  /** Whether the server announces PIPELINING (popa3d has no CAPA at all). */
  readonly pipelining: boolean;
}

export interface ServerModule<Options = undefined> {
  readonly profile: ServerProfile;
  /** Why the server cannot run here (missing binary, not root), or undefined when it can. */
  unavailable(): string | undefined;
  start(options?: Options): Promise<InteropServer>;
}
