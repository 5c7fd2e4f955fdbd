/**
 * Servers that announce RFC 2449 `EXPIRE 0` (test/fixtures/pop3-profiles/expire-zero.ts,
 * modelled on GNU mailutils pop3d with `expire 0`): every message a session read, by RETR
 * or by TOP, is deleted when it ends with QUIT. The worker applies Gmail's rule to them
 * (no QUIT while a read message is not stored), sends no TOP it can do without, and says
 * that `keep` cannot be honoured.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../lambda/config/mailbox-config';
import { RETENTION_OVERRULED } from '../../lambda/sync/retrieval-rule';
import type { RunSummary } from '../../lambda/sync/run-summary';
import type { FakePop3Profile, FakePop3Server } from '../fixtures/fake-pop3-server';
import { expireZero, recycledUidl, sharedUidl, type ExpireAnnouncement } from '../fixtures/pop3-profiles';
import { failFirstPutOf } from '../fault/regressions/s3-faults';
import { useLocalWorld } from '../fault/review/common';
import { SimulatedCrash, WorkerBench, type BenchOptions } from './harness';

function ok(r: RunSummary | SimulatedCrash): RunSummary {
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

const mail = (n: number, body = `body ${n}\r\n`): string => `Message-ID: <e${n}@test>\r\nSubject: e${n}\r\n\r\n${body}`;
/** Past a dead run's lease. */
const LATER_MS = 10 * 60_000;

describe('EXPIRE 0: what a session read is deleted at its QUIT', () => {
  const world = useLocalWorld();

  async function setUp(profiles: FakePop3Profile[], mailbox: BenchOptions['mailbox'] = {}, s3Client?: S3Client): Promise<{ server: FakePop3Server; bench: WorkerBench }> {
    const server = await world.fake({ profiles });
    const bench = await WorkerBench.create({
      s3: { ...world.s3, s3: s3Client ?? world.s3.s3 },
      dynamo: world.dynamo,
      pop3: { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
      mailbox: { retention: 'keep', ...mailbox },
    });
    return { server, bench };
  }

  it.each<ExpireAnnouncement>(['glued', 'per-user', 'after-login'])(
    'a store that fails mid-session loses nothing (announced %s): no QUIT, the next run stores the rest; keep is reported as overruled',
    async (announce) => {
      const failing = failFirstPutOf(world.s3.endpoint, (key) => key.includes('fake-3'));
      const { server, bench } = await setUp([expireZero({ announce })], {}, failing.client);
      for (let n = 1; n <= 8; n++) server.deliver(mail(n));

      const first = ok(await bench.run());
      expect(failing.failures).toBe(1);
      expect(first.errors.map((e) => e.code)).toEqual(expect.arrayContaining(['UPLOAD_FAILED', 'QUIT_WITHHELD']));
      expect(server.truth.removed()).toEqual([]);
      expect(first.warnings).toEqual([{ code: RETENTION_OVERRULED, message: expect.stringContaining('EXPIRE 0') }]);

      const second = ok(await bench.run());
      expect(second.errors).toEqual([]);
      // Every message is stored, exactly once, and only then removed by the server.
      const stored = [...(await bench.objects()).values()].map((b) => b.toString('latin1')).sort();
      expect(stored).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => mail(n)).sort());
      expect(server.truth.onServer()).toEqual([]);
    },
  );

  it('a message the run does not fetch (too large) is never read by TOP, and stays on the server', async () => {
    const { server, bench } = await setUp([expireZero()], { limits: { ...DEFAULT_LIMITS, maxMessageBytes: 200 } });
    server.deliver(mail(1));
    const large = server.deliver(mail(2, `${'x'.repeat(400)}\r\n`));
    server.deliver(mail(3));
    const first = ok(await bench.run());
    expect(first).toMatchObject({ fetched: 2, skipped: 1, errors: [] });
    ok(await bench.run({ now: () => Date.now() + 25 * 60 * 60_000 })); // a header audit is due: still no TOP
    expect(server.commands.filter((c) => /^TOP /i.test(c.line))).toEqual([]);
    expect(server.truth.onServer()).toEqual([large]);
    expect((await bench.objects()).size).toBe(2);
  });

  it('a recycled UIDL of a message skipped as too large, with another size, is new mail: read and stored (no TOP to tell)', async () => {
    const { server, bench } = await setUp([recycledUidl(), expireZero()], { limits: { ...DEFAULT_LIMITS, maxMessageBytes: 200 } });
    const large = server.deliver(mail(1, `${'x'.repeat(400)}\r\n`));
    expect(ok(await bench.run())).toMatchObject({ skipped: 1, errors: [] });
    server.deleteByOtherClient(large);
    const small = server.deliver(mail(2));
    expect(small.uid).toBe(large.uid);
    expect(ok(await bench.run({ now: () => Date.now() + LATER_MS }))).toMatchObject({ fetched: 1, errors: [] });
    expect([...(await bench.objects()).values()].map((b) => b.toString('latin1'))).toEqual([mail(2)]);
    expect(server.truth.onServer()).toEqual([]);
    expect(server.commands.filter((c) => /^TOP /i.test(c.line))).toEqual([]);
  });

  it('baseline reads no header and removes nothing', async () => {
    const { server, bench } = await setUp([expireZero()]);
    for (let n = 1; n <= 3; n++) server.deliver(mail(n));
    expect(ok(await bench.run({ mode: 'baseline' }))).toMatchObject({ status: 'ok', errors: [] });
    expect(server.commands.filter((c) => /^TOP /i.test(c.line))).toEqual([]);
    expect(server.truth.onServer()).toHaveLength(3);
  });

  it('mail stored in a session that died before QUIT is read once more, checked, and removed by the next QUIT', async () => {
    const { server, bench } = await setUp([expireZero()]);
    for (let n = 1; n <= 3; n++) server.deliver(mail(n));
    expect(await bench.run({ crash: { at: 'before-quit' } })).toBeInstanceOf(SimulatedCrash);
    expect(server.truth.removed()).toEqual([]);
    const later = Date.now() + LATER_MS;
    expect(ok(await bench.run({ now: () => later }))).toMatchObject({ fetched: 0, errors: [] });
    expect(server.truth.onServer()).toEqual([]);
    expect((await bench.objects()).size).toBe(3);
  });

  it('a TOP that an identity needs (a shared UIDL) counts as a retrieval: its message unstored, there is no QUIT', async () => {
    // popa3d-style UIDLs from headers: two messages with one header block share a UIDL, and
    // their identities need TOP. The second is too large to fetch: read by TOP, never stored.
    const { server, bench } = await setUp([sharedUidl(), expireZero()], { limits: { ...DEFAULT_LIMITS, maxMessageBytes: 200 } });
    const twin = 'From: a@example.com\r\nTo: b@example.com\r\nSubject: twin\r\nDate: Mon, 6 Jan 2025 10:00:00 +0000\r\nMessage-ID: <twin@test>\r\n\r\n';
    server.deliver(`${twin}short\r\n`);
    const large = server.deliver(`${twin}${'x'.repeat(400)}\r\n`);
    const first = ok(await bench.run());
    expect(server.commands.some((c) => /^TOP /i.test(c.line))).toBe(true);
    expect(first.errors.map((e) => e.code)).toContain('QUIT_WITHHELD');
    expect(large.removed).toBeUndefined();
    expect(server.truth.removed()).toEqual([]);
  });
});
