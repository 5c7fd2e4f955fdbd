import type { MailboxConfig, Retention } from '../config/mailbox-config';
import type { ServerPolicy } from '../pop3';
import type { RunWarning } from './run-summary';

/**
 * What the server does, at a QUIT, with the mail a session read: the one decision behind
 * the ordering rule for servers that remove retrieved mail (see run-session.ts).
 */
export interface RetrievalRule {
  /**
   * Messages read with RETR leave the listing at QUIT, DELE or not: Gmail hides them (the
   * mailbox's `hidesRetrievedMail`), a server announcing RFC 2449 `EXPIRE 0` deletes them.
   * Then a stored message still listed (its session ended without QUIT) is retrieved once
   * more and checked, so that a QUIT takes it away, not mail that was never stored.
   */
  readonly removedAtQuit: boolean;
  /**
   * TOP reads a message as much as RETR does (`EXPIRE 0`: GNU mailutils deletes messages
   * read by TOP at QUIT): TOP is used only where an identity cannot do without it, and a
   * message read by TOP counts as retrieved (no QUIT until it is stored).
   */
  readonly topRemoves: boolean;
}

export function retrievalRule(mailbox: Pick<MailboxConfig, 'hidesRetrievedMail'>, policy: ServerPolicy): RetrievalRule {
  const expiresAtQuit = policy.expireDays === 0;
  return { removedAtQuit: mailbox.hidesRetrievedMail === true || expiresAtQuit, topRemoves: expiresAtQuit };
}

/** The server's EXPIRE removes retrieved mail sooner than the mailbox's retention keeps it. */
export const RETENTION_OVERRULED = 'RETENTION_OVERRULED';

/**
 * A retention the server's EXPIRE does not allow: `keep` (or `deleteAfterDays` longer than
 * EXPIRE) against a server that removes mail a client has read. Undefined when they agree.
 */
export function retentionConflict(retention: Retention, policy: ServerPolicy): RunWarning | undefined {
  const days = policy.expireDays;
  if (days === undefined || days === 'never' || retention === 'delete') return undefined;
  if (typeof retention === 'object' && retention.deleteAfterDays <= days) return undefined;
  const wanted = retention === 'keep' ? `retention is "keep"` : `retention is deleteAfterDays ${retention.deleteAfterDays}`;
  const server =
    days === 0
      ? 'the server announces EXPIRE 0: it deletes every message a session read (RETR or TOP) when the session ends, so no fetched message stays on the server'
      : `the server announces EXPIRE ${days}: it may delete a message ${days} day${days === 1 ? '' : 's'} after a session read it`;
  return { code: RETENTION_OVERRULED, message: `${wanted}, but ${server}; the stored copies are complete, only the server's copy goes` };
}
