/**
 * The mailbox registry: which mailboxes exist, their configuration (validated by the same
 * parser as the configuration file), whether they are enabled, and their health. The
 * worker loads a mailbox from it by id and writes health back after each run; the CLI
 * manages it. Adapters: `dynamodb-mailbox-registry.ts` (the fleet, in the state table) and
 * `file-mailbox-registry.ts` (a configuration file: read-only, health kept in memory).
 * The item layout is in docs/registry.md.
 */
import type { MailboxConfig } from '../config/mailbox-config';

/** What a run did, as the health record keeps it. `busy`: another run held the lease. */
export type RunOutcomeStatus = 'ok' | 'error' | 'busy';

/** The action a run performed. `reset` is not one: it is a CLI operation, not a run. */
export type RunAction = 'fetch' | 'baseline';

/** A mailbox's health: written only by recordRun, never by a configuration change. */
export interface MailboxHealth {
  /** ISO time the last run ended. */
  readonly lastRunAt?: string;
  readonly lastRunStatus?: RunOutcomeStatus;
  readonly lastAction?: RunAction;
  /** ISO time of the last run that ended `ok`. */
  readonly lastSuccessAt?: string;
  /** The last failed run: when, its first error's code and message (kept after a later success). */
  readonly lastErrorAt?: string;
  readonly lastErrorCode?: string;
  readonly lastErrorMessage?: string;
  /** Runs ended `error` since the last `ok` (a `busy` run changes nothing). */
  readonly consecutiveFailures: number;
  /** New messages the last finished run left for the next one. */
  readonly backlog?: number;
  readonly lastDurationMs?: number;
  /** The server's LOGIN-DELAY, in seconds, as a run last learnt it (RFC 2449). */
  readonly loginDelaySeconds?: number;
  /** ISO time before which the server refuses (or penalises) a login: scheduled runs wait until then. */
  readonly nextLoginAt?: string;
}

export interface RegisteredMailbox {
  readonly config: MailboxConfig;
  /** A disabled mailbox is refused by the worker; the CLI can still baseline it. */
  readonly enabled: boolean;
  readonly health: MailboxHealth;
  /** Incremented by every configuration change (add: 1). */
  readonly configVersion: number;
  /** ISO time of the last configuration change. */
  readonly configUpdatedAt?: string;
  /**
   * The CDK deployment's configuration file names it (registry seeding). `added`: the
   * deployment put it in, and a later deploy whose file no longer names it removes it.
   * `adopted`: it was added with the CLI before the file named it; dropped from the file,
   * it goes back to the CLI (the mark goes, the mailbox stays). Absent: the CLI's.
   */
  readonly deployed?: DeployedMark;
}

export type DeployedMark = 'added' | 'adopted';

/** One run's outcome, as recordRun takes it (see `runOutcome` in health.ts). */
export interface RunOutcome {
  readonly action: RunAction;
  readonly status: RunOutcomeStatus;
  /** ISO time the run ended. */
  readonly at: string;
  readonly backlog: number;
  readonly durationMs: number;
  /** The first error of a failed run. */
  readonly error?: { readonly code: string; readonly message: string };
  /** The server's LOGIN-DELAY as the run learnt it (absent: not announced, or no session). */
  readonly loginDelay?: { readonly seconds: number; readonly nextLoginAt: string };
}

export interface AddOptions {
  /** @default true */
  readonly enabled?: boolean;
  /** Marks the mailbox as the deployment's (see RegisteredMailbox.deployed). @default false */
  readonly deployed?: boolean;
}

export interface UpdateOptions {
  /** Sets the deployment's mark; null removes it. @default the mark stays as it is */
  readonly deployed?: DeployedMark | null;
}

export interface MailboxRegistry {
  /** Where the registry lives, for messages: `table mailfetch-state`, `file ./mailfetch.config.json`. */
  readonly description: string;
  /** The mailbox, or undefined when no mailbox has this id. */
  get(id: string): Promise<RegisteredMailbox | undefined>;
  /** Every mailbox, by id. */
  list(): Promise<RegisteredMailbox[]>;
  /** @throws RegistryError MAILBOX_EXISTS when the id is taken */
  add(config: MailboxConfig, options?: AddOptions): Promise<void>;
  /** Replaces the configuration; `enabled` and health stay. @throws RegistryError MAILBOX_NOT_REGISTERED */
  update(config: MailboxConfig, options?: UpdateOptions): Promise<void>;
  /** @throws RegistryError MAILBOX_NOT_REGISTERED */
  setEnabled(id: string, enabled: boolean): Promise<void>;
  /** Removes the mailbox (its UIDL state stays); false when it was not registered. */
  remove(id: string): Promise<boolean>;
  /**
   * Writes one run's health, touching health attributes only, so it can never undo a
   * concurrent configuration change. False when the mailbox was removed meanwhile (nothing written).
   */
  recordRun(id: string, outcome: RunOutcome): Promise<boolean>;
}
