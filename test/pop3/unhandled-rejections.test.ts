/**
 * A caller that pipelines holds promises it will await later. When the connection drops
 * meanwhile, they reject; none of them, and nothing the engine creates internally, may
 * reach the process as an unhandledRejection (which crashes a Lambda by default).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3Error, Pop3ErrorCode } from '../../lambda/pop3';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';

const servers: FakePop3Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const message = (uid: string): { uid: string; bytes: Buffer } => ({ uid, bytes: Buffer.from(`Subject: ${uid}\r\n\r\nbody\r\n`) });

describe('promises awaited late', () => {
  for (const pipelining of [true, false]) {
    it(`${pipelining ? 'pipelined' : 'lock-step'}: RETRs and other verbs queued when the connection drops reject when awaited, with no unhandledRejection`, async () => {
      const unhandled: unknown[] = [];
      const record = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', record);
      try {
        const server = await startFakePop3({
          messages: [message('a'), message('b'), message('c')],
          onCommand: (cmd, s) => (cmd.verb === 'RETR' && cmd.args[0] === '2' ? (s.destroy(), true) : false),
        });
        servers.push(server);
        const c = await openSession({ host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret', pipelining });
        const first = c.retr(1);
        const pending: Promise<unknown>[] = [c.retr(2), c.retr(3), c.top(3, 0), c.dele(1), c.uidl(), c.list(), c.stat(), c.noop(), c.rset(), c.uidlOne(1), c.listOne(1), c.command('NOOP'), c.multiline('UIDL'), c.capa(), c.quit()];
        // Read the first message (so the reply to RETR 2, the drop, is read), then let every
        // rejection happen before anything is awaited.
        for await (const chunk of await first) void chunk;
        await new Promise((r) => setTimeout(r, 200));
        for (const p of pending) {
          const err = await p.then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(Pop3Error);
          expect((err as Pop3Error).code).toBe(Pop3ErrorCode.CONNECTION_CLOSED);
        }
        await new Promise((r) => setImmediate(r));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', record);
      }
    });
  }
});
