/**
 * Cyrus: mail arrives over LMTP and gains Return-Path/Received headers (stored as the server
 * delivers them, body untouched); with popminpoll a login within the poll interval is
 * refused with [LOGIN-DELAY] (a retryable error for the run, nothing stored twice); its
 * SCRAM-*-PLUS binds with tls-unique only (also over TLS 1.3, where it is undefined), which
 * mailfetch does not send: `auto` over TLS picks -PLUS and fails with an error that names
 * the fix, and a configured SCRAM-SHA-256 works. No silent fallback to unbound SCRAM: that
 * is what a man in the middle would provoke.
 */
import { expect } from 'vitest';
import { benchFor, expectSummary, run } from '../bench';
import { bodyOf, expectedBody, matrixMessages, sortedBase64 } from '../messages';
import { cyrus } from '../servers/cyrus';
import { QUIRKS } from '../servers/cyrus';
import { deleteAll, retrieveAll, withSession } from '../servers/direct';
import type { QuirkContext } from './context';
import { quirkTest } from './quirk';

const [LMTP, ADDED_HEADERS, POPMINPOLL, PLUS_TLS_UNIQUE] = QUIRKS;
/** popminpoll is in minutes; Debian's own imapd.conf uses 1. */
const POPMINPOLL_MINUTES = 1;

export function cyrusQuirks(ctx: QuirkContext): void {
  quirkTest(ctx, [LMTP, ADDED_HEADERS], async () => {
    const server = ctx.server();
    await deleteAll(server);
    const sent = matrixMessages(`cyrus-lmtp-${Date.now()}`);
    await server.deliver(sent);
    const { bench, trace } = await benchFor(ctx.aws(), server, { mode: 'starttls', mechanism: 'CRAM-MD5', pipelining: true, retention: 'keep' });
    expectSummary(await run(bench), { status: 'ok', fetched: 3, errors: [] }, trace);
    const objects = [...(await bench.objects()).values()];
    for (const o of objects) expect(o.toString('latin1')).toMatch(/^Return-Path: <interop@example\.com>\r\nReceived: from /);
    expect(sortedBase64(objects)).toEqual(sortedBase64(await retrieveAll(server)));
    expect(sortedBase64(objects.map(bodyOf))).toEqual(sortedBase64(sent.map(expectedBody)));
  });

  quirkTest(ctx, [POPMINPOLL], async () => {
    const server = await cyrus.start({ popminpoll: POPMINPOLL_MINUTES });
    try {
      await server.deliver(matrixMessages(`cyrus-minpoll-${Date.now()}`));
      const { bench, trace } = await benchFor(ctx.aws(), server, { mode: 'starttls', mechanism: 'PLAIN', pipelining: true, retention: 'keep' });
      // One session: CAPA announced LOGIN-DELAY, so no follow-up login is attempted.
      expectSummary(await run(bench), { status: 'ok', fetched: 3, sessions: 1, complete: true, errors: [] }, trace);
      // The next run within the interval is refused: a retryable error, nothing refetched.
      expectSummary(await run(bench), { status: 'error', fetched: 0, errors: [expect.objectContaining({ code: 'LOGIN_DELAY', retryable: true })] }, trace);
      expect((await bench.objects()).size).toBe(3);
      await expect(withSession(server, async () => undefined)).rejects.toMatchObject({ code: 'LOGIN_DELAY', responseCode: 'LOGIN-DELAY' });
    } finally {
      await server.stop();
    }
  });

  quirkTest(ctx, [PLUS_TLS_UNIQUE], async () => {
    const server = ctx.server();
    await deleteAll(server);
    await server.deliver(matrixMessages(`cyrus-plus-${Date.now()}`));
    // auto over TLS: SCRAM-SHA-256-PLUS, bound with tls-exporter; Cyrus expects tls-unique.
    const auto = await benchFor(ctx.aws(), server, { mode: 'implicit', mechanism: 'auto', pipelining: true, retention: 'keep' });
    const fix = expect.stringContaining('channel binding tls-exporter was sent; if the password is right, the server takes another binding type (Cyrus SASL takes only tls-unique): set auth to SCRAM-SHA-256');
    expectSummary(await run(auto.bench), { status: 'error', fetched: 0, errors: [expect.objectContaining({ code: 'AUTH_FAILED', message: fix })] }, auto.trace);
    const pinned = await benchFor(ctx.aws(), server, { mode: 'implicit', mechanism: 'SCRAM-SHA-256', pipelining: true, retention: 'keep' });
    expectSummary(await run(pinned.bench), { status: 'ok', fetched: 3, errors: [] }, pinned.trace);
  });
}
