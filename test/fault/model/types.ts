/**
 * The vocabulary of the model-based test: a sequence is a server configuration (which
 * server semantics, which retention, pipelining) plus a list of steps. Steps are plain
 * JSON, so a failing sequence prints as a case that replays without its generator.
 */
import type { CrashPoint } from '../../sync/harness';

/** Server-semantics profiles of the fake POP3 server (test/fixtures/pop3-profiles). */
export type ProfileName = 'gmail' | 'shared-uidl' | 'recycled-uidl' | 'flaky-uidl' | 'bare-lf' | 'estimated-sizes' | 'slow-quit' | 'expire-zero';

export type Retention = 'keep' | 'delete' | 'after-days';

export interface SequenceConfig {
  readonly seed: number;
  /** Applied in this order (the first profile that assigns UIDLs decides them). */
  readonly profiles: readonly ProfileName[];
  /** Gmail: messages listed per session. */
  readonly perSession: number;
  readonly retention: Retention;
  readonly pipelining: boolean;
  readonly maxMessageBytes: number;
  /** SDK attempts per request of the worker's clients (1: every fault surfaces; 2: a retry meets its own write). */
  readonly maxAttempts: { readonly s3: number; readonly dynamodb: number };
}

/**
 * A message, as parameters of `mailBytes`. Distinct messages have distinct `seq` (so
 * distinct header blocks); `topic` sets the header fields popa3d hashes, so messages of
 * one topic share a UIDL under shared-uidl. An exact duplicate repeats a spec; a "twin"
 * repeats seq and topic (an identical header block) with another body and another size.
 */
export interface MailSpec {
  readonly seq: number;
  readonly topic: number;
  /** Exact octets of the message. */
  readonly size: number;
  readonly flavor: MailFlavor;
  /** Variant of the body text. */
  readonly body: number;
}

export type MailFlavor =
  /** plain text */
  | 'plain'
  /** lines that start with "." (one is only "."): dot-stuffing */
  | 'dots'
  /** bare LFs, none followed by "." */
  | 'bare-lf'
  /** a "." line after a bare LF: ambiguous on a server that stuffs only after CRLF */
  | 'bare-lf-dot'
  /** the same, a few octets before the end (fewer octets missing than a size estimate's error) */
  | 'bare-lf-dot-late'
  /** a line of text starting with "." after a bare LF (not stuffed by a CRLF-only server) */
  | 'bare-lf-dot-text'
  /** octets 0x80..0xff */
  | 'eight-bit';

export type Step =
  /** New mail; `no` names it for later steps. `uidFrom` picks the UIDL scheme when shared-uidl and recycled-uidl are both on. */
  | { readonly kind: 'arrive'; readonly no: number; readonly mail: MailSpec; readonly uidFrom?: 'shared-uidl' | 'recycled-uidl' }
  /** Another client deletes arrival `no` (renumbering later mail); nothing if it is gone already. */
  | { readonly kind: 'delete'; readonly no: number }
  /** Another client makes arrival `no` vanish from normal listings (Gmail: it popped it). */
  | { readonly kind: 'hide'; readonly no: number }
  /** A worker run, `advanceMs` after the previous step's clock, with these faults. */
  | { readonly kind: 'run'; readonly advanceMs: number; readonly faults: readonly Fault[] }
  | { readonly kind: 'clock'; readonly advanceMs: number };

export type Fault =
  /** The `nth` request (attempt) of the run to that service fails, before it is sent or after it took effect. */
  | { readonly kind: 'aws'; readonly service: 's3' | 'dynamodb'; readonly nth: number; readonly when: 'before' | 'after' }
  /**
   * The connection drops at the `nth` command `verb` of the run (counted over its sessions).
   * With `partial` (RETR only): "+OK" and that many octets of the message's wire form first.
   */
  | { readonly kind: 'cut'; readonly verb: string; readonly nth: number; readonly partial?: number }
  /** The run dies there (test/sync/harness.ts crash points). */
  | { readonly kind: 'crash'; readonly point: CrashPoint }
  /** The `nth` QUIT of the run takes effect, but its "+OK" is lost (the connection drops). */
  | { readonly kind: 'lost-quit-ok'; readonly nth: number };

export interface Sequence {
  readonly config: SequenceConfig;
  readonly steps: readonly Step[];
}

/** The invariants, by name (a shrunk case must keep failing the same one). */
export type InvariantName =
  | 'lost'
  | 'lost-at-commit'
  | 'unrecorded-at-commit'
  | 'duplicate-object'
  | 'foreign-object'
  | 'record-mismatch'
  | 'orphan-object'
  | 'liveness'
  | 'not-settled'
  | 'worker-threw'
  | 'untyped-error'
  | 'fake-server-error'
  /** Mail Stored events: published before the record was durable; a stored message never announced (or the outbox not drained); an event naming no stored message. */
  | 'event-before-record'
  | 'event-missing'
  | 'event-for-nothing';

export interface Violation {
  readonly invariant: InvariantName;
  /** Where: the step index (or 'clean run k', 'final'). */
  readonly at: string;
  readonly detail: string;
  /** The message it is about (the fake's ground-truth id). */
  readonly message?: number;
  /** The objects it is about. */
  readonly keys?: readonly string[];
  /** Set when it matches a known worker bug (model/known-issues.ts). */
  readonly knownIssue?: string;
}
