/**
 * Found in review (of eefe779), kept as a regression. HOLE (liveness + cost): the daily header audit TOPs every recorded
 * message still listed, inside planSession, before anything is fetched, with no regard for
 * the run's time budget (stopStartingAt is only checked by the fetch loop). On a server
 * without PIPELINING (Gmail has none; many small servers) each TOP is a round trip: a kept
 * mailbox of 50,000 messages at 20 ms is 1,000 s, more than a 15-minute Lambda. The
 * session is aborted at the deadline, `auditedAt` is never written, so the next run starts
 * the same audit from the beginning and is aborted again: from that day on, no new mail is
 * ever fetched (and every run pays the whole budget in TOPs). Scaled down here: 300
 * recorded messages, 30 ms per TOP (9 s), a 6 s budget.
 */
import { expect, it } from 'vitest';
import { SimulatedCrash } from '../../sync/harness';
import { HEADER_AUDIT_INTERVAL_MS } from '../../../lambda/sync/session-plan';
import { benchFor, sleep, useLocalWorld } from './common';

const world = useLocalWorld();
const KEPT = 300;

it('a header audit longer than one run does not keep new mail from being fetched for good', async () => {
  const server = await world.fake({
    capabilities: ['TOP', 'UIDL', 'USER', 'RESP-CODES'], // no PIPELINING
    onCommand: async (cmd) => {
      if (cmd.verb === 'TOP') await sleep(30); // a round trip to a distant server
      return false;
    },
  });
  for (let i = 0; i < KEPT; i++) server.deliver(`Subject: kept ${i}\r\nMessage-ID: <k${i}@e>\r\n\r\nbody ${i}\r\n`);
  const bench = await benchFor(world.s3, world.dynamo, server, { retention: 'keep' });
  let clock = Date.parse('2024-10-01T00:00:00Z');
  const first = await bench.run({ now: () => clock });
  if (first instanceof SimulatedCrash) throw first;
  expect((await bench.objects()).size).toBe(KEPT);
  clock += HEADER_AUDIT_INTERVAL_MS + 60_000;
  const fresh = server.deliver('Subject: new\r\nMessage-ID: <new@e>\r\n\r\nnew mail\r\n');
  const outcomes: string[] = [];
  for (let i = 0; i < 3; i++) {
    // A Lambda-like budget: the run must end by its deadline (the fake clock stands still,
    // so the abort timer fires after deadline - margin of real time).
    const r = await bench.run({ now: () => clock, deadline: clock + 8_000, safetyMarginMs: 2_000 });
    if (r instanceof SimulatedCrash) throw r;
    outcomes.push(`${r.status}/${r.fetched}/${r.errors.map((e) => e.code).join('+')}`);
    clock += 5 * 60_000;
  }
  const stored = [...(await bench.objects()).values()];
  expect(stored.some((o) => o.equals(fresh.bytes)), `new mail stored within 3 runs (${outcomes.join(', ')})`).toBe(true);
}, 120_000);
