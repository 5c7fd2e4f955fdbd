/**
 * Named regression tests for the server semantics README.md lists under "Server semantics
 * covered": one test (or a few) per scenario of the fix-up that followed commit 2ea72e5.
 * Each reproduces, on the worker or on the POP3 client, a failure the code of 2ea72e5 had:
 * the comment above each test says what that code did (observed by running this file
 * against it). They run against the fake POP3 server and its profiles
 * (test/fixtures/pop3-profiles), s3rver and DynamoDB Local.
 *
 * Every secret here is a canary of test/fixtures/canary-secrets.json; trace and log lines
 * the tests collect are also written under $MAILFETCH_TEST_LOG_DIR (CI greps them).
 *
 * Scenario 8 (the run ends before the Lambda deadline whatever the server does) is covered
 * by test/sync/deadline.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LIMITS, type MailboxConfig } from '../../lambda/config/mailbox-config';
import { openSession, Pop3Client, Pop3Error, type AuthMechanismName, type MessageStream, type Pop3SessionOptions } from '../../lambda/pop3';
import { MESSAGE_KEY_PREFIX, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, mailboxKey } from '../../lambda/state/table-schema';
import { headerFingerprint } from '../../lambda/storage/header-block';
import { objectKeyFor } from '../../lambda/storage/object-key';
import { DEFAULT_PREFIX } from '../../lambda/storage/s3-message-sink';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import {
  startFakePop3,
  type FakeCommitEvent,
  type FakePop3Options,
  type FakePop3Profile,
  type FakePop3Server,
  type FakeSession,
} from '../fixtures/fake-pop3-server';
import { messageSize } from '../fixtures/fake-pop3-wire';
import { bareLf, echo, flakyUidl, gmail, inUse, recycledUidl, sharedUidl } from '../fixtures/pop3-profiles';
import { makeTestPki } from '../fixtures/test-ca';
import { SimulatedCrash, WorkerBench, type BenchOptions } from '../sync/harness';
import { failFirstPutOf, slowPuts } from './regressions/s3-faults';
import { CANARIES, leaksIn, secretForms, sentForms, type SecretForm } from './regressions/secret-forms';
import { TestLog } from './regressions/test-log';

const USER = 'alice';
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The engine's code names, as strings: some did not exist in 2ea72e5 (the tests run there too). */
const CODE = {
  MESSAGE_INCOMPLETE: 'MESSAGE_INCOMPLETE',
  REPLY_TOO_LARGE: 'REPLY_TOO_LARGE',
  UIDL_UNAVAILABLE: 'UIDL_UNAVAILABLE',
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  ABORTED: 'ABORTED',
  SERVER_ERROR: 'SERVER_ERROR',
  INVALID_UID: 'INVALID_UID',
} as const;

/** A message with the five header fields popa3d hashes into its UIDL (see sharedUidl). */
function mail(name: string, o: { body?: string; extraHeaders?: string } = {}): Buffer {
  const headers =
    `From: sender-${name}@example.org\r\nTo: ${USER}@example.org\r\nSubject: message ${name}\r\n` +
    `Date: Mon, 6 Jan 2025 10:00:00 +0000\r\nMessage-ID: <${name}@example.org>\r\n${o.extraHeaders ?? ''}`;
  return Buffer.from(`${headers}\r\n${o.body ?? `body of ${name}\r\n`}`, 'latin1');
}

function ok(r: RunSummary | SimulatedCrash): RunSummary {
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

/** One turn of the event loop (I/O events included). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Settles with 'pending' if `p` has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), late]);
  } finally {
    clearTimeout(timer);
  }
}

const REPO = resolve(import.meta.dirname, '../..');

/** Runs the `mailfetch` CLI as a child process (as test/cli/cli.test.ts does). */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'mailfetch.js'), ...args], { cwd: REPO, env: { ...process.env, LOG_LEVEL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

/** A clock `offsetMs` ahead of the real one (records fall due without waiting days). */
const ahead = (offsetMs: number): (() => number) => () => Date.now() + offsetMs;

describe('server semantics regressions: the worker', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  const servers: FakePop3Server[] = [];

  beforeAll(async () => {
    [s3, dynamo] = await Promise.all([startS3rver(), startDynamoDbLocal()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.close()), s3?.stop(), dynamo?.stop()]);
  });

  async function fake(options: FakePop3Options = {}): Promise<FakePop3Server> {
    const server = await startFakePop3({ user: USER, password: CANARIES.password, ...options });
    servers.push(server);
    return server;
  }

  function pop3For(server: FakePop3Server, extra: Partial<BenchOptions['pop3']> = {}): BenchOptions['pop3'] {
    return { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: USER, password: CANARIES.password, ...extra };
  }

  function benchFor(server: FakePop3Server, mailbox: Partial<MailboxConfig> = {}, extra: { sink?: BenchOptions['sink']; pop3?: Partial<BenchOptions['pop3']> } = {}): Promise<WorkerBench> {
    return WorkerBench.create({ s3, dynamo, pop3: pop3For(server, extra.pop3), mailbox, ...(extra.sink ? { sink: extra.sink } : {}) });
  }

  async function storedBytes(bench: WorkerBench): Promise<Buffer[]> {
    return [...(await bench.objects()).values()];
  }

  async function expectStoredExactly(bench: WorkerBench, expected: readonly Buffer[]): Promise<void> {
    const stored = (await storedBytes(bench)).map((b) => b.toString('latin1')).sort();
    expect(stored).toEqual(expected.map((b) => b.toString('latin1')).sort());
  }

  /** The raw DynamoDB items of the mailbox's message records (attributes as stored). */
  async function rawRecordItems(bench: WorkerBench): Promise<Record<string, AttributeValue>[]> {
    const out = await dynamo.dynamodb.send(
      new QueryCommand({
        TableName: bench.table,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :msg)',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
        ExpressionAttributeValues: { ':pk': { S: mailboxKey(bench.mailbox.id) }, ':msg': { S: MESSAGE_KEY_PREFIX } },
        ConsistentRead: true,
      }),
    );
    return out.Items ?? [];
  }

  // ---- 1 -------------------------------------------------------------------------------

  describe('scenario 1: Gmail hides every message a session retrieved, at its QUIT', () => {
    /**
     * Every QUIT is checked as it takes effect: a message it hides (or removes) must be in
     * S3 by then. `stored` holds the keys whose PutObject succeeded.
     */
    function quitGuard(keyOf: (uid: string) => string, stored: ReadonlySet<string>): { violations: string[]; onCommit: (e: FakeCommitEvent) => void } {
      const violations: string[] = [];
      const onCommit = (e: FakeCommitEvent): void => {
        if (e.cause !== 'quit') return;
        for (const r of [...e.hidden, ...e.removed]) {
          if (!stored.has(keyOf(r.uid))) violations.push(`${r.uid} left the listing at the QUIT of session ${e.session} but was not stored`);
        }
      };
      return { violations, onCommit };
    }

    async function gmailBench(perSession: number | undefined, count: number, failUid: string) {
      const keyOf = (uid: string): string => objectKeyFor(DEFAULT_PREFIX, 'box-1', uid);
      const puts = failFirstPutOf(s3.endpoint, (key) => key === keyOf(failUid));
      const guard = quitGuard(keyOf, puts.stored);
      const server = await fake({ profiles: [gmail(perSession === undefined ? {} : { perSession })], onCommit: guard.onCommit });
      const bytes = Array.from({ length: count }, (_, i) => mail(`g${i + 1}`));
      bytes.forEach((b, i) => server.deliver(b, { uid: `g${i + 1}`, at: Date.now() - (count - i) * 1000 }));
      const bench = await benchFor(server, {}, { sink: { client: puts.client } });
      expect(bench.sink.objectKey('box-1', failUid)).toBe(keyOf(failUid));
      return { bench, server, puts, guard, bytes };
    }

    // 2ea72e5: the run QUIT after the failed store; Gmail hid g3 (and the messages RETR'd
    // ahead of it) at that QUIT, so no later session listed it: g3 was never stored.
    it('1: one transient S3 failure then the normal end of the session: the message stays listed, the next run stores it, no QUIT hides an unstored message', async () => {
      const { bench, server, puts, guard, bytes } = await gmailBench(undefined, 6, 'g3');

      const first = ok(await bench.run());
      expect(puts.failures).toBe(1);
      expect(first.complete).toBe(false);
      expect(first.errors.map((e) => e.uid)).toContain('g3');
      const g3 = server.truth.all().find((r) => r.uid === 'g3')!;
      expect(g3.hidden, 'g3 must not be hidden: its store failed').toBeUndefined();
      expect(g3.removed).toBeUndefined();
      expect(server.truth.visible().map((r) => r.uid)).toContain('g3');

      const second = ok(await bench.run());
      expect(second).toMatchObject({ status: 'ok', complete: true, errors: [] });
      await expectStoredExactly(bench, bytes);
      expect(guard.violations).toEqual([]);
      expect(server.truth.left().every((r) => puts.stored.has(bench.sink.objectKey('box-1', r.uid)))).toBe(true);
    });

    // 2ea72e5: as above, in the second batch: g5 (and the RETRs already queued behind it)
    // were hidden by the QUIT of the session whose store failed.
    it('1: Gmail batches of 3 per session: a store failing once in the second batch loses nothing over the following runs', async () => {
      const { bench, server, puts, guard, bytes } = await gmailBench(3, 8, 'g5');

      const first = ok(await bench.run());
      expect(puts.failures).toBe(1);
      expect(first.complete).toBe(false);
      expect(first.errors.map((e) => e.uid)).toContain('g5');
      expect(server.truth.visible().map((r) => r.uid)).toContain('g5');

      for (let run = 0; run < 4 && (await bench.objects()).size < bytes.length; run++) ok(await bench.run());
      const last = ok(await bench.run());
      expect(last).toMatchObject({ status: 'ok', fetched: 0, errors: [] });
      await expectStoredExactly(bench, bytes);
      expect(guard.violations).toEqual([]);
    });
  });

  // ---- 2 -------------------------------------------------------------------------------

  describe('scenario 2: deleteAfterDays on a server that shares UIDLs (popa3d)', () => {
    const MAX_MESSAGE_BYTES = 4096;

    async function sharedSetup() {
      const server = await fake({ profiles: [sharedUidl()] });
      const bench = await benchFor(server, { retention: { deleteAfterDays: 1 }, limits: { ...DEFAULT_LIMITS, maxMessageBytes: MAX_MESSAGE_BYTES } });
      const m1 = server.deliver(mail('shared'));
      expect(ok(await bench.run({ now: ahead(0) }))).toMatchObject({ fetched: 1, errors: [] });
      // Same From/To/Subject/Date/Message-ID (so the same UIDL), other headers and body, too large.
      const m2 = server.deliver(mail('shared', { extraHeaders: 'X-Mailer: bulk sender\r\n', body: `${'z'.repeat(76)}\r\n`.repeat(100) }));
      expect(m2.uid).toBe(m1.uid);
      expect(m2.bytes.length).toBeGreaterThan(MAX_MESSAGE_BYTES);
      const second = ok(await bench.run({ now: ahead(HOUR_MS) }));
      expect(second).toMatchObject({ fetched: 0, skipped: 1 });
      expect((await bench.records()).map((r) => r.status).sort()).toEqual(['skipped', 'stored']);
      return { server, bench, m1, m2 };
    }

    // 2ea72e5: M1's due deletion was sent to the number whose listing entry last carried
    // M1's identity (the UIDL): M2's. M2, skipped and never stored, was deleted; M1 stayed.
    it('2: M1 falls due while M2 (same UIDL, skipped as too large) is on the server: DELE goes to M1 only, M2 stays', async () => {
      const { server, bench, m1, m2 } = await sharedSetup();

      const due = ok(await bench.run({ now: ahead(2 * DAY_MS) }));

      expect(server.truth.get(m2.id)!.removed, 'M2 was never stored: it must stay on the server').toBeUndefined();
      expect(server.truth.get(m1.id)!.removed).toMatchObject({ by: 'pop3' });
      expect(due.deleted).toBe(1);
      await expectStoredExactly(bench, [m1.bytes]);
    });

    // 2ea72e5: with M1 gone, M2 alone held the UIDL, and M1's due deletion hit M2.
    it('2: M1 deleted by another client before it fell due: nothing is deleted, M2 stays', async () => {
      const { server, bench, m1, m2 } = await sharedSetup();
      server.deleteByOtherClient(m1);

      const due = ok(await bench.run({ now: ahead(2 * DAY_MS) }));
      ok(await bench.run({ now: ahead(3 * DAY_MS) }));

      expect(server.truth.get(m2.id)!.removed, 'M2 must stay on the server').toBeUndefined();
      expect(due.deleted).toBe(0);
      await expectStoredExactly(bench, [m1.bytes]);
    });
  });

  // ---- 3 -------------------------------------------------------------------------------

  describe('scenario 3: a UIDL recycled for new mail (another client deleted B; C got its UIDL)', () => {
    const variants = [
      { id: 'a', name: 'a different size', cBody: 'body of C, which is longer than that of B\r\n' },
      { id: 'b', name: 'the same size', cBody: undefined },
    ] as const;

    async function recycled(cBody: string | undefined, mailbox: Partial<MailboxConfig> = {}) {
      const server = await fake({ profiles: [recycledUidl()] });
      const a = server.deliver(mail('A'));
      const b = server.deliver(mail('B'));
      expect([a.uid, b.uid]).toEqual(['1', '2']);
      const bench = await benchFor(server, mailbox);
      const c = (): ReturnType<FakePop3Server['deliver']> => {
        const record = server.deliver(mail('C', cBody === undefined ? {} : { body: cBody }));
        expect(record.uid).toBe(b.uid);
        expect(record.bytes.length === b.bytes.length).toBe(cBody === undefined);
        return record;
      };
      return { server, bench, a, b, c };
    }

    for (const v of variants) {
      // 2ea72e5 (a and b): the summary covered UIDLs only, so "1 2" looked unchanged: the
      // fast path found nothing new and C was never fetched.
      it(`3${v.id}: C with ${v.name} as B, listed under B's freed UIDL: fetched by the next run, though the UIDLs read "1 2" as before (2ea72e5's fast path)`, async () => {
        const { server, bench, a, b, c } = await recycled(v.cBody);
        expect(ok(await bench.run())).toMatchObject({ fetched: 2, errors: [] });
        server.deleteByOtherClient(b);
        const cRec = c();

        const next = ok(await bench.run());

        expect(next).toMatchObject({ fetched: 1, errors: [] });
        await expectStoredExactly(bench, [a.bytes, b.bytes, cRec.bytes]);
        expect(ok(await bench.run())).toMatchObject({ fetched: 0, errors: [] });
      });

      // 2ea72e5: a full diff took a listed UIDL with a record for the recorded message
      // unless that record said "deleted by us": C was taken for B and never fetched (and
      // B's record, still "listed", never expired).
      it(`3${v.id}: C with ${v.name} as B, appended after D under B's freed UIDL: the run's full diff fetches it`, async () => {
        const { server, bench, a, b, c } = await recycled(v.cBody);
        const d = server.deliver(mail('D'));
        expect(d.uid).toBe('3');
        expect(ok(await bench.run())).toMatchObject({ fetched: 3 });
        server.deleteByOtherClient(b);
        const cRec = c(); // listing now: 1 A, 2 D ("3"), 3 C ("2"): not an append, so a full diff

        const next = ok(await bench.run());

        expect(next).toMatchObject({ fullDiff: true, fetched: 1, errors: [] });
        await expectStoredExactly(bench, [a.bytes, b.bytes, d.bytes, cRec.bytes]);
        expect(ok(await bench.run())).toMatchObject({ fetched: 0, errors: [] });
      });

      // 2ea72e5: C was never fetched (taken for B), and when B's record fell due its DELE
      // went to C's number: C, never stored, was deleted.
      it(`3${v.id}: deleteAfterDays, C with ${v.name} as B: when B's record falls due, C is not deleted (A, proven, is)`, async () => {
        const { server, bench, a, b, c } = await recycled(v.cBody, { retention: { deleteAfterDays: 1 } });
        expect(ok(await bench.run({ now: ahead(0) }))).toMatchObject({ fetched: 2 });
        server.deleteByOtherClient(b);
        const cRec = c();
        expect.soft(ok(await bench.run({ now: ahead(HOUR_MS) })), 'C fetched').toMatchObject({ fetched: 1 });

        // A and B are due; C (stored an hour later) is not.
        ok(await bench.run({ now: ahead(DAY_MS + 30 * 60_000) }));

        expect(server.truth.get(cRec.id)!.removed, 'C must stay on the server').toBeUndefined();
        expect(server.truth.get(a.id)!.removed, 'A (due, proven) deleted').toMatchObject({ by: 'pop3' });
        await expectStoredExactly(bench, [a.bytes, b.bytes, cRec.bytes]);
      });
    }
  });

  // ---- 4 -------------------------------------------------------------------------------

  describe('scenario 4: UIDL answered -ERR now and then, by a server whose CAPA lists UIDL', () => {
    const variants = [
      // A plain -ERR: what 2ea72e5 took for "this server has no UIDL".
      { name: 'a plain -ERR', profiles: [{ name: 'no-response-code', errorLine: (line: string) => line.replace(' [SYS/TEMP]', '') }] },
      { name: '-ERR [SYS/TEMP]', profiles: [] },
    ];
    for (const v of variants) {
      // 2ea72e5 (plain -ERR): the failing run fell back to header fingerprints: three more
      // objects under fingerprint identities, and the full diff set expiresAt on the three
      // real records. ([SYS/TEMP]: the run failed with SYS_TEMP, not UIDL_UNAVAILABLE.)
      it(`4: UIDL answered with ${v.name}: no object under another key, no record expiring, a retryable UIDL_UNAVAILABLE; the next run is normal`, async () => {
        let failing = false;
        const profiles: FakePop3Profile[] = [flakyUidl({ fails: () => failing }), ...v.profiles];
        const server = await fake({ messages: ['u1', 'u2', 'u3'].map((uid) => ({ uid, bytes: mail(uid) })), profiles });
        expect(server.profiles.length).toBe(profiles.length);
        const bench = await benchFor(server);
        expect(ok(await bench.run())).toMatchObject({ fetched: 3, errors: [] });
        const bytes = server.messages.map((m) => m.bytes);

        failing = true;
        const flaky = ok(await bench.run());
        expect.soft(flaky.fetched, 'fetched while UIDL failed').toBe(0);
        expect.soft(flaky.complete).toBe(false);
        expect.soft(flaky.errors).toContainEqual(expect.objectContaining({ code: CODE.UIDL_UNAVAILABLE, retryable: true }));
        expect.soft((await storedBytes(bench)).length, 'objects after the failing run').toBe(3);
        const items = await rawRecordItems(bench);
        expect.soft(items.length, 'records after the failing run').toBe(3);
        expect.soft(items.filter((i) => i[TTL_ATTRIBUTE] !== undefined).map((i) => i[SORT_KEY]?.S), `records with ${TTL_ATTRIBUTE} set`).toEqual([]);
        await expectStoredExactly(bench, bytes);

        failing = false;
        expect(ok(await bench.run())).toMatchObject({ status: 'ok', complete: true, fetched: 0, errors: [] });
        await expectStoredExactly(bench, bytes);
        expect((await rawRecordItems(bench)).filter((i) => i[TTL_ATTRIBUTE] !== undefined)).toEqual([]);
      });
    }
  });

  // ---- 5 -------------------------------------------------------------------------------

  // 2ea72e5: the two messages sharing "X" got the identities X~fp~<fp1> and X~fp~<fp2>, and
  // the third message's UIDL spelled the first of them: it was taken for a copy of it and
  // never stored (two objects for three messages).
  it('5: a UIDL spelled like a derived identity (X~fp~<fingerprint> next to two messages sharing X): three messages, three objects', async () => {
    const [x1, x2, x3] = [mail('x-one'), mail('x-two'), mail('x-three')];
    const fp = headerFingerprint(x1).slice(0, 32);
    expect(fp).toMatch(/^[0-9a-f]{32}$/);
    const server = await fake({ messages: [{ uid: 'X', bytes: x1 }, { uid: 'X', bytes: x2 }, { uid: `X~fp~${fp}`, bytes: x3 }] });
    const bench = await benchFor(server);

    const first = ok(await bench.run());

    expect(first).toMatchObject({ fetched: 3, errors: [] });
    await expectStoredExactly(bench, [x1, x2, x3]);
    expect(ok(await bench.run())).toMatchObject({ fetched: 0, errors: [] });
    await expectStoredExactly(bench, [x1, x2, x3]);
  });

  // ---- 6 -------------------------------------------------------------------------------

  // 2ea72e5: the message ended at the "." after the bare LF: the object "line one\n" (a
  // prefix of the message) was stored and recorded, and the rest of the message was read as
  // the next reply.
  it('6: silent truncation on a bare-LF server: never stored, named as MESSAGE_INCOMPLETE, retried, then skipped as incomplete and left on the server', async () => {
    const maxAttempts = await import('../../lambda/sync/fetch-messages').then(
      (m) => m.MAX_INCOMPLETE_ATTEMPTS,
      () => 3, // 2ea72e5 has no such module: the README's number
    );
    const bad = Buffer.from('line one\n.\r\nline three\r\n', 'latin1');
    expect(messageSize(bad)).toBe(24); // what LIST announces: the octets as sent, before stuffing
    const before = { uid: 'lf-1', bytes: Buffer.from('Subject: before\r\n\r\nfirst line\nsecond line after a bare LF\r\n\r\n', 'latin1') };
    const after = { uid: 'lf-3', bytes: Buffer.from('Subject: after\r\n\r\n.a stuffed line\r\nbare\nLF\n\r\nend\r\n', 'latin1') };
    const server = await fake({ messages: [before, { uid: 'lf-2', bytes: bad }, after], profiles: [bareLf()] });
    const bench = await benchFor(server);
    const noPrefixStored = async (): Promise<void> => {
      for (const o of await storedBytes(bench)) expect(bad.subarray(0, o.length).equals(o), 'an object holding the start of lf-2 was stored').toBe(false);
    };

    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const run = ok(await bench.run());
      await noPrefixStored();
      expect.soft(run.errors, `run ${attempt}: the error naming lf-2`).toContainEqual(expect.objectContaining({ code: CODE.MESSAGE_INCOMPLETE, uid: 'lf-2', number: 2 }));
      expect.soft(run.errors.filter((e) => e.code === CODE.MESSAGE_INCOMPLETE && e.uid !== 'lf-2'), `run ${attempt}: MESSAGE_INCOMPLETE names another message`).toEqual([]);
      const record = (await bench.records()).find((r) => r.uid === 'lf-2');
      if (attempt < maxAttempts) {
        expect(run.skipped).toBe(0);
        expect(record?.status).not.toBe('stored');
      } else {
        expect(run.skipped).toBe(1);
        expect(run.skippedMessages).toContainEqual(expect.objectContaining({ uid: 'lf-2', number: 2, reason: 'incomplete' }));
        expect(record).toMatchObject({ status: 'skipped', skipReason: 'incomplete' });
      }
    }
    for (let run = 0; run < 2; run++) ok(await bench.run());
    const retrs = server.commands.filter((c) => c.line === 'RETR 2').length;
    expect(ok(await bench.run())).toMatchObject({ fetched: 0, errors: [] });
    expect(server.commands.filter((c) => c.line === 'RETR 2').length, 'a skipped message is not retried').toBe(retrs);
    await noPrefixStored();
    expect(server.messages.map((m) => m.uid)).toContain('lf-2');
    await expectStoredExactly(bench, [before.bytes, after.bytes]);
  });

  // ---- 7 -------------------------------------------------------------------------------

  for (const drop of ['FIN', 'reset'] as const) {
    // 2ea72e5: the run returned, but the RETR replies queued behind the dropped one
    // rejected while nothing observed them: 5 unhandled rejections (CONNECTION_CLOSED after
    // a FIN, ECONNRESET after a reset), each a crashed Lambda invocation.
    it(`7: slow S3 and a connection closed (${drop}) at RETR 6 of 10: a summary, no unhandled rejection, the lease released, the next run finishes`, async () => {
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown): void => void rejections.push(reason);
      process.on('unhandledRejection', onRejection);
      try {
        let dropping = true;
        const messages = Array.from({ length: 10 }, (_, i) => ({ uid: `d${i + 1}`, bytes: mail(`d${i + 1}`) }));
        const server = await fake({
          messages,
          onCommand: (cmd, s) => {
            if (!dropping || cmd.verb !== 'RETR' || cmd.args[0] !== '6') return false;
            if (drop === 'FIN') s.end();
            else s.reset();
            return true;
          },
        });
        const bench = await benchFor(server, {}, { sink: { client: slowPuts(s3.endpoint, 300) } });

        const first = await bench.run().then(ok);

        expect(first.complete).toBe(false);
        expect(first.errors.length).toBeGreaterThan(0);
        // Uploads still in flight when the session failed end within a few S3 round trips.
        await sleep(1_500);
        expect(rejections).toEqual([]);
        expect(await bench.state.acquireLease('box-1', 'another-run', Date.now(), 60_000), 'the lease was released').toBe(true);
        await bench.state.releaseLease('box-1', 'another-run');

        dropping = false;
        expect(ok(await bench.run())).toMatchObject({ status: 'ok', complete: true, errors: [] });
        await expectStoredExactly(bench, messages.map((m) => m.bytes));
        await sleep(100);
        expect(rejections).toEqual([]);
      } finally {
        process.off('unhandledRejection', onRejection);
      }
    });
  }

  // ---- 9 -------------------------------------------------------------------------------

  describe('scenario 9: no secret escapes through a server that echoes what it was sent', () => {
    /** Put before the echo: the echoed line starts after 190 characters of server text. */
    const PAD = 'x'.repeat(190);
    const pad190: FakePop3Profile = { name: 'pad-190', errorLine: (line) => line.replace(/^(-ERR(?: \[[^\]]*\])?).*$/s, `$1 ${PAD}`) };
    const PASSWORDS = [
      { label: 'one character', secret: CANARIES.oneCharPassword, pad: false },
      { label: 'three characters', secret: CANARIES.shortPassword, pad: false },
      { label: 'non-ASCII', secret: CANARIES.password, pad: false },
      { label: 'echoed after 190 characters of padding', secret: CANARIES.password, pad: true },
    ];
    const CASES = [
      { name: 'wrong password', codes: ['AUTH_FAILED'] },
      { name: 'right password, login refused by a later -ERR [IN-USE]', codes: ['IN_USE'] },
      { name: 'right password, a later command answered -ERR', codes: ['SYS_TEMP'] },
    ] as const;
    const MECHANISMS: readonly AuthMechanismName[] = ['USER', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'APOP'];

    /** What follows each PAD in `text` must not start to show the secret (a cut-off echo). */
    function partialAfterPad(text: string, secret: string): string[] {
      const heads = [secret, Buffer.from(secret, 'utf8').toString('latin1')].map((f) => f.slice(0, 3));
      const hits: string[] = [];
      for (let at = text.indexOf(PAD); at !== -1; at = text.indexOf(PAD, at + 1)) {
        const after = text.slice(at + PAD.length, at + PAD.length + 24).replace(/^x+/, '');
        if (heads.some((h) => after.includes(h))) hits.push(`the first characters of the password right after the padding`);
      }
      return hits;
    }

    /** One worker run through bench.run, with every trace and log line collected. */
    async function echoRun(mechanism: AuthMechanismName, pw: (typeof PASSWORDS)[number], kase: (typeof CASES)[number], log: TestLog): Promise<string[]> {
      const serverPassword = kase.name === 'wrong password' ? CANARIES.refreshToken : pw.secret;
      const inUseCase = kase.name.includes('IN-USE');
      const server = await fake({
        password: serverPassword,
        messages: [{ uid: 'e1', bytes: mail('e1') }],
        profiles: [...(pw.pad ? [pad190] : []), echo(), ...(inUseCase ? [inUse()] : [])],
        onCommand: async (cmd, s) => {
          if (!kase.name.includes('later command') || cmd.verb !== 'RETR') return false;
          await s.writeLine('-ERR [SYS/TEMP] message locked, try later');
          return true;
        },
      });
      // IN-USE: another session holds the maildrop lock while the worker logs in.
      const holder = inUseCase ? await openSession({ ...pop3For(server), password: serverPassword, auth: 'USER' }) : undefined;
      const lines: string[] = [];
      const record = (line: string): void => {
        lines.push(line);
        log.add(line);
      };
      const bench = await benchFor(server, { auth: mechanism }, { pop3: { password: pw.secret, auth: mechanism, trace: (e) => record(`trace ${e.direction}: ${e.line}`) } });
      record(`== ${mechanism}, ${pw.label}, ${kase.name}`);
      // The run's log lines: WorkerBench prints them with MF_DEBUG (console.log), caught here.
      const debug = process.env.MF_DEBUG;
      process.env.MF_DEBUG = '1';
      const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => record(`log ${args.map(String).join(' ')}`));
      let summary: RunSummary;
      try {
        summary = ok(await bench.run());
      } finally {
        spy.mockRestore();
        if (debug === undefined) delete process.env.MF_DEBUG;
        else process.env.MF_DEBUG = debug;
        holder?.close();
      }
      const json = JSON.stringify(summary);
      record(`summary ${json}`);
      const where = `${mechanism}, ${pw.label}, ${kase.name}`;
      // The case did what it is about: the server answered -ERR with an echo.
      expect(summary.errors.map((e) => e.code).some((c) => (kase.codes as readonly string[]).includes(c)), `${where}: ${summary.errors.map((e) => e.code).join(', ')}`).toBe(true);
      expect(lines.some((l) => l.startsWith('trace server: -ERR') && l.includes('"')), `${where}: the server echoed`).toBe(true);
      if (kase.name.includes('later command')) expect(lines.some((l) => l.startsWith('log ')), `${where}: the run logged`).toBe(true);
      const forms: SecretForm[] = [...secretForms('password', pw.secret), ...secretForms('server password', serverPassword), ...sentForms(server.commands.map((c) => c.line), USER)];
      const leaks: string[] = [];
      for (const [what, text] of [['summary JSON', json], ['errors', JSON.stringify(summary.errors)], ...lines.map((l, i): [string, string] => [`trace/log line ${i}`, l])] as const) {
        for (const label of [...leaksIn(text, forms), ...(pw.pad ? partialAfterPad(text, pw.secret) : [])]) leaks.push(`${where}: ${label} in ${what}`);
      }
      return leaks;
    }

    for (const mechanism of MECHANISMS) {
      // 2ea72e5: the echoed line reached the error text and the trace: the PASS argument,
      // the AUTH PLAIN blob, the LOGIN answer, the CRAM-MD5 response and the APOP digest
      // were in the summary's errors, the trace and the log lines.
      it(`9: ${mechanism}: wrong password, right password refused later, a later -ERR; 1-char, 3-char, non-ASCII and padded passwords: no canary in the summary, errors, trace or log`, async () => {
        const log = new TestLog(`9-echo-${mechanism}`);
        const leaks: string[] = [];
        try {
          for (const pw of PASSWORDS) for (const kase of CASES) leaks.push(...(await echoRun(mechanism, pw, kase, log)));
        } finally {
          await log.flush();
        }
        expect(leaks).toEqual([]);
      }, 60_000);
    }

    // 2ea72e5: with --verbose the echoed -ERR went to stderr (the protocol trace) and the
    // error text into the JSON summary on stdout.
    it('9: through the CLI (fetch --verbose --json): no canary on stdout or stderr', async () => {
      const log = new TestLog('9-echo-cli');
      const workDir = await mkdtemp(join(tmpdir(), 'mailfetch-regr-cli-'));
      const leaks: string[] = [];
      try {
        const cases = [
          { auth: 'USER', password: CANARIES.password, server: CANARIES.refreshToken },
          { auth: 'PLAIN', password: CANARIES.password, server: CANARIES.refreshToken },
          { auth: 'USER', password: CANARIES.password, server: CANARIES.password, laterErr: true },
        ];
        for (const [i, c] of cases.entries()) {
          const server = await fake({
            password: c.server,
            messages: [{ uid: 'c1', bytes: mail('c1') }],
            profiles: [echo()],
            onCommand: async (cmd, s) => {
              if (!c.laterErr || cmd.verb !== 'RETR') return false;
              await s.writeLine('-ERR [SYS/TEMP] message locked, try later');
              return true;
            },
          });
          const config = join(workDir, `config-${i}.json`);
          const mailbox = { id: 'box', host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: USER, auth: c.auth, password: { env: 'MF_REGR_CLI_PASSWORD' } };
          await writeFile(config, JSON.stringify({ mailboxes: [mailbox] }));
          const out = await runCli(['fetch', '--config', config, '--local', join(workDir, `store-${i}`), '--verbose', '--json'], { MF_REGR_CLI_PASSWORD: c.password });
          log.add(`== CLI ${c.auth}${c.laterErr ? ', later -ERR' : ', wrong password'}: exit ${out.code}`);
          log.add(`stdout: ${out.stdout}`);
          log.add(`stderr: ${out.stderr}`);
          expect.soft(out.code, 'exit code').toBe(1);
          expect.soft(out.stderr, 'the trace shows the echoed -ERR').toMatch(/-ERR/);
          const forms = [...secretForms('password', c.password), ...secretForms('server password', c.server), ...sentForms(server.commands.map((x) => x.line), USER)];
          for (const [what, text] of [['stdout', out.stdout], ['stderr', out.stderr]] as const) for (const label of leaksIn(text, forms)) leaks.push(`CLI ${c.auth} #${i}: ${label} in ${what}`);
        }
      } finally {
        await log.flush();
        await rm(workDir, { recursive: true, force: true });
      }
      expect(leaks).toEqual([]);
    }, 180_000);
  });

  // ---- 10 ------------------------------------------------------------------------------

  describe('scenario 10: multi-line replies bounded by bytes', () => {
    /** 8,000-octet lines: within the line limit (8,192), so only a bound on the whole reply stops them. */
    const LONG_LINE = Buffer.from(`${'c'.repeat(7_998)}\r\n`, 'latin1');
    /** The sender stops after this many lines (160 MB), or as soon as the client is gone. */
    const MAX_LINES_SENT = 20_000;
    // A listing may legitimately hold MAX_LISTING_OCTETS (83 MB); what matters is that a
    // flood stops there, far inside a 512 MB Lambda (2ea72e5 read on for ever).
    const MAX_RSS_GROWTH = 128 * 1024 * 1024;

    /** Writes `line` after "+OK" until the client goes away or MAX_LINES_SENT, then FIN. Returns the lines sent. */
    function flood(server: { current?: FakePop3Server }, counter: { lines: number }, line: (i: number) => Buffer): FakePop3Options['onCommand'] {
      return async (_cmd, s: FakeSession) => {
        await s.writeLine('+OK here it comes');
        for (let i = 0; i < MAX_LINES_SENT && server.current!.openSessions().includes(s); i++) {
          await s.write(line(i));
          counter.lines++;
          // A write to a closed socket resolves at once: let the 'close' event through.
          if (i % 16 === 0) await nextTurn();
        }
        s.end();
        return true;
      };
    }

    async function rssGrowthOf<T>(fn: () => Promise<T>): Promise<{ result: T; growth: number; ms: number }> {
      const base = process.memoryUsage.rss();
      let peak = base;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
      const started = Date.now();
      try {
        const result = await fn();
        peak = Math.max(peak, process.memoryUsage.rss());
        return { result, growth: peak - base, ms: Date.now() - started };
      } finally {
        clearInterval(timer);
      }
    }

    // 2ea72e5: CAPA lines were read without any bound on the reply (only 5,000,000 lines):
    // the whole flood was held in memory, and the session failed only when the server closed.
    it('10: a CAPA reply of endless 8,000-octet lines fails the session with REPLY_TOO_LARGE at its bound, RSS grows by less than 128 MB', async () => {
      const sent = { lines: 0 };
      const ref: { current?: FakePop3Server } = {};
      const onCapa = flood(ref, sent, () => LONG_LINE);
      ref.current = await fake({ onCommand: (cmd, s) => (cmd.verb === 'CAPA' ? onCapa!(cmd, s) : false) });
      const bench = await benchFor(ref.current);

      const { result, growth, ms } = await rssGrowthOf(() => bench.run().then(ok));

      expect.soft(result.status).toBe('error');
      expect.soft(result.errors.map((e) => e.code)).toEqual([CODE.REPLY_TOO_LARGE]);
      expect.soft(growth, `RSS grew by ${Math.round(growth / 1048576)} MB; the server sent ${sent.lines} lines`).toBeLessThan(MAX_RSS_GROWTH);
      // Not a timing claim (shared machines are noisy): a client reading on would take minutes.
      expect.soft(ms, 'run time (ms)').toBeLessThan(60_000);
      expect.soft(sent.lines, 'the client read on').toBeLessThan(MAX_LINES_SENT);
    });

    // 2ea72e5: as above, for UIDL after login.
    it('10: a UIDL listing of endless lines fails the session with REPLY_TOO_LARGE at its bound, RSS grows by less than 128 MB', async () => {
      const sent = { lines: 0 };
      const ref: { current?: FakePop3Server } = {};
      const onUidl = flood(ref, sent, (i) => Buffer.from(`${i + 1} ${'u'.repeat(7_990 - String(i + 1).length)}\r\n`, 'latin1'));
      ref.current = await fake({ messages: [{ uid: 'one', bytes: mail('one') }], onCommand: (cmd, s) => (cmd.verb === 'UIDL' && s.state === 'TRANSACTION' ? onUidl!(cmd, s) : false) });
      const bench = await benchFor(ref.current);

      const { result, growth, ms } = await rssGrowthOf(() => bench.run().then(ok));

      expect.soft(result.errors.map((e) => e.code)).toContain(CODE.REPLY_TOO_LARGE);
      expect.soft(result.fetched).toBe(0);
      expect.soft(growth, `RSS grew by ${Math.round(growth / 1048576)} MB; the server sent ${sent.lines} lines`).toBeLessThan(MAX_RSS_GROWTH);
      // Not a timing claim (shared machines are noisy): a client reading on would take minutes.
      expect.soft(ms, 'run time (ms)').toBeLessThan(60_000);
      expect.soft(sent.lines, 'the client read on').toBeLessThan(MAX_LINES_SENT);
    });
  });

  // ---- 11 (worker level) ---------------------------------------------------------------

  // 2ea72e5: the id regex required at least one character after the number: "2" made the
  // whole UIDL listing a PROTOCOL_ERROR, every run, and nothing was fetched.
  it('11c: a UIDL line without an id ("2") sets that message aside as invalid; the others are fetched', async () => {
    const messages = ['v1', 'v2', 'v3'].map((uid) => ({ uid, bytes: mail(uid) }));
    const server = await fake({
      messages,
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'UIDL' || s.state !== 'TRANSACTION' || cmd.args.length > 0) return false;
        await s.write('+OK\r\n1 v1\r\n2\r\n3 v3\r\n.\r\n');
        return true;
      },
    });
    const bench = await benchFor(server);

    const run = ok(await bench.run());

    expect(run).toMatchObject({ status: 'ok', fetched: 2, invalidUids: 1 });
    expect(run.errors.length).toBeGreaterThan(0);
    for (const e of run.errors) expect(e).toMatchObject({ code: CODE.INVALID_UID, retryable: false });
    await expectStoredExactly(bench, [messages[0]!.bytes, messages[2]!.bytes]);
  });

  // 2ea72e5: an endless RETR ended as CONNECTION_CLOSED once the drain gave up, so the
  // message was not recognised as too large: not recorded, not named, retried every run.
  it('11f: an endless RETR is MESSAGE_TOO_LARGE (not CONNECTION_CLOSED): recorded as skipped, named in skippedMessages, not retried', async () => {
    const maxMessageBytes = 256 * 1024;
    const messages = ['e1', 'e2', 'e3'].map((uid) => ({ uid, bytes: mail(uid) }));
    const line = Buffer.from(`${'e'.repeat(1022)}\r\n`, 'latin1');
    const MAX_OCTETS_SENT = 256 * 1024 * 1024;
    let sent = 0;
    const ref: { current?: FakePop3Server } = {};
    const server = await fake({
      messages,
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR' || cmd.args[0] !== '2') return false;
        await s.writeLine('+OK message follows');
        for (let i = 0; sent < MAX_OCTETS_SENT && ref.current!.openSessions().includes(s); i++) {
          await s.write(line);
          sent += line.length;
          // A write to a closed socket resolves at once: let the 'close' event through.
          if (i % 64 === 0) await nextTurn();
        }
        s.end();
        return true;
      },
    });
    ref.current = server;
    const bench = await benchFor(server, { limits: { ...DEFAULT_LIMITS, maxMessageBytes } });

    const first = ok(await bench.run());

    expect.soft(sent, 'the client read on').toBeLessThan(MAX_OCTETS_SENT);
    expect(first.errors.filter((e) => e.code === CODE.CONNECTION_CLOSED)).toEqual([]);
    expect(first.skippedMessages).toContainEqual(expect.objectContaining({ uid: 'e2', number: 2, reason: 'too-large' }));
    expect((await bench.records()).find((r) => r.uid === 'e2')).toMatchObject({ status: 'skipped', skipReason: 'too-large' });
    const retrs = server.commands.filter((c) => c.line === 'RETR 2').length;
    for (let run = 0; run < 2; run++) ok(await bench.run());
    expect(server.commands.filter((c) => c.line === 'RETR 2').length).toBe(retrs);
    await expectStoredExactly(bench, [messages[0]!.bytes, messages[2]!.bytes]);
  });
});

// ---- 11 (client level) -----------------------------------------------------------------

describe('server semantics regressions: the POP3 client (scenario 11)', () => {
  const servers: FakePop3Server[] = [];
  const clients: Pop3Client[] = [];
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  async function fake(options: FakePop3Options = {}): Promise<FakePop3Server> {
    const server = await startFakePop3({ user: USER, password: CANARIES.password, ...options });
    servers.push(server);
    return server;
  }

  function opts(server: FakePop3Server, extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions {
    return { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: USER, password: CANARIES.password, auth: 'USER', ...extra };
  }

  async function session(server: FakePop3Server, extra: Partial<Pop3SessionOptions> = {}): Promise<Pop3Client> {
    const c = await openSession(opts(server, extra));
    clients.push(c);
    return c;
  }

  async function readAll(stream: MessageStream): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of stream) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  // 2ea72e5: the NOOP waited for its turn behind the unread RETR stream; no reply could
  // ever come, and it failed only at the session deadline.
  it('11a: a command queued behind an unread message stream fails promptly with CONNECTION_CLOSED after the server closes cleanly (FIN)', async () => {
    const m1 = mail('fin');
    const server = await fake({
      messages: [{ uid: 'f1', bytes: m1 }],
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        await s.writeLine(`+OK ${m1.length} octets`);
        await s.writeMultiline(m1);
        s.end();
        return true;
      },
    });
    const c = await session(server, { sessionTimeoutMs: 20_000 });
    const stream = await c.retr(1);
    const noop = c.noop();

    const outcome = await within(noop, 3_000);

    expect(outcome, 'NOOP still waiting 3 s after the server closed').not.toBe('pending');
    expect(outcome).toMatchObject({ error: expect.objectContaining({ code: CODE.CONNECTION_CLOSED }) });
    // The message that did arrive is still delivered whole.
    expect((await readAll(stream)).equals(m1)).toBe(true);
  });

  // 2ea72e5: the abort destroyed the socket under the handshake, which then failed as
  // CONNECTION_CLOSED ("closed the connection during the TLS handshake"), not ABORTED.
  it('11b: aborting during the STLS handshake fails the session at once with ABORTED', async () => {
    const pki = await makeTestPki();
    const server = await fake({
      stls: true,
      pki,
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'STLS') return false;
        await s.writeLine('+OK Begin TLS negotiation');
        s.stall(); // never answers the ClientHello
        return true;
      },
    });
    const controller = new AbortController();
    const opening = openSession(opts(server, { tls: 'starttls', tlsOptions: { ca: pki.caCert }, signal: controller.signal, connectTimeoutMs: 20_000 }));
    opening.then((c) => clients.push(c), () => undefined);
    await sleep(300);
    controller.abort();

    const outcome = await within(opening, 2_000);

    expect(outcome, 'still in the STLS handshake 2 s after the abort').not.toBe('pending');
    expect(outcome).toMatchObject({ error: expect.objectContaining({ code: CODE.ABORTED }) });
  });

  // 2ea72e5: "+OK." and "-ERR:" were malformed status lines: PROTOCOL_ERROR, session over.
  it('11d: "+OK." and "-ERR:" are status lines like any other', async () => {
    const server = await fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb === 'NOOP') await s.writeLine('+OK.');
        else if (cmd.verb === 'RSET') await s.writeLine('-ERR: not now');
        else return false;
        return true;
      },
    });
    const c = await session(server);

    await expect(c.noop()).resolves.toBeUndefined();
    const err = await c.rset().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Pop3Error);
    expect(err).toMatchObject({ code: CODE.SERVER_ERROR });
    // Not a protocol error: the session goes on.
    await expect(c.noop()).resolves.toBeUndefined();
    await expect(c.stat()).resolves.toMatchObject({ count: 0 });
  });

  // 2ea72e5: the second SASL line replaced the first: only XOAUTH2 was known, and a
  // configured PLAIN was refused as not offered.
  it('11e: a repeated CAPA line ("SASL PLAIN", then "SASL XOAUTH2") merges: both mechanisms are known, PLAIN works', async () => {
    const server = await fake({ capabilities: ['USER', 'SASL PLAIN', 'SASL XOAUTH2', 'UIDL', 'TOP'] });
    const c = await session(server, { auth: 'PLAIN' });

    expect(c.authenticated).toBe(true);
    const before = await Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none' });
    clients.push(before);
    expect((await before.capa()).sasl).toEqual(['PLAIN', 'XOAUTH2']);
  });
});
