/**
 * Found in review (of eefe779), kept as a regression. HOLE (duplicate): a message found by a deferred DELE's proof to be
 * other mail under a recorded identity ("replaced") is stored under a *content* identity
 * (`<uid> sha:<hash>`: settleCopy -> settleDifferent), and the recorded record becomes a
 * tombstone. When its headers differ from the recorded message's (the proof's TOP already
 * said so: a recycled UIDL, or popa3d's UIDL shared by a message with another header
 * block), the next full diff (the daily audit, or any listing change) treats the UIDL as
 * suspect (its record is a tombstone), reads its TOP, gives it the *fingerprint* identity
 * `<uid> fp:<fingerprint>` (checkRecorded), finds no record under that identity (the copy
 * is recorded under the content identity, which checkRecorded never looks at) and fetches
 * it again: two objects for one message.
 *
 * The replaced path runs when the due date falls between audits: the recycled entry is
 * masked (same LIST size, a later re-delivered known message keeps the fast path's
 * last-fingerprint check happy), see recycled-masked-by-later-known.test.ts.
 */
import { expect, it } from 'vitest';
import { recycledUidl } from '../../fixtures/pop3-profiles';
import { SimulatedCrash } from '../../sync/harness';
import { benchFor, useLocalWorld } from './common';

const world = useLocalWorld();
const HOUR = 3_600_000;

it('deleteAfterDays: a recycled-UIDL message found by the deletion proof is stored once, not again by the next full diff', async () => {
  const server = await world.fake({ profiles: [recycledUidl()] });
  const bench = await benchFor(world.s3, world.dynamo, server, { retention: { deleteAfterDays: 1 } });
  let clock = Date.parse('2024-08-01T00:00:00Z');
  const run = async (): Promise<void> => {
    const r = await bench.run({ now: () => clock });
    if (r instanceof SimulatedCrash) throw r;
  };
  await run(); // an empty mailbox: audited at T0
  clock += 12 * HOUR;
  const b = server.deliver('Subject: bbbb\r\nMessage-ID: <b@e>\r\n\r\nsecond\r\n');
  const yBytes = 'Subject: yyyy\r\nMessage-ID: <y@e>\r\n\r\nthird\r\n';
  const y = server.deliver(yBytes);
  await run(); // B and Y stored at T0+12h, due at T0+36h
  clock += 13 * HOUR;
  await run(); // the daily audit at T0+25h: nothing new
  server.deleteByOtherClient(b);
  server.deleteByOtherClient(y);
  const c = server.deliver('Subject: cccc\r\nMessage-ID: <c@e>\r\n\r\nnewer!\r\n'); // B's UIDL and length
  server.deliver(yBytes); // Y again, Y's UIDL
  expect([c.uid, c.bytes.length]).toEqual([b.uid, b.bytes.length]);
  clock += 12 * HOUR; // T0+37h: B's record is due, no audit before T0+49h
  await run();
  clock += 5 * 60_000;
  await run();
  clock += 13 * HOUR; // the next audit
  await run();
  await run();
  const holdingC = [...(await bench.objects()).values()].filter((o) => o.equals(c.bytes));
  expect(holdingC.length, 'objects holding C').toBe(1);
}, 90_000);
