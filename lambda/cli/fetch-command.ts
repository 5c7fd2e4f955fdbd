/**
 * `mailfetch fetch` and `mailfetch baseline`: one runMailbox per selected mailbox, one
 * after the other, with a progress display and a summary (or one JSON line) per mailbox.
 * Ctrl-C stops cleanly (interrupt.ts): the running mailbox finishes what is in flight,
 * releases its lease and prints its summary; the others are not started; exit 130.
 */
import { randomUUID } from 'node:crypto';
import type { MailboxConfig } from '../config/mailbox-config';
import { recordHealth } from '../registry/record-health';
import type { MailboxRegistry } from '../registry/mailbox-registry';
import type { RunSummary } from '../sync/run-summary';
import { MAILBOX_OPTIONS, STORAGE_OPTIONS, parseCommand, parseSeconds } from './args';
import type { CliIo, OutputStream } from './cli-io';
import { ExitCode, UsageError } from './exit-codes';
import { listenForInterrupts, type Interrupt } from './interrupt';
import { createProgress, type Progress } from './progress-display';
import { registryMailboxes } from './registry-selection';
import { DEFAULT_TIME_LIMIT_MS, fetchMailbox, summaryFailed, type RunMode } from './run-fetch';
import { createCliLogger, createCredentials, loadMailboxes } from './setup';
import { openStorage, storageChoice, type Storage } from './storage';
import { summaryJsonLine, summaryText } from './summary-output';
import { protocolTrace } from './trace';
import { BASELINE_USAGE, FETCH_USAGE } from './usage';

const FETCH_OPTIONS = {
  ...MAILBOX_OPTIONS,
  ...STORAGE_OPTIONS,
  mode: { type: 'string' },
  'time-limit': { type: 'string' },
} as const;
const { mode: _mode, ...BASELINE_OPTIONS } = FETCH_OPTIONS;

/** `alias`: 'baseline' for `mailfetch baseline`, which takes no --mode. */
export async function fetchCommand(argv: readonly string[], io: CliIo, alias?: 'baseline'): Promise<ExitCode> {
  const command = alias ?? 'fetch';
  const values = alias ? { ...parseCommand(command, argv, BASELINE_OPTIONS), mode: alias } : parseCommand(command, argv, FETCH_OPTIONS);
  if (values.help) {
    io.stdout.write(alias ? BASELINE_USAGE : FETCH_USAGE);
    return ExitCode.OK;
  }
  const mode = runMode(values.mode);
  const timeLimitMs = parseSeconds(values['time-limit'], '--time-limit', command, DEFAULT_TIME_LIMIT_MS);
  const choice = storageChoice(values, io.env, io.cwd, command);
  // With --config, the file is checked before any storage starts (exit 2 on a bad file).
  const fromFile = values.config === undefined ? undefined : await loadMailboxes(values.config, values.mailbox, io, command);

  const interrupt = listenForInterrupts(io);
  try {
    const storage = await openStorage(choice, { readOnly: false });
    try {
      // Without --config, the registry in the state table; its health is updated after each run.
      const mailboxes = fromFile ?? (await registryMailboxes(storage.registry, values.mailbox, command, { allowDisabled: mode === 'baseline' }));
      const registry = fromFile === undefined ? storage.registry : undefined;
      const options = { mode, timeLimitMs, json: values.json === true, verbose: values.verbose === true, interrupt, ...(registry ? { registry } : {}) };
      const summaries = await fetchAll(mailboxes, storage, io, options);
      return interrupt.exitCode() ?? (summaries.some(summaryFailed) ? ExitCode.MAILBOX_FAILED : ExitCode.OK);
    } finally {
      await storage.close();
    }
  } finally {
    interrupt.dispose();
  }
}

export interface FetchAllOptions {
  readonly mode: RunMode;
  readonly timeLimitMs: number;
  readonly json: boolean;
  readonly verbose: boolean;
  /** Indent of the text summaries (the demo nests them). @default '' */
  readonly indent?: string;
  /** Where each run's health is written. @default none (mailboxes from a file) */
  readonly registry?: MailboxRegistry;
  /** Ctrl-C: stops the run cleanly, and starts no further mailbox. @default never interrupted */
  readonly interrupt?: Interrupt;
}

/** Runs the mailboxes in order and prints each one's summary as soon as it is done. */
export async function fetchAll(mailboxes: readonly MailboxConfig[], storage: Storage, io: CliIo, options: FetchAllOptions): Promise<RunSummary[]> {
  const credentials = createCredentials(io, storage.sealed);
  const progress = createProgress(progressStream(io, options.json));
  const summaries: RunSummary[] = [];
  const { interrupt } = options;
  for (const mailbox of mailboxes) {
    if (interrupt?.signal.aborted) break;
    const log = createCliLogger(io, options.verbose, { mailbox: mailbox.id }, options.json);
    const owner = randomUUID();
    // A forced exit (second Ctrl-C) still frees the mailbox for the next run.
    const unregister = interrupt?.beforeForcedExit(() => releaseOnExit(storage, mailbox.id, owner, io));
    const summary = await runWithProgress(progress, mailbox, options.mode, () =>
      fetchMailbox(
        mailbox,
        {
          storage,
          credentials,
          log,
          onStored: (event) => progress.stored(event),
          ...(options.verbose ? { engine: { trace: protocolTrace(log) } } : {}),
        },
        { mode: options.mode, timeLimitMs: options.timeLimitMs, owner, ...(interrupt ? { stop: interrupt.signal } : {}) },
      ),
    ).finally(unregister);
    summaries.push(summary);
    if (options.registry) await recordHealth(options.registry, summary, options.mode, log);
    const location = storage.messageLocation(mailbox.id);
    if (options.json) io.stdout.write(`${summaryJsonLine(summary, options.mode, location)}\n`);
    else io.stdout.write(summaryText(summary, options.mode, options.indent, location) + hints(summary, storage, options.indent ?? ''));
  }
  const notRun = mailboxes.slice(summaries.length).map((m) => m.id);
  if (notRun.length > 0) io.stderr.write(`mailfetch: interrupted: not run: ${notRun.join(', ')}\n`);
  return summaries;
}

/** The second Ctrl-C: the lease goes now rather than when it expires (conditional on our owner id). */
async function releaseOnExit(storage: Storage, mailboxId: string, owner: string, io: CliIo): Promise<void> {
  try {
    await storage.state.releaseLease(mailboxId, owner);
    io.stderr.write(`mailfetch: ${mailboxId}: lease released\n`);
  } catch (err) {
    io.stderr.write(`mailfetch: ${mailboxId}: lease not released (${(err as Error).message}); it expires by itself, or 'mailfetch unlock --mailbox ${mailboxId}' frees it\n`);
  }
}

async function runWithProgress(progress: Progress, mailbox: MailboxConfig, mode: RunMode, run: () => Promise<RunSummary>): Promise<RunSummary> {
  progress.start(mailbox.id, mode === 'baseline' ? 'recording a baseline' : 'fetching');
  try {
    return await run();
  } finally {
    progress.end();
  }
}

/**
 * Text output: progress on stdout (a redrawn line on a terminal, plain lines otherwise).
 * JSON output: stdout carries only the JSON lines, so progress goes to stderr, and only
 * when that is a terminal.
 */
function progressStream(io: CliIo, json: boolean): OutputStream | undefined {
  if (!json) return io.stdout;
  return io.stderr.isTTY ? io.stderr : undefined;
}

/** What to do about the failures an operator can fix from the command line. */
function hints(summary: RunSummary, storage: Storage, indent: string): string {
  const codes = new Set(summary.errors.map((e) => e.code));
  const tableMissing = summary.errors.some((e) => /ResourceNotFoundException/.test(e.message));
  const out: string[] = [];
  if ((codes.has('BUCKET_NOT_FOUND') || tableMissing) && storage.bucket !== undefined) {
    out.push(`hint: bucket ${storage.bucket} or table ${storage.table} does not exist; --create-missing creates them`);
  }
  if (codes.has('PLAINTEXT_REFUSED')) out.push('hint: use tls "implicit" or "starttls"; allowPlaintextAuth exists for lab servers only');
  if (codes.has('AUTH_FAILED')) out.push('hint: the server refused the credentials; check the user name and password (or token), and the mechanism ("auth") if the server expects another');
  if (codes.has('AUTH_CANCELLED')) out.push('hint: the login was cancelled because the server\'s answer did not check out; with SCRAM this can mean the server does not know this password, or something between you and it is not the server');
  if (codes.has('ENV_MISSING')) out.push('hint: the mailbox\'s password is read from an environment variable that is not set');
  if (summary.status === 'busy') out.push(`hint: if that run is gone (killed, crashed), 'mailfetch unlock --mailbox ${summary.mailbox}' with this command's storage options frees it`);
  return out.map((line) => `${indent}  ${line}\n`).join('');
}

function runMode(value: string | undefined): RunMode {
  if (value === undefined || value === 'fetch' || value === 'baseline') return value ?? 'fetch';
  throw new UsageError(`--mode must be fetch or baseline, got "${value}"`, 'fetch');
}
