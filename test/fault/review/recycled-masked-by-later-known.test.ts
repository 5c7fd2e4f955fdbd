/**
 * HOLE (review of 31a15b2, not new in it): recycled-UIDL detection trusts "known messages
 * form a prefix of the listing". Both the fast path (summary hash + lastFingerprint: only
 * the LAST message of the prefix is checked with TOP) and the full diff
 * (lastKnownMessage's binary search: if the last checkable message is known, every earlier
 * one is taken as known) are fooled when a LATER listed message is genuinely the recorded
 * one for its UIDL, e.g. the same mail delivered again after another client deleted it.
 *
 * recycled-uidl server, keep: X(u1), B(u2), Y(u3) stored. Another client deletes B and Y.
 * C (other headers, B's length) gets u2; Y is delivered again and gets u3. The listing
 * keys are exactly the old ones, the last message's headers match the summary: C is never
 * fetched, in the fast path and in a full diff alike (the "a recycled UIDL is
 * detected whenever the message's size or header fingerprint changed": here the header
 * fingerprint changed).
 *
 * Between audits neither path can see it without a TOP per listed message; the daily
 * header audit (HEADER_AUDIT_INTERVAL_MS) compares every recorded message's size and
 * headers, so C is found at most one audit interval after it arrived.
 */
import { expect, it } from 'vitest';
import { recycledUidl } from '../../fixtures/pop3-profiles';
import { SimulatedCrash } from '../../sync/harness';
import { HEADER_AUDIT_INTERVAL_MS } from '../../../lambda/sync/session-plan';
import { benchFor, useLocalWorld } from './common';

const world = useLocalWorld();

for (const variant of ['fast path', 'full diff'] as const) {
  it(`a recycled UIDL of the same size followed by a re-delivered known message is fetched (${variant})`, async () => {
    const server = await world.fake({ profiles: [recycledUidl()] });
    const x = server.deliver('Subject: xxxx\r\nMessage-ID: <x@e>\r\n\r\nfirst\r\n');
    const b = server.deliver('Subject: bbbb\r\nMessage-ID: <b@e>\r\n\r\nsecond\r\n');
    const yBytes = 'Subject: yyyy\r\nMessage-ID: <y@e>\r\n\r\nthird\r\n';
    const y = server.deliver(yBytes);
    const bench = await benchFor(world.s3, world.dynamo, server, { retention: 'keep' });
    let clock = Date.parse('2024-05-01T00:00:00Z');
    const run = async (): Promise<void> => {
      const r = await bench.run({ now: () => clock });
      if (r instanceof SimulatedCrash) throw r;
    };
    await run();
    expect((await bench.objects()).size).toBe(3);

    server.deleteByOtherClient(b);
    server.deleteByOtherClient(y);
    const c = server.deliver('Subject: cccc\r\nMessage-ID: <c@e>\r\n\r\nnewer!\r\n'); // B's length
    const y2 = server.deliver(yBytes); // the same mail again
    expect([c.uid, c.bytes.length, y2.uid]).toEqual([b.uid, b.bytes.length, y.uid]);
    if (variant === 'full diff') server.deleteByOtherClient(x);
    clock += 60_000;
    await run();
    const beforeAudit = [...(await bench.objects()).values()];
    clock += HEADER_AUDIT_INTERVAL_MS;
    await run();
    await run();
    // Only C is new: nothing else is stored a second time.
    expect((await bench.objects()).size).toBe(beforeAudit.length + (beforeAudit.some((o) => o.equals(c.bytes)) ? 0 : 1));

    const stored = [...(await bench.objects()).values()];
    expect(stored.some((o) => o.equals(c.bytes)), 'C stored').toBe(true);
  }, 90_000);
}
