/**
 * Found in review (of eefe779), kept as a regression. HOLE (liveness): a deferred DELE's content proof RETRs every listed
 * message with the recorded UIDL whose headers match. When the recorded message left the
 * server and a same-size header twin took its UIDL (popa3d), the proof reads the twin and
 * finds other mail; but deleteOwed drops the "replaced" result whenever the UIDL is listed
 * more than once (`listing.duplicates.has(rec.uid)`), so the twin is neither stored nor
 * marked safe in the retrieval ledger: the session withholds QUIT. Nothing changes for the
 * next run (the record stays due, the audit never completes because the session is never
 * clean), so every run re-reads the twin and withholds QUIT for good: the twin is never
 * stored (README: "under deleteAfterDays the content proof before the DELE finds it and
 * stores it"), and no DELE of the mailbox ever commits again.
 *
 * popa3d hashes only From/To/Subject/Date/Message-ID, so any message with those five
 * fields equal (another Received chain, an X- header) shares the UIDL: here X.
 */
import { expect, it } from 'vitest';
import { sharedUidl } from '../../fixtures/pop3-profiles';
import { SimulatedCrash } from '../../sync/harness';
import { benchFor, useLocalWorld } from './common';

const world = useLocalWorld();
const DAY = 86_400_000;
const HEAD = 'From: a@example.org\r\nTo: b@example.org\r\nSubject: nightly\r\nMessage-ID: <n@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n';

it('deleteAfterDays, shared UIDL: a same-size header twin of a message deleted elsewhere is stored, and QUIT is not withheld for good', async () => {
  const server = await world.fake({ profiles: [sharedUidl()] });
  const a = server.deliver(`${HEAD}\r\nbody AAAA\r\n`);
  const bench = await benchFor(world.s3, world.dynamo, server, { retention: { deleteAfterDays: 1 } });
  let clock = Date.parse('2024-04-01T00:00:00Z');
  const codes: string[][] = [];
  const run = async (): Promise<void> => {
    const r = await bench.run({ now: () => clock });
    if (r instanceof SimulatedCrash) throw r;
    codes.push(r.errors.map((e) => e.code));
  };
  await run();
  server.deleteByOtherClient(a);
  const twin = server.deliver(`${HEAD}\r\nbody BBBB\r\n`); // same header block, same size, other body
  const x = server.deliver(`${HEAD}X-Mailer: other\r\n\r\nanother message under the same UIDL\r\n`);
  expect([twin.uid, x.uid, twin.bytes.length]).toEqual([a.uid, a.uid, a.bytes.length]);
  clock += 60_000;
  await run();
  clock += 2 * DAY;
  for (let i = 0; i < 3; i++) {
    clock += 60_000;
    await run();
  }
  const stored = [...(await bench.objects()).values()];
  expect.soft(codes.slice(-2).flat(), 'the last runs do not withhold QUIT').not.toContain('QUIT_WITHHELD');
  expect.soft(x.removed, 'X (stored, due) is deleted').toBeDefined();
  expect(stored.some((o) => o.equals(twin.bytes)) || twin.removed === undefined, 'twin never lost').toBe(true);
  expect(stored.some((o) => o.equals(twin.bytes)), 'twin stored (deleteAfterDays proves by content)').toBe(true);
}, 90_000);
