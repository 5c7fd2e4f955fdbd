/**
 * Found in review (of eefe779), kept as a regression. HOLE (liveness): the content proof before a deferred DELE
 * (holdsRecordedMessage -> contentDigest) RETRs with maxOctets = maxMessageBytes, while
 * the fetch that stored the message allowed maxMessageBytes + SIZE_CAP_SLACK_OCTETS (LIST
 * sizes are approximate). A message whose LIST size is under the limit and whose bytes are
 * a little over it (an mbox server counting LF line ends, Exchange's estimates) was stored
 * whole, but its proof RETR fails with MESSAGE_TOO_LARGE. deleteOwed does not catch it: the
 * error leaves the loop (every later owed DELE is skipped), and the retrieved message is
 * not "safe" in the ledger, so QUIT is withheld. The same happens in every run: no DELE of
 * the mailbox ever commits again (QUIT withheld for good), and the message is re-read
 * every run.
 */
import { expect, it } from 'vitest';
import { underEstimatedSizes } from '../../fixtures/pop3-profiles';
import { SimulatedCrash } from '../../sync/harness';
import { benchFor, useLocalWorld } from './common';

const world = useLocalWorld();
const DAY = 86_400_000;

it('deleteAfterDays: a stored message a little over maxMessageBytes (LIST under it) does not withhold QUIT forever', async () => {
  const server = await world.fake({ profiles: [underEstimatedSizes(0.9)] });
  const big = server.deliver(`Subject: big\r\nMessage-ID: <big@e>\r\n\r\n${'x'.repeat(10_400)}\r\n`); // ~10.4 kB, LIST ~9.4 kB
  const small = server.deliver('Subject: small\r\nMessage-ID: <small@e>\r\n\r\nhello\r\n');
  const bench = await benchFor(world.s3, world.dynamo, server, { retention: { deleteAfterDays: 1 } });
  bench.mailbox = { ...bench.mailbox, limits: { ...bench.mailbox.limits, maxMessageBytes: 10_000 } };
  let clock = Date.parse('2024-03-01T00:00:00Z');
  const codes: string[][] = [];
  const run = async (): Promise<void> => {
    const r = await bench.run({ now: () => clock });
    if (r instanceof SimulatedCrash) throw r;
    codes.push(r.errors.map((e) => e.code));
  };
  await run();
  const stored = [...(await bench.objects()).values()];
  expect(stored.some((o) => o.equals(big.bytes)), 'big stored whole at first').toBe(true);
  expect(stored.some((o) => o.equals(small.bytes))).toBe(true);
  clock += 2 * DAY;
  for (let i = 0; i < 3; i++) {
    clock += 60_000;
    await run();
  }
  expect.soft(codes.slice(1).flat(), 'no run after the due date withholds QUIT').not.toContain('QUIT_WITHHELD');
  expect(small.removed, 'the small message, stored and due, is deleted').toBeDefined();
  expect(big.removed, 'the big message, stored whole and due, is deleted').toBeDefined();
}, 90_000);
