import type { Pop3Client } from '../pop3';
import type { MessageRecord } from '../state/state-store';
import { MessageDigest, sameContent, type DigestResult } from '../storage/message-digest';
import { isFingerprintIdentity, tryTopFingerprint, type ListedMessage } from './identities';
import type { RetrievalLedger } from './retrieval-ledger';

/** Digest of message `m` as the server sends it now (to prove a copy identical, or tell it apart). */
export async function contentDigest(client: Pop3Client, m: ListedMessage, ledger: RetrievalLedger, maxOctets: number): Promise<DigestResult> {
  const digest = new MessageDigest();
  const stream = await ledger.track(m.number, m.uid, client.retr(m.number, { expectedOctets: m.size, maxOctets }));
  for await (const chunk of stream) digest.update(chunk as Buffer);
  return digest.result();
}

/**
 * Whether message `m` of this session is the message `rec` describes, checked right before
 * a DELE of mail stored in an earlier session: its UIDL may have been recycled, or be
 * shared with another message (popa3d), and a DELE to the wrong number loses that one.
 * The LIST size must match, then the header fingerprint (TOP). The content itself (a RETR)
 * must match as well when headers alone cannot tell messages apart: the UIDL is shared, the
 * record is under a derived identity (its messages were told apart by more than the UIDL),
 * or TOP is missing.
 */
export async function holdsRecordedMessage(
  client: Pop3Client,
  m: ListedMessage,
  rec: MessageRecord,
  o: { sharedUid: boolean; ledger: RetrievalLedger; maxOctets: number },
): Promise<boolean> {
  if (rec.status !== 'stored' || rec.sha256 === undefined) return false;
  if (rec.listSize !== undefined && rec.listSize !== m.size) return false;
  const fp = rec.headerFingerprint === undefined ? undefined : await tryTopFingerprint(client, m.number);
  if (fp !== undefined) {
    if (fp !== rec.headerFingerprint) return false;
    if (!o.sharedUid && !isFingerprintIdentity(rec.identity)) return true;
  }
  if (m.size > o.maxOctets) return false;
  const same = sameContent(await contentDigest(client, m, o.ledger, o.maxOctets), rec);
  if (same) o.ledger.stored(m.number);
  return same;
}
