/**
 * `mailfetch check`: for each selected mailbox, open a session exactly as a fetch does
 * (the same session opener, so the same TLS settings, credentials and mechanism choice),
 * then report what an operator needs to know and QUIT without DELE. Read-only: nothing is
 * written to S3 or the state table; the state is read from the store fetch uses (./.mailfetch by default).
 */
import type { MailboxConfig } from '../config/mailbox-config';
import type { SealedCredentialStore } from '../credentials/sealed-credential-store';
import type { Logger } from '../observability/logger';
import { Pop3Error, Pop3ErrorCode, type Pop3Client, type TlsDetails, type TlsMode, type UidlListing } from '../pop3';
import type { MailboxRegistry } from '../registry/mailbox-registry';
import { isStateStoreError } from '../state/errors';
import type { StateStore } from '../state/state-store';
import { settledPrefix } from '../sync/listing-hash';
import { retentionConflict } from '../sync/retrieval-rule';
import { toRunError, type RunError, type RunWarning } from '../sync/run-summary';
import { createSessionOpener } from '../sync/session-opener';
import { MAILBOX_OPTIONS, STORAGE_OPTIONS, parseCommand } from './args';
import type { CliIo } from './cli-io';
import { ExitCode, UsageError } from './exit-codes';
import { formatBytes, formatDuration, printable } from './format';
import { registryMailboxes } from './registry-selection';
import { createCliLogger, createCredentials, loadMailboxes, type Credentials } from './setup';
import { hasLocalState, openStorage, storageChoice, type Storage, type StoreChoice } from './storage';
import { AuthObserver, protocolTrace, type AuthOutcome } from './trace';
import { CHECK_USAGE } from './usage';

const CHECK_OPTIONS = { ...MAILBOX_OPTIONS, ...STORAGE_OPTIONS } as const;
/** A check that has not finished in this time is hung: every step has its own timeout as well. */
const CHECK_SESSION_TIMEOUT_MS = 120_000;
const DAY_MS = 86_400_000;

/** What check found out about one mailbox; also its --json line. */
export interface CheckReport {
  readonly mailbox: string;
  readonly host: string;
  readonly port: number;
  readonly tlsMode: TlsMode;
  /** True when the session worked from connect to QUIT (the state lookup aside). */
  ok: boolean;
  /** null: the link is not encrypted (tls "none"), or the session failed before it was known. */
  tls: TlsDetails | null;
  auth: { mechanism: string | null; result: AuthOutcome };
  /** CAPA after login, as the server sent it. */
  capabilities: string[] | null;
  /** What the server announced about itself (RFC 2449 EXPIRE, LOGIN-DELAY; per user after login). */
  policy: { expireDays: number | 'never' | null; loginDelaySeconds: number | null } | null;
  /** Configuration the server overrules (a `keep` retention against EXPIRE 0). */
  warnings: RunWarning[];
  /** When scheduled runs log in next, as the last run recorded the server's LOGIN-DELAY (ISO). */
  nextLoginAt: string | null;
  messages: number | null;
  /** Octets, from STAT. */
  size: number | null;
  /** UIDL minus recorded; null when unknown (see newNote). */
  new: number | null;
  newNote: string | null;
  /** Connect to login, in ms. */
  loginMs: number | null;
  error: RunError | null;
  /** Reading the state failed (the POP3 side may still be fine). */
  stateError: RunError | null;
}

export async function checkCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const values = parseCommand('check', argv, CHECK_OPTIONS);
  if (values.help) {
    io.stdout.write(CHECK_USAGE);
    return ExitCode.OK;
  }
  if (values['create-missing']) throw new UsageError('check is read-only: --create-missing does not apply', 'check');
  // The same default as fetch (./.mailfetch), read only: check and fetch agree on what is new.
  const choice = storageChoice(values, io.env, io.cwd, 'check');
  // Without --config, the mailboxes come from the registry of the store (as for fetch).
  const fromRegistry = values.config === undefined;
  const fromFile = fromRegistry ? undefined : await loadMailboxes(values.config, values.mailbox, io, 'check');
  const state = await openStateView(choice);
  const credentials = createCredentials(io, state.sealed);
  let failed = false;
  try {
    const mailboxes = fromFile ?? (await registryMailboxes(registryOf(state), values.mailbox, 'check', { allowDisabled: true }));
    for (const mailbox of mailboxes) {
      const log = createCliLogger(io, values.verbose, { mailbox: mailbox.id }, values.json);
      const report = await checkMailbox(mailbox, { credentials, state, log, verbose: values.verbose === true });
      failed ||= !report.ok || report.stateError !== null;
      io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : checkText(report));
    }
  } finally {
    await state.close();
  }
  return failed ? ExitCode.MAILBOX_FAILED : ExitCode.OK;
}

export interface CheckDeps {
  readonly credentials: Credentials;
  readonly state: StateView;
  readonly log: Logger;
  readonly verbose: boolean;
}

export async function checkMailbox(mailbox: MailboxConfig, deps: CheckDeps): Promise<CheckReport> {
  const report: CheckReport = {
    mailbox: mailbox.id,
    host: mailbox.host,
    port: mailbox.port,
    tlsMode: mailbox.tls,
    ok: false,
    tls: null,
    auth: { mechanism: null, result: 'not attempted' },
    capabilities: null,
    policy: null,
    warnings: [],
    nextLoginAt: null,
    messages: null,
    size: null,
    new: null,
    newNote: null,
    loginMs: null,
    error: null,
    stateError: null,
  };
  const auth = new AuthObserver();
  const debug = deps.verbose ? protocolTrace(deps.log) : undefined;
  const trace = (event: Parameters<AuthObserver['onTrace']>[0]): void => {
    auth.onTrace(event);
    debug?.(event);
  };
  const open = createSessionOpener({ secrets: deps.credentials.secrets, oauth: deps.credentials.oauth, engine: { trace } });
  const started = Date.now();
  let client: Pop3Client | undefined;
  try {
    client = await open(mailbox, AbortSignal.timeout(CHECK_SESSION_TIMEOUT_MS));
    report.loginMs = Date.now() - started;
    report.tls = client.tls ?? null;
    report.capabilities = [...(client.capabilities?.lines ?? [])];
    notePolicy(report, mailbox, client);
    const stat = await client.stat();
    report.messages = stat.count;
    report.size = stat.size;
    const listing = await uidlOrNothing(client);
    await client.quit();
    report.ok = true;
    await countNew(report, mailbox.id, listing, deps.state);
  } catch (err) {
    report.error = toRunError(err);
    deps.log.info('check failed', { error: err });
  } finally {
    client?.close();
    report.auth = { mechanism: auth.mechanism ?? null, result: auth.outcome };
  }
  report.nextLoginAt = await recordedNextLogin(mailbox.id, deps.state);
  return report;
}

function notePolicy(report: CheckReport, mailbox: MailboxConfig, client: Pop3Client): void {
  const policy = client.serverPolicy;
  report.policy = { expireDays: policy.expireDays ?? null, loginDelaySeconds: policy.loginDelaySeconds ?? null };
  const conflict = retentionConflict(mailbox.retention, policy);
  if (conflict) report.warnings.push(conflict);
}

/** The registry's record of the server's login delay, while it has not passed; null otherwise (or unreadable). */
async function recordedNextLogin(mailboxId: string, state: StateView): Promise<string | null> {
  try {
    const next = (await state.registry?.get(mailboxId))?.health.nextLoginAt;
    return next !== undefined && Date.parse(next) > Date.now() ? next : null;
  } catch {
    return null; // health is bookkeeping: the check's own findings stand
  }
}

/** UIDL, or undefined when the server has none (-ERR). */
async function uidlOrNothing(client: Pop3Client): Promise<UidlListing | undefined> {
  try {
    return await client.uidl();
  } catch (err) {
    if (err instanceof Pop3Error && err.code === Pop3ErrorCode.SERVER_ERROR) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// The state, read-only

/** Read access to the state table, or the reason there is none. */
export interface StateView {
  /** The store, or undefined with `reason`. */
  readonly store: StateStore | undefined;
  /** Why there is no store: then nothing is recorded (`nothingRecorded`) or new is unknown. */
  readonly reason: string | undefined;
  readonly nothingRecorded: boolean;
  /** The registry in the same table, when there is a store. */
  readonly registry?: MailboxRegistry;
  /** Opens credentials sealed in the registry, when there is a store. */
  readonly sealed?: SealedCredentialStore;
  /** Embedded storage: a missing table means nothing was fetched into this directory yet. */
  readonly local: boolean;
  close(): Promise<void>;
}

async function openStateView(choice: StoreChoice): Promise<StateView> {
  const none = (reason: string, nothingRecorded: boolean): StateView => ({ store: undefined, reason, nothingRecorded, local: choice.kind === 'local', close: async () => {} });
  // Starting the embedded servers on an empty directory would only create it.
  if (choice.kind === 'local' && !hasLocalState(choice.dir)) return none(`nothing recorded yet under ${choice.dir}`, true);
  const storage = await openStorage(choice, { readOnly: true });
  return { ...stateViewOf(storage), close: () => storage.close() };
}

/** The registry of the state view; a directory where nothing was stored yet has none. */
function registryOf(state: StateView): MailboxRegistry {
  if (state.registry !== undefined) return state.registry;
  throw new UsageError(`no registry: ${state.reason ?? 'no state store'}; give --config FILE, or add mailboxes with 'mailfetch mailboxes add'`, 'check');
}

/** A view of open storage; closing the view leaves the storage open. */
export function stateViewOf(storage: Storage): StateView {
  return {
    store: storage.state,
    registry: storage.registry,
    sealed: storage.sealed,
    reason: undefined,
    nothingRecorded: false,
    local: storage.localDir !== undefined,
    close: async () => {},
  };
}

/**
 * New = listed UIDLs without a record, found the way a fetch plans: when the listing
 * still starts with the part the last run settled, only the rest is looked up. UIDLs that
 * several messages share count once (a fetch tells them apart by their headers).
 */
async function countNew(report: CheckReport, mailboxId: string, listing: UidlListing | undefined, state: StateView): Promise<void> {
  if (listing === undefined) {
    report.newNote = 'the server has no UIDL: a fetch tells messages apart by their headers';
    return;
  }
  const ids = listing.entries.map((e) => e.uid);
  if (state.store === undefined) {
    report.new = state.nothingRecorded ? new Set(ids).size : null;
    report.newNote = state.reason ?? null;
    return;
  }
  try {
    const prefix = settledPrefix(ids, await state.store.getSummary(mailboxId)) ?? 0;
    const candidates = [...new Set(ids.slice(prefix))];
    const records = await state.store.getRecords(mailboxId, candidates);
    report.new = candidates.filter((uid) => !records.has(uid)).length;
    if (listing.invalid.length > 0) report.newNote = `${listing.invalid.length} more with an unusable UIDL (not tracked)`;
  } catch (err) {
    if (state.local && isStateStoreError(err) && /ResourceNotFoundException/.test(err.message)) {
      report.new = new Set(ids).size;
      report.newNote = 'nothing recorded yet';
      return;
    }
    report.stateError = toRunError(err);
    report.newNote = 'unknown: the state could not be read';
  }
}

// ---------------------------------------------------------------------------------------
// Text output

export function checkText(r: CheckReport): string {
  const lines = [`${r.mailbox}  ${r.host}:${r.port}, tls ${r.tlsMode}`];
  const row = (label: string, value: string): void => void lines.push(`  ${label.padEnd(13)}${value}`);
  if (r.tls) {
    row('tls', `${r.tls.protocol ?? 'unknown protocol'}, ${r.tls.cipher}`);
    row('certificate', printable(r.tls.subject ?? '(none)'));
    row('  issuer', printable(r.tls.issuer ?? '(none)'));
    row('  expires', r.tls.validTo ? `${printable(r.tls.validTo)}${daysLeft(r.tls.validTo)}` : '(unknown)');
    row('  verified', r.tls.authorized ? 'yes' : `no${r.tls.authorizationError ? ` (${printable(r.tls.authorizationError)})` : ''}`);
  } else if (r.loginMs !== null) {
    row('tls', 'none: this connection is not encrypted (allowPlaintextAuth is set)');
  }
  if (r.auth.mechanism !== null) row('login', `${r.auth.mechanism}: ${r.auth.result}${r.loginMs !== null ? ` (${formatDuration(r.loginMs)} from connect)` : ''}`);
  else if (r.error) row('login', 'not attempted');
  if (r.capabilities) row('capabilities', r.capabilities.length > 0 ? printable(r.capabilities.join(', ')) : '(none: the server does not support CAPA)');
  if (r.policy) for (const line of policyLines(r.policy)) row('policy', line);
  if (r.nextLoginAt !== null) row('next login', `${r.nextLoginAt}: scheduled runs wait for the server's LOGIN-DELAY (this check's login counts too)`);
  for (const w of r.warnings) row('warning', `${w.code}: ${printable(w.message)}`);
  if (r.messages !== null) row('messages', `${r.messages} (${formatBytes(r.size ?? 0)})`);
  if (r.ok) row('new', r.new === null ? `unknown (${r.newNote ?? 'no state'})` : `${r.new}${r.newNote ? ` (${r.newNote})` : ''}`);
  if (r.stateError) row('state error', `${r.stateError.code}: ${printable(r.stateError.message)}`);
  if (r.error) row('error', `${r.error.code}: ${printable(r.error.message)}`);
  row('result', r.ok && !r.stateError ? 'ok' : 'FAILED');
  return `${lines.join('\n')}\n`;
}

/** The server's announced policy in words; nothing when it announced none. */
function policyLines(policy: NonNullable<CheckReport['policy']>): string[] {
  const lines: string[] = [];
  const days = policy.expireDays;
  if (days === 0) lines.push('EXPIRE 0: every message a session reads (RETR or TOP) is deleted when it ends; runs QUIT only once all of them are stored');
  else if (days === 'never') lines.push('EXPIRE NEVER: mail read stays on the server');
  else if (days !== null) lines.push(`EXPIRE ${days}: mail read may be deleted ${days} day${days === 1 ? '' : 's'} later`);
  if (policy.loginDelaySeconds !== null && policy.loginDelaySeconds > 0) lines.push(`LOGIN-DELAY ${policy.loginDelaySeconds} s: scheduled runs are no more frequent than that`);
  return lines;
}

function daysLeft(validTo: string): string {
  const expires = Date.parse(validTo);
  if (Number.isNaN(expires)) return '';
  const days = Math.floor((expires - Date.now()) / DAY_MS);
  return days < 0 ? ' (EXPIRED)' : ` (in ${days} days)`;
}
