/**
 * Found in review (of 31a15b2), kept as a regression. HOLE: settle-copy.ts `readCopy` rethrows every failure of a copy's
 * RETR that is not MESSAGE_TOO_LARGE / MESSAGE_INCOMPLETE, including a plain "-ERR" to
 * that one RETR (a message the server cannot read: a corrupt file, "-ERR [SYS/PERM]").
 * The throw leaves `for (const m of work.copies)` in runSession and skips every later
 * copy AND deleteOwed, in every run. fetchAll treats the same -ERR as that message's own
 * failure and goes on with the next one.
 *
 * popa3d-style server (same headers, same UIDL): A, then A1 (its RETR always -ERR), then
 * A2 (another body). A is stored, A1 and A2 are further copies of U: A2 is never fetched,
 * run after run (a message that stays on the server, never stored, never reported).
 * With this change many more messages take the copy path (`verify`: every message whose
 * LIST size changed on an mbox server, every stored match of a shared UIDL), so one bad
 * message blocks all of them, and every owed DELE.
 */
import { expect, it } from 'vitest';
import { type FakePop3Server } from '../../fixtures/fake-pop3-server';
import { sharedUidl } from '../../fixtures/pop3-profiles';
import { SimulatedCrash } from '../../sync/harness';
import { benchFor, useLocalWorld } from './common';

const world = useLocalWorld();

const HEAD = 'From: a@example.org\r\nTo: b@example.org\r\nSubject: digest\r\nMessage-ID: <d@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n';

for (const retention of ['keep', 'delete'] as const) {
  it(`a copy whose RETR is refused does not keep later header twins from being fetched (${retention})`, async () => {
    const bad = Buffer.from(`${HEAD}unreadable copy, a bit longer\r\n`);
    const server: FakePop3Server = await world.fake({
      profiles: [sharedUidl()],
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        const m = s.mailbox[Number(cmd.args[0]) - 1];
        if (!m || !m.bytes.equals(bad)) return false;
        await s.writeLine('-ERR [SYS/PERM] cannot read message');
        return true;
      },
    });
    const a = server.deliver(`${HEAD}first\r\n`);
    const a1 = server.deliver(bad);
    const a2 = server.deliver(`${HEAD}second, with another body of another size\r\n`);
    expect(new Set([a.uid, a1.uid, a2.uid]).size).toBe(1);
    const bench = await benchFor(world.s3, world.dynamo, server, { retention });
    for (let i = 0; i < 4; i++) {
      const r = await bench.run();
      if (r instanceof SimulatedCrash) throw r;
    }
    const stored = [...(await bench.objects()).values()];
    expect(stored.some((o) => o.equals(a.bytes)), 'A stored').toBe(true);
    expect(stored.some((o) => o.equals(a2.bytes)), 'A2 (behind the unreadable copy) stored').toBe(true);
  }, 90_000);
}
