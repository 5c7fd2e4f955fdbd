/**
 * COST REGRESSION (review of 31a15b2): on a popa3d-style server (UIDLs shared by messages
 * with the same key headers), every full diff re-reads (RETR) every stored message under a
 * shared UIDL: reconcileIdentities marks each of them `verify` (verifyStored) whenever its
 * record is `stored`, and settleCopy reads it to compare contents, although its UIDL,
 * size and header fingerprint are exactly what was stored and nothing changed. A full diff
 * runs whenever another client deletes anything. 20 messages over 4 shared UIDLs, keep,
 * another client deletes one: 19 RETRs (the whole mailbox), again at the next deletion;
 * before the change: 0. The fast path is not affected (0 RETR in steady state).
 */
import { expect, it } from 'vitest';
import { sharedUidl } from '../../fixtures/pop3-profiles';
import { SimulatedCrash } from '../../sync/harness';
import { benchFor, useLocalWorld } from './common';

const world = useLocalWorld();

it('a full diff on a shared-UIDL server does not re-read every stored message', async () => {
  const server = await world.fake({ profiles: [sharedUidl()] });
  const msgs = Array.from({ length: 20 }, (_, i) => server.deliver(`From: a@e\r\nSubject: topic ${i % 4}\r\nX-Seq: ${i}\r\n\r\nbody ${i}\r\n`));
  const bench = await benchFor(world.s3, world.dynamo, server, { retention: 'keep' });
  const count = () => server.commands.filter((c) => /^RETR /i.test(c.line)).length;
  const out: [string, number][] = [];
  const run = async (n: string) => { const b = count(); const r = await bench.run(); if (r instanceof SimulatedCrash) throw r; out.push([n, count() - b]); };
  await run('first'); await run('steady'); await run('steady');
  server.deleteByOtherClient(msgs[5]!); await run('full diff'); await run('steady');
  server.deleteByOtherClient(msgs[6]!); await run('full diff');
  expect(out.filter(([n]) => n === 'full diff')).toEqual([['full diff', 0], ['full diff', 0]]);
}, 120_000);
