/**
 * popa3d: no CAPA and a bare "+OK" greeting (the worker must fall back to USER/PASS and
 * lock-step), and duplicate UIDLs for messages without Date and Message-ID (each distinct
 * message must be fetched exactly once, repeats reported).
 *
 * KNOWN BUG: the worker keeps messages that share a UIDL apart by header fingerprint
 * ("<uid>~fp~<hash>" identities), but uses the plain UIDL once it is unique. When a listing
 * goes from "shared" to "unique" between sessions (another client removed one of the
 * messages; or, in delete mode, an exact copy that was never DELEted stays behind), the
 * remaining message gets a new identity, no record is found under it, and it is fetched
 * and stored a second time, under another key.
 */
import { expect } from 'vitest';
import { benchFor, expectSummary, run } from '../bench';
import { matrixMessages, sortedBase64 } from '../messages';
import { deleteAll, retrieveAll, withSession } from '../servers/direct';
import { QUIRKS } from '../servers/popa3d';
import type { QuirkContext } from './context';
import { quirkTest } from './quirk';

const [NO_CAPA, BARE_GREETING, DUPLICATE_UIDLS] = QUIRKS;
const UIDL_BECOMES_UNIQUE = `${DUPLICATE_UIDLS} that become unique later`;

/** Messages popa3d cannot tell apart by UIDL: no Date, no Message-ID. */
export function anonymousMessages(tag: string): Buffer[] {
  return ['one', 'two', 'three'].map((n) => Buffer.from(`From: sender@interop.test\r\nSubject: ${n} ${tag}\r\n\r\nbody ${n}\r\n`, 'latin1'));
}

export function popa3dQuirks(ctx: QuirkContext): void {
  quirkTest(ctx, [NO_CAPA, BARE_GREETING], async () => {
    const server = ctx.server();
    await deleteAll(server);
    await server.deliver(matrixMessages(`popa3d-capa-${Date.now()}`));
    // auto + pipelining requested: the worker must find USER and lock-step by itself.
    const { bench, trace } = await benchFor(ctx.aws(), server, { mode: 'none', mechanism: 'auto', pipelining: true, retention: 'keep' });
    expectSummary(await run(bench), { status: 'ok', fetched: 3, errors: [] }, trace);
    const text = trace.toString();
    // No CAPA: a bare AUTH asks for the SASL mechanisms; popa3d has none.
    expect(text).toMatch(/^S: \+OK ?\nC: CAPA\nS: -ERR\nC: AUTH\nS: -ERR\nC: USER/);
    for (const s of trace.sessions()) {
      expect(s.greeting.trim(), text).toBe('+OK');
      expect(s.login, text).toBe('USER');
      expect(s.maxInFlightAfterLogin, text).toBe(1);
    }
  });

  quirkTest(ctx, [DUPLICATE_UIDLS], async () => {
    const server = ctx.server();
    await deleteAll(server);
    const distinct = anonymousMessages(`${Date.now()}`);
    // Three distinct messages plus an exact copy of the first: four entries, one UIDL.
    await server.deliver([...distinct, distinct[0]!]);
    const uids = await withSession(server, async (c) => (await c.uidl()).entries.map((e) => e.uid));
    expect(uids).toHaveLength(4);
    expect(new Set(uids).size).toBe(1);
    const delivered = await retrieveAll(server);

    const { bench, trace } = await benchFor(ctx.aws(), server, { mode: 'none', mechanism: 'USER', pipelining: true, retention: 'keep' });
    // Reported: 3 entries repeat an earlier entry's UIDL. Handled: 3 distinct messages stored.
    expectSummary(await run(bench), { status: 'ok', listed: 4, fetched: 3, duplicates: 3, errors: [] }, trace);
    const objects = await bench.objects();
    const distinctDelivered = [...new Set(delivered.map((d) => d.toString('latin1')))].map((s) => Buffer.from(s, 'latin1'));
    expect(sortedBase64(objects.values())).toEqual(sortedBase64(distinctDelivered));
    expectSummary(await run(bench), { status: 'ok', new: 0, fetched: 0, errors: [] }, trace);
    expect((await bench.objects()).size).toBe(3);
  });

  quirkTest(ctx, [`${UIDL_BECOMES_UNIQUE} (keep: another client removed one)`], async () => {
    const server = ctx.server();
    await deleteAll(server);
    const [a, b] = anonymousMessages(`keep-${Date.now()}`);
    await server.deliver([a!, b!]);
    const { bench, trace } = await benchFor(ctx.aws(), server, { mode: 'none', mechanism: 'USER', pipelining: true, retention: 'keep' });
    expectSummary(await run(bench), { status: 'ok', fetched: 2, duplicates: 1 }, trace);
    // The user's mail client deletes b: a is now the only message with that UIDL.
    await withSession(server, async (c) => c.dele(2));
    expectSummary(await run(bench), { status: 'ok', fetched: 0 }, trace);
    expect((await bench.objects()).size).toBe(2);
  });

  quirkTest(ctx, [`${UIDL_BECOMES_UNIQUE} (delete: an exact copy)`], async () => {
    const server = ctx.server();
    await deleteAll(server);
    const [a, b] = anonymousMessages(`delete-${Date.now()}`);
    await server.deliver([a!, b!, a!]);
    const distinct = sortedBase64((await retrieveAll(server)).slice(0, 2));
    const { bench, trace } = await benchFor(ctx.aws(), server, { mode: 'none', mechanism: 'USER', pipelining: true, retention: 'delete' });
    // The copy's content is stored: it is deleted with the original, never stored again.
    expectSummary(await run(bench), { status: 'ok', fetched: 2, deleted: 3 }, trace);
    expect(await server.count()).toBe(0);
    expect(sortedBase64((await bench.objects()).values())).toEqual(distinct);
  });
}
