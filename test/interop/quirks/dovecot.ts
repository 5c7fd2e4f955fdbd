/** Dovecot: a last line without line end arrives with CRLF, 2 octets more than LIST said. */
import { expect } from 'vitest';
import { benchFor, run } from '../bench';
import { matrixMessages } from '../messages';
import { deleteAll, withSession } from '../servers/direct';
import { QUIRKS } from '../servers/dovecot';
import type { QuirkContext } from './context';
import { quirkTest } from './quirk';

export function dovecotQuirks(ctx: QuirkContext): void {
  quirkTest(ctx, [QUIRKS[1]], async () => {
    const server = ctx.server();
    await deleteAll(server);
    const [, , noFinalNewline] = matrixMessages(`dovecot-crlf-${Date.now()}`);
    await server.deliver([noFinalNewline!]);
    const listed = await withSession(server, async (c) => (await c.list())[0]!.size);
    const { bench } = await benchFor(ctx.aws(), server, { mode: 'starttls', mechanism: 'PLAIN', pipelining: true, retention: 'keep' });
    expect(await run(bench)).toMatchObject({ status: 'ok', fetched: 1 });
    const [stored] = [...(await bench.objects()).values()];
    // Framed by the terminating "." line, not by the announced size.
    expect(stored!.length).toBe(listed + 2);
    expect(stored!.subarray(-2).toString()).toBe('\r\n');
  });
}
