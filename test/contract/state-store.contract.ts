/**
 * What every StateStore promises (lambda/state/state-store.ts), run against each backend:
 * the run lease (acquire, renew, release, expiry, contention), the summary, conditional
 * record writes (a `stored` record is final, except to a batch of stored records), reads by identity and prefix, deletions,
 * expiry, list sizes and reset. A seeded randomized sequence checks every write against a
 * model of those rules. Backend-specific behaviour (item layout, batching, capacity
 * figures, error mapping) is tested next to each adapter.
 */
import { describe, expect, it } from 'vitest';
import { MAX_STORED_RECORDS_PER_CALL, type MessageRecord, type StateStore } from '../../lambda/state/state-store';
import { Prng } from '../fault/prng';

export interface StateStoreFixture {
  /** A store with no data at all (e.g. on a fresh table). */
  create(): Promise<StateStore>;
}

const MAILBOX = 'acme.support';
const OTHER_MAILBOX = 'acme.support2';
const NOW = '2026-03-01T12:00:00.000Z';
const SECONDS_PER_DAY = 86_400;
/** Runs competing for one lease or one record at once. */
const CONTENDERS = 8;
/** More than one BatchGetItem (100 keys) and one Query page would hold, for backends that batch. */
const MANY_RECORDS = 230;
const MODEL_SEEDS = [1, 2, 3];
const MODEL_STEPS = 40;

function record(identity: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return {
    identity,
    uid: identity,
    status: 'stored',
    objectKey: `messages/${MAILBOX}/${identity}.eml`,
    size: 1234,
    sha256: 'a'.repeat(64),
    firstSeenAt: '2026-01-01T00:00:00.000Z',
    storedAt: '2026-01-01T00:00:01.000Z',
    ...overrides,
  };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

const identitiesOf = (records: readonly MessageRecord[]): string[] => records.map((r) => r.identity).sort();

/** Registers the contract's tests for one backend; `fixture` is called once the caller's beforeAll has run. */
export function stateStoreContract(name: string, fixture: () => StateStoreFixture): void {
  describe(`StateStore contract: ${name}`, () => {
    const fresh = (): Promise<StateStore> => fixture().create();

    describe('lease', () => {
      it('takes a free lease, refuses a second owner, lets the holder renew; leases are per mailbox', async () => {
        const store = await fresh();
        expect(await store.acquireLease(MAILBOX, 'run-a', 1_000, 500)).toBe(true);
        expect(await store.acquireLease(MAILBOX, 'run-b', 1_200, 500)).toBe(false);
        expect(await store.acquireLease(MAILBOX, 'run-a', 1_300, 500)).toBe(true);
        expect(await store.acquireLease(OTHER_MAILBOX, 'run-b', 1_300, 500)).toBe(true);
      });

      it('lets another owner take over an expired lease, not one that expires right now', async () => {
        const store = await fresh();
        expect(await store.acquireLease(MAILBOX, 'run-a', 1_000, 500)).toBe(true);
        expect(await store.acquireLease(MAILBOX, 'run-b', 1_500, 500)).toBe(false);
        expect(await store.acquireLease(MAILBOX, 'run-b', 1_501, 500)).toBe(true);
        expect(await store.acquireLease(MAILBOX, 'run-a', 1_600, 500)).toBe(false);
      });

      it('ignores a release by a non-owner; the owner frees it; releasing no lease is no error', async () => {
        const store = await fresh();
        await store.acquireLease(MAILBOX, 'run-a', 1_000, 60_000);
        await store.releaseLease(MAILBOX, 'run-b');
        expect(await store.acquireLease(MAILBOX, 'run-c', 2_000, 60_000)).toBe(false);
        await store.releaseLease(MAILBOX, 'run-a');
        expect(await store.acquireLease(MAILBOX, 'run-c', 2_000, 60_000)).toBe(true);
        await store.releaseLease(OTHER_MAILBOX, 'run-a');
      });

      it(`gives a contended lease to exactly one of ${CONTENDERS} runs at once, free or expired`, async () => {
        const store = await fresh();
        const race = (nowMs: number): Promise<boolean[]> =>
          Promise.all(Array.from({ length: CONTENDERS }, (_, i) => store.acquireLease(MAILBOX, `run-${nowMs}-${i}`, nowMs, 1_000)));
        expect((await race(0)).filter(Boolean)).toHaveLength(1);
        // All of the second wave find the first winner's lease expired: still one winner.
        expect((await race(5_000)).filter(Boolean)).toHaveLength(1);
      });

      it('getLease reads who holds it and until when, expired or not; a takeover replaces the holder', async () => {
        const store = await fresh();
        expect(await store.getLease(MAILBOX)).toBeUndefined();
        const holder = { description: 'mailfetch fetch (pid 4242 on build-1)', host: 'build-1', pid: 4242 };
        await store.acquireLease(MAILBOX, 'run-a', 1_000, 500, holder);
        expect(await store.getLease(MAILBOX)).toEqual({ owner: 'run-a', expiresAtMs: 1_500, acquiredAtMs: 1_000, holder });
        // Expired, it is still there to read (unlock says so); another run then takes it over.
        await store.acquireLease(MAILBOX, 'run-b', 2_000, 500);
        expect(await store.getLease(MAILBOX)).toEqual({ owner: 'run-b', expiresAtMs: 2_500, acquiredAtMs: 2_000 });
        // An over-long description is cut, not refused.
        await store.acquireLease(OTHER_MAILBOX, 'run-c', 1_000, 500, { description: 'x'.repeat(10_000) });
        expect((await store.getLease(OTHER_MAILBOX))?.holder?.description).toHaveLength(200);
        await store.releaseLease(MAILBOX, 'run-b');
        expect(await store.getLease(MAILBOX)).toBeUndefined();
      });
    });

    describe('summary', () => {
      it('is undefined for a new mailbox, round-trips putSummary and is replaced by the next one', async () => {
        const store = await fresh();
        expect(await store.getSummary(MAILBOX)).toBeUndefined();
        const summary = { count: 4_812, listingHash: 'f'.repeat(64), updatedAt: NOW };
        await store.putSummary(MAILBOX, summary);
        expect(await store.getSummary(MAILBOX)).toEqual(summary);
        expect(await store.getSummary(OTHER_MAILBOX)).toBeUndefined();
        const next = { ...summary, count: 4_813, fingerprintIdentities: true, lastFingerprint: 'e'.repeat(64), auditedAt: NOW };
        await store.putSummary(MAILBOX, next);
        expect(await store.getSummary(MAILBOX)).toEqual(next);
        await store.putSummary(MAILBOX, summary);
        expect(await store.getSummary(MAILBOX)).toEqual(summary);
      });
    });

    describe('records', () => {
      it('round-trips a record with every field, and one with none of the optional ones', async () => {
        const store = await fresh();
        const full: MessageRecord = {
          identity: 'fp:1a2b/3c+4d..e f',
          uid: '1a2b/3c+4d..e f',
          status: 'stored',
          objectKey: 'messages/acme.support/x.eml',
          size: 0,
          listSize: 7,
          baselineCopies: 2,
          attempts: 1,
          sha256: 'd'.repeat(64),
          bodySha256: 'c'.repeat(64),
          headerFingerprint: 'e'.repeat(64),
          firstSeenAt: '2026-01-01T00:00:00.000Z',
          storedAt: '2026-01-01T00:00:02.000Z',
          skipReason: 'none',
          deleteAfter: '2026-02-01T00:00:00.000Z',
          deletedAt: '2026-02-01T03:00:00.000Z',
        };
        const bare: MessageRecord = { identity: 'bare', uid: 'bare', status: 'baseline', size: 77, firstSeenAt: NOW };
        expect(await store.putRecord(MAILBOX, full)).toBe(true);
        expect(await store.putRecord(MAILBOX, bare)).toBe(true);

        const read = await store.getRecords(MAILBOX, [full.identity, bare.identity, 'missing']);
        expect(Object.fromEntries(read)).toEqual({ [full.identity]: full, [bare.identity]: bare });
        expect(await store.getRecords(OTHER_MAILBOX, [full.identity])).toEqual(new Map());
      });

      it('never overwrites a stored record, not even with another stored one', async () => {
        const store = await fresh();
        const first = record('uid-1');
        expect(await store.putRecord(MAILBOX, first)).toBe(true);
        expect(await store.putRecord(MAILBOX, record('uid-1', { objectKey: 'other.eml', sha256: '0'.repeat(64) }))).toBe(false);
        expect(await store.putRecord(MAILBOX, record('uid-1', { status: 'skipped', skipReason: 'too-large' }))).toBe(false);
        expect(await store.putRecord(MAILBOX, record('uid-1', { status: 'pending' }))).toBe(false);
        expect((await store.getRecords(MAILBOX, ['uid-1'])).get('uid-1')).toEqual(first);
      });

      it('lets any record replace a non-stored one (skipped, baseline, failed, pending)', async () => {
        const store = await fresh();
        const statuses = ['skipped', 'baseline', 'failed', 'pending'] as const;
        for (const status of statuses) expect(await store.putRecord(MAILBOX, record(`uid-${status}`, { status, objectKey: undefined }))).toBe(true);
        expect(await store.putRecord(MAILBOX, record('uid-skipped', { status: 'skipped', skipReason: 'filtered', objectKey: undefined }))).toBe(true);
        for (const status of statuses) expect(await store.putRecord(MAILBOX, record(`uid-${status}`))).toBe(true);
        const read = await store.getRecords(MAILBOX, statuses.map((s) => `uid-${s}`));
        for (const status of statuses) expect(read.get(`uid-${status}`)).toEqual(record(`uid-${status}`));
      });

      it(`lets exactly one of ${CONTENDERS} concurrent stored records for one identity win`, async () => {
        const store = await fresh();
        await store.putRecord(MAILBOX, record('contended', { status: 'pending', objectKey: undefined }));
        const candidates = Array.from({ length: CONTENDERS }, (_, i) => record('contended', { sha256: String(i).repeat(64) }));
        const results = await Promise.all(candidates.map((c) => store.putRecord(MAILBOX, c)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.getRecords(MAILBOX, ['contended'])).get('contended')).toEqual(candidates[results.indexOf(true)]);
      });

      it('putStoredRecords writes up to 25 stored records at once, replacing pending ones, in this mailbox only', async () => {
        const store = await fresh();
        await store.putRecord(MAILBOX, record('was-pending', { status: 'pending', objectKey: undefined }));
        const batch = [record('was-pending'), ...Array.from({ length: MAX_STORED_RECORDS_PER_CALL - 1 }, (_, i) => record(`batch-${i}`, { size: i, deleteAfter: NOW }))];
        await store.putStoredRecords(MAILBOX, batch);
        const read = await store.getRecords(MAILBOX, batch.map((r) => r.identity));
        expect(identitiesOf([...read.values()])).toEqual(identitiesOf(batch));
        for (const r of batch) expect(read.get(r.identity)).toEqual(r);
        expect(await store.getRecords(OTHER_MAILBOX, ['batch-0'])).toEqual(new Map());
        // A batch record due for deletion is listed as due, as putRecord's would be.
        expect(identitiesOf(await store.listDueDeletions(MAILBOX, NOW))).toContain('batch-0');
        await store.putStoredRecords(MAILBOX, []);
      });

      it('putStoredRecords sends nothing once its signal aborted (the run stopped the session)', async () => {
        const store = await fresh();
        const controller = new AbortController();
        controller.abort();
        await expect(store.putStoredRecords(MAILBOX, [record('late')], { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
        expect(await store.getRecords(MAILBOX, ['late'])).toEqual(new Map());
      });

      it('putStoredRecords refuses what a batch cannot hold: non-stored records, repeated identities, more than 25', async () => {
        const store = await fresh();
        await expect(store.putStoredRecords(MAILBOX, [record('a', { status: 'skipped', objectKey: undefined })])).rejects.toThrow(/stored records only/);
        await expect(store.putStoredRecords(MAILBOX, [record('a'), record('a')])).rejects.toThrow(/each identity once/);
        const tooMany = Array.from({ length: MAX_STORED_RECORDS_PER_CALL + 1 }, (_, i) => record(`many-${i}`));
        await expect(store.putStoredRecords(MAILBOX, tooMany)).rejects.toThrow(/at most 25/);
        expect(await store.getRecords(MAILBOX, ['a', 'many-0'])).toEqual(new Map());
      });

      it(`reads ${MANY_RECORDS} records with awkward identities, duplicates and missing ones; lists exactly the mailbox's records`, async () => {
        const store = await fresh();
        const awkward = ['a/b', 'a+b', '..', '../..', 'with space', ' ', 'x'.repeat(300), 'ü'.repeat(300), 'MSG#nested', '#SUMMARY', '#LEASE', '日本語', '~7E'];
        const identities = [...awkward, ...Array.from({ length: MANY_RECORDS - awkward.length }, (_, i) => `uid-${String(i).padStart(4, '0')}`)];
        for (let i = 0; i < identities.length; i += 25) await Promise.all(identities.slice(i, i + 25).map((id) => store.putRecord(MAILBOX, record(id))));
        await store.putRecord(OTHER_MAILBOX, record('uid-0000'));
        await store.putSummary(MAILBOX, { count: 1, listingHash: 'h', updatedAt: NOW });
        await store.acquireLease(MAILBOX, 'run-a', 0, 1_000);

        const read = await store.getRecords(MAILBOX, [...identities, ...identities.slice(0, 10), 'not-there-1', 'not-there-2']);
        expect([...read.keys()].sort()).toEqual([...identities].sort());
        for (const identity of awkward) expect(read.get(identity)).toEqual(record(identity));
        // The summary and the lease are not records.
        expect(identitiesOf(await collect(store.listRecords(MAILBOX)))).toEqual([...identities].sort());
        expect(await store.getSummary(MAILBOX)).toEqual({ count: 1, listingHash: 'h', updatedAt: NOW });
      });

      it('lists exactly the records whose identity starts with a prefix, in this mailbox only', async () => {
        const store = await fresh();
        for (const id of ['abc~fp~1', 'abc~fp~2', 'abc', 'abcd~fp~3', 'ab~fp~4']) await store.putRecord(MAILBOX, record(id));
        await store.putRecord(OTHER_MAILBOX, record('abc~fp~9'));
        expect(identitiesOf(await store.listRecordsByIdentityPrefix(MAILBOX, 'abc~fp~'))).toEqual(['abc~fp~1', 'abc~fp~2']);
        expect(await store.listRecordsByIdentityPrefix(MAILBOX, 'zzz~fp~')).toEqual([]);
      });

      it('noteListSize changes the list size of an existing record only', async () => {
        const store = await fresh();
        await store.putRecord(MAILBOX, record('sized', { listSize: 100 }));
        await store.noteListSize(MAILBOX, 'sized', 120);
        await store.noteListSize(MAILBOX, 'never-existed', 5);
        const read = await store.getRecords(MAILBOX, ['sized', 'never-existed']);
        expect(read.get('sized')).toEqual(record('sized', { listSize: 120 }));
        expect(read.has('never-existed')).toBe(false);
      });
    });

    describe('deletions and expiry', () => {
      it('lists due, pending, stored records only; markDeleted keeps them as tombstones without expiry', async () => {
        const store = await fresh();
        const past = '2026-02-01T00:00:00.000Z';
        await store.putRecord(MAILBOX, record('due-1', { deleteAfter: past }));
        await store.putRecord(MAILBOX, record('due-now', { deleteAfter: NOW }));
        await store.putRecord(MAILBOX, record('not-yet', { deleteAfter: '2026-04-01T00:00:00.000Z' }));
        await store.putRecord(MAILBOX, record('already-deleted', { deleteAfter: past, deletedAt: past }));
        await store.putRecord(MAILBOX, record('skipped', { status: 'skipped', skipReason: 'too-large', deleteAfter: past }));
        await store.putRecord(MAILBOX, record('kept-forever'));
        await store.putRecord(OTHER_MAILBOX, record('other-mailbox', { deleteAfter: past }));

        const due = await store.listDueDeletions(MAILBOX, NOW);
        expect(identitiesOf(due)).toEqual(['due-1', 'due-now']);
        expect(due.find((r) => r.identity === 'due-1')).toEqual(record('due-1', { deleteAfter: past }));

        const deletedAt = '2026-03-01T12:05:00.000Z';
        await store.expireRecords(MAILBOX, ['due-now'], NOW, 7);
        await store.markDeleted(MAILBOX, ['due-1', 'due-now', 'never-existed'], deletedAt);
        // A second confirmation keeps the first time.
        await store.markDeleted(MAILBOX, ['due-1'], '2026-03-02T00:00:00.000Z');
        expect(await store.listDueDeletions(MAILBOX, NOW)).toEqual([]);
        expect(await store.listDueDeletions(OTHER_MAILBOX, NOW)).toHaveLength(1);

        const read = await store.getRecords(MAILBOX, ['due-1', 'due-now', 'never-existed']);
        expect(read.get('due-1')).toEqual(record('due-1', { deleteAfter: past, deletedAt }));
        expect(read.get('due-now')).toEqual(record('due-now', { deleteAfter: NOW, deletedAt }));
        expect(read.has('never-existed')).toBe(false);
      });

      it('expireRecords sets the expiry once (never postponed), takes records out of due deletions, creates nothing', async () => {
        const store = await fresh();
        await store.putRecord(MAILBOX, record('gone', { deleteAfter: '2026-02-01T00:00:00.000Z' }));
        await store.putRecord(MAILBOX, record('still-there'));

        await store.expireRecords(MAILBOX, ['gone', 'never-existed'], NOW, 7);
        await store.expireRecords(MAILBOX, ['gone'], '2026-03-05T00:00:00.000Z', 7);
        const read = await store.getRecords(MAILBOX, ['gone', 'still-there', 'never-existed']);
        expect(read.get('gone')?.expiresAt).toBe(Date.parse(NOW) / 1000 + 7 * SECONDS_PER_DAY);
        expect(read.get('still-there')?.expiresAt).toBeUndefined();
        expect(read.has('never-existed')).toBe(false);
        expect(await store.listDueDeletions(MAILBOX, NOW)).toEqual([]);
        // A new record for the identity starts without expiry.
        await store.putRecord(MAILBOX, record('expired-skip', { status: 'skipped', objectKey: undefined }));
        await store.expireRecords(MAILBOX, ['expired-skip'], NOW, 7);
        await store.putRecord(MAILBOX, record('expired-skip'));
        expect((await store.getRecords(MAILBOX, ['expired-skip'])).get('expired-skip')).toEqual(record('expired-skip'));
      });
    });

    describe('resetMailbox', () => {
      it('removes every item of one mailbox (records, summary, lease) and nothing of another', async () => {
        const store = await fresh();
        const identities = Array.from({ length: 60 }, (_, i) => `uid-${i}`);
        for (let i = 0; i < identities.length; i += 20) await Promise.all(identities.slice(i, i + 20).map((id) => store.putRecord(MAILBOX, record(id))));
        await store.putSummary(MAILBOX, { count: 60, listingHash: 'h', updatedAt: NOW });
        await store.acquireLease(MAILBOX, 'run-a', 0, 1_000_000);
        await store.putRecord(OTHER_MAILBOX, record('other'));
        await store.putSummary(OTHER_MAILBOX, { count: 1, listingHash: 'h', updatedAt: NOW });

        expect(await store.resetMailbox(MAILBOX)).toBe(62);
        expect(await collect(store.listRecords(MAILBOX))).toEqual([]);
        expect(await store.getRecords(MAILBOX, identities)).toEqual(new Map());
        expect(await store.getSummary(MAILBOX)).toBeUndefined();
        expect(await store.acquireLease(MAILBOX, 'run-b', 0, 1_000)).toBe(true);
        expect((await store.getRecords(OTHER_MAILBOX, ['other'])).size).toBe(1);
        expect(await store.getSummary(OTHER_MAILBOX)).toBeDefined();
        expect(await store.resetMailbox('empty')).toBe(0);
      });
    });

    it('counts consumed capacity from zero, and resetCapacity starts again', async () => {
      const store = await fresh();
      expect(store.consumedCapacity()).toEqual({ readUnits: 0, writeUnits: 0 });
      await store.putRecord(MAILBOX, record('counted'));
      await store.getRecords(MAILBOX, ['counted']);
      const used = store.consumedCapacity();
      expect(used.readUnits).toBeGreaterThanOrEqual(0);
      expect(used.writeUnits).toBeGreaterThanOrEqual(0);
      store.resetCapacity();
      expect(store.consumedCapacity()).toEqual({ readUnits: 0, writeUnits: 0 });
    });

    it.each(MODEL_SEEDS)('follows the record rules in a seeded random sequence of writes (seed %i)', async (seed) => {
      const store = await fresh();
      const model = new RecordModel();
      const random = new Prng(seed);
      const pick = <T>(items: readonly T[]): T => random.pick(items);
      const identities = ['u1', 'u2', 'u3', 'u4'];
      const days = ['2026-02-01T00:00:00.000Z', NOW, '2026-04-01T00:00:00.000Z'];
      for (let step = 0; step < MODEL_STEPS; step++) {
        const identity = pick(identities);
        const action = pick(['put', 'put', 'put', 'batch', 'delete', 'expire', 'size'] as const);
        const context = `seed ${seed}, step ${step}: ${action} ${identity}`;
        if (action === 'put') {
          const status = pick(['stored', 'skipped', 'baseline', 'failed', 'pending'] as const);
          const next = record(identity, { status, size: step, ...(status === 'stored' && random.chance(0.5) ? { deleteAfter: pick(days) } : {}) });
          expect(await store.putRecord(MAILBOX, next), context).toBe(model.put(next));
        } else if (action === 'batch') {
          const batch = identities.filter((i) => i === identity || random.chance(0.5)).map((i) => record(i, { size: step, ...(random.chance(0.5) ? { deleteAfter: pick(days) } : {}) }));
          await store.putStoredRecords(MAILBOX, batch);
          for (const r of batch) model.putUnconditionally(r);
        } else if (action === 'delete') {
          await store.markDeleted(MAILBOX, [identity], days[step % days.length]!);
          model.markDeleted(identity, days[step % days.length]!);
        } else if (action === 'expire') {
          await store.expireRecords(MAILBOX, [identity], NOW, 1 + (step % 3));
          model.expire(identity, Date.parse(NOW) / 1000 + (1 + (step % 3)) * SECONDS_PER_DAY);
        } else {
          await store.noteListSize(MAILBOX, identity, step);
          model.noteListSize(identity, step);
        }
        expect(Object.fromEntries(await store.getRecords(MAILBOX, identities)), context).toEqual(model.records());
        expect(identitiesOf(await store.listDueDeletions(MAILBOX, NOW)), context).toEqual(model.due(NOW));
      }
    });
  });
}

/** The port's record rules, in memory: what every backend must agree with. */
class RecordModel {
  private readonly byIdentity = new Map<string, { record: MessageRecord; indexedForDeletion: boolean }>();

  put(record: MessageRecord): boolean {
    if (this.byIdentity.get(record.identity)?.record.status === 'stored') return false;
    this.putUnconditionally(record);
    return true;
  }

  /** putStoredRecords: replaces whatever was there, marks included. */
  putUnconditionally(record: MessageRecord): void {
    const indexed = record.status === 'stored' && record.deleteAfter !== undefined && record.deletedAt === undefined;
    this.byIdentity.set(record.identity, { record, indexedForDeletion: indexed });
  }

  markDeleted(identity: string, deletedAt: string): void {
    this.update(identity, (r) => {
      const { expiresAt: _dropped, ...rest } = r;
      return { ...rest, deletedAt: r.deletedAt ?? deletedAt };
    });
  }

  expire(identity: string, expiresAt: number): void {
    this.update(identity, (r) => ({ ...r, expiresAt: r.expiresAt ?? expiresAt }));
  }

  noteListSize(identity: string, listSize: number): void {
    const entry = this.byIdentity.get(identity);
    if (entry) entry.record = { ...entry.record, listSize };
  }

  records(): Record<string, MessageRecord> {
    return Object.fromEntries([...this.byIdentity].map(([identity, entry]) => [identity, entry.record]));
  }

  due(nowIso: string): string[] {
    return [...this.byIdentity.values()]
      .filter((e) => e.indexedForDeletion && e.record.deleteAfter! <= nowIso)
      .map((e) => e.record.identity)
      .sort();
  }

  /** markDeleted and expireRecords take a record out of the due deletions for good. */
  private update(identity: string, change: (record: MessageRecord) => MessageRecord): void {
    const entry = this.byIdentity.get(identity);
    if (entry) this.byIdentity.set(identity, { record: change(entry.record), indexedForDeletion: false });
  }
}
