/**
 * Found in review (of 31a15b2), kept as a regression. HOLE: a header twin (the same header block, another body) of the SAME
 * LIST size as a stored message that another client deleted, under the UIDL that message
 * had (popa3d derives the UIDL from the headers, so a twin always gets it back).
 *
 * Nothing in the listing changes (same UIDL, same size), and TOP gives the same header
 * fingerprint, so: the fast path vouches for it (summary hash + lastFingerprint); a full
 * diff finds the plain-UIDL record, `checkRecorded` sees neither a size change nor a
 * suspect position and never sets `verify`. The twin is never fetched (liveness), and with
 * `deleteAfterDays`, `holdsRecordedMessage` accepts it on size + TOP alone (the UIDL is
 * not shared at that moment, the identity is plain) and DELEs it: the twin leaves the
 * server without ever being stored (loss).
 *
 * Fixed: a deferred DELE is proven by content (one RETR); a message found to be other mail
 * under a recorded identity marks the record a tombstone and is stored as new mail. Under
 * `keep` nothing ever reads it (no content audit): a documented limit, and no loss.
 *
 * The change's own `verify` machinery (content check for "messages matched to a stored
 * record by headers alone") is exactly what is missing here: a unique plain UIDL whose
 * record is matched by size + headers alone is still trusted without a content check.
 */
import { expect, it } from 'vitest';
import { sharedUidl } from '../../fixtures/pop3-profiles';
import { SimulatedCrash } from '../../sync/harness';
import { benchFor, useLocalWorld } from './common';

const world = useLocalWorld();

const DAY = 86_400_000;
const HEAD = 'From: a@example.org\r\nTo: b@example.org\r\nSubject: weekly report\r\nMessage-ID: <r@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n';

{
  it('a same-size header twin under the UIDL of a message another client deleted is proven other mail before a due DELE, and stored', async () => {
    const server = await world.fake({ profiles: [sharedUidl()] });
    const other = server.deliver('From: x@example.org\r\nSubject: other\r\n\r\nhello\r\n');
    const a = server.deliver(`${HEAD}body AAAA\r\n`);
    const retention = { deleteAfterDays: 1 };
    const bench = await benchFor(world.s3, world.dynamo, server, { retention });
    let clock = Date.parse('2024-02-01T00:00:00Z');
    const now = (): number => clock;
    const run = async (): Promise<void> => {
      const r = await bench.run({ now });
      if (r instanceof SimulatedCrash) throw r;
    };
    await run();
    expect((await bench.objects()).size).toBe(2);

    server.deleteByOtherClient(a);
    const twin = server.deliver(`${HEAD}body BBBB\r\n`); // same headers, same length, other body
    expect(twin.uid).toBe(a.uid);
    expect(twin.bytes.length).toBe(a.bytes.length);
    clock += 60_000;
    await run();
    await run();
    clock += 2 * DAY; // both stored messages fall due under deleteAfterDays
    await run();
    await run();

    const stored = [...(await bench.objects()).values()];
    const twinStored = stored.some((b) => b.equals(twin.bytes));
    const twinOnServer = twin.removed === undefined;
    // Loss: the twin left the server (our DELE + QUIT) and no object holds it.
    expect.soft(twinOnServer || twinStored, `twin removed by ${twin.removed?.by} and never stored`).toBe(true);
    // Liveness: it is stored.
    expect(twinStored, 'twin stored').toBe(true);
    void other;
  }, 90_000);
}
