/**
 * Courier: commands pipelined behind the login are lost (so the engine must not pipeline
 * before login), and CAPA announces LOGIN-DELAY 10 (so a run opens no follow-up session).
 */
import net from 'node:net';
import { expect } from 'vitest';
import { benchFor, expectSummary, run } from '../bench';
import { matrixMessages } from '../messages';
import { deleteAll, withSession } from '../servers/direct';
import { QUIRKS } from '../servers/courier';
import type { InteropServer } from '../servers/types';
import type { QuirkContext } from './context';
import { quirkTest } from './quirk';

const [LOSSY_PIPELINING, LOGIN_DELAY] = QUIRKS;
/** How long we wait for the STAT reply Courier never sends (it answers in milliseconds). */
const SWALLOWED_REPLY_WAIT_MS = 1_500;

/** Sends USER, PASS and STAT in one write and returns everything the server said meanwhile. */
function pipelineAcrossLogin(server: InteropServer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.ports.plain! });
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      if (received === '') {
        const { username, password } = server.user;
        socket.write(`USER ${username}\r\nPASS ${password}\r\nSTAT\r\n`);
      }
      received += chunk.toString('latin1');
    });
    socket.once('error', reject);
    setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, SWALLOWED_REPLY_WAIT_MS);
  });
}

export function courierQuirks(ctx: QuirkContext): void {
  quirkTest(ctx, [LOSSY_PIPELINING], async () => {
    const server = ctx.server();
    await deleteAll(server);
    // The hazard: the login succeeds, the STAT pipelined behind it is never answered.
    const said = await pipelineAcrossLogin(server);
    expect(said).toContain('+OK logged in.');
    expect(said).not.toMatch(/\+OK \d+ \d+/);

    // The worker asked to pipeline: lock-step up to the login reply, pipelined after it.
    for (const mechanism of ['USER', 'PLAIN', 'LOGIN', 'CRAM-MD5'] as const) {
      await deleteAll(server);
      await server.deliver(matrixMessages(`courier-pipe-${mechanism}-${Date.now()}`));
      const { bench, trace } = await benchFor(ctx.aws(), server, { mode: 'starttls', mechanism, pipelining: true, retention: 'delete' });
      expectSummary(await run(bench), { status: 'ok', fetched: 3, deleted: 3, errors: [] }, trace);
      for (const s of trace.sessions()) {
        expect(s.maxInFlightBeforeLogin, trace.toString()).toBe(1);
        expect(s.maxInFlightAfterLogin, trace.toString()).toBeGreaterThan(1);
      }
    }
  });

  quirkTest(ctx, [LOGIN_DELAY], async () => {
    const server = ctx.server();
    await deleteAll(server);
    const caps = await withSession(server, async (c) => c.capabilities!);
    expect(caps.loginDelaySeconds).toBe(10);
    await server.deliver(matrixMessages(`courier-delay-${Date.now()}`));
    const { bench, trace } = await benchFor(ctx.aws(), server, { mode: 'implicit', mechanism: 'PLAIN', pipelining: true, retention: 'keep' });
    // It fetched mail, yet no follow-up session: the server asked for 10 s between logins.
    expectSummary(await run(bench), { status: 'ok', fetched: 3, sessions: 1, complete: true, errors: [] }, trace);
    // Courier does not enforce it: an immediate next run is served (and finds nothing new).
    expectSummary(await run(bench), { status: 'ok', fetched: 0, sessions: 1, errors: [] }, trace);
  });
}
