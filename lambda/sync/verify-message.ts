import { createHash } from 'node:crypto';
import type { Pop3Client } from '../pop3';
import type { MessageRecord } from '../state/state-store';
import { tryTopFingerprint, type ListedMessage } from './identities';
import type { RetrievalLedger } from './retrieval-ledger';

/** SHA-256 (hex) of message `m` as the server sends it now (to prove a copy identical). */
export async function contentHash(client: Pop3Client, m: ListedMessage, ledger: RetrievalLedger, maxOctets: number): Promise<string> {
  const hash = createHash('sha256');
  const stream = await ledger.track(m.number, m.uid, client.retr(m.number, { expectedOctets: m.size, maxOctets }));
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Whether message `m` of this session is the message `rec` describes, checked right before
 * a DELE of mail stored in an earlier session: its UIDL may have been recycled, or be
 * shared with another message (popa3d), and a DELE to the wrong number loses that one.
 * The LIST size must match, then the header fingerprint (TOP); when the UIDL is shared or
 * TOP is missing, the content itself (SHA-256 of a RETR) must match.
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
    if (!o.sharedUid) return true;
  }
  if (m.size > o.maxOctets) return false;
  const same = (await contentHash(client, m, o.ledger, o.maxOctets)) === rec.sha256;
  if (same) o.ledger.stored(m.number);
  return same;
}
