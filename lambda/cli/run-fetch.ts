/**
 * One fetch (or baseline) run of one mailbox, wired exactly as the Lambda handler wires it
 * (lambda/handlers/fetch-mailbox.ts): runMailbox with the DynamoDB state store, the S3
 * sink and the session opener that resolves credentials. Only the deadline differs: the
 * CLI has a time limit instead of Lambda's remaining time.
 */
import { hostname } from 'node:os';
import type { MailboxConfig } from '../config/mailbox-config';
import type { Logger } from '../observability/logger';
import type { Pop3SessionOptions } from '../pop3';
import type { LeaseHolder } from '../state/state-store';
import { runMailbox, type RunMailboxDeps } from '../sync/run-mailbox';
import { emptySummary, toRunError, type RunSummary } from '../sync/run-summary';
import { createSessionOpener } from '../sync/session-opener';
import type { Credentials } from './setup';
import type { Storage } from './storage';

/** As long as the longest Lambda run: a crashed CLI run's lease expires soon after. */
export const DEFAULT_TIME_LIMIT_MS = 15 * 60_000;

export type RunMode = 'fetch' | 'baseline';

export interface FetchRunDeps {
  readonly storage: Storage;
  readonly credentials: Credentials;
  /** Logger carrying the mailbox id. */
  readonly log: Logger;
  readonly onStored?: RunMailboxDeps['onStored'];
  /** Extra engine options (the protocol trace with --verbose). */
  readonly engine?: Partial<Pop3SessionOptions>;
}

export interface FetchRunOptions {
  readonly mode: RunMode;
  /** @default DEFAULT_TIME_LIMIT_MS */
  readonly timeLimitMs?: number;
  /** The run's lease owner id (a forced exit releases the lease under it). @default a random UUID */
  readonly owner?: string;
  /** The first Ctrl-C: stop starting messages, finish those in flight (RunMailboxOptions.stop). */
  readonly stop?: AbortSignal;
}

/** What the lease says about a command-line run: `unlock` on this host can tell whether it still runs. */
export function cliLeaseHolder(mode: RunMode): LeaseHolder {
  const host = hostname();
  return { description: `mailfetch ${mode} (pid ${process.pid} on ${host})`, host, pid: process.pid };
}

/**
 * Runs one mailbox. Like runMailbox it reports server, credential and storage failures in
 * the summary; what runMailbox throws (the state table missing, a bug) is reported there
 * too, so one mailbox failing never stops the others.
 */
export async function fetchMailbox(mailbox: MailboxConfig, deps: FetchRunDeps, options: FetchRunOptions): Promise<RunSummary> {
  const { storage, credentials, log } = deps;
  const started = Date.now();
  try {
    const summary = await runMailbox(
      {
        state: storage.state,
        sink: storage.sink,
        openSession: createSessionOpener({ secrets: credentials.secrets, oauth: credentials.oauth, ...(deps.engine ? { engine: deps.engine } : {}) }),
        log: (event, fields) => log.info(event, fields),
        ...(deps.onStored ? { onStored: deps.onStored } : {}),
        ...(storage.events ? { events: storage.events } : {}),
      },
      {
        mailbox,
        deadline: started + (options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS),
        mode: options.mode,
        holder: cliLeaseHolder(options.mode),
        ...(options.owner === undefined ? {} : { owner: options.owner }),
        ...(options.stop === undefined ? {} : { stop: options.stop }),
      },
    );
    log.info('run summary', { summary });
    return summary;
  } catch (err) {
    log.error('run failed', { error: err });
    const summary = emptySummary(mailbox.id);
    summary.status = 'error';
    summary.complete = false;
    summary.errors.push(toRunError(err));
    summary.durationMs = Date.now() - started;
    return summary;
  }
}

/** The exit status a summary calls for: busy, failed or with errors is not success. */
export function summaryFailed(summary: RunSummary): boolean {
  return summary.status !== 'ok' || summary.errors.length > 0;
}
