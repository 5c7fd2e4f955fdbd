/**
 * The invariants, as pure functions of what the fake server knows (its ground truth),
 * what the bucket holds and what the state table says:
 *
 * - safety, after every step: nothing left the server by our doing (removed by our DELE
 *   and QUIT, hidden by Gmail at our QUIT) unless its exact bytes are in the bucket; no
 *   message in two objects; every object is exactly a delivered message; every `stored`
 *   record names an object with its digest;
 * - at every commit (the fake's onCommit, synchronous, against the AwsPlan mirrors): what
 *   the QUIT is about to remove or hide is stored byte-exact and recorded;
 * - at the end, after the clean runs: every object has a `stored` record, and every
 *   message the other client did not take away is stored, or skipped (too large, or
 *   incomplete on a bare-LF server) and still on the server.
 *
 * Two deliveries of identical bytes are one content: it may have up to that many objects.
 */
import type { FakeCommitEvent, FakeMailRecord } from '../../fixtures/fake-pop3-server';
import type { MessageRecord } from '../../../lambda/state/state-store';
import { sha256, type AwsPlan } from './aws-plan';
import type { SequenceConfig, Violation } from './types';

export interface WorldView {
  readonly truth: readonly FakeMailRecord[];
  /** Object key -> bytes. */
  readonly objects: ReadonlyMap<string, Buffer>;
  readonly records: readonly MessageRecord[];
}

/** Estimated LIST sizes are off by up to 10%: a message this much under the limit may be listed over it. */
const TOO_LARGE_SLACK = 0.85;
/** estimated-sizes: LIST sizes within ±10% of the exact size. */
const SIZE_ESTIMATE_ERROR = 0.1;

export function describeMessage(r: FakeMailRecord): string {
  const where = r.removed ? `removed by ${r.removed.by}` : r.hidden ? `hidden by ${r.hidden.by}` : 'on the server';
  return `server message ${r.id} (uid ${r.uid}, ${r.bytes.length} octets, ${where})`;
}

function ourDoing(r: FakeMailRecord): string | undefined {
  if (r.removed?.by === 'pop3') return `removed by our DELE+QUIT (session ${r.removed.session})`;
  if (r.hidden && r.hidden.by !== 'other-client') return `hidden by ${r.hidden.by} at our QUIT (session ${r.hidden.session})`;
  return undefined;
}

function takenByOtherClient(r: FakeMailRecord): boolean {
  return r.removed?.by === 'other-client' || r.hidden?.by === 'other-client';
}

function digestsOf(objects: ReadonlyMap<string, Buffer>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, bytes] of objects) {
    const d = sha256(bytes);
    out.set(d, [...(out.get(d) ?? []), key]);
  }
  return out;
}

export function checkSafety(view: WorldView, at: string): Violation[] {
  const out: Violation[] = [];
  const v = (invariant: Violation['invariant'], detail: string, about: Pick<Violation, 'message' | 'keys'> = {}): void => void out.push({ invariant, at, detail, ...about });
  const stored = digestsOf(view.objects);
  const deliveries = new Map<string, FakeMailRecord[]>();
  for (const r of view.truth) deliveries.set(sha256(r.bytes), [...(deliveries.get(sha256(r.bytes)) ?? []), r]);

  for (const r of view.truth) {
    const how = ourDoing(r);
    if (how && !stored.has(sha256(r.bytes))) v('lost', `${describeMessage(r)} left the server (${how}) and no object holds its bytes`, { message: r.id });
  }
  for (const [digest, keys] of stored) {
    const mails = deliveries.get(digest);
    if (!mails) {
      const bytes = view.objects.get(keys[0]!)!;
      const prefixOf = view.truth.find((r) => r.bytes.length > bytes.length && r.bytes.subarray(0, bytes.length).equals(bytes));
      v('foreign-object', `object ${keys.join(', ')} (${bytes.length} octets) is no delivered message${prefixOf ? `: a truncation of ${describeMessage(prefixOf)}` : ''}`, { keys });
    } else if (keys.length > mails.length) {
      v('duplicate-object', `${mails.map(describeMessage).join(' and ')} (one content, ${mails.length} deliveries) stored in ${keys.length} objects: ${keys.join(', ')}`, { keys, message: mails[0]!.id });
    }
  }
  for (const rec of view.records) {
    if (rec.status !== 'stored') continue;
    const bytes = rec.objectKey === undefined ? undefined : view.objects.get(rec.objectKey);
    const keys = rec.objectKey === undefined ? [] : [rec.objectKey];
    if (!bytes) v('record-mismatch', `stored record ${JSON.stringify(rec.identity)} names object ${rec.objectKey}, which does not exist`, { keys });
    else if (sha256(bytes) !== rec.sha256 || bytes.length !== rec.size) v('record-mismatch', `stored record ${JSON.stringify(rec.identity)} does not match its object ${rec.objectKey}`, { keys });
  }
  return out;
}

/** At a QUIT, before its deletions and hidings take effect (the fake's onCommit). */
export function checkCommit(event: FakeCommitEvent, plan: AwsPlan, at: string): Violation[] {
  if (event.cause !== 'quit') return [];
  const out: Violation[] = [];
  const stored = plan.storedDigests();
  const recorded = plan.recordedDigests();
  const leaving = [...event.removed.map((r) => [r, 'remove'] as const), ...event.hidden.map((r) => [r, 'hide'] as const)];
  for (const [r, what] of leaving) {
    const d = sha256(r.bytes);
    const msg = `the QUIT of session ${event.session} is about to ${what} ${describeMessage(r)}`;
    if (!stored.has(d)) out.push({ invariant: 'lost-at-commit', at, detail: `${msg}, whose bytes are in no object`, message: r.id });
    else if (!recorded.has(d)) out.push({ invariant: 'unrecorded-at-commit', at, detail: `${msg}, stored but without a stored record`, message: r.id });
  }
  return out;
}

/** After the clean runs. */
export function checkFinal(view: WorldView, config: SequenceConfig, at: string): Violation[] {
  const out: Violation[] = [];
  const stored = digestsOf(view.objects);
  const recordedKeys = new Set(view.records.filter((r) => r.status === 'stored').map((r) => r.objectKey));
  for (const [digest, keys] of stored) {
    const mails = view.truth.filter((r) => sha256(r.bytes) === digest);
    // A crash between store and record, then the other client took the message: the object
    // stays (it is the message's exact bytes), and no run can record it. As many such
    // objects as deliveries of this content the other client took.
    let excused = mails.filter(takenByOtherClient).length;
    for (const key of keys) {
      if (recordedKeys.has(key) || excused-- > 0) continue;
      out.push({ invariant: 'orphan-object', at, detail: `object ${key} has no stored record (it holds ${mails.map(describeMessage).join(', ')})`, keys: [key, ...keys.filter((k) => k !== key)] });
    }
  }
  for (const r of view.truth) {
    if (takenByOtherClient(r) || stored.has(sha256(r.bytes))) continue;
    const onServer = !r.removed && !r.hidden;
    const skips = view.records.filter((rec) => rec.status === 'skipped' && rec.uid === r.uid);
    if (onServer && skips.some((rec) => plausibleSkip(r, rec, config))) continue;
    const skip = skips.length > 0;
    const recs = view.records.filter((rec) => rec.uid === r.uid).map((rec) => `${JSON.stringify(rec.identity)}:${rec.status}${rec.skipReason ? `/${rec.skipReason}` : ''}`);
    out.push({ invariant: 'liveness', at, message: r.id, detail: `${describeMessage(r)} was never stored${skip ? ' (a skip record of its UIDL does not fit it)' : ''}; records of its UIDL: [${recs.join(', ')}]` });
  }
  return out;
}

/**
 * Whether the worker may refuse the message as MESSAGE_INCOMPLETE (README, "Bare-LF
 * servers"): a "." that follows a bare LF is trusted (as a terminator, or as stuffing)
 * only when LIST's octets arrived; a CRLF-only server sends it unstuffed, and a server
 * that estimates sizes may announce more than it sends.
 */
export function mayBeIncomplete(r: FakeMailRecord, config: SequenceConfig): boolean {
  return r.bytes.includes('\n.') && (config.profiles.includes('bare-lf') || config.profiles.includes('estimated-sizes'));
}

/** The skip record may be this message's: its LIST size fits (estimates are within 10%), and so does the reason. */
function plausibleSkip(r: FakeMailRecord, rec: MessageRecord, config: SequenceConfig): boolean {
  if (Math.abs(rec.size - r.bytes.length) > r.bytes.length * SIZE_ESTIMATE_ERROR + 1) return false;
  if (rec.skipReason === 'too-large') return r.bytes.length > config.maxMessageBytes * TOO_LARGE_SLACK;
  if (rec.skipReason === 'incomplete') return mayBeIncomplete(r, config);
  return false;
}
