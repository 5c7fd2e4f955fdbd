import type { Pop3Client } from '../pop3';
import type { MessageRecord } from '../state/state-store';
import { MessageDigest, sameContent, type DigestResult } from '../storage/message-digest';
import { tryTopFingerprint, type ListedMessage } from './identities';
import { retrCapOctets } from './fetch-messages';
import type { RetrievalLedger } from './retrieval-ledger';

/**
 * Digest of message `m` as the server sends it now (to prove a copy identical, or tell it
 * apart), read under the fetch cap for a mailbox limit of `maxMessageBytes`.
 */
export async function contentDigest(client: Pop3Client, m: ListedMessage, ledger: RetrievalLedger, maxMessageBytes: number): Promise<DigestResult> {
  const digest = new MessageDigest();
  const stream = await ledger.track(m.number, m.uid, client.retr(m.number, { expectedOctets: m.size, maxOctets: retrCapOctets(maxMessageBytes) }));
  for await (const chunk of stream) digest.update(chunk as Buffer);
  return digest.result();
}

/** What a check before a deferred DELE found at a message number. */
export type Holding =
  /** Proven by content to be the recorded message: it may be deleted. */
  | { readonly kind: 'recorded' }
  /** Another message (other headers or other content); `digest` when its content was read. */
  | { readonly kind: 'other'; readonly digest?: DigestResult }
  /** Cannot be proven either way now (another LIST size, too large to read, not stored). */
  | { readonly kind: 'unproven'; readonly reason: string };

/**
 * Whether message `m` of this session is the message `rec` describes, checked right before
 * a DELE of mail stored in an earlier session. Its UIDL may have been recycled, or be
 * shared with another message (popa3d), and a message with the same UIDL, size and header
 * block can still be another message: a DELE to it would lose it. So the content decides
 * (one RETR per deferred deletion); TOP first spares that RETR when the headers differ.
 */
export async function holdsRecordedMessage(
  client: Pop3Client,
  m: ListedMessage,
  rec: MessageRecord,
  o: { ledger: RetrievalLedger; maxOctets: number },
): Promise<Holding> {
  if (rec.status !== 'stored' || rec.sha256 === undefined) return { kind: 'unproven', reason: 'not stored' };
  // A size change is settled by the plan (the content is compared, then the size noted).
  if (rec.listSize !== undefined && rec.listSize !== m.size) return { kind: 'unproven', reason: 'size changed' };
  const fp = rec.headerFingerprint === undefined ? undefined : await tryTopFingerprint(client, m.number);
  if (fp !== undefined && fp !== rec.headerFingerprint) return { kind: 'other' };
  if (m.size > o.maxOctets) return { kind: 'unproven', reason: 'too large to compare' };
  const digest = await contentDigest(client, m, o.ledger, o.maxOctets);
  if (!sameContent(digest, rec)) return { kind: 'other', digest };
  o.ledger.stored(m.number);
  return { kind: 'recorded' };
}
