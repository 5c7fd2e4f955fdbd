import type { MailboxSummary, StateStore } from '../state/state-store';

/**
 * A session's state that does not send a summary equal to the one the item already holds:
 * an idle run (nothing new, nothing deleted) would otherwise rewrite the same summary with
 * a new `updatedAt`, one write unit per check for nothing (10,000 mailboxes polled every 5
 * minutes: 86 million writes a month, see docs/cost.md).
 *
 * "What the item holds" is what this session last read (getSummary, a strongly consistent
 * read under the run's lease) or wrote: every summary write of the session goes through
 * here, so a summary written in between (the unconfirmed-deletions marker before QUIT, the
 * audit note, the fingerprint flag) is what the final summary is compared with. A write
 * that fails forgets it: the item is then unknown, and the next write is sent.
 * `updatedAt` alone does not count as a change: nothing reads it but people.
 */
export function skipUnchangedSummary(state: StateStore): StateStore {
  const held = new Map<string, MailboxSummary | undefined>();
  const getSummary = async (mailboxId: string): Promise<MailboxSummary | undefined> => {
    const summary = await state.getSummary(mailboxId);
    held.set(mailboxId, summary);
    return summary;
  };
  const putSummary = async (mailboxId: string, summary: MailboxSummary): Promise<void> => {
    const current = held.get(mailboxId);
    if (current !== undefined && sameSummary(current, summary)) return;
    held.delete(mailboxId);
    await state.putSummary(mailboxId, summary);
    held.set(mailboxId, summary);
  };
  return new Proxy(state, {
    get(target, prop, receiver) {
      if (prop === 'getSummary') return getSummary;
      if (prop === 'putSummary') return putSummary;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Equal but for `updatedAt` (absent flags count as false / none). */
export function sameSummary(a: MailboxSummary, b: MailboxSummary): boolean {
  return (
    a.count === b.count &&
    a.listingHash === b.listingHash &&
    (a.fingerprintIdentities === true) === (b.fingerprintIdentities === true) &&
    (a.lastFingerprint ?? '') === (b.lastFingerprint ?? '') &&
    (a.auditedAt ?? '') === (b.auditedAt ?? '')
  );
}
