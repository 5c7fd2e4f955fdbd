/**
 * GNU mailutils pop3d: user@domain logins, EXPIRENEVER, STAT/LIST disagreeing on the first
 * session after delivery, and the X-UIDL header it adds to every message whose UIDL was
 * asked for.
 */
import { expect } from 'vitest';
import { openSession } from '../../../lambda/pop3';
import { benchFor, run } from '../bench';
import { matrixMessages, sortedBase64 } from '../messages';
import { deleteAll, directOptions, retrieveAll, withSession } from '../servers/direct';
import { QUIRKS } from '../servers/mailutils';
import type { QuirkContext } from './context';
import { quirkTest } from './quirk';

const [USER_AT_DOMAIN, EXPIRENEVER, STAT_LIST, X_UIDL] = QUIRKS;

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
}
