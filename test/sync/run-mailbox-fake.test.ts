/**
 * Worker behaviours that need a server Dovecot cannot imitate: duplicate and hostile
 * UIDLs, Gmail-style batches per session, very large listings (the O(new) property), a
 * bare-LF server whose LIST sizes are below the real ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateStoreError } from '../../lambda/state/errors';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { MAX_INCOMPLETE_ATTEMPTS } from '../../lambda/sync/fetch-messages';
import { startFakePop3, type FakeMessage, type FakePop3Options, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { bareLf, underEstimatedSizes } from '../fixtures/pop3-profiles';
import { SimulatedCrash, WorkerBench } from './harness';

const msg = (uid: string, headers: string, body = 'body\r\n'): FakeMessage => ({ uid, bytes: Buffer.from(`${headers}\r\n\r\n${body}`, 'latin1') });

function ok(r: RunSummary | SimulatedCrash): RunSummary {
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

describe('worker against the fake POP3 server', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  const servers: FakePop3Server[] = [];

  beforeAll(async () => {
    [s3, dynamo] = await Promise.all([startS3rver(), startDynamoDbLocal()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.close()), s3?.stop(), dynamo?.stop()]);
  });

  async function setup(options: FakePop3Options, mailbox = {}): Promise<{ bench: WorkerBench; server: FakePop3Server }> {
    const server = await startFakePop3(options);
    servers.push(server);
    const bench = await WorkerBench.create({
      s3,
      dynamo,
      pop3: { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
      mailbox,
    });
    return { bench, server };
  }

  async function storedBodies(bench: WorkerBench): Promise<string[]> {
    return [...(await bench.objects()).values()].map((b) => b.toString('latin1')).sort();
  }

  it('duplicate UIDLs (popa3d style): each distinct message stored once, duplicates reported, stable across runs', async () => {
    const a = msg('d98c1dd404b2008f', 'Subject: first');
    const b = msg('d98c1dd404b2008f', 'Subject: second');
    const c = msg('unique-1', 'Subject: third');
    const { bench, server } = await setup({ messages: [a, b, c] });
    const first = ok(await bench.run());
    expect(first).toMatchObject({ fetched: 3, duplicates: 1, complete: true });
    expect(await storedBodies(bench)).toEqual([a, b, c].map((m) => m.bytes.toString('latin1')).sort());
    expect(ok(await bench.run())).toMatchObject({ fetched: 0, new: 0 });

    // The very same message listed twice is fetched once and reported as a duplicate.
    server.addMessages([{ ...c }]);
    const third = ok(await bench.run());
    expect(third).toMatchObject({ fetched: 0, duplicates: 2 });
    expect((await bench.objects()).size).toBe(3);
  });

  it('a UIDL that becomes shared later keeps its stored message (no second object for it)', async () => {
    const a = msg('shared', 'Subject: original');
    const { bench, server } = await setup({ messages: [a] });
    expect(ok(await bench.run()).fetched).toBe(1);
    server.addMessages([msg('shared', 'Subject: newcomer')]);
    const r = ok(await bench.run());
    expect(r.fetched).toBe(1);
    const bodies = await storedBodies(bench);
    expect(bodies).toHaveLength(2);
    const records = await bench.records();
    expect(records.map((x) => x.identity).sort()).toEqual(['shared', expect.stringMatching(/^shared fp:[0-9a-f]{32}$/)]);
  });

  it('hostile UIDL characters make S3-safe, distinct keys; unsafe UIDLs are reported, not fetched', async () => {
    const uids = ['a/b', 'a+b=', '..', '../etc/passwd', '%2F', '~7E', 'x'.repeat(75), 'y'.repeat(400)];
    const { bench, server } = await setup({ messages: uids.map((u, i) => msg(u, `Subject: ${i}`)) });
    server.addMessages([msg('with space', 'Subject: space')]); // the fake lists it as "n with space": invalid
    const r = ok(await bench.run());
    expect(r.fetched).toBe(uids.length);
    const keys = [...(await bench.objects()).keys()];
    expect(new Set(keys).size).toBe(uids.length);
    for (const k of keys) {
      expect(k).toMatch(/^messages\/box-1\/[A-Za-z0-9_~.-]+\.eml$/);
      expect(k.length).toBeLessThan(300);
      expect(k).not.toContain('..');
    }
    expect(ok(await bench.run())).toMatchObject({ fetched: 0 });
  });

  it('servers without UIDL: messages are told apart by header fingerprint', async () => {
    const messages = [msg('x1', 'Subject: one'), msg('x2', 'Subject: two')];
    const { bench, server } = await setup({
      messages,
      capabilities: ['TOP', 'USER'],
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'UIDL') return false;
        await s.writeLine('-ERR UIDL not supported');
        return true;
      },
    });
    expect(ok(await bench.run())).toMatchObject({ fetched: 2, complete: true });
    expect(ok(await bench.run())).toMatchObject({ fetched: 0 });
    server.addMessages([msg('x3', 'Subject: three')]);
    expect(ok(await bench.run())).toMatchObject({ fetched: 1 });
    expect((await bench.records()).every((r) => r.identity.startsWith(' fp:'))).toBe(true);
  });

  it('Gmail-style batches: keeps opening sessions while the server hands out more new mail', async () => {
    const all = Array.from({ length: 12 }, (_, i) => msg(`g${i}`, `Subject: g${i}`));
    const popped = new Set<string>();
    const { bench, server } = await setup({
      messages: [],
      onConnect: () => {
        // Each session shows the next 5 messages not yet retrieved, like Gmail's POP.
        const batch = all.filter((m) => !popped.has(m.uid)).slice(0, 5);
        server.messages.splice(0, server.messages.length, ...batch.map((m) => ({ ...m })));
        return false;
      },
      onCommand: (cmd, s) => {
        if (cmd.verb === 'RETR') popped.add(s.mailbox[Number(cmd.args[0]) - 1]!.uid);
        return false;
      },
    });
    const r = ok(await bench.run());
    expect(r).toMatchObject({ fetched: 12, complete: true });
    expect(r.sessions).toBe(4); // 5 + 5 + 2, then one that finds nothing new
  });

  it('steady state is O(new): a no-new-mail run reads the same capacity at 100 and 3,000 recorded messages', async () => {
    const units: number[] = [];
    for (const size of [100, 3000]) {
      const messages = Array.from({ length: size }, (_, i) => msg(`uid-${i}`, `Subject: ${i}`));
      const { bench, server } = await setup({ messages });
      ok(await bench.run({ mode: 'baseline' }));
      const idle = ok(await bench.run());
      expect(idle).toMatchObject({ new: 0, fetched: 0, fullDiff: false });
      units.push(idle.readUnits);
      // New mail appended: still reads only the summary and the new items.
      server.addMessages([msg('uid-new', 'Subject: new')]);
      const one = ok(await bench.run());
      expect(one).toMatchObject({ fetched: 1, fullDiff: false });
      expect(one.readUnits).toBeLessThan(10);
    }
    expect(units[0]).toBeGreaterThan(0);
    expect(units[1]).toBe(units[0]);
  }, 120_000);

  it('a listing that changed other than by appending falls back to a full diff and expires vanished records', async () => {
    const { bench, server } = await setup({ messages: [msg('k1', 'Subject: 1'), msg('k2', 'Subject: 2'), msg('k3', 'Subject: 3')] });
    ok(await bench.run());
    server.messages.splice(0, 1); // deleted by another client
    const r = ok(await bench.run());
    expect(r).toMatchObject({ fullDiff: true, fetched: 0, expired: 1 });
    expect(ok(await bench.run())).toMatchObject({ fullDiff: false });
  });

  it('switching retention from keep to delete deletes the mail kept so far (one full diff)', async () => {
    const { bench, server } = await setup({ messages: [msg('r1', 'Subject: 1'), msg('r2', 'Subject: 2')] });
    expect(ok(await bench.run())).toMatchObject({ fetched: 2, deleted: 0 });
    bench.mailbox = { ...bench.mailbox, retention: 'delete' };
    expect(ok(await bench.run())).toMatchObject({ fetched: 0, deleted: 2, fullDiff: true });
    expect(server.messages).toHaveLength(0);
    expect((await bench.objects()).size).toBe(2);
  });

  it('a DELE the server refuses is retried by the next run; the message is never fetched twice', async () => {
    let refuse = true;
    const { bench, server } = await setup(
      {
        messages: [msg('q1', 'Subject: 1'), msg('q2', 'Subject: 2')],
        onCommand: async (cmd, s) => {
          if (cmd.verb !== 'DELE' || cmd.args[0] !== '1' || !refuse) return false;
          await s.writeLine('-ERR [SYS/TEMP] cannot delete now');
          return true;
        },
      },
      { retention: 'delete' },
    );
    const first = ok(await bench.run());
    expect(first).toMatchObject({ fetched: 2, deleted: 1, complete: false });
    expect(first.errors).toMatchObject([{ code: 'SYS_TEMP', uid: 'q1' }]);
    expect(server.messages.map((m) => m.uid)).toEqual(['q1']);
    refuse = false;
    expect(ok(await bench.run())).toMatchObject({ fetched: 0, deleted: 1, complete: true });
    expect(server.messages).toHaveLength(0);
    expect((await bench.objects()).size).toBe(2);
  });

  it('an unreachable state table is a reported, retryable run error (not a crash), and nothing is fetched', async () => {
    const { bench, server } = await setup({ messages: [msg('s1', 'Subject: 1')] });
    const broken = Object.create(bench.state) as typeof bench.state;
    broken.acquireLease = () => Promise.reject(new StateStoreError('THROTTLED', 'DynamoDB throttled PutItem', { operation: 'PutItem' }));
    const { runMailbox } = await import('../../lambda/sync/run-mailbox');
    const r = await runMailbox(
      { state: broken, sink: bench.sink, openSession: () => Promise.reject(new Error('must not connect')) },
      { mailbox: bench.mailbox, deadline: Date.now() + 60_000 },
    );
    expect(r).toMatchObject({ status: 'error', fetched: 0, errors: [{ code: 'THROTTLED', retryable: true }] });
    expect(server.sessions).toBe(0);
  });

  it('a shared UIDL that becomes unique later does not fetch its message again (popa3d, keep)', async () => {
    const a = msg('hdrhash', 'Subject: alpha');
    const b = msg('hdrhash', 'Subject: beta');
    const { bench, server } = await setup({ messages: [a, b] });
    expect(ok(await bench.run())).toMatchObject({ fetched: 2 });
    server.messages.splice(1, 1); // b deleted by another client: 'hdrhash' is now unique
    expect(ok(await bench.run())).toMatchObject({ fetched: 0 });
    server.addMessages([msg('later', 'Subject: later')]);
    expect(ok(await bench.run())).toMatchObject({ fetched: 1, fullDiff: false });
    expect(ok(await bench.run())).toMatchObject({ fetched: 0 });
    expect((await bench.objects()).size).toBe(3);
  });

  it('a UIDL reused for a different message after the first left the server: the new one is fetched, the old object kept', async () => {
    const first = msg('reused', 'Subject: first');
    const { bench, server } = await setup({ messages: [first] });
    expect(ok(await bench.run())).toMatchObject({ fetched: 1 });
    const [firstKey] = [...(await bench.objects()).keys()];
    server.messages.splice(0, 1);
    ok(await bench.run()); // full diff: the record expires later
    server.addMessages([msg('reused', 'Subject: second, same UIDL')]);
    expect(ok(await bench.run())).toMatchObject({ fetched: 1 });
    const objects = await bench.objects();
    expect(objects.size).toBe(2);
    expect(objects.get(firstKey!)!.toString('latin1')).toContain('Subject: first');
    expect(ok(await bench.run())).toMatchObject({ fetched: 0 });
  });

  for (const pipelining of [true, false]) {
    it(`bare-LF server, LIST under the real size (${pipelining ? 'pipelined' : 'lock-step'}): a message cut at a "." after a bare LF is never stored; MESSAGE_INCOMPLETE, retried, then skipped; the others stored byte-exact`, async () => {
      // At the unstuffed "." 260 of its 268 octets have arrived; LIST announces 241.
      const cut = msg('lf-2', 'Subject: cut', `${'a'.repeat(240)}\r\nx\n.\r\nend\r\n`);
      const before = msg('lf-1', 'Subject: before', 'first\nsecond, after a bare LF\r\n');
      const after = msg('lf-3', 'Subject: after', 'bare\nLF\n\r\nend\r\n');
      const { bench, server } = await setup({ messages: [before, cut, after], profiles: [bareLf(), underEstimatedSizes()] }, { pipelining });
      for (let attempt = 1; attempt <= MAX_INCOMPLETE_ATTEMPTS; attempt++) {
        const run = ok(await bench.run());
        expect(run.errors).toContainEqual(expect.objectContaining({ code: 'MESSAGE_INCOMPLETE', uid: 'lf-2', number: 2 }));
        for (const o of (await bench.objects()).values()) expect(cut.bytes.subarray(0, o.length).equals(o), 'a prefix of lf-2 was stored').toBe(false);
        const record = (await bench.records()).find((r) => r.uid === 'lf-2');
        expect(record?.status).toBe(attempt < MAX_INCOMPLETE_ATTEMPTS ? 'failed' : 'skipped');
      }
      expect(ok(await bench.run())).toMatchObject({ errors: [] });
      expect(await storedBodies(bench)).toEqual([before, after].map((m) => m.bytes.toString('latin1')).sort());
      expect(server.messages.map((m) => m.uid)).toContain('lf-2');
    });
  }

  it('bare-LF server, LIST under the real size, retention delete: a line ".dot" after a bare LF is stored byte-exact before the message is deleted', async () => {
    const dotted = msg('lf-dot', 'Subject: dotted', `${'a'.repeat(200)}\nline one\n.dot after a bare LF\r\n`);
    const { bench, server } = await setup({ messages: [dotted], profiles: [bareLf(), underEstimatedSizes()] }, { retention: 'delete' });
    expect(ok(await bench.run())).toMatchObject({ fetched: 1, errors: [] });
    expect(await storedBodies(bench)).toEqual([dotted.bytes.toString('latin1')]);
    expect(server.messages).toEqual([]);
  });
  it('an idle run sends no summary write (its only writes are its lease), and the next run still takes the fast path', async () => {
    const { bench, server } = await setup({ messages: [msg('i1', 'Subject: one'), msg('i2', 'Subject: two')] });
    const first = ok(await bench.run());
    expect(first.fetched).toBe(2);
    const idle = ok(await bench.run());
    // Lease taken and released: two write units; the unchanged summary is not sent again.
    expect(idle).toMatchObject({ fetched: 0, fullDiff: false, writeUnits: 2 });
    server.addMessages([msg('i3', 'Subject: three')]);
    const withMail = ok(await bench.run());
    expect(withMail.fetched).toBe(1);
    expect(withMail.writeUnits).toBeGreaterThan(3);
    expect(ok(await bench.run())).toMatchObject({ fetched: 0, fullDiff: false, writeUnits: 2 });
  });

  it('delete retention: the summary after a QUIT with deletions is written even when it equals the one read', async () => {
    // Each run ends with an empty listing, as the run before it did; in between, the
    // unconfirmed-deletions marker was written, so the final summary must replace it.
    const { bench, server } = await setup({ messages: [msg('d1', 'Subject: one')] }, { retention: 'delete' });
    expect(ok(await bench.run())).toMatchObject({ fetched: 1, deleted: 1 });
    server.addMessages([msg('d2', 'Subject: two')]);
    expect(ok(await bench.run())).toMatchObject({ fetched: 1, deleted: 1 });
    expect(ok(await bench.run())).toMatchObject({ fetched: 0, fullDiff: false, writeUnits: 2 });
  });
});
