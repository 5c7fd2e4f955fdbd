/**
 * Found in review (a hole in the first version of this change), kept as a regression. HOLE (liveness): a copy (same UIDL, same header fingerprint) whose bytes differ and
 * which is over maxMessageBytes is RETR'd in full by contentHash, then recorded as skipped
 * under its content identity. It was retrieved and not stored, so QUIT is withheld; the
 * skipped record does not settle it next time (settleCopy accepts only 'stored'), so every
 * run RETRs it again and withholds QUIT again: with retention 'delete' nothing is ever deleted.
 */
import { expect, it } from 'vitest';
import { sharedUidl } from '../../fixtures/pop3-profiles';
import { SimulatedCrash } from '../../sync/harness';
import { benchFor, useLocalWorld } from './common';

const world = useLocalWorld();

it('retention delete: a copy too large to take is not retrieved, so QUIT is not withheld run after run', async () => {
  const server = await world.fake({ profiles: [sharedUidl()] });
  const h = 'From: a@x\r\nTo: b@x\r\nSubject: same\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n';
  server.deliver(`${h}\r\nsmall\r\n`);
  server.deliver(`${h}\r\n${'big '.repeat(2000)}\r\n`);
  const bench = await benchFor(world.s3, world.dynamo, server, { retention: 'delete' });
  bench.mailbox = { ...bench.mailbox, limits: { ...bench.mailbox.limits, maxMessageBytes: 4000 } };
  const codes: string[][] = [];
  for (let i = 0; i < 3; i++) {
    const r = await bench.run();
    if (r instanceof SimulatedCrash) throw r;
    codes.push(r.errors.map((e) => e.code));
  }
  // The big copy is never retrieved (it could not be taken), so no run withholds QUIT.
  expect(codes.flat()).not.toContain('QUIT_WITHHELD');
  expect(server.messages.length).toBe(1); // the small one stored and deleted; the big one left as skipped
}, 60_000);
