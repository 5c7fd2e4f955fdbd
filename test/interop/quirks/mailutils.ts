/**
 * GNU mailutils pop3d: user@domain logins, EXPIRENEVER, STAT/LIST disagreeing on the first
 * session after delivery, and the X-UIDL header it adds to every message whose UIDL was
 * asked for. With `expire 0` (instances of their own) every message a session read by RETR
 * or TOP is deleted at its QUIT: a store failing mid-session loses nothing, and a message
 * the worker does not fetch is never read by TOP, so it stays. With `expire N` read
 * messages gain an X-Expire-Timestamp header: not new mail, nothing stored twice.
 */
import { expect } from 'vitest';
import { DEFAULT_LIMITS } from '../../../lambda/config/mailbox-config';
import { openSession } from '../../../lambda/pop3';
import { objectNameFor } from '../../../lambda/storage/object-key';
import { RETENTION_OVERRULED } from '../../../lambda/sync/retrieval-rule';
import { failFirstPutOf } from '../../fault/regressions/s3-faults';
import { benchFor, expectSummary, run, type Aws } from '../bench';
import { bodyOf, expectedBody, matrixMessages, sortedBase64 } from '../messages';
import { deleteAll, directOptions, retrieveAll, withSession } from '../servers/direct';
import { mailutils, QUIRKS } from '../servers/mailutils';
import type { InteropServer } from '../servers/types';
import type { QuirkContext } from './context';
import { quirkTest } from './quirk';

const [USER_AT_DOMAIN, EXPIRENEVER, STAT_LIST, X_UIDL, EXPIRE_ZERO_STORE, EXPIRE_ZERO_TOP, EXPIRE_DAYS] = QUIRKS;
/** Above the header audit's interval: the run after it audits (TOPs, where TOP is harmless). */
const A_DAY_LATER_MS = 25 * 60 * 60 * 1000;
/** Fits the dot and no-final-newline messages (about 280 octets with X-UIDL), not the 8-bit one. */
const SMALL_LIMIT_OCTETS = 400;
const EXPIRE_DAYS_N = 3;

/** `count` distinct matrix messages (Message-IDs unique by tag). */
function messages(tag: string, count: number): Buffer[] {
  return Array.from({ length: Math.ceil(count / 3) }, (_, i) => matrixMessages(`${tag}-${i}`)).flat().slice(0, count);
}

/** Runs `body` against a private mailutils with `expire days`, stopped afterwards. */
async function withExpire(days: number, body: (server: InteropServer) => Promise<void>): Promise<void> {
  const server = await mailutils.start({ expireDays: days });
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

/** Aws whose S3 client fails the first PutObject of the message with this UIDL, once. */
function failingStoreOf(aws: Aws, uid: string): { aws: Aws; failures: () => number } {
  const failing = failFirstPutOf(aws.s3.endpoint, (key) => key.includes(`/${objectNameFor(uid)}.`));
  return { aws: { ...aws, s3: { ...aws.s3, s3: failing.client } }, failures: () => failing.failures };
}

export function mailutilsQuirks(ctx: QuirkContext): void {
  quirkTest(ctx, [USER_AT_DOMAIN], async () => {
    const server = ctx.server();
    await deleteAll(server);
    await server.deliver(matrixMessages(`mu-user-${Date.now()}`));
    const bare = server.user.username.split('@')[0]!;
    await expect(openSession({ ...directOptions(server), username: bare })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    // The worker with the bare name fails clearly (not retryable) and stores nothing ...
    const wrong = await benchFor(ctx.aws(), server, { mode: 'starttls', mechanism: 'USER', pipelining: true, retention: 'keep', username: bare });
    expect(await run(wrong.bench)).toMatchObject({ status: 'error', fetched: 0, errors: [expect.objectContaining({ code: 'AUTH_FAILED', retryable: false })] });
    expect((await wrong.bench.objects()).size).toBe(0);
    // ... and with user@domain it fetches everything.
    const right = await benchFor(ctx.aws(), server, { mode: 'starttls', mechanism: 'USER', pipelining: true, retention: 'keep' });
    expect(await run(right.bench)).toMatchObject({ status: 'ok', fetched: 3 });
  });

  quirkTest(ctx, [EXPIRENEVER], async () => {
    const caps = await withSession(ctx.server(), async (c) => c.capabilities!);
    expect(caps.lines).toContain('EXPIRENEVER');
    expect(caps.expire).toBe('never');
  });

  quirkTest(ctx, [STAT_LIST, X_UIDL], async () => {
    const server = ctx.server();
    // The server side: in the first session after delivery, STAT (before UIDL) leaves out
    // the X-UIDL header that LIST (after UIDL) and RETR include.
    await deleteAll(server);
    await server.deliver(matrixMessages(`mu-stat-a-${Date.now()}`));
    const { statSize, listSize } = await withSession(server, async (c) => {
      const s = await c.stat();
      await c.uidl();
      return { statSize: s.size, listSize: (await c.list()).reduce((sum, e) => sum + e.size, 0) };
    });
    expect(statSize).toBeLessThan(listSize);

    // The worker's session is the first one on fresh mail: what it stores is what later
    // sessions deliver, X-UIDL header included (matching the UIDL it recorded).
    await deleteAll(server);
    await server.deliver(matrixMessages(`mu-stat-b-${Date.now()}`));
    const { bench } = await benchFor(ctx.aws(), server, { mode: 'none', mechanism: 'APOP', pipelining: true, retention: 'keep' });
    const first = await run(bench);
    expect(first).toMatchObject({ status: 'ok', fetched: 3, errors: [] });
    const objects = await bench.objects();
    expect(sortedBase64(objects.values())).toEqual(sortedBase64(await retrieveAll(server)));
    expect(first.bytes).toBe([...objects.values()].reduce((sum, o) => sum + o.length, 0));
    for (const record of await bench.records()) {
      expect(objects.get(record.objectKey!)!.toString('latin1')).toContain(`\r\nX-UIDL: ${record.uid}\r\n`);
    }
  });

  quirkTest(ctx, [EXPIRE_ZERO_STORE], async () => {
    await withExpire(0, async (server) => {
      const sent = messages(`mu-exp0-${Date.now()}`, 8);
      await server.deliver(sent);
      const third = await withSession(server, async (c) => (await c.uidl()).uidAt(2));
      const store = failingStoreOf(ctx.aws(), third);
      const { bench, trace } = await benchFor(store.aws, server, { mode: 'starttls', mechanism: 'USER', pipelining: true, retention: 'keep' });
      // The third message's PutObject fails: the run stores the others and ends without QUIT.
      const first = await run(bench);
      expect(store.failures()).toBe(1);
      expectSummary(first, { errors: expect.arrayContaining([expect.objectContaining({ code: 'UPLOAD_FAILED' }), expect.objectContaining({ code: 'QUIT_WITHHELD' })]) }, trace);
      expect(first.warnings).toEqual([expect.objectContaining({ code: RETENTION_OVERRULED, message: expect.stringContaining('EXPIRE 0') })]);
      expect(await server.count()).toBe(8);
      // The next run stores the rest; its QUIT lets the server delete all eight, each stored once.
      expectSummary(await run(bench), { status: 'ok', errors: [] }, trace);
      expect(await server.count()).toBe(0);
      const objects = [...(await bench.objects()).values()];
      expect(objects).toHaveLength(8);
      expect(sortedBase64(objects.map(bodyOf))).toEqual(sortedBase64(sent.map(expectedBody)));
      expect(trace.toString()).not.toMatch(/^C: TOP /m);
    });
  });

  quirkTest(ctx, [EXPIRE_ZERO_TOP], async () => {
    await withExpire(0, async (server) => {
      const caps = await withSession(server, async (c) => c.capabilities!);
      expect(caps.lines).toContain('EXPIRE0');
      expect(caps.expire).toBe(0);
      await server.deliver(matrixMessages(`mu-exp0-top-${Date.now()}`));
      const { bench, trace } = await benchFor(ctx.aws(), server, { mode: 'none', mechanism: 'APOP', pipelining: false, retention: 'keep' });
      bench.mailbox = { ...bench.mailbox, limits: { ...DEFAULT_LIMITS, maxMessageBytes: SMALL_LIMIT_OCTETS } };
      // The 8-bit message is too large: skipped, never read (no TOP for its headers), so it stays.
      expectSummary(await run(bench), { status: 'ok', fetched: 2, skipped: 1, errors: [] }, trace);
      expect(await server.count()).toBe(1);
      // A day later the header audit is due: still no TOP here, still on the server.
      expectSummary(await run(bench, { now: () => Date.now() + A_DAY_LATER_MS }), { status: 'ok', fetched: 0, errors: [] }, trace);
      expect(trace.toString()).not.toMatch(/^C: TOP /m);
      expect(await server.count()).toBe(1);
      // What a TOP would have done: the message read by TOP alone is gone after QUIT.
      await withSession(server, async (c) => void (await (await c.top(1, 0)).toArray()));
      expect(await server.count()).toBe(0);
    });
  });

  quirkTest(ctx, [EXPIRE_DAYS], async () => {
    await withExpire(EXPIRE_DAYS_N, async (server) => {
      const sent = matrixMessages(`mu-expn-${Date.now()}`);
      await server.deliver(sent);
      const { bench, trace } = await benchFor(ctx.aws(), server, { mode: 'implicit', mechanism: 'USER', pipelining: true, retention: 'keep' });
      const first = await run(bench);
      expectSummary(first, { status: 'ok', fetched: 3, errors: [] }, trace);
      expect(first.warnings).toEqual([expect.objectContaining({ code: RETENTION_OVERRULED, message: expect.stringContaining(`EXPIRE ${EXPIRE_DAYS_N}`) })]);
      // Read messages are kept, stamped: the server now delivers them with X-Expire-Timestamp.
      const stamped = await retrieveAll(server);
      expect(stamped).toHaveLength(3);
      for (const m of stamped) expect(m.toString('latin1')).toMatch(/\r\nX-Expire-Timestamp: \d+\r\n/);
      // Their new size is no new mail: checked once, nothing stored twice, then quiet.
      expectSummary(await run(bench), { status: 'ok', fetched: 0, errors: [] }, trace);
      expectSummary(await run(bench), { status: 'ok', new: 0, fetched: 0, errors: [] }, trace);
      const objects = [...(await bench.objects()).values()];
      expect(objects).toHaveLength(3);
      expect(sortedBase64(objects.map(bodyOf))).toEqual(sortedBase64(sent.map(expectedBody)));
      expect(await server.count()).toBe(3);
    });
  });
}
