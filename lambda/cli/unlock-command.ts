/**
 * `mailfetch unlock`: frees a mailbox's run lease whose holder is gone (a fetch killed with
 * SIGKILL, a machine that went down), which otherwise keeps every run `busy` until it
 * expires. Only the lease goes; records and summary stay (unlike reset). A holder that may
 * still run is left alone unless --force says otherwise: two runs at once on one mailbox
 * are what the lease exists to prevent.
 */
import { hostname } from 'node:os';
import type { Lease } from '../state/state-store';
import { MAILBOX_OPTIONS, STORAGE_OPTIONS, parseCommand } from './args';
import type { CliIo } from './cli-io';
import { ExitCode, UsageError } from './exit-codes';
import { registryMailboxes } from './registry-selection';
import { createCliLogger, loadMailboxes } from './setup';
import { openStorage, storageChoice } from './storage';
import { UNLOCK_USAGE } from './usage';

const UNLOCK_OPTIONS = { ...MAILBOX_OPTIONS, ...STORAGE_OPTIONS, force: { type: 'boolean' } } as const;

export async function unlockCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const values = parseCommand('unlock', argv, UNLOCK_OPTIONS);
  if (values.help) {
    io.stdout.write(UNLOCK_USAGE);
    return ExitCode.OK;
  }
  const ids = values.mailbox ?? [];
  if (ids.length !== 1) throw new UsageError('unlock needs exactly one --mailbox ID', 'unlock');
  const [id] = ids as [string];
  const choice = storageChoice(values, io.env, io.cwd, 'unlock');
  if (values.config !== undefined) await loadMailboxes(values.config, ids, io, 'unlock');
  const log = createCliLogger(io, values.verbose, { mailbox: id }, values.json);
  const storage = await openStorage(choice, { readOnly: false });
  try {
    if (values.config === undefined) await registryMailboxes(storage.registry, ids, 'unlock', { allowDisabled: true });
    const lease = await storage.state.getLease(id);
    if (lease === undefined) return report(io, values.json, { mailbox: id, released: false }, `${id}: not locked; nothing to do.`);
    const why = releasable(lease, Date.now());
    if (!why.ok && !values.force) throw new UsageError(`${id} is held by ${heldBy(lease)}; ${why.reason}`, 'unlock');
    await storage.state.releaseLease(id, lease.owner);
    const after = await storage.state.getLease(id);
    // Released under the owner it was read with: a run that took it meanwhile keeps it.
    if (after?.owner === lease.owner) throw new Error(`${id}: the lease of ${heldBy(lease)} is still there after the release`);
    log.info('lease released', { owner: lease.owner, holder: lease.holder?.description, forced: !why.ok });
    const text = `${id}: released the lease of ${heldBy(lease)} (${why.ok ? why.reason : 'forced'}).` + (after ? `\nA new run has taken it since: ${heldBy(after)}.` : '');
    return report(io, values.json, { mailbox: id, released: true, owner: lease.owner, holder: lease.holder?.description ?? null, forced: !why.ok }, text);
  } finally {
    await storage.close();
  }
}

/** Whether the lease may go without --force, and why (or why not). */
export function releasable(lease: Lease, nowMs: number, thisHost: string = hostname()): { ok: boolean; reason: string } {
  const until = new Date(lease.expiresAtMs).toISOString();
  if (lease.expiresAtMs < nowMs) return { ok: true, reason: `it expired at ${until}` };
  const { host, pid } = lease.holder ?? {};
  if (host !== thisHost || pid === undefined) {
    const where = lease.holder === undefined ? 'the lease does not say who holds it' : host === undefined ? 'it does not run on this host' : `it runs on ${host}`;
    return { ok: false, reason: `${where}, so whether that run is gone cannot be told from here. If you are sure it is, add --force; otherwise it expires by itself at ${until}` };
  }
  if (pid !== process.pid && processRuns(pid)) {
    return { ok: false, reason: `process ${pid} still runs on this host: stop it (Ctrl-C releases the lease), or add --force if that pid is another program by now` };
  }
  return { ok: true, reason: `process ${pid} no longer runs on this host` };
}

/** `kill -0`: EPERM means it exists (someone else's). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function heldBy(lease: Lease): string {
  return `${lease.holder?.description ?? `run ${lease.owner}`} until ${new Date(lease.expiresAtMs).toISOString()}`;
}

function report(io: CliIo, json: boolean | undefined, line: Record<string, unknown>, text: string): ExitCode {
  io.stdout.write(json ? `${JSON.stringify(line)}\n` : `${text}\n`);
  return ExitCode.OK;
}
