/**
 * Found in review (of eefe779), kept as a regression. HOLE (liveness): the daily header audit sends `TOP n 0` to every
 * recorded message still listed (unknownMessages -> tryTopFingerprint). tryTopFingerprint
 * turns only an -ERR into "no fingerprint"; any other failure is thrown, out of planSession,
 * and ends the session before anything is fetched. A message whose header block has no end
 * (no empty line: malformed mail, some bounces/spam) makes `TOP n 0` send the whole
 * message; over MAX_TOP_OCTETS (256 KiB) that fails with MESSAGE_TOO_LARGE. The message was
 * stored whole (the sink caps the header capture at 64 KiB and records a fingerprint), so
 * the record qualifies for the audit; the failed audit never writes `auditedAt`, so every
 * later run audits again and fails again: no new mail is ever fetched for that mailbox.
 * Before this change only the last message of a prefix was TOP'd (fast path / binary
 * search), so such a message anywhere but last was harmless.
 */
import { expect, it } from 'vitest';
import { SimulatedCrash } from '../../sync/harness';
import { HEADER_AUDIT_INTERVAL_MS } from '../../../lambda/sync/session-plan';
import { benchFor, useLocalWorld } from './common';

const world = useLocalWorld();

it('a stored message without a header end, over 256 KiB, does not stop the mailbox at every audit', async () => {
  const server = await world.fake();
  const line = `X-Junk: ${'j'.repeat(70)}\r\n`;
  server.deliver(`Subject: broken\r\nFrom: a@e\r\n${line.repeat(Math.ceil(300_000 / line.length))}`); // no empty line
  server.deliver('Subject: normal\r\nMessage-ID: <n@e>\r\n\r\nhello\r\n');
  const bench = await benchFor(world.s3, world.dynamo, server, { retention: 'keep' });
  let clock = Date.parse('2024-09-01T00:00:00Z');
  const statuses: string[] = [];
  const run = async (): Promise<void> => {
    const r = await bench.run({ now: () => clock });
    if (r instanceof SimulatedCrash) throw r;
    statuses.push(`${r.status}:${r.errors.map((e) => e.code).join('/')}`);
  };
  await run();
  expect((await bench.objects()).size).toBe(2);
  clock += HEADER_AUDIT_INTERVAL_MS + 60_000;
  const fresh = server.deliver('Subject: new\r\nMessage-ID: <new@e>\r\n\r\nnew mail\r\n');
  for (let i = 0; i < 3; i++) {
    await run();
    clock += 5 * 60_000;
  }
  const stored = [...(await bench.objects()).values()];
  expect(stored.some((o) => o.equals(fresh.bytes)), `new mail stored (runs: ${statuses.join(', ')})`).toBe(true);
}, 90_000);
