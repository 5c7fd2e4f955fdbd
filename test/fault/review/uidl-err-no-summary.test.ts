/**
 * Found in review (a hole in the first version of this change), kept as a regression. HOLE: readListing decides "this server has no UIDL" (no CAPA) from `summary exists`.
 * The summary is only written after a successful QUIT; a first run that stored mail but
 * lost its QUIT (crash, timeout, answer lost) leaves records but no summary. A transient
 * plain "-ERR" to UIDL in the next run is then taken as "no UIDL": every message gets a
 * fingerprint identity, is stored a second time, and the real records get a TTL.
 */
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { expect, it } from 'vitest';
import { SimulatedCrash } from '../../sync/harness';
import { benchFor, useLocalWorld } from './common';

const world = useLocalWorld();

it('no-CAPA server: a passing UIDL -ERR after a run that ended without QUIT stores nothing twice', async () => {
  let uidlFails = false;
  const server = await world.fake({
    capabilities: null, // CAPA answers -ERR (popa3d, old qpopper...)
    onCommand: async (cmd, s) => {
      if (cmd.verb === 'UIDL' && uidlFails) {
        await s.writeLine('-ERR mailbox index busy');
        return true;
      }
      return false;
    },
  });
  for (const i of [1, 2, 3]) server.deliver(`Subject: m${i}\r\n\r\nbody ${i}\r\n`);
  const bench = await benchFor(world.s3, world.dynamo, server);
  // Run 1: everything stored and recorded, then the process dies before QUIT (no summary).
  expect(await bench.run({ crash: { at: 'before-quit' } })).toBeInstanceOf(SimulatedCrash);
  // A first run's audit notes its time in a summary before it starts; the state this hole
  // needs (records, no summary) is what a run of an earlier version, or one that died
  // before that write, leaves behind.
  await world.dynamo.dynamodb.send(new DeleteItemCommand({ TableName: bench.table, Key: { pk: { S: 'MBX#box-1' }, sk: { S: '#SUMMARY' } } }));
  expect(await bench.state.getSummary('box-1')).toBeUndefined();
  expect((await bench.objects()).size).toBe(3);
  // Run 2: UIDL is busy once.
  uidlFails = true;
  const r = await bench.run({ now: () => Date.now() + 10 * 60_000 }); // the crashed run's lease has expired
  if (r instanceof SimulatedCrash) throw r;
  expect(r.errors.map((e) => e.code)).toContain('UIDL_UNAVAILABLE');
  expect(r.expired).toBe(0);
  expect((await bench.records()).every((x) => !x.identity.includes(' '))).toBe(true);
  expect((await bench.objects()).size).toBe(3);
}, 60_000);
