/**
 * One queue message: its mailboxes run a few at a time within the invocation (they mostly
 * wait on the network), each only with a session slot on its host. What becomes of each:
 *
 * - `ran`: loaded from the registry, run, health recorded (by the caller's runOne).
 * - `superseded`: it ran after the slot this message serves (`dueAt`): a duplicate or a
 *   catch-up already served. Nothing to do.
 * - `not-due`: its server's LOGIN-DELAY, as its last run recorded it, has not passed: the
 *   dispatcher runs it when it has (a run queued before that run ended). No failure.
 * - `refused`: no longer registered or disabled: dropped, as the worker always has.
 * - `deferred`: its host is at its cap, or the invocation is out of time: runs later.
 *
 * A lane (one of `runConcurrency`) keeps its host slot from one mailbox to the next on the
 * same host, so a message of one host's mailboxes takes and frees a slot per lane, not per run.
 * - `failed`: the registry or the slot table failed: the whole message is retried.
 */
import type { MailboxConfig } from '../config/mailbox-config';
import type { WorkerEvent } from '../handlers/worker-event';
import type { HostSlotLease, HostSlots } from '../hosts/host-slots';
import type { Logger } from '../observability/logger';
import { isRegistryError } from '../registry/errors';
import type { MailboxRegistry, RunAction } from '../registry/mailbox-registry';
import { runnableMailbox } from '../registry/runnable-mailbox';

export type MailboxDisposition = 'ran' | 'superseded' | 'not-due' | 'refused' | 'deferred' | 'failed';

/** After its slot lease expires a crashed worker's slot is free again: its deadline plus this. */
export const SLOT_LEASE_GRACE_MS = 5_000;
/** A run that cannot get this much time before the safety margin is deferred instead. */
export const MIN_RUN_MS = 10_000;

export interface RunMessageDeps {
  readonly registry: MailboxRegistry;
  readonly hostSlots: HostSlots;
  /** Sessions at once within one invocation. */
  readonly runConcurrency: number;
  readonly safetyMarginMs: number;
  readonly now: () => number;
  /** Runs one mailbox to the end (summary, metrics, health). */
  readonly run: (config: MailboxConfig, action: RunAction, deadline: number, log: Logger) => Promise<unknown>;
  readonly logFor: (mailboxId: string) => Logger;
  /** Who holds the slots: unique per invocation and mailbox. */
  readonly owner: string;
}

export async function runMessage(event: WorkerEvent, deadline: number, deps: RunMessageDeps): Promise<Map<string, MailboxDisposition>> {
  const outcome = new Map<string, MailboxDisposition>();
  const ids = [...event.mailboxIds];
  // Each lane keeps its host slot for the next mailbox on the same host (the dispatcher
  // packs a host's mailboxes together): one slot take and release for several runs.
  const lane = async (): Promise<void> => {
    const held: HeldSlot = {};
    try {
      for (let id = ids.shift(); id !== undefined; id = ids.shift()) outcome.set(id, await runOneOf(id, event, deadline, deps, held));
    } finally {
      await releaseHeld(held, deps);
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.runConcurrency, ids.length) }, lane));
  return outcome;
}

/** The slot a lane holds between runs. */
interface HeldSlot {
  lease?: HostSlotLease;
}

/** Keeps the lane's slot when it is on `host`; else frees it and takes one there. False: the host is full. */
async function holdSlotFor(host: string, id: string, deadline: number, deps: RunMessageDeps, held: HeldSlot): Promise<boolean> {
  if (held.lease !== undefined && held.lease.host.toLowerCase() === host.toLowerCase()) return true;
  await releaseHeld(held, deps);
  const lease = await deps.hostSlots.acquire(host, `${deps.owner}/${id}`, deps.now(), deadline + SLOT_LEASE_GRACE_MS);
  if (lease === undefined) return false;
  held.lease = lease;
  return true;
}

/** Frees the lane's slot; a failure is only logged: the lease expires by itself. */
async function releaseHeld(held: HeldSlot, deps: RunMessageDeps): Promise<void> {
  const lease = held.lease;
  delete held.lease;
  if (lease === undefined) return;
  try {
    await deps.hostSlots.release(lease);
  } catch (err) {
    deps.logFor(lease.owner).warn('host session slot not released (it expires)', { error: err });
  }
}

async function runOneOf(id: string, event: WorkerEvent, deadline: number, deps: RunMessageDeps, held: HeldSlot): Promise<MailboxDisposition> {
  const log = deps.logFor(id);
  if (deadline - deps.now() < deps.safetyMarginMs + MIN_RUN_MS) return 'deferred';
  let config: MailboxConfig;
  try {
    const mailbox = await runnableMailbox(deps.registry, id);
    const lastRunAt = Date.parse(mailbox.health.lastRunAt ?? '');
    if (event.dueAtMs !== undefined && lastRunAt >= event.dueAtMs) return 'superseded';
    const nextLoginAt = Date.parse(mailbox.health.nextLoginAt ?? '');
    if (nextLoginAt > deps.now()) {
      log.info('run not due: the server asks for a delay between logins', { nextLoginAt: mailbox.health.nextLoginAt, loginDelaySeconds: mailbox.health.loginDelaySeconds });
      return 'not-due';
    }
    config = mailbox.config;
  } catch (err) {
    if (isRegistryError(err, 'MAILBOX_NOT_REGISTERED') || isRegistryError(err, 'MAILBOX_DISABLED')) {
      log.warn('mailbox refused', { error: err });
      return 'refused';
    }
    log.error('registry read failed', { error: err });
    return 'failed';
  }
  try {
    if (!(await holdSlotFor(config.host, id, deadline, deps, held))) return 'deferred';
  } catch (err) {
    log.error('host session slot not taken', { error: err });
    return 'failed';
  }
  try {
    await deps.run(config, event.action, deadline, log);
    return 'ran';
  } catch (err) {
    log.error('run failed', { error: err });
    return 'failed';
  }
}
