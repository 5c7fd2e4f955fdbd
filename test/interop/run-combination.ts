/**
 * One matrix cell: deliver, run the worker twice, check what it stored against what the
 * server delivers to a direct session, and check the protocol it spoke.
 */
import { expect } from 'vitest';
import type { Aws } from './bench';
import { benchFor, expectSummary, run } from './bench';
import type { Combination } from './combinations';
import { bodyOf, expectedBody, matrixMessages, sortedBase64 } from './messages';
import { deleteAll, retrieveAll } from './servers/direct';
import type { InteropServer, ServerProfile } from './servers/types';
import type { SessionFacts } from './trace';

let runCounter = 0;

export async function runCombination(aws: Aws, server: InteropServer, profile: ServerProfile, c: Combination): Promise<void> {
  // Every cell starts from an empty mailbox (keep-mode cells leave their mail behind).
  await deleteAll(server);
  const sent = matrixMessages(`${server.name}-${++runCounter}-${Date.now()}`);
  await server.deliver(sent);
  const { bench, trace } = await benchFor(aws, server, c);
  // In delete mode nothing is left to compare with afterwards: read it first. In keep mode
  // read it afterwards, so that the worker's session is the first one to see the mail.
  const deliveredBefore = c.retention === 'delete' ? await retrieveAll(server) : undefined;

  const first = await run(bench);
  const deleted = c.retention === 'delete' ? sent.length : 0;
  // `listed` is the last session's listing: after a follow-up session in delete mode, 0.
  const listed = c.retention === 'keep' ? { listed: sent.length } : {};
  expectSummary(first, { status: 'ok', errors: [], ...listed, new: sent.length, fetched: sent.length, duplicates: 0, deleted, complete: true }, trace);

  // Stored exactly once each, byte-identical to what the server delivers.
  const delivered = deliveredBefore ?? (await retrieveAll(server));
  const objects = await bench.objects();
  expect(sortedBase64(objects.values())).toEqual(sortedBase64(delivered));
  // Whatever the server adds to the header block, the body is what was delivered.
  expect(sortedBase64([...objects.values()].map(bodyOf))).toEqual(sortedBase64(sent.map(expectedBody)));
  const records = await bench.records();
  expect(records.filter((r) => r.status === 'stored').map((r) => r.objectKey).sort()).toEqual([...objects.keys()].sort());

  checkProtocol(trace.sessions(), profile, c, trace.toString());

  const second = await run(bench);
  expectSummary(second, { status: 'ok', errors: [], new: 0, fetched: 0, deleted: 0 }, trace);
  expect((await bench.objects()).size).toBe(sent.length);
  expect(await server.count()).toBe(c.retention === 'delete' ? 0 : sent.length);
}

function checkProtocol(sessions: readonly SessionFacts[], profile: ServerProfile, c: Combination, trace: string): void {
  expect(sessions.length, trace).toBeGreaterThan(0);
  const login = c.mechanism === 'USER' || c.mechanism === 'APOP' ? c.mechanism : `AUTH ${c.mechanism}`;
  for (const s of sessions) {
    expect(s.stls, trace).toBe(c.mode === 'starttls');
    expect(s.login, trace).toBe(login);
    // Never pipelined before login (Courier loses such commands).
    expect(s.maxInFlightBeforeLogin, trace).toBe(1);
    if (c.pipelining && profile.pipelining) expect(s.maxInFlightAfterLogin, trace).toBeGreaterThan(1);
    else expect(s.maxInFlightAfterLogin, trace).toBe(1);
  }
}
